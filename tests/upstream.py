"""A small backend for recorder tests: JSON, gzip, duplicate headers, SSE, WebSocket.

python tests/upstream.py   ->  prints `UPSTREAM_LISTENING http://127.0.0.1:PORT`
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json

from aiohttp import WSMsgType, web


async def json_body(request: web.Request) -> web.Response:
    size = int(request.query.get("size", "2048"))
    item = {"id": 1, "title": "Zürich café", "text": "x" * 64}
    items = [dict(item, id=i) for i in range(max(1, size // 100))]
    return web.json_response({"items": items, "n": request.query.get("n")})


async def gzipped(request: web.Request) -> web.Response:
    body = gzip.compress(json.dumps({"entry": "é" * 1000}).encode())
    return web.Response(
        body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )


async def dup_headers(request: web.Request) -> web.Response:
    response = web.Response(text="ok")
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    response.headers.add("x-MiXeD-Case", "kept")
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(int(request.query.get("ms", "500")) / 1000)
    return web.Response(text="late")


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read(), content_type="application/octet-stream")


async def sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i in range(3):
        await response.write(f'id: {i}\ndata: {{"n": {i}}}\n\n'.encode())
        await asyncio.sleep(0.02)
    await response.write(b"event: done\ndata: end\n\n")
    await response.write_eof()
    return response


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            if msg.data == "END":
                await ws.close()
            else:
                await ws.send_str(f"echo:{msg.data}")
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


def make_app() -> web.Application:
    app = web.Application(client_max_size=200 * 1024 * 1024)
    app.router.add_get("/json", json_body)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/dup", dup_headers)
    app.router.add_post("/echo", echo)
    app.router.add_get("/slow", slow)
    app.router.add_get("/sse", sse)
    app.router.add_get("/ws", websocket)
    return app


async def main() -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"UPSTREAM_LISTENING http://127.0.0.1:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
