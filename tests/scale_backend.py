"""A backend for the scale tests: `GET /api/items/N` answers a small JSON document made
from N alone, but for `updated` (the clock, in ms: a spot the baseline teaches as noise).
With `--candidate`, some items differ (a count one higher, another name).

python tests/scale_backend.py [--candidate]  ->  prints `SCALE_LISTENING http://127.0.0.1:PORT`
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import web


def item(n: int, updated: int, *, candidate: bool = False) -> bytes:
    doc = {
        "id": f"it-{n}",
        "name": f"entry {n}",
        "updated": updated,
        "tags": ["a", "b", str(n % 7)],
        "count": n % 13,
        "owner": {"id": n % 50, "name": "u"},
    }
    if candidate and n % 29 == 0:
        doc["count"] = n % 13 + 1
    if candidate and n % 41 == 0:
        doc["name"] = "changed"
    return json.dumps(doc).encode()


async def main(candidate: bool) -> None:
    async def handler(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        body = item(n, int(time.time() * 1000), candidate=candidate)
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/items/{n}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"SCALE_LISTENING http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main("--candidate" in sys.argv))
