"""Live aiohttp apps on 127.0.0.1 and a recorder of what a script sent them, for the
replay tests that need servers minting their own values."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from aiohttp import web

from parity.sessions import Exchange, Request, Response


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """`app` on an ephemeral port; the runner (to clean up) and its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


class Recording:
    """Requests sent to `base`, kept as exchanges in order (recorded times are fixed)."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])
        self.exchanges: list[Exchange] = []

    async def send(self, method: str, path: str, body: Any = None) -> bytes:
        data = orjson.dumps(body) if body is not None else b""
        headers = [(b"Host", f"127.0.0.1:{self.port}".encode()), (b"Accept", b"application/json")]
        if body is not None:
            headers.append((b"Content-Type", b"application/json"))
        async with self.http.request(method, self.base + path, data=data or None) as answer:
            received = await answer.read()
        seq = len(self.exchanges) + 1
        self.exchanges.append(
            Exchange(
                seq=seq,
                request=Request(
                    method,
                    "http",
                    "127.0.0.1",
                    self.port,
                    path,
                    "HTTP/1.1",
                    headers,
                    data,
                    1_700_000_000.0 + seq,
                ),
                response=Response(
                    answer.status,
                    answer.reason or "",
                    "HTTP/1.1",
                    list(answer.raw_headers),
                    received,
                    1_700_000_000.1 + seq,
                    1_700_000_000.2 + seq,
                ),
            )
        )
        return received
