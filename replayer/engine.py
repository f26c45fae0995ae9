"""The replay loop: sessions concurrently, exchanges of one session strictly in recorded
order, each sent to the target (and the baseline), correlated, compared, stored.

Within a session, correlation learns from an answer before the next request is built
(it may carry what the answer minted), but the comparison and the store are made while
that next request is in flight (`Replayer._in_flight`): a session's lane keeps the
target and the replay busy at once, and stays strictly in order (each comparison is
made before the answer after it is learned from, results are stored in order). Only a
quick comparison waits so (`QUICK_BYTES`: the answer's time, `actual_ms`, must not
take in a long one); and a store that fails while it waits ends the run once the
request in flight is answered (that request is not stored: a resumed run sends the
session again).

Reset hooks (`ReplaySettings.resets`, see `replayer.reset`): before each session, every
target that has one runs it. A reset restores the whole backend, so while any target has
one, sessions run one at a time whatever `concurrency` says. A failed reset means the
session is not replayed: each of its exchanges is an `error` verdict carrying the reason,
and `ReplayTotals.reset_failures` names the session.

One exchange's failure is that exchange's `error` verdict, never the run's: sending
turns any failure into the side's error text, and an exception while correlating with
the answer, in the differ or building the result is stored as `internal error in
<stage>: <Exception>: ...` (the traceback on stderr under PARITY_DEBUG=1). A failure
outside any exchange (the session file gone since the run read it, a reset hook that
raises) stops that session, not the run: its exchanges stored so far stay, and
`ReplayTotals.failed_sessions` says where and why. Only the results database failing
(`TriageError`: nothing could be stored) and a redacted value without an original
(`MissingSecret`, `replayer.secrets`) end the run.

Pacing (`ReplaySettings.pace`, see `replayer.pacing`): with `recorded` or `xN`, `run`
takes each session's start offset, and a session waits for it before it takes a
concurrency slot; between its requests it waits for each one's offset (the schedule is
against the run's start on the loop's monotonic clock, so nothing drifts) and gives its
slot back while it waits, unless a reset hook is in use (then the backend is the
session's until it ends).

`Replayer.progress` is called after each exchange with the run's `RunCounts` (done,
mismatched and errors so far, as judged before learned noise settles): the front door
renders it, the engine draws nothing.

Resumable runs (`replayer.resume`): when every result of a session has been handed to
the sink, the sink hears `session_done` (the results database writes it with them). A
session with results held for the end of the run (learned noise's suspects) is done
once they are settled and stored; with a baseline every session is, since the run's
noise observations are stored only at its end. A Ctrl-C (`replayer.interrupt`) stops
sending and cuts a paced wait short; the sessions it stopped are not done, and a
resumed run replays them again.

`replay_sequence` replays a list of exchanges held in memory (a session's prefix, a
shrink attempt) and returns the results instead of storing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import sys
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from parity.defaults import DEFAULT_CONCURRENCY, DEFAULT_RESET_TIMEOUT, DEFAULT_TIMEOUT
from parity.differ import Differ, HttpRequest, HttpResponse, Outcome, Verdict
from parity.differ.noise import (
    LearnedNoise,
    NoiseKey,
    NoiseObservations,
    NoisePolicy,
    suspect_counts,
)
from parity.replayer.client import (
    Answer,
    SendError,
    new_client,
    send,
    send_websocket,
    server_frames,
)
from parity.replayer.correlate import Scalar, ValueMap, request_values
from parity.replayer.explain import sent_record
from parity.replayer.interrupt import INTERRUPTED, Interrupt
from parity.replayer.outgoing import Outgoing, Target, build, recorded_origin, with_originals
from parity.replayer.pacing import Pace, RequestSchedule
from parity.replayer.pending import Pending
from parity.replayer.reset import ResetError, reset_target
from parity.replayer.secrets import Live, MissingSecret, ReplaySecrets, is_redacted
from parity.sessions import (
    Exchange,
    Response,
    SessionFileError,
    SessionKeyError,
    SessionParts,
    group_sessions,
    open_session,
)
from parity.sessions.secrets import is_secret_header, mask_path
from parity.triage import ExchangeResult, TriageError


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
    reset_failures: dict[str, str] = field(default_factory=dict)
    """Sessions not replayed because a reset hook failed: session id -> the reason."""
    failed_sessions: dict[str, str] = field(default_factory=dict)
    """Sessions stopped part-way by a failure outside any exchange: file name -> the
    reason (the exchanges before it are stored)."""

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
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    resets: Mapping[Target, str] = field(default_factory=dict)
    """Reset commands by target (the target or a baseline), run before each session."""
    reset_timeout: float = DEFAULT_RESET_TIMEOUT
    verify_tls: bool = True
    """False: accept any TLS certificate from the targets (`--insecure`)."""
    secrets: ReplaySecrets | None = None
    """The project's redactor and stored originals, for sessions recorded with
    redaction (`replayer.secrets`); None: tokens are sent as recorded."""
    pace: Pace = field(default_factory=Pace)
    """asap (the default), or the recorded gaps between requests, scaled (`pacing`)."""

    @property
    def sessions_at_once(self) -> int:
        """`concurrency`, or 1 while a reset hook is in use (a reset restores the whole
        backend under every session running on it)."""
        return 1 if self.resets else self.concurrency


@dataclass(slots=True)
class _Side:
    """One backend within one session: where it is and what it minted so far."""

    target: Target
    values: ValueMap
    live: Live = field(default_factory=Live)
    """Live token -> original of what this target answered (redacted sessions only)."""
    redact: bool = False
    """Redact this target's answers on receipt (the session was recorded redacted)."""


