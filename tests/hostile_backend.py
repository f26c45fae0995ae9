"""Backends that misbehave on purpose, for the replay tests of hostile targets.

python tests/hostile_backend.py silent  ->  accepts TCP, reads, never answers
python tests/hostile_backend.py app     ->  answers HTTP (`{"ok": true}`), but:
    /ws      completes the WebSocket handshake, then never sends a frame
    /events  sends its headers and one server-sent event, then holds the stream open
    /hex     answers `text/plain; charset=hex` (a charset that is not a text encoding)

Each prints `HOSTILE_LISTENING http://127.0.0.1:PORT` once listening.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read whatever comes, answer nothing, keep the socket until the client leaves."""
    try:
        while await reader.read(65536):
            pass
    finally:
        writer.close()


async def _silent() -> int:
    server = await asyncio.start_server(_hold, "127.0.0.1", 0)
    return int(server.sockets[0].getsockname()[1])


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _ws_silent(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(autoclose=False)
    await ws.prepare(request)
    await asyncio.sleep(3600)
    return ws


async def _sse_stall(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: first\n\n")
    await asyncio.sleep(3600)
    return response


async def _hex(request: web.Request) -> web.Response:
    return web.Response(body=b"caf\xe9", headers={"Content-Type": "text/plain; charset=hex"})


async def _app() -> int:
    app = web.Application()
    app.router.add_get("/ws", _ws_silent)
    app.router.add_get("/events", _sse_stall)
    app.router.add_get("/hex", _hex)
    app.router.add_route("*", "/{tail:.*}", _ok)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return int(runner.addresses[0][1])


async def main(mode: str) -> None:
    port = await (_silent() if mode == "silent" else _app())
    print(f"HOSTILE_LISTENING http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
