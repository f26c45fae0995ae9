"""One session replays strictly in order, yet its lane overlaps the target's work with
its own: an exchange's comparison is made while the next request is in flight (the
answer is learned from first, so a value it minted still travels in the next request),
when it is quick: a long one would hold up the reading of the next answer and show as
the target's time.

A real aiohttp server on 127.0.0.1, in a thread of its own, notes when each request has
arrived whole; the results go to a sink that takes its time storing each one (a slow
comparison, a busy database), so that "made while the next request is in flight" is
seen from the server's side: the next request arrives before the store ends."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Iterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from parity.differ import Differ, HttpRequest, HttpResponse, Outcome
from parity.replayer import ReplaySettings, Target
from parity.replayer.client import new_client
from parity.replayer.engine import Replayer, ResultSink
from parity.sessions import Exchange, Request, Response
from parity.triage import ExchangeResult, TriageError
from tests.live import serve

pytestmark = pytest.mark.timeout(60)

STORE_S = 0.25
"""How long the sink takes to store one result."""

BIG = orjson.dumps(
    {"items": [{"id": i, "name": f"n{i}", "tags": ["x", i % 5]} for i in range(4000)]}
)
BIG_RECORDED = orjson.dumps(
    {"items": [{"id": i, "name": f"m{i}", "tags": ["y", i % 5]} for i in range(4000)]}
)
"""A page where everything differs from the recording: a long comparison."""


class Server:
    """`/items/{n}` (GET, or POST with a body read whole) answers `{"id": n, "token":
    ...}` with a token minted per answer; `arrived[n]` is when request n had arrived
    whole (time.monotonic), `tokens_seen` what each request carried in `X-Token`.
    `/big/{n}` answers `BIG`, `/small/{n}` a few bytes, at once."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.tokens_seen: dict[int, str] = {}
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _item(self, request: web.Request) -> web.Response:
        await request.read()
        n = int(request.match_info["n"])
        self.arrived[n] = time.monotonic()
        self.tokens_seen[n] = request.headers.get("X-Token", "")
        return web.json_response({"id": n, "token": f"live-{n}-{time.monotonic_ns()}"})

    async def _big(self, request: web.Request) -> web.Response:
        return web.Response(body=BIG, content_type="application/json")

    async def _small(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"ok": 1}', content_type="application/json")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/items/{n}", self._item)
        app.router.add_get("/big/{n}", self._big)
        app.router.add_get("/small/{n}", self._small)
        runner, self.url = await serve(app)
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> Server:
        self._thread.start()
        assert self._ready.wait(10), "the server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


