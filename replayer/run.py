"""A replay run, start to finish, as `parity replay` runs it.

1. `ReplayRun.start` reads each session file once, before anything is sent (a foreign
   or unreadable file fails here): its id, its exchanges, its correlation seeds (the
   values its requests carry, `request_values`) and the requests the route keys are
   detected from (`differ.detect_route_keys`), all from the same pass (the seeds wait in
   a scratch file until their session starts: `replayer.seeds`). Then the results
   database: the learned noise for the differ, a new run.
2. `ReplayRun.replay` has the engine stream each file once more (send, compare, store),
   hands the run's noise observations to triage whole (state drift left out), keeps the
   note of what learned noise settled, and finishes the run.

Each session file is thus opened twice per run. Errors are the rooms' own
(`SessionFileError`, `TriageError`), for the caller to report.

A run keeps its options in `runs.meta["replay"]` (`replayer.resume.run_options`), so
that `ReplayRun.start(plan, resume=RUN)` can take up an interrupted one: the sessions
it finished stay as stored, the others are replayed again from their start. A Ctrl-C
during `replay(handle_signals=True)` stops it cleanly (`replayer.interrupt`): the run
is marked interrupted, not finished.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parity.defaults import DEFAULT_CONCURRENCY, DEFAULT_RESET_TIMEOUT, DEFAULT_TIMEOUT
from parity.differ import Differ, HttpRequest, LearnedNoise, RouteRule, Rules, detect_route_keys
from parity.replayer.correlate import Scalar, request_values
from parity.replayer.engine import Progress, Replayer, ReplaySettings, ReplayTotals
from parity.replayer.interrupt import Interrupt
from parity.replayer.outgoing import Target
from parity.replayer.pacing import Pace, TimingCheck, session_offsets
from parity.replayer.resume import parts_fingerprint, run_options
from parity.replayer.secrets import MissingSecret, ReplaySecrets
from parity.replayer.seeds import SeedStore
from parity.sessions import (
    ReadResult,
    SessionFileError,
    SessionKeyError,
    SessionParts,
    installed_keys,
    open_session,
)
from parity.sessions.parts import as_parts, as_sessions
from parity.triage import ResultsDB, RunInfo, TriageError
from parity.triage.resume import Reopened, finished_sessions

ROUTE_SCAN_BODY = 1 << 20
"""Route keys come from headers and top-level JSON fields; a huge upload tells nothing
more, so the route-key pass sees bodies up to this size (larger ones as empty)."""


@dataclass(frozen=True, slots=True)
class ScannedSession:
    """One session file as the run's first read saw it."""

    path: Path
    id: str
    exchanges: int
    """Recorded requests (each one exchange to replay)."""
    seeds: tuple[SeedStore, int]
    """Where the values its requests carry wait until it replays (`wanted`)."""
    read: ReadResult = field(default_factory=ReadResult)
    """What the reader passed over: a torn or corrupt tail, malformed records."""
    encrypted: bool = False
    first_start: float | None = None
    """The recorded start time of its first request (pacing: `replayer.pacing`)."""
    timing: str | None = None
    """Why its recorded start times cannot pace a replay (None: they can)."""
    parts: SessionParts | None = None
    """Its files (a rotated session's parts, read as one); None: `path` alone."""
    fingerprint: list[dict[str, object]] = field(default_factory=list)
    """What says each of its files (every part of a rotated session) is unchanged when
    the run is resumed (`replayer.resume`)."""

    @property
    def wanted(self) -> set[Scalar]:
        """The values its requests carry: correlation replaces only these (read back
        from the run's scratch file each time: `replayer.seeds`)."""
        store, at = self.seeds
        return store.get(at)

    @property
    def damaged(self) -> bool:
        """Torn or partly corrupt: bytes skipped or records passed over as malformed, or
        a part of a rotated session missing."""
        read = self.read
        return bool(read.skipped_bytes or read.malformed_records or read.missing_parts)

    def damage(self) -> dict[str, object]:
        """What was lost, as `runs.meta["damaged_sessions"]` keeps it."""
        read = self.read
        return {
            "session": self.id,
            "path": str(self.path),
            "exchanges": self.exchanges,
            "skipped_bytes": read.skipped_bytes,
            "skipped_reason": read.skipped_reason or None,
            "malformed_records": read.malformed_records,
            "first_malformed": read.first_malformed or None,
            **({"missing_parts": read.missing_parts} if read.missing_parts else {}),
        }


