"""The lines `parity replay` prints around a run (pure: each returns text)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from parity.config import TargetConfig
from parity.output import plural

if TYPE_CHECKING:
    from parity.replayer import Pace, ReplaySettings, ResumePoint, RunOutcome


def start_lines(
    run_id: str,
    sessions: int,
    exchanges: int,
    settings: ReplaySettings,
    references: list[TargetConfig],
) -> list[str]:
    """Before the replay: what goes where, reset hooks, baselines without one."""
    target = settings.target.url
    counts = f"{plural(sessions, 'session')}, {plural(exchanges, 'exchange')}"
    lines = [f"parity replay: run {run_id}: {counts} -> {target}"]
    if not settings.pace.asap:
        lines.append(f"parity replay: paced {settings.pace.describe()}")
    if settings.resets:
        lines.append(
            f"parity replay: reset hooks for {', '.join(t.name for t in settings.resets)}: "
            "sessions replay one at a time"
        )
    unreset = [ref for ref in references if not ref.reset]
    if unreset:
        lines.append(unreset_baselines_line(unreset))
    return lines


def resuming_line(point: ResumePoint, exchanges: int) -> str:
    """Before a resumed run: what is kept and what is replayed again."""
    again = point.sessions - point.finished
    return (
        f"parity replay: resuming {point.status} run {point.run_id}: {point.finished} of "
        f"{point.sessions} sessions finished, {again} replayed again from their start "
        f"({exchanges} exchanges)"
    )


def summary_lines(outcome: RunOutcome) -> list[str]:
    """After the replay: one warning per torn or partly corrupt session file, sessions
    whose reset failed, the run's totals, the spots not learned as noise."""
    totals = outcome.totals
    lines: list[str] = [damaged_line(damage) for damage in outcome.damaged]
    summary = (
        f"{totals.exchanges} exchanges: {totals.matched} matched, {totals.mismatched} mismatched, "
        f"{totals.errors} errors, {totals.noise_suppressed} noise suppressed"
    )
    if totals.skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in totals.skipped_reasons.items())
        summary += f"; skipped {reasons}"
    if totals.reset_failures:
        summary += f"; {plural(len(totals.reset_failures), 'session')} not replayed (reset failed)"
        lines += _per_session(totals.reset_failures, "session {}: {}")
    if totals.failed_sessions:
        summary += f"; {len(totals.failed_sessions)} sessions stopped part-way"
        lines += _per_session(totals.failed_sessions, "session file {} stopped part-way: {}")
    lines.append(f"parity replay: run {outcome.run_id}: {summary}")
    if outcome.noise_excluded:
        lines.append(state_drift_line(outcome.noise_excluded))
    return lines


def _per_session(reasons: dict[str, str], line: str, shown: int = 5) -> list[str]:
    """One `line` (formatted with the session and its reason) for each of the first
    `shown` sessions, and how many more there are."""
    lines = [f"parity replay: {line.format(name, why)}" for name, why in reasons.items()]
    more = len(lines) - shown
    return lines[:shown] + ([f"parity replay: … and {more} more sessions"] if more > 0 else [])


def damaged_line(damage: dict[str, object]) -> str:
    """The warning for one session file the reader could not read whole (an item of
    `runs.meta["damaged_sessions"]`): what was skipped, what was recovered."""
    parts: list[str] = []
    skipped = damage.get("skipped_bytes")
    if skipped:
        parts.append(f"{skipped} bytes skipped ({damage.get('skipped_reason')})")
    malformed = damage.get("malformed_records")
    if malformed:
        records = "record" if malformed == 1 else "records"
        parts.append(
            f"{malformed} malformed {records} passed over (first: {damage.get('first_malformed')})"
        )
    missing = damage.get("missing_parts")
    if isinstance(missing, list) and missing:
        parts.append(f"part {', '.join(map(str, missing))} missing")
    kind = "torn" if skipped else "partly corrupt" if malformed else "incomplete"
    return (
        f"parity replay: warning: session {damage.get('session')} ({damage.get('path')}) is "
        f"{kind}: {'; '.join(parts)}; {damage.get('exchanges')} exchanges recovered and "
        "replayed; `parity gate` fails this run unless --allow-torn"
    )


def unreset_baselines_line(baselines: list[TargetConfig]) -> str:
    """The one-line warning for baselines without a reset hook: what they learn is only
    noise if they start in the recorded state."""
    names = ", ".join(b.name if b.name == b.url else f"{b.name} ({b.url})" for b in baselines)
    named = next((b.name for b in baselines if b.name != b.url), None)
    where = f"[targets.{named}]" if named else '[targets.NAME] (with url = "...")'
    return (
        f"parity replay: baseline {names} has no reset hook: it must start in the recorded "
        f'state (restart it fresh, or add reset = "CMD" under {where} in parity.toml), '
        "else state it changed since the recording is learned as noise"
    )


def state_drift_line(excluded: list[dict[str, object]]) -> str:
    """One line for the replay summary: spots not learned as noise, as state drift."""
    shown = ", ".join(f"{e['route']} {e['where']} {e['path']}".rstrip() for e in excluded[:3])
    more = f" and {len(excluded) - 3} more" if len(excluded) > 3 else ""
    spots = "spot" if len(excluded) == 1 else "spots"
    return (
        f"parity replay: not learned as noise, state drift of the baseline: "
        f"{len(excluded)} {spots} ({shown}{more}); `parity noise` says why"
    )


def pace_warning_line(pace: Pace, why: str) -> str:
    """The one warning when the recorded start times cannot pace the run."""
    return (
        f"parity replay: warning: --pace {pace.describe()} not applied, the recording's "
        f"start times are not usable ({why}): replaying asap"
    )