class SlowSink:
    """Stores each result after `STORE_S` (blocking, like a comparison that takes its
    time), noting when each store ended; raises TriageError at `fail_at`."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.results: list[ExchangeResult] = []
        self.stored: dict[int, float] = {}
        self.fail_at = fail_at

    def add(self, result: ExchangeResult) -> None:
        time.sleep(STORE_S)
        if result.seq == self.fail_at:
            raise TriageError("disk I/O error")
        self.results.append(result)
        self.stored[result.seq] = time.monotonic()


def _exchange(
    seq: int,
    port: int,
    path: str,
    answer: bytes,
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> Exchange:
    """A recorded exchange on 127.0.0.1:`port` whose JSON answer was `answer`."""
    return Exchange(
        seq=seq,
        request=Request(
            method,
            "http",
            "127.0.0.1",
            port,
            path,
            "HTTP/1.1",
            [(b"Host", f"127.0.0.1:{port}".encode()), *(headers or [])],
            body,
            1_700_000_000.0 + seq,
        ),
        response=Response(
            200,
            "OK",
            "HTTP/1.1",
            [(b"Content-Type", b"application/json; charset=utf-8")],
            answer,
            1_700_000_000.1 + seq,
            1_700_000_000.2 + seq,
        ),
    )


def _exchanges(port: int, count: int) -> list[Exchange]:
    """GETs and POSTs (16 KiB bodies: aiohttp writes those from a task of its own),
    each carrying the token the answer before it minted."""
    exchanges = []
    token = ""
    for seq in range(1, count + 1):
        method = "POST" if seq % 2 == 0 else "GET"
        body = orjson.dumps({"text": "x" * 16_384}) if method == "POST" else b""
        headers = [(b"Accept", b"application/json")]
        if token:
            headers.append((b"X-Token", token.encode()))
        if body:
            headers.append((b"Content-Type", b"application/json"))
        token = f"recorded-{seq}-a1b2c3d4e5"
        answer = orjson.dumps({"id": seq, "token": token})
        exchanges.append(
            _exchange(seq, port, f"/items/{seq}", answer, method=method, headers=headers, body=body)
        )
    return exchanges


async def _replay(server: Server, exchanges: list[Exchange], sink: ResultSink) -> None:
    replayer = Replayer(ReplaySettings(Target(server.url)), Differ(), sink)
    http: aiohttp.ClientSession
    async with new_client(1) as http:
        await replayer.replay_exchanges("s", server.url, exchanges, http, reset=False)
    replayer.finish()


def test_each_comparison_is_made_while_the_next_request_is_in_flight(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    exchanges = _exchanges(port, 6)
    sink = SlowSink()
    asyncio.run(_replay(server, exchanges, sink))

    assert [r.seq for r in sink.results] == [1, 2, 3, 4, 5, 6]  # stored in order
    for result in sink.results:  # the minted tokens differ only where correlation says
        assert result.verdict.outcome is Outcome.MATCHED, result.verdict
    # Each request carried the token the target minted in the answer before it: the
    # answer was learned from before the next request was built.
    for n in range(2, 7):
        assert server.tokens_seen[n].startswith(f"live-{n - 1}-"), server.tokens_seen
    # The next request (GET or POST, its body whole) reached the server before the
    # result of the exchange before it was stored: the store ran while it was in flight.
    for n in range(1, 6):
        assert server.arrived[n + 1] < sink.stored[n], (n, server.arrived, sink.stored)


def test_a_store_that_fails_in_a_waiting_comparison_ends_the_run(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    sink = SlowSink(fail_at=2)
    with pytest.raises(TriageError, match="disk I/O error"):
        asyncio.run(_replay(server, _exchanges(port, 6), sink))
    assert [r.seq for r in sink.results] == [1]
    # The request after the failing exchange was in flight; nothing after it was sent.
    assert sorted(server.arrived) == [1, 2, 3]


class Sink:
    def __init__(self) -> None:
        self.results: list[ExchangeResult] = []

    def add(self, result: ExchangeResult) -> None:
        self.results.append(result)


def test_a_long_comparison_is_not_counted_in_the_next_answers_time(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    # How long one comparison of the big page takes on this machine.
    h = [(b"Content-Type", b"application/json")]
    request = HttpRequest("GET", "/big/1", h, b"")
    differ = Differ()
    began = time.perf_counter()
    verdict = differ.compare(request, HttpResponse(200, h, BIG_RECORDED), HttpResponse(200, h, BIG))
    compare_ms = (time.perf_counter() - began) * 1000
    assert verdict.outcome is Outcome.MISMATCHED

    exchanges = [
        _exchange(seq, port, f"/big/{seq}", BIG_RECORDED)
        if seq % 2
        else _exchange(seq, port, f"/small/{seq}", b'{"ok": 1}')
        for seq in range(1, 17)
    ]
    sink = Sink()
    asyncio.run(_replay(server, exchanges, sink))
    small = [r.actual_ms for r in sink.results if "/small/" in r.url]
    assert len(small) == 8 and all(ms is not None for ms in small)
    # Each small answer follows a big one whose comparison takes `compare_ms`: had it
    # been made while the small request was in flight, each small time would hold it.
    assert statistics.median(small) < compare_ms / 3, (small, compare_ms)  # type: ignore[type-var]