@dataclass(frozen=True, slots=True)
class Scan:
    sessions: list[ScannedSession]
    route_keys: list[RouteRule]

    @property
    def exchanges(self) -> int:
        return sum(s.exchanges for s in self.sessions)

    def timing(self) -> str | None:
        """Why the recorded start times cannot pace this run (the first session whose
        cannot, and why), or None."""
        for s in self.sessions:
            if s.timing is not None:
                return f"session {s.id}: {s.timing}"
        return None

    def damaged(self) -> list[dict[str, object]]:
        """The torn or partly corrupt files, each with what was lost (`ScannedSession.damage`)."""
        return [s.damage() for s in self.sessions if s.damaged]


def scan_sessions(files: Sequence[Path | SessionParts], *, skip_unreadable: bool = False) -> Scan:
    """One read of every session (the parts of a rotated one, given or in a directory,
    as one: `sessions.parts.as_sessions`); raises `SessionFileError` for a file that is
    not a readable session, or leaves it out with `skip_unreadable` (a repro's run may
    have lost a file since)."""
    scanned: list[ScannedSession] = []
    seeds = SeedStore()

    def session(path: Path | SessionParts) -> Iterator[HttpRequest]:
        parts = as_parts(path)
        with open_session(parts) as reader:
            wanted: set[Scalar] = set()
            count = 0
            timing = TimingCheck()
            # The exchanges the engine's read will yield, as it reads them: malformed
            # ones are counted (in `reader.result`) and passed over here as there.
            for exchange in reader:
                request = exchange.request
                count += 1
                timing.add(request.timestamp_start)
                wanted |= request_values(request.path, request.headers, request.body)
                body = request.body if len(request.body) <= ROUTE_SCAN_BODY else b""
                yield HttpRequest(request.method, request.path, request.headers, body)
            scanned.append(
                ScannedSession(
                    parts.path,
                    reader.header.id,
                    count,
                    (seeds, seeds.put(wanted)),
                    reader.result,
                    reader.encrypted,
                    timing.first,
                    timing.problem,
                    parts,
                    parts_fingerprint(reader),
                )
            )

    def requests() -> Iterator[HttpRequest]:
        for path in as_sessions(files):
            try:
                yield from session(path)
            except SessionFileError:
                if not skip_unreadable:
                    raise

    # One URL carrying many operations (a JSON-RPC method, an X-Amz-Target header) gets
    # one route per operation; explicit [[route]] rules win.
    route_keys = detect_route_keys(requests())
    return Scan(scanned, route_keys)


