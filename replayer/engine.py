"""The replay loop: sessions concurrently, exchanges of one session strictly in recorded
order, each sent to the target (and the baseline), correlated, compared, stored."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp

from differ import Differ, HttpRequest, HttpResponse, Outcome, Verdict
from replayer.client import Answer, SendError, new_client, send, send_websocket, server_frames
from replayer.correlate import ValueMap, request_values
from replayer.observe import NoiseObservations
from replayer.outgoing import Target, build, recorded_origin
from sessions import Exchange, SessionReader
from sessions.secrets import is_secret_header, mask_path
from triage import ExchangeResult


class ResultSink(Protocol):
    def add(self, result: ExchangeResult) -> None: ...


@dataclass(slots=True)
class ReplayTotals:
    sessions: int = 0
    exchanges: int = 0
    matched: int = 0
    mismatched: int = 0
    errors: int = 0
    skipped: int = 0
    noise_suppressed: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)

    def count(self, verdict: Verdict) -> None:
        self.exchanges += 1
        self.noise_suppressed += len(verdict.noise)
        if verdict.outcome is Outcome.MATCHED:
            self.matched += 1
        elif verdict.outcome is Outcome.MISMATCHED:
            self.mismatched += 1
        else:
            self.errors += 1

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    target: Target
    baselines: tuple[Target, ...] = ()
    """Live reference backends: what differs between them and the recording is noise."""
    concurrency: int = 8
    timeout: float = 30.0


@dataclass(slots=True)
class _Side:
    """One backend within one session: where it is and what it minted so far."""

    target: Target
    values: ValueMap


Progress = Callable[[int], None]


class Replayer:
    def __init__(
        self,
        settings: ReplaySettings,
        differ: Differ,
        sink: ResultSink,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.differ = differ
        self.sink = sink
        self.progress = progress or (lambda n: None)
        self.totals = ReplayTotals()
        self.observations = NoiseObservations()
        # Verdicts with differences at spots of learned noise wait for the end of the run:
        # only then is it known how often the candidate differs there (Diffy's rule).
        self._pending: list[ExchangeResult] = []
        self._route_exchanges: Counter[str] = Counter()
        self.settled_as_noise = 0
        """Differences suppressed by learned noise at the end of the run."""

    async def run(self, sessions: Iterable[Path]) -> ReplayTotals:
        limit = asyncio.Semaphore(self.settings.concurrency)
        async with new_client(self.settings.concurrency) as http, asyncio.TaskGroup() as group:
            for path in sessions:
                group.create_task(self._guarded(path, http, limit))
        self._settle()
        return self.totals

    def _settle(self) -> None:
        if not self._pending:
            return
        verdicts = [r.verdict for r in self._pending]
        before = sum(len(v.noise) for v in verdicts)
        self.differ.settle(verdicts, self._route_exchanges)
        self.settled_as_noise = sum(len(v.noise) for v in verdicts) - before
        for result in self._pending:
            self._store(result)
        self._pending.clear()

    def _store(self, result: ExchangeResult) -> None:
        self.totals.count(result.verdict)
        self.sink.add(result)

    async def _guarded(
        self, path: Path, http: aiohttp.ClientSession, limit: asyncio.Semaphore
    ) -> None:
        async with limit:
            await self.replay_session(path, http)

    async def replay_session(self, path: Path, http: aiohttp.ClientSession) -> None:
        with SessionReader(path) as reader:
            wanted: set[str | int] = set()
            for exchange in reader:
                wanted |= request_values(
                    exchange.request.path, exchange.request.headers, exchange.request.body
                )
        self.totals.sessions += 1
        sides = [_Side(self.settings.target, ValueMap(wanted))]
        sides.extend(_Side(baseline, ValueMap(wanted)) for baseline in self.settings.baselines)
        with SessionReader(path) as reader:
            origin = None
            for exchange in reader:
                origin = origin or recorded_origin(exchange.request, reader.header.upstream)
                await self._exchange(reader.header.id, exchange, sides, origin, http)
                self.progress(1)

    async def _exchange(
        self,
        session: str,
        exchange: Exchange,
        sides: list[_Side],
        origin: str,
        http: aiohttp.ClientSession,
    ) -> None:
        recorded = exchange.response
        if recorded is None:
            self.totals.skip("recorded without a response")
            return
        answers = await asyncio.gather(
            *(self._send(exchange, side, origin, http) for side in sides)
        )
        expected_body = (
            server_frames(exchange.messages)
            if exchange.websocket_close is not None
            else recorded.body
        )
        expected_headers = [] if exchange.websocket_close is not None else recorded.headers
        for side, answer in zip(sides, answers, strict=True):
            if isinstance(answer, Answer):
                side.values.learn(expected_headers, expected_body, answer.headers, answer.body)
        actual = answers[0]
        request = HttpRequest(
            exchange.request.method,
            exchange.request.path,
            exchange.request.headers,
            exchange.request.body,
        )
        expected = HttpResponse(recorded.status, expected_headers, expected_body, origin)
        actual_response = _response(actual, sides[0].target)
        baselines = [
            _response(a, side.target) for a, side in zip(answers[1:], sides[1:], strict=True)
        ]
        verdict = self.differ.compare(
            request,
            expected,
            actual_response,
            actual_values=sides[0].values.reverse(),
            baselines=baselines,
            baselines_values=[side.values.reverse() for side in sides[1:]],
            error=actual if isinstance(actual, str) else None,
        )
        self._route_exchanges[verdict.route] += 1
        if any(b is not None for b in baselines):
            self.observations.observe(verdict.route, verdict.baseline_differences)
        result = ExchangeResult(
            session=session,
            seq=exchange.seq,
            method=exchange.request.method,
            url=mask_path(exchange.request.path),
            route=verdict.route,
            verdict=verdict,
            request_headers=[
                (k, b"***" if is_secret_header(k) else v) for k, v in exchange.request.headers
            ],
            request_body=exchange.request.body,
            expected=expected,
            actual=actual_response,
            baseline_status=next((b.status for b in baselines if b is not None), None),
            expected_ms=_recorded_ms(exchange),
            actual_ms=actual.elapsed_ms if isinstance(actual, Answer) else None,
        )
        if verdict.suspects:
            self._pending.append(result)
        else:
            self._store(result)

    async def _send(
        self, exchange: Exchange, side: _Side, origin: str, http: aiohttp.ClientSession
    ) -> Answer | str:
        outgoing = build(exchange.request, side.target, side.values, origin)
        try:
            if exchange.websocket_close is not None:
                return await send_websocket(
                    http, outgoing, exchange.messages, self.settings.timeout
                )
            return await send(http, outgoing, self.settings.timeout)
        except SendError as exc:
            return f"{side.target.name} {side.target.url}: {exc}"


def _response(answer: Answer | str | None, target: Target) -> HttpResponse | None:
    if not isinstance(answer, Answer):
        return None
    return HttpResponse(answer.status, answer.headers, answer.body, target.origin)


def _recorded_ms(exchange: Exchange) -> float | None:
    response = exchange.response
    if response is None or response.timestamp_end is None:
        return None
    return (response.timestamp_end - exchange.request.timestamp_start) * 1000


def session_files(paths: Iterable[Path]) -> list[Path]:
    """Session files from files and directories (a directory: its `*.parity`, sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix == ".parity" and p.is_file()))
        else:
            found.append(path)
    return found
