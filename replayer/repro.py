"""One mismatch sent again (`parity repro --send`) and shrunk (`parity shrink`).

Both replay the session's earlier requests first (all of them, or a subset), on a
target reset when it has a reset hook, carrying what it mints as `parity replay` does;
then the mismatching request, judged by a differ like the run's (`case.build_differ`).
The mismatch shows again when the request gives the same signature with the same status
from the target: a signature of two errors (`error_changed`) does not say which error,
and 404 -> 400 and 404 -> 401 "log in first" would otherwise pass alike. Differences at
learned noise count as they did in the run (`shrink.shows_signature`).

`shrink_mismatch` runs delta debugging (`shrink.ddmin`) over the earlier requests that
had an answer: each attempt resets the target, replays a subset in order, then the
mismatching request, and passes when the mismatch shows again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parity.differ import Differ, Difference
from parity.replayer.case import Case
from parity.replayer.engine import ReplaySettings, replay_sequence
from parity.replayer.outgoing import Target
from parity.replayer.shrink import Report, ShrinkResult, ddmin, shows_signature
from parity.sessions import Exchange, installed_keys, is_encrypted, save_session
from parity.sessions.secrets import mask_path
from parity.triage import ExchangeResult


def settings_for(
    url: str, name: str, reset: str | None, *, timeout: float, reset_timeout: float
) -> ReplaySettings:
    """Replay settings for one target, one request at a time, with its reset hook."""
    side = Target(url, name if name != url else "target")
    return ReplaySettings(
        target=side,
        concurrency=1,
        timeout=timeout,
        resets={side: reset} if reset else {},
        reset_timeout=reset_timeout,
    )


def send_case(
    case: Case, exchanges: Sequence[Exchange], settings: ReplaySettings, differ: Differ
) -> tuple[ExchangeResult | None, int]:
    """Replay `exchanges` (ending with the case's) as one session: the result of the
    case's exchange (suspects undecided), and how many others got no answer. A failed
    reset raises `ResetError`."""
    results = asyncio.run(
        replay_sequence(
            exchanges,
            session=case.session,
            upstream=case.header.upstream,
            settings=settings,
            differ=differ,
            settle=False,
        )
    )
    last = next((r for r in results if r.seq == case.seq), None)
    unanswered = sum(1 for r in results if r.seq != case.seq and r.verdict.error)
    return last, unanswered


def shows_again(case: Case, result: ExchangeResult, differ: Differ) -> bool:
    """The mismatch again: the same signature and the same status from the target."""
    status = result.actual.status if result.actual is not None else None
    if case.actual_status is not None and status != case.actual_status:
        return False
    return case.signature is not None and shows_signature(
        differ, result.verdict, case.signature, case.shapes
    )


@dataclass(frozen=True, slots=True)
class Retry:
    """The mismatching request sent again after its session's earlier requests."""

    result: ExchangeResult | None
    """None when it was not sent (recorded without a response)."""
    unanswered: int
    """Earlier requests that got no answer."""
    differences: list[Difference]
    """Its differences now, suspects (at learned noise) included."""
    same: bool
    """The mismatch shows again (`shows_again`)."""


def retry(case: Case, settings: ReplaySettings, differ: Differ) -> Retry:
    """Replay the case's earlier exchanges (`case.before`), then its own, and judge it."""
    result, unanswered = send_case(case, [*case.before, case.exchange], settings, differ)
    if result is None:
        return Retry(None, unanswered, [], False)
    verdict = result.verdict
    differences = [*verdict.differences, *verdict.suspects]
    return Retry(result, unanswered, differences, shows_again(case, result, differ))


@dataclass(frozen=True, slots=True)
class Shrunk:
    """What `shrink_mismatch` found."""

    earlier: list[Exchange]
    """The earlier exchanges it started from (those recorded with a response)."""
    result: ShrinkResult[Exchange] | None
    """None when the mismatch did not show again after all of them."""
    seconds: float


def shrink_mismatch(
    case: Case,
    settings: ReplaySettings,
    differ: Differ,
    *,
    max_attempts: int,
    max_seconds: float,
    report: Report,
) -> Shrunk:
    """The few earlier requests of its session that the case's mismatch needs. Attempt 0
    replays them all (reported as passed; if it fails, nothing else is tried); the others
    count against `max_attempts` and `max_seconds`, both including attempt 0."""
    earlier = [e for e in case.before if e.response is not None]

    def reproduces(subset: Sequence[Exchange]) -> bool:
        result, _ = send_case(case, [*subset, case.exchange], settings, differ)
        return result is not None and shows_again(case, result, differ)

    started = time.monotonic()
    if not reproduces(earlier):
        return Shrunk(earlier, None, time.monotonic() - started)
    report(0, len(earlier), True)
    result = ddmin(
        earlier,
        reproduces,
        max_attempts=max_attempts - 1,  # attempt 0 was the whole session
        max_seconds=max(0.0, max_seconds - (time.monotonic() - started)),
        report=report,
    )
    return Shrunk(earlier, result, time.monotonic() - started)


def shrunk_json(
    case: Case, shrunk: Shrunk, *, target: str, stopped: str | None, saved: Path | None
) -> dict[str, Any]:
    """What a shrink on `target` found, as `parity shrink --json` prints it (paths
    masked): `stopped` names the bound that stopped it, `saved` the file written."""
    assert shrunk.result is not None
    return {
        "mismatch": case.mismatch_id,
        "signature": case.signature,
        "session": case.session,
        "target": target,
        "earlier": len(shrunk.earlier),
        "kept": [request_row(e) for e in shrunk.result.items],
        "request": request_row(case.exchange),
        "attempts": shrunk.result.attempts + 1,
        "seconds": round(shrunk.seconds, 3),
        "stopped": stopped,
        "minimal": shrunk.result.stopped is None,
        "saved": str(saved) if saved else None,
    }


def request_row(exchange: Exchange) -> dict[str, Any]:
    """`{"seq", "method", "path"}` of the exchange's request, the path masked."""
    r = exchange.request
    return {"seq": exchange.seq, "method": r.method, "path": mask_path(r.path)}


def save_shrunk(where: str, case: Case, kept: Sequence[Exchange]) -> Path:
    """Write `kept` and the case's exchange as a new session file at `where` (see
    `sessions.save_session`), its header's meta naming the session it was shrunk from,
    the mismatch and its signature; encrypted when that session is (with the installed
    key source, which just read it)."""
    encrypt = installed_keys() if is_encrypted(case.session_path) else None
    return save_session(
        where,
        [*kept, case.exchange],
        label=f"shrunk {case.header.label or case.session} for mismatch {case.mismatch_id}",
        upstream=case.header.upstream,
        recorder=dict(case.header.recorder),
        meta={
            "shrunk_from": case.session,
            "mismatch": case.mismatch_id,
            "signature": case.signature,
        },
        encrypt=encrypt,
    )
