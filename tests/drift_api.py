"""A backend with state and chance, for the state-drift tests of learned noise.

    python tests/drift_api.py [--visits N] [--lucky-at K]
    ->  prints `DRIFT_LISTENING http://127.0.0.1:PORT`

`GET /stats` answers `{"visits": V, "lucky": "<8 hex>"}`: `visits` counts the requests
served, starting after N (a backend used N times since the recording: state drift);
`lucky` is new on every answer (varies by chance), but for the K-th request, where it is
K in 8 hex digits: what the tests' recordings hold there (a chance agreement).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal

from aiohttp import web


def build_app(visits: int, lucky_at: int = 0) -> web.Application:
    served = visits

    async def stats(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        nth = served - visits
        lucky = f"{nth:08x}" if nth == lucky_at else secrets.token_hex(4)
        return web.json_response({"visits": served, "lucky": lucky})

    app = web.Application()
    app.router.add_get("/stats", stats)
    return app


async def main(visits: int, lucky_at: int) -> None:
    runner = web.AppRunner(build_app(visits, lucky_at), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"DRIFT_LISTENING http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--visits", type=int, default=0)
    parser.add_argument("--lucky-at", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.visits, args.lucky_at))