def replay_settings(
    target: str,
    baselines: Sequence[tuple[str, str | None]] = (),
    *,
    target_reset: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    reset_timeout: float = DEFAULT_RESET_TIMEOUT,
    verify_tls: bool = True,
    secrets: ReplaySecrets | None = None,
    pace: Pace | None = None,
) -> ReplaySettings:
    """The engine's settings for a target URL and baselines given as (URL, reset hook
    or None): the baselines named `baseline 1`, `baseline 2`, ..., each reset hook
    keyed by its side."""
    side = Target(target, "target")
    references = tuple(Target(url, f"baseline {i + 1}") for i, (url, _) in enumerate(baselines))
    resets: dict[Target, str] = {side: target_reset} if target_reset else {}
    for reference, (_, reset) in zip(references, baselines, strict=True):
        if reset:
            resets[reference] = reset
    return ReplaySettings(
        target=side,
        baselines=references,
        concurrency=concurrency,
        timeout=timeout,
        resets=resets,
        reset_timeout=reset_timeout,
        verify_tls=verify_tls,
        secrets=secrets,
        pace=pace or Pace(),
    )


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What to replay, where, under which rules, into which database."""

    files: Sequence[Path | SessionParts]
    settings: ReplaySettings
    rules: Rules
    db: Path
    rules_path: str | None = None
    label: str = ""
    encrypt_bodies: bool = False
    """Encrypt the mismatches' bodies in the database (`[record] encrypt`); they are
    also when any session file of the run is encrypted."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: str
    totals: ReplayTotals
    noise_excluded: list[dict[str, object]]
    """Spots not learned as noise, as state drift of the baseline (`runs.meta`)."""
    damaged: list[dict[str, object]] = field(default_factory=list)
    """Torn or partly corrupt session files and what was lost (`runs.meta`)."""
    interrupted: str | None = None
    """The signal that stopped the run (`SIGINT`, `SIGTERM`); None if it finished."""
    finished_sessions: int = 0
    """Sessions whose results are all stored."""
    sessions: int = 0
    """Sessions of the run."""


