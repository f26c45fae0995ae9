"""Live aiohttp apps on 127.0.0.1 and a recorder of what a script sent them, for the
replay tests that need servers minting their own values."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from parity.differ import Differ
from parity.replayer import ReplaySettings, Target, replay_sequence
from parity.sessions import Exchange, Request, Response
from parity.triage import ExchangeResult


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


Script = Callable[[Recording], Awaitable[object]]


def record_and_replay(
    recorded: web.Application,
    script: Script,
    target: web.Application,
    baseline: web.Application | None = None,
    *,
    session: str,
) -> tuple[list[Exchange], list[ExchangeResult]]:
    """`script` sent to `recorded` (kept as exchanges), then replayed against `target`
    (and `baseline`), each app on its own port; every server is stopped after."""

    async def run() -> tuple[list[Exchange], list[ExchangeResult]]:
        runners: list[web.AppRunner] = []

        async def up(app: web.Application) -> str:
            runner, url = await serve(app)
            runners.append(runner)
            return url

        try:
            recording_url = await up(recorded)
            target_url = await up(target)
            baselines = (Target(await up(baseline), "baseline"),) if baseline is not None else ()
            async with aiohttp.ClientSession() as http:
                recording = Recording(http, recording_url)
                await script(recording)
            results = await replay_sequence(
                recording.exchanges,
                session=session,
                upstream=recording_url,
                settings=ReplaySettings(Target(target_url), baselines),
                differ=Differ(),
            )
            return recording.exchanges, results
        finally:
            for runner in runners:
                await runner.cleanup()

    return asyncio.run(run())