@dataclass(slots=True)
class RunCounts:
    """Exchanges handled so far, for a progress display: mismatches and errors as first
    judged (a verdict held for learned noise may still settle as matched)."""

    done: int = 0
    mismatched: int = 0
    errors: int = 0

    def tick(self, outcome: Outcome | None) -> None:
        self.done += 1
        if outcome is Outcome.MISMATCHED:
            self.mismatched += 1
        elif outcome is Outcome.ERROR:
            self.errors += 1


Seeds = set[Scalar] | Callable[[], set[Scalar]]
"""A session's correlation seeds, or what reads them when it starts (`replayer.seeds`)."""

Progress = Callable[[RunCounts], None]
"""Called after each exchange with the run's counts (the same object, updated)."""


class _Slot:
    """A session's concurrency slot: taken when it starts, given back while it waits
    for a paced request (unless `hold`: a reset hook made the backend the session's)."""

    def __init__(
        self,
        limit: asyncio.Semaphore,
        hold: bool,
        due: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.hold = hold
        self.held = False
        self.due = due
        """When the session is due to start (the loop's clock)."""
        self.sleep = sleep
        """How it waits (`Interrupt.sleep`: a Ctrl-C cuts the wait short)."""

    async def __aenter__(self) -> _Slot:
        await self.limit.acquire()
        self.held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.held:
            self.held = False
            self.limit.release()

    async def wait_until(self, due: float) -> None:
        """Sleep until `due` on the loop's monotonic clock, the slot given back meanwhile."""
        loop = asyncio.get_running_loop()
        delay = due - loop.time()
        if delay <= 0:
            return
        if self.hold or not self.held:
            await self.sleep(delay)
            return
        self.held = False
        self.limit.release()
        await self.sleep(delay)
        await self.limit.acquire()
        self.held = True


class Replayer:
    def __init__(
        self,
        settings: ReplaySettings,
        differ: Differ,
        sink: ResultSink,
        progress: Progress | None = None,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.settings = settings
        self.differ = differ
        self.sink = sink
        self.progress = progress or (lambda counts: None)
        self.counts = RunCounts()
        self.interrupt = interrupt or Interrupt()
        self.totals = ReplayTotals()
        self.observations = NoiseObservations()
        # Verdicts with differences at spots of learned noise wait for the end of the run:
        # only then is it known how often the candidate differs there (Diffy's rule).
        # Held in bounded memory, the rest spilled to a scratch file (`replayer.pending`);
        # with a baseline, each with its comparison again under another differ (`_settle`).
        self._pending = Pending()
        self._route_exchanges: Counter[str] = Counter()
        self.settled_as_noise = 0
        """Differences suppressed by learned noise at the end of the run."""
        self._started = 0.0
        """The run's start on the loop's monotonic clock (pacing's zero)."""
        self._held: set[str] = set()
        """Sessions with results in `_pending`."""
        self._deferred: list[str] = []
        """Sessions replayed whole whose `session_done` waits for the end of the run."""

    def resume_from(self, totals: Mapping[str, int], routes: Mapping[str, int]) -> None:
        """Count what the finished sessions of a resumed run stored, as if replayed now:
        the run's totals, and its exchanges per route (learned noise's rates need the
        whole run's)."""
        for name in ("exchanges", "matched", "mismatched", "errors", "noise_suppressed"):
            setattr(self.totals, name, getattr(self.totals, name) + int(totals.get(name, 0)))
        self._route_exchanges.update(routes)

    @property
    def interrupted(self) -> bool:
        return self.interrupt.requested

    async def run(
        self,
        sessions: Iterable[tuple[Path | SessionParts, Seeds]],
        offsets: Sequence[float] | None = None,
    ) -> ReplayTotals:
        """Replay sessions (a file, or a rotated session's parts as one), each with its
        correlation seeds (`request_values` of
        its requests, gathered by the caller's read of the file: `replayer.run`), and
        settle the verdicts waiting on learned noise. Each file is read once here.
        With a pace, `offsets` are the sessions' start offsets (`pacing.session_offsets`,
        in the order of `sessions`); without them, every session may start at once."""
        limit = asyncio.Semaphore(self.settings.sessions_at_once)
        self._started = asyncio.get_running_loop().time()
        starts = iter(offsets or ())
        task = asyncio.current_task()
        assert task is not None
        self.interrupt.attach(task)
        try:
            async with (
                new_client(self.settings.concurrency, self.settings.verify_tls) as http,
                asyncio.TaskGroup() as group,
            ):
                for path, wanted in sessions:
                    start = next(starts, 0.0)
                    group.create_task(self._guarded(path, wanted, http, limit, start))
        except asyncio.CancelledError:
            if not self.interrupt.aborted:
                raise
            task.uncancel()  # a second Ctrl-C: what was in flight is stored as interrupted
        finally:
            self.interrupt.detach()
        if self.interrupted:
            # Stored as they are: their sessions are not done, a resume replays them.
            self.finish(settle=False)
            return self.totals
        self._settle()
        for session in self._deferred:
            self._done(session)
        self._deferred.clear()
        return self.totals

    def finish(self, *, settle: bool = True) -> None:
        """Settle the verdicts waiting on learned noise and store them (`run` does this
        at its end; call it after `replay_exchanges`). With `settle=False` they are
        stored with their suspects undecided."""
        if settle:
            self._settle()
            return
        for result, _ in self._pending:
            self._store(result)
        self._pending.clear()

    def _settle(self) -> None:
        """With a baseline, the pending verdicts are compared again under learned noise
        plus this run's own observations (so an exchange whose baseline agreed with the
        recording by chance, or kept an array's order, is judged like the rest of the
        run); then the suspects are settled."""
        if not self._pending:
            return
        differ = self.differ
        noise = self._run_noise()
        if noise is not None:
            differ = Differ(self.differ.rules, noise, self.differ.route_keys)
        # Two passes over the held results (streamed: a long run spilled most of them):
        # compared again and their suspects counted, then each settled and stored.
        counts: Counter[NoiseKey] = Counter()
        again = Pending(self._pending.limit)
        for result, redo in self._pending:
            if noise is not None and redo is not None:
                try:
                    result.verdict = redo(differ)
                except Exception as exc:  # the first verdict stands, and says why
                    result.verdict = _errored(result.verdict, _internal_error("the differ", exc))
            counts.update(suspect_counts([result.verdict]))
            again.append(result)
        self._pending.clear()
        failed: str | None = None
        real: set[NoiseKey] = set()
        try:
            real = differ.real_suspects(counts, self._route_exchanges)
        except Exception as exc:  # stored unsettled, each an error saying why
            failed = _internal_error("the differ (settling learned noise)", exc)
        settled = 0
        for result, _ in again:
            verdict = result.verdict
            if verdict.suspects:
                before = len(verdict.noise)
                if failed is not None:
                    result.verdict = _errored(verdict, failed)
                else:
                    try:
                        differ.settle_one(verdict, real)
                    except Exception as exc:
                        reason = _internal_error("the differ (settling learned noise)", exc)
                        result.verdict = _errored(verdict, reason)
                settled += len(verdict.noise) - before
            self._store(result)
        again.clear()
        self.settled_as_noise = settled

    def _run_noise(self) -> LearnedNoise | None:
        """Learned noise plus this run's baseline observations, state drift left out
        (None without a baseline: the differ's learned noise as it is)."""
        if not self.observations:
            return None
        observed = self.observations
        drift = observed.drift.excluded()
        disagreements = {k: n for k, n in observed.disagreements.items() if k not in drift}
        learned = self.differ.learned or LearnedNoise({}, {}, NoisePolicy())
        return learned.with_run(observed.route_observations, disagreements, observed.kinds)

    def _store(self, result: ExchangeResult) -> None:
        self.totals.count(result.verdict)
        self.sink.add(result)

    def _done(self, session: str) -> None:
        """Every result of `session` is with the sink (a results writer records it)."""
        mark = getattr(self.sink, "session_done", None)
        if mark is not None:
            mark(session)

    def _complete(self, session: str) -> None:
        """`session` was replayed to its end: done now, or at the end of the run when
        results of it wait there (or the run's baseline observations do)."""
        if self.settings.baselines or session in self._held:
            self._deferred.append(session)
        else:
            self._done(session)

    async def _guarded(
        self,
        path: Path | SessionParts,
        wanted: Seeds,
        http: aiohttp.ClientSession,
        limit: asyncio.Semaphore,
        start: float = 0.0,
    ) -> None:
        slot = _Slot(
            limit,
            hold=bool(self.settings.resets),
            due=self._started + start,
            sleep=self.interrupt.sleep,
        )
        await slot.wait_until(slot.due)  # no slot held while waiting to start
        async with slot:
            if self.interrupted:
                return
            try:
                await self.replay_session(path, wanted, http, slot)
            except (TriageError, MissingSecret, SessionKeyError):
                # Nothing more can be stored, a redacted value has no original to send, or
                # the key does not open the files (every session would need it): the run
                # ends, what is stored stays.
                raise
            except SessionFileError as exc:
                self.totals.failed_sessions[path.name] = str(exc)
            except Exception as exc:
                self.totals.failed_sessions[path.name] = _internal_error("the session", exc)

    async def replay_session(
        self,
        path: Path | SessionParts,
        wanted: Seeds,
        http: aiohttp.ClientSession,
        slot: _Slot | None = None,
    ) -> None:
        """Replay one session (a file, or its parts in order: one correlation state
        across them; read once, as it streams), after the reset hooks; `wanted`: the
        values its requests carry (`request_values`; or what reads them, called when the
        session starts, so that a run holds only its running sessions' seeds). Paced (when the settings say so)
        within `slot`, started now."""
        self.totals.sessions += 1
        failure = await self.reset_targets()
        with open_session(path) as reader:
            session = reader.header.id
            if failure is not None:
                self._not_replayed(session, reader, failure)
                self._complete(session)
                return
            redacted = bool(reader.header.meta.get("redaction"))
            seeds = wanted() if callable(wanted) else wanted
            if await self._replay(
                session, reader.header.upstream, reader, seeds, http, redacted, slot
            ):
                self._complete(session)

    async def replay_exchanges(
        self,
        session: str,
        upstream: str | None,
        exchanges: Sequence[Exchange],
        http: aiohttp.ClientSession,
        *,
        reset: bool = True,
    ) -> None:
        """Replay exchanges held in memory as one session (in the order given), after
        the reset hooks unless `reset=False`. Call `finish` when done."""
        wanted: set[str | int] = set()
        for exchange in exchanges:
            wanted |= request_values(
                exchange.request.path, exchange.request.headers, exchange.request.body
            )
        self.totals.sessions += 1
        failure = await self.reset_targets() if reset else None
        if failure is not None:
            self._not_replayed(session, exchanges, failure)
            return
        await self._replay(session, upstream, exchanges, wanted, http, is_redacted(exchanges))

    async def reset_targets(self) -> str | None:
        """Run every reset hook (targets in order); the first failure's reason, or None."""
        for target, command in self.settings.resets.items():
            try:
                await reset_target(command, target.url, self.settings.reset_timeout)
            except ResetError as exc:
                return f"{target.name} {target.url}: {exc}"
        return None

    async def _replay(
        self,
        session: str,
        upstream: str | None,
        exchanges: Iterable[Exchange],
        wanted: set[str | int],
        http: aiohttp.ClientSession,
        redacted: bool = False,
        slot: _Slot | None = None,
    ) -> bool:
        """Replay `exchanges` in order; False when a Ctrl-C stopped it part-way."""
        redact = redacted and self.settings.secrets is not None
        sides = [_Side(self.settings.target, ValueMap(wanted), redact=redact)]
        sides.extend(
            _Side(baseline, ValueMap(wanted), redact=redact) for baseline in self.settings.baselines
        )
        origin = None
        pace = self.settings.pace
        schedule = None if pace.asap or slot is None else RequestSchedule(pace)
        # The session's schedule is anchored once: when it was due to start, or later if
        # it waited for a slot or a reset hook.
        began = max(slot.due if slot is not None else 0.0, asyncio.get_running_loop().time())
        # The comparison of the exchange before, made while this one's request is in
        # flight (`_in_flight`): the lane's CPU overlaps the target's.
        judge: _Judgement | None = None
        try:
            for exchange in exchanges:
                if self.interrupted:
                    return False
                origin = origin or recorded_origin(exchange.request, upstream)
                if schedule is not None and slot is not None:
                    self._tick(judge)  # nothing to overlap with a wait
                    judge = None
                    await slot.wait_until(began + schedule.next(exchange.request.timestamp_start))
                    if self.interrupted:  # the wait was cut short
                        return False
                recorded = exchange.response
                if recorded is None:
                    self.totals.skip("recorded without a response")
                    self.counts.tick(None)
                    self.progress(self.counts)
                    continue
                try:
                    sent = await self._in_flight(exchange, sides, origin, http, judge)
                except asyncio.CancelledError:  # a second Ctrl-C: stored as interrupted
                    if self.interrupt.aborted:
                        self._store(self._unsent(session, exchange, INTERRUPTED))
                    raise
                judge = self._learned(session, exchange, recorded, sides, sent, origin)
                if not judge.quick:  # made now: it would hold up the next answer's reading
                    self._tick(judge)
                    judge = None
        finally:
            self._tick(judge)  # the last one, or the one before a stop
        return True

    def _tick(self, judge: _Judgement | None) -> None:
        """Count a comparison that waited (made now if it was not), once."""
        if judge is not None:
            outcome = judge.outcome()
            if outcome is not None:
                self.counts.tick(outcome)
                self.progress(self.counts)

    def _not_replayed(self, session: str, exchanges: Iterable[Exchange], reason: str) -> None:
        """A session whose reset failed: each exchange an error verdict with the reason."""
        self.totals.reset_failures[session] = reason
        for exchange in exchanges:
            if exchange.response is None:
                self.counts.tick(None)
                self.progress(self.counts)
                self.totals.skip("recorded without a response")
                continue
            self._store(self._unsent(session, exchange, reason))

    def _unsent(self, session: str, exchange: Exchange, reason: str) -> ExchangeResult:
        """The `error` result of an exchange with a recorded response that got no answer
        for `reason` (a failed reset, an interrupted run), counted in the run's counts."""
        self.counts.tick(Outcome.ERROR)
        self.progress(self.counts)
        return self._error(session, exchange, self.differ.route(_request(exchange)), reason)

    def _error(self, session: str, exchange: Exchange, route: str, reason: str) -> ExchangeResult:
        """An exchange's `error` result on `route`: the recorded request and response,
        the reason; counted for its route."""
        self._route_exchanges[route] += 1
        recorded = exchange.response
        return ExchangeResult(
            session=session,
            seq=exchange.seq,
            method=exchange.request.method,
            url=mask_path(exchange.request.path),
            route=route,
            verdict=Verdict(Outcome.ERROR, route, error=reason),
            request_headers=_masked_headers(exchange),
            request_body=exchange.request.body,
            expected=(
                HttpResponse(recorded.status, recorded.headers, recorded.body)
                if recorded is not None
                else None
            ),
            expected_ms=_recorded_ms(exchange),
        )

    async def _in_flight(
        self,
        exchange: Exchange,
        sides: list[_Side],
        origin: str,
        http: aiohttp.ClientSession,
        judge: _Judgement | None,
    ) -> list[tuple[Outgoing, Answer | str]]:
        """Send `exchange` to every side and wait for the answers; the comparison of
        the exchange before (`judge`) is made two turns of the loop later, once the
        request has gone out (aiohttp writes one without a body at once, a body from a
        task of its own on the next turn), and counted here. Were it not made by the
        time the answers are in, it is made then: the comparison may be made sooner, but
        never out of order."""
        if judge is not None:
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, judge.make)
        try:
            return await self._send_all(exchange, sides, origin, http)
        finally:
            self._tick(judge)

    async def _send_all(
        self, exchange: Exchange, sides: list[_Side], origin: str, http: aiohttp.ClientSession
    ) -> list[tuple[Outgoing, Answer | str]]:
        if len(sides) == 1:  # no task per request when there is nothing to overlap
            return [await self._send(exchange, sides[0], origin, http)]
        return list(
            await asyncio.gather(*(self._send(exchange, side, origin, http) for side in sides))
        )

    def _learned(
        self,
        session: str,
        exchange: Exchange,
        recorded: Response,
        sides: list[_Side],
        sent: list[tuple[Outgoing, Answer | str]],
        origin: str,
    ) -> _Judgement:
        """Correlation learns from the answers now (the next request may carry what
        they minted); the comparison is returned, to be made while the next request is
        in flight. Anything unexpected from here on (a hostile answer tripping
        correlation or the differ) is this exchange's `error` verdict, never the run's."""
        try:
            learned = self._learn(exchange, recorded, sides, sent)
        except Exception as exc:
            reason = _internal_error("correlation", exc)
            return _Judgement(functools.partial(self._fail, session, exchange, sent, sides, reason))
        return _Judgement(
            functools.partial(
                self._judge, session, exchange, recorded, sides, sent, origin, learned
            ),
            quick=_quick(learned.expected_body, sent),
        )

    def _fail(
        self,
        session: str,
        exchange: Exchange,
        sent: list[tuple[Outgoing, Answer | str]],
        sides: list[_Side],
        reason: str,
    ) -> Outcome:
        self._store(self._failed(session, exchange, sent, sides, reason))
        return Outcome.ERROR

    def _learn(
        self,
        exchange: Exchange,
        recorded: Response,
        sides: list[_Side],
        sent: list[tuple[Outgoing, Answer | str]],
    ) -> _Learned:
        """Each side's correlation learns what its answer minted; what the comparison
        takes from it."""
        is_socket = exchange.websocket_close is not None
        expected_body = server_frames(exchange.messages) if is_socket else recorded.body
        expected_headers = [] if is_socket else recorded.headers
        for side, (_, answer) in zip(sides, sent, strict=True):
            if isinstance(answer, Answer):
                side.values.learn(
                    expected_headers,
                    expected_body,
                    answer.headers,
                    answer.body,
                    seq=exchange.seq,
                    path=exchange.request.path,
                )
        return _Learned(
            expected_body,
            expected_headers,
            sides[0].values.comparable(side.values for side in sides[1:]),
            [side.values.reverse() for side in sides[1:]],
        )

    def _judge(
        self,
        session: str,
        exchange: Exchange,
        recorded: Response,
        sides: list[_Side],
        sent: list[tuple[Outgoing, Answer | str]],
        origin: str,
        learned: _Learned,
    ) -> Outcome:
        """Compare, and store the result (or hold it for the end of the run); an
        exception in the differ or while building the result is stored as the
        exchange's `error` verdict naming the stage. Returns the verdict's outcome."""
        answers = [answer for _, answer in sent]
        actual_values, baselines_values = learned.actual_values, learned.baselines_values
        # One try for the two stages (not a context manager each: two generators per
        # exchange): an exception inside one is the exchange's `error` verdict naming
        # it; before them (`stage` None) it goes on as it is.
        stage: str | None = None
        try:
            actual = answers[0]
            request = HttpRequest(
                exchange.request.method,
                exchange.request.path,
                exchange.request.headers,
                exchange.request.body,
            )
            expected = HttpResponse(
                recorded.status,
                learned.expected_headers,
                learned.expected_body,
                origin,
                recorded.http_version,
            )
            actual_response = _response(actual, sides[0].target)
            baselines = [
                _response(a, side.target) for a, side in zip(answers[1:], sides[1:], strict=True)
            ]
            stage = "the differ"
            verdict = self.differ.compare(
                request,
                expected,
                actual_response,
                actual_values=actual_values,
                baselines=baselines,
                baselines_values=baselines_values,
                error=actual if isinstance(actual, str) else None,
            )
            if any(b is not None for b in baselines):
                self.observations.observe(
                    verdict.route,
                    verdict.baseline_differences,
                    [*verdict.differences, *verdict.noise, *verdict.suspects],
                )
            stage = "the replayer"
            result = ExchangeResult(
                session=session,
                seq=exchange.seq,
                method=exchange.request.method,
                url=mask_path(exchange.request.path),
                route=verdict.route,
                verdict=verdict,
                request_headers=_masked_headers(exchange),
                request_body=exchange.request.body,
                expected=expected,
                actual=actual_response,
                baseline_status=next((b.status for b in baselines if b is not None), None),
                expected_ms=_recorded_ms(exchange),
                actual_ms=actual.elapsed_ms if isinstance(actual, Answer) else None,
                ambiguous_ids=list(sent[0][0].ambiguous),
            )
            if verdict.outcome is not Outcome.MATCHED or verdict.suspects:
                # What was sent, for `parity show`: only where there is something to explain.
                result.sent = sent_record(
                    session, sent[0][0], sent[1][0] if len(sent) > 1 else None
                )
        except Exception as exc:
            if stage is None:
                raise
            return self._fail(session, exchange, sent, sides, _internal_error(stage, exc))
        self._route_exchanges[verdict.route] += 1
        # With a baseline, a mismatch waits too: a spot where the baseline agreed with
        # the recording here by chance may show as noise elsewhere in the run.
        if verdict.suspects or (verdict.differences and self.settings.baselines):
            self._held.add(session)
            if not self.settings.baselines:
                self._pending.append(result)
            else:
                redo = functools.partial(
                    _compare_again,
                    request=request,
                    expected=expected,
                    actual=actual_response,
                    actual_values=actual_values,
                    baselines=baselines,
                    baselines_values=baselines_values,
                )
                self._pending.append(result, redo)
        else:
            self._store(result)
        return verdict.outcome

    def _failed(
        self,
        session: str,
        exchange: Exchange,
        sent: list[tuple[Outgoing, Answer | str]],
        sides: list[_Side],
        reason: str,
    ) -> ExchangeResult:
        """The `error` result of an exchange whose handling failed: the recorded request
        and response, the target's answer as received, the reason."""
        request = _request(exchange)
        try:
            route = self.differ.route(request)
        except Exception:
            route = f"{request.method} {urlsplit(request.path).path}"
        actual = sent[0][1]
        result = self._error(session, exchange, route, reason)
        result.actual = _response(actual, sides[0].target)
        result.actual_ms = actual.elapsed_ms if isinstance(actual, Answer) else None
        with contextlib.suppress(Exception):
            result.sent = sent_record(session, sent[0][0], sent[1][0] if len(sent) > 1 else None)
        return result

    async def _send(
        self, exchange: Exchange, side: _Side, origin: str, http: aiohttp.ClientSession
    ) -> tuple[Outgoing, Answer | str]:
        """The request as built for this side, and its answer (or why there is none:
        never an exception)."""
        where = f"{side.target.name} {side.target.url}"
        try:
            outgoing = build(exchange.request, side.target, side.values, origin)
        except Exception as exc:
            return _as_recorded(
                exchange, side.target
            ), f"{where}: {_internal_error('correlation', exc)}"
        secrets = self.settings.secrets
        # A token without an original (MissingSecret) ends the run: one line, exit 2.
        wire, frames = outgoing, exchange.messages
        if secrets is not None:
            wire = with_originals(outgoing, functools.partial(secrets.original, live=side.live))
            if exchange.websocket_close is not None:
                frames = secrets.client_frames(frames, side.live)
        try:
            if exchange.websocket_close is not None:
                answer = await send_websocket(http, wire, frames, self.settings.timeout)
            else:
                answer = await send(http, wire, self.settings.timeout)
            if side.redact and secrets is not None:
                answer = _redacted(answer, secrets, side.live)
        except SendError as exc:
            return outgoing, f"{where}: {exc}"
        except Exception as exc:
            return outgoing, f"{where}: {_internal_error('sending', exc)}"
        return outgoing, answer


@dataclass(frozen=True, slots=True)
class _Learned:
    """What an exchange's comparison takes from correlation's learning."""

    expected_body: bytes
    expected_headers: list[tuple[bytes, bytes]]
    actual_values: Mapping[object, object]
    baselines_values: list[dict[object, object]]


QUICK_BYTES = 4096
"""An answer whose body is not the recorded one is compared while the next request is in
flight only when the two bodies hold at most this many bytes together. The comparison
runs on the loop that reads the next answer, so while it runs that answer waits, and
its time (`actual_ms`) grows by what is left of the comparison when it arrives; a
comparison's cost grows with its differences (up to ~0.4 ms per KiB of JSON in which
everything differs), so a longer one is made before the next request is sent. Equal
bodies compare in microseconds whatever their size."""


def _quick(expected: bytes, sent: list[tuple[Outgoing, Answer | str]]) -> bool:
    """Whether the comparison of these answers is quick enough to be made while the
    next request is in flight (`QUICK_BYTES`)."""
    for _, answer in sent:
        if not isinstance(answer, Answer):
            continue
        body = answer.body
        if len(body) + len(expected) > QUICK_BYTES and body != expected:
            return False
    return True


class _Judgement:
    """An exchange's comparison, made once (`make`, from the loop or at `outcome`); its
    outcome, or the exception it raised, taken once (`outcome`). `quick`: whether it may
    wait until the next request is in flight."""

    __slots__ = ("_compare", "_error", "_outcome", "quick")

    def __init__(self, compare: Callable[[], Outcome], *, quick: bool = True) -> None:
        self.quick = quick
        self._compare: Callable[[], Outcome] | None = compare
        self._outcome: Outcome | None = None
        self._error: Exception | None = None

    def make(self) -> None:
        compare, self._compare = self._compare, None
        if compare is None:
            return
        try:
            self._outcome = compare()
        except Exception as exc:  # raised again where the lane takes the outcome
            self._error = exc

    def outcome(self) -> Outcome | None:
        """The outcome, once (None after that); the comparison's exception is raised."""
        self.make()
        error, outcome, self._error, self._outcome = self._error, self._outcome, None, None
        if error is not None:
            raise error
        return outcome


def _internal_error(stage: str, exc: BaseException) -> str:
    """An exchange's `error` reason for an unexpected exception: `internal error in the
    differ: ValueError: ...`; with PARITY_DEBUG=1 the traceback goes to stderr."""
    if os.environ.get("PARITY_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    return f"internal error in {stage}: {type(exc).__name__}: {exc}".rstrip(": ")


def _errored(verdict: Verdict, reason: str) -> Verdict:
    """`verdict` as an `error` with `reason`, its differences kept for the record."""
    return dataclasses.replace(verdict, outcome=Outcome.ERROR, error=reason)


def _as_recorded(exchange: Exchange, target: Target) -> Outgoing:
    """The request as recorded, pointed at `target` (when building it failed)."""
    request = exchange.request
    return Outgoing(
        request.method,
        target.origin + target.prefix + request.path,
        [],
        request.body,
        request.path,
    )


def _redacted(answer: Answer, secrets: ReplaySecrets, live: Live) -> Answer:
    """A target's answer with its secrets replaced by tokens, as the recorder does; the
    originals go to `live` (memory only)."""
    if answer.messages:
        messages = secrets.redact_messages(answer.messages, live)
        return dataclasses.replace(answer, messages=messages, body=server_frames(messages))
    # `answer` is this exchange's own, fresh from `send`: redacted in place.
    answer.headers, answer.body = secrets.redact_answer(answer.headers, answer.body, live)
    return answer


def _request(exchange: Exchange) -> HttpRequest:
    request = exchange.request
    return HttpRequest(request.method, request.path, request.headers, request.body)


def _masked_headers(exchange: Exchange) -> list[tuple[bytes, bytes]]:
    return [(k, b"***" if is_secret_header(k) else v) for k, v in exchange.request.headers]


def _compare_again(
    differ: Differ,
    *,
    request: HttpRequest,
    expected: HttpResponse,
    actual: HttpResponse | None,
    actual_values: Mapping[object, object],
    baselines: list[HttpResponse | None],
    baselines_values: list[dict[object, object]],
) -> Verdict:
    return differ.compare(
        request,
        expected,
        actual,
        actual_values=actual_values,
        baselines=baselines,
        baselines_values=baselines_values,
    )


def _response(answer: Answer | str | None, target: Target) -> HttpResponse | None:
    if not isinstance(answer, Answer):
        return None
    return HttpResponse(
        answer.status, answer.headers, answer.body, target.origin, answer.http_version
    )


def _recorded_ms(exchange: Exchange) -> float | None:
    response = exchange.response
    if response is None or response.timestamp_end is None:
        return None
    return (response.timestamp_end - exchange.request.timestamp_start) * 1000


class _Collected:
    """A sink that keeps the results in memory."""

    def __init__(self) -> None:
        self.results: list[ExchangeResult] = []

    def add(self, result: ExchangeResult) -> None:
        self.results.append(result)


async def replay_sequence(
    exchanges: Sequence[Exchange],
    *,
    session: str,
    upstream: str | None,
    settings: ReplaySettings,
    differ: Differ,
    settle: bool = True,
) -> list[ExchangeResult]:
    """Replay `exchanges` as one session on a fresh connection pool, after the reset
    hooks of `settings` (a failed reset raises `ResetError`), and return every result
    in order. With `settle=False`, suspects (differences at spots of learned noise) are
    left in the verdicts for the caller to judge."""
    sink = _Collected()
    replayer = Replayer(settings, differ, sink)
    failure = await replayer.reset_targets()
    if failure is not None:
        raise ResetError(failure)
    async with new_client(1, settings.verify_tls) as http:
        await replayer.replay_exchanges(session, upstream, exchanges, http, reset=False)
    replayer.finish(settle=settle)
    order = {exchange.seq: n for n, exchange in enumerate(exchanges)}
    return sorted(sink.results, key=lambda r: order.get(r.seq, len(order)))


def session_files(paths: Iterable[Path]) -> list[Path]:
    """Session files from files and directories (a directory: its `*.parity`, sorted;
    the parts of a rotated session in part order, `sessions.group_sessions`: the run's
    read takes them as one session)."""
    return [path for session in group_sessions(paths) for path in session.paths]
