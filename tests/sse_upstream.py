"""A backend with one long server-sent event stream, for the recorder's soak tests.

python tests/sse_upstream.py   ->  prints `UPSTREAM_LISTENING http://127.0.0.1:PORT`

GET /stream?n=N&batch=B&hold=1   N events `id: k / data: {"k": k, "token": ...}`,
                                 B per write; with hold=1 the stream then stays open
                                 (until the client goes) instead of ending
"""

from __future__ import annotations

import asyncio

from aiohttp import web

SECRET = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
"""A credential some events carry (every 1000th), for redaction of chunked events."""


def event(k: int) -> bytes:
    if k % 1000 == 0:
        return f'id: {k}\ndata: {{"k": {k}, "auth": "{SECRET}"}}\n\n'.encode()
    return f'id: {k}\ndata: {{"k": {k}}}\n\n'.encode()


async def stream(request: web.Request) -> web.StreamResponse:
    n = int(request.query.get("n", "10"))
    batch = int(request.query.get("batch", "100"))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for start in range(0, n, batch):
        await response.write(b"".join(event(k) for k in range(start, min(n, start + batch))))
    if request.query.get("hold") == "1":
        await asyncio.sleep(3600)  # ended by the client going away
    await response.write_eof()
    return response


async def main() -> None:
    app = web.Application()
    app.router.add_get("/stream", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"UPSTREAM_LISTENING http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