class ReplayRun:
    """One run in the results database: `start`, then `replay` (which finishes it)."""

    def __init__(
        self,
        plan: RunPlan,
        scan: Scan,
        results: ResultsDB,
        learned: LearnedNoise,
        run_id: str,
        reopened: Reopened | None = None,
    ) -> None:
        self.plan = plan
        self.scan = scan
        self.results = results
        self.learned = learned
        self.run_id = run_id
        self.reopened = reopened
        """A resumed run: what its finished sessions had stored (None for a new run)."""

    @classmethod
    def start(cls, plan: RunPlan, *, resume: str | None = None) -> ReplayRun:
        """Read the session files, open the database, record a new run; or, with
        `resume` (a run id), take up that unfinished run: what its unfinished sessions
        stored is deleted, they are replayed again (`replayer.resume`)."""
        scan = scan_sessions(plan.files)
        results = ResultsDB(plan.db)
        if plan.encrypt_bodies or any(s.encrypted for s in scan.sessions) or results.encrypted():
            # The key now, before the run is recorded: a missing one leaves no run behind.
            results.encrypt_bodies(installed_keys())
        learned = results.learned_noise()
        settings = plan.settings
        reopened = None
        if resume is not None:
            run_id = resume
            reopened = results.reopen_run(run_id)
        else:
            run_id = results.start_run(
                RunInfo(
                    target=settings.target.url,
                    baseline=", ".join(b.url for b in settings.baselines) or None,
                    sessions=[s.id for s in scan.sessions],
                    label=plan.label,
                    rules_path=plan.rules_path,
                    started_at=time.time(),
                    meta={
                        "replay": run_options(
                            plan, [f for s in scan.sessions for f in s.fingerprint]
                        )
                    },
                )
            )
        pace = settings.pace
        if not pace.asap:  # what a resumed or compared run needs to pace alike
            applied = scan.timing() is None
            meta = {"factor": pace.factor, "max_idle": pace.max_idle, "applied": applied}
            results.update_run_meta(run_id, {"pace": meta})
        damaged = scan.damaged()
        if damaged:
            # The gate fails a run that replayed a damaged file (unless --allow-torn).
            results.update_run_meta(run_id, {"damaged_sessions": damaged})
        return cls(plan, scan, results, learned, run_id, reopened)

    @property
    def to_replay(self) -> list[ScannedSession]:
        """The sessions this run replays: all, or those a resumed run had not finished."""
        if self.reopened is None:
            return self.scan.sessions
        return [s for s in self.scan.sessions if s.id not in self.reopened.finished]

    @property
    def exchanges(self) -> int:
        """The exchanges this run replays (a resumed run: of its unfinished sessions)."""
        return sum(s.exchanges for s in self.to_replay)

    @property
    def pace_warning(self) -> str | None:
        """Why a paced run replays asap (recorded start times not usable), or None."""
        if self.plan.settings.pace.asap:
            return None
        return self.scan.timing()

    def replay(
        self,
        progress: Progress | None = None,
        *,
        handle_signals: bool = False,
        on_stop: Callable[[], None] | None = None,
    ) -> RunOutcome:
        """Send, compare and store every session, then finish the run. With
        `handle_signals`, a Ctrl-C or SIGTERM stops it cleanly instead: what was
        replayed is stored and the run marked interrupted (`RunOutcome.interrupted`);
        `on_stop` is called (on the event loop) when the first signal comes."""
        interrupt = Interrupt(on_stop)
        if not handle_signals:
            return self._replay(progress, interrupt)
        with interrupt.installed():
            return self._replay(progress, interrupt)

    def _replay(self, progress: Progress | None, interrupt: Interrupt) -> RunOutcome:
        differ = Differ(self.plan.rules, learned=self.learned, route_keys=self.scan.route_keys)
        settings, offsets = self.plan.settings, None
        sessions = self.to_replay
        if self.pace_warning is not None:
            settings = dataclasses.replace(settings, pace=Pace())
        elif not settings.pace.asap:
            # A session without requests starts with the first; a resumed run's
            # sessions keep their recorded offsets from the first one it replays.
            first = min((s.first_start for s in sessions if s.first_start is not None), default=0.0)
            starts = [first if s.first_start is None else s.first_start for s in sessions]
            offsets = session_offsets(starts, settings.pace)
        with self.results.writer(self.run_id) as writer:
            replayer = Replayer(settings, differ, writer, progress=progress, interrupt=interrupt)
            if self.reopened is not None:
                replayer.resume_from(self.reopened.totals, self.reopened.routes)
                replayer.totals.sessions += len(self.reopened.finished)
            try:
                totals = asyncio.run(
                    # each session's seeds read back when it starts (`replayer.seeds`)
                    replayer.run(
                        [
                            (s.parts or s.path, functools.partial(s.seeds[0].get, s.seeds[1]))
                            for s in sessions
                        ],
                        offsets,
                    )
                )
            except ExceptionGroup as group:  # from the TaskGroup of sessions
                known = group.subgroup(
                    (SessionFileError, SessionKeyError, TriageError, MissingSecret)
                )
                if known is None:
                    raise
                raise known.exceptions[0] from None
        if totals.failed_sessions or self.reopened is not None:
            # The gate fails a run with a session stopped part-way (a resumed run's
            # earlier failures were replayed again: the list is this attempt's).
            failed = [{"session": n, "reason": r} for n, r in totals.failed_sessions.items()]
            self.results.update_run_meta(self.run_id, {"failed_sessions": failed})
        if replayer.interrupted:
            self.results.interrupt_run(self.run_id)
            return self._outcome(totals, [], interrupt.signal_name or "SIGINT")
        return self._outcome(totals, self._finish(replayer), None)

    def _outcome(
        self, totals: ReplayTotals, excluded: list[dict[str, object]], interrupted: str | None
    ) -> RunOutcome:
        finished = len(finished_sessions(self.results, self.run_id))
        return RunOutcome(
            self.run_id,
            totals,
            excluded,
            self.scan.damaged(),
            interrupted=interrupted,
            finished_sessions=finished,
            sessions=len(self.scan.sessions),
        )

    def _finish(self, replayer: Replayer) -> list[dict[str, object]]:
        results, run_id = self.results, self.run_id
        excluded: list[dict[str, object]] = []
        observed = replayer.observations
        if observed:
            # State drift (a baseline not in the recorded state) is never learned.
            excluded = observed.exclude_state_drift()
            if excluded:
                results.update_run_meta(run_id, {"noise_excluded": excluded})
            results.add_noise(run_id, observed)
        if self.learned.stats:
            results.note_learned_noise(run_id, self.learned.policy, replayer.settled_as_noise)
        results.finish_run(run_id, finished_at=time.time())
        return excluded
