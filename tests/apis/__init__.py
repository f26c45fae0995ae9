"""Two HTTP APIs that behave like third-party ones, each in a reference and a port mode,
with a deterministic client each: traffic nobody in this project designed, for
`tests/test_real_apis.py`.

- `store_api` / `store_client`: a REST commerce API (Stripe/Shopify-like): OAuth tokens,
  `/v2/products` with Link-header pagination, `/v2/orders`; the port mints string ids.
- `tags_api` / `tags_client`: an RPC API in the style of AWS JSON 1.1: one URL, the
  operation in `X-Amz-Target`, set-like tag arrays in random order.

Each API: `python -m tests.apis.NAME --mode reference|port --port 0` prints
`API_LISTENING http://127.0.0.1:PORT` and serves until SIGTERM/SIGINT. Each client:
`python -m tests.apis.NAME_client BASE_URL` exits 0 against either mode.

`--clock-offset SECONDS` moves an API's clock (`now()`): a test starts the processes it
replays against with other offsets than the recorded one, so time-derived values (epoch
seconds) differ from the recording on every run, not only when a second boundary falls
between the recording and the replay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import signal
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["HttpClient", "Reply", "now", "parse_args", "run"]

_clock_offset = 0.0


def now() -> float:
    """The API's clock: unix time moved by `--clock-offset`."""
    return time.time() + _clock_offset


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mode", choices=("reference", "port"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--clock-offset", type=float, default=0.0, help="seconds added to the API's clock"
    )
    args = parser.parse_args(argv)
    global _clock_offset
    _clock_offset = args.clock_offset
    return args


async def _serve(app: web.Application, host: str, port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"API_LISTENING http://{shown}:{bound_port}", flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def run(app: web.Application, host: str, port: int) -> None:
    """Serve `app` until SIGTERM/SIGINT, announcing `API_LISTENING http://HOST:PORT`."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(app, host, port))


# --- the clients' side ----------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        """The JSON body, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class HttpClient:
    """Sequential requests on one keep-alive connection, every wait bounded."""

    def __init__(self, base_url: str, user_agent: str, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"BASE_URL must be http://HOST:PORT, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.user_agent = user_agent
        self.timeout = timeout
        self.statuses: Counter[int] = Counter()
        self._conn: http.client.HTTPConnection | None = None

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"User-Agent": self.user_agent, "Accept": "application/json", **(headers or {})}
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, self.prefix + path, body=body, headers=sent)
                response = self._conn.getresponse()
                reply = Reply(response.status, response.headers, response.read())
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            self.statuses[reply.status] += 1
            return reply
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
