"""A backend whose bodies are hostile to a decoder: charsets that name no character set,
bytes that are not valid UTF-8, a lone surrogate, a brotli bomb.

python tests/hostile_bodies.py   ->  prints `HOSTILE_LISTENING http://127.0.0.1:PORT`

GET /body?type=T&hex=H            T as Content-Type, the bytes H (hex) as the body
GET /bomb                          `br` body that decodes to BOMB_BYTES of zeros
"""

from __future__ import annotations

import socket

import brotli
from aiohttp import web

BOMB_BYTES = 520 * 2**20
"""Past the differ's cap (512 MiB): decoding must stop there."""


def bomb() -> bytes:
    """`BOMB_BYTES` of zeros as brotli, made in 1 MiB pieces (quality 1: fast, ~100 KB)."""
    packer = brotli.Compressor(quality=1)
    zeros = bytes(2**20)
    pieces = [packer.process(zeros) for _ in range(BOMB_BYTES // 2**20)]
    return b"".join([*pieces, packer.finish()])


async def body(request: web.Request) -> web.Response:
    return web.Response(
        body=bytes.fromhex(request.query["hex"]),
        headers={"Content-Type": request.query["type"]},
    )


def make_app() -> web.Application:
    packed = bomb()

    async def bombed(request: web.Request) -> web.Response:
        return web.Response(
            body=packed, headers={"Content-Type": "application/json", "Content-Encoding": "br"}
        )

    app = web.Application()
    app.router.add_get("/body", body)
    app.router.add_get("/bomb", bombed)
    return app


if __name__ == "__main__":
    app = make_app()
    listening = socket.create_server(("127.0.0.1", 0))  # listens: early clients wait
    port = listening.getsockname()[1]
    print(f"HOSTILE_LISTENING http://127.0.0.1:{port}", flush=True)
    web.run_app(app, sock=listening, print=None, access_log=None)
