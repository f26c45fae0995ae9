"""A backend for the resumable-run tests: answers that differ from the recordings in a
fixed way, one route that holds its answer until released, and a request count.

python tests/resume_backend.py [MODE]  ->  prints `BACKEND_LISTENING http://127.0.0.1:PORT`

- `GET /items/{n}`: `{"id": n, "price": n, "node": "a"}` as recorded, but in MODE `a`
  (the default, a candidate) `n * 1.5` when n % 4 == 0 (a difference that shows on some
  exchanges only) and 404 for n % 7 == 0; in MODE `drift` the same and `"node": "c"`
  for 13 <= n <= 24 (where learned noise is, the candidate's own rate decides); in MODE
  `b` (a baseline) as recorded but `"node": "b"` when n % 4 == 1 (noise, a quarter of
  the time).
- `GET /hold/{n}`: held until `POST /_release` (once released, it answers at once);
  `{"id": n, "price": n, "node": "a"}`. `GET /_held` says how many are waiting.
- `GET /_count`: `{path: times asked}` of the two routes above.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections import Counter

from aiohttp import web

COUNT: web.AppKey[Counter[str]] = web.AppKey("count", Counter)
RELEASE: web.AppKey[asyncio.Event] = web.AppKey("release", asyncio.Event)
HELD: web.AppKey[list[int]] = web.AppKey("held", list)
MODE = sys.argv[1] if len(sys.argv) > 1 else "a"


async def item(request: web.Request) -> web.Response:
    request.app[COUNT][request.path] += 1
    n = int(request.match_info["n"])
    if MODE == "b":
        return web.json_response({"id": n, "price": n, "node": "b" if n % 4 == 1 else "a"})
    if n % 7 == 0:
        return web.json_response({"error": "gone"}, status=404)
    node = "c" if MODE == "drift" and 13 <= n <= 24 else "a"
    return web.json_response({"id": n, "price": n * 1.5 if n % 4 == 0 else n, "node": node})


async def hold(request: web.Request) -> web.Response:
    request.app[COUNT][request.path] += 1
    n = int(request.match_info["n"])
    release = request.app[RELEASE]
    if not release.is_set():
        request.app[HELD][0] += 1
        try:
            await release.wait()
        finally:
            request.app[HELD][0] -= 1
    return web.json_response({"id": n, "price": n, "node": "a"})


async def released(request: web.Request) -> web.Response:
    request.app[RELEASE].set()
    return web.json_response({"released": True})


async def held(request: web.Request) -> web.Response:
    return web.json_response({"held": request.app[HELD][0]})


async def count(request: web.Request) -> web.Response:
    return web.json_response(dict(request.app[COUNT]))


def make_app() -> web.Application:
    app = web.Application()
    app[COUNT] = Counter()
    app[RELEASE] = asyncio.Event()
    app[HELD] = [0]
    app.add_routes(
        [
            web.get("/items/{n}", item),
            web.get("/hold/{n}", hold),
            web.post("/_release", released),
            web.get("/_held", held),
            web.get("/_count", count),
        ]
    )
    return app


def main() -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    print(f"BACKEND_LISTENING http://127.0.0.1:{port}", flush=True)
    web.run_app(make_app(), sock=listening, print=None, access_log=None)


if __name__ == "__main__":
    main()
