"""What the results database keeps so that an interrupted run can be resumed (schema v8).

- `run_sessions`: one row per session of a run whose every result is stored. The
  writer inserts it in the transaction of the session's last result
  (`ResultWriter.session_done`), so after a crash a session is either finished with all
  its results or unfinished.
- `runs.interrupted_at`: when Ctrl-C (or SIGTERM) stopped the run (`interrupt_run`);
  NULL while it runs, once it finished, and for a run that was killed (`kill -9`, a lost
  machine), which stays *unfinished* (`finished_at` NULL).

`reopen_run` prepares a resume: in one transaction it deletes what the unfinished
sessions stored (results, mismatches, their finding links, and the findings and
signatures only they had created), recounts the run's totals from what remains, and
clears `interrupted_at`. The replayer then replays those sessions from their start.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parity.triage.errors import NotFound, TriageError
from parity.triage.text import loads

if TYPE_CHECKING:
    from parity.triage.db import ResultsDB

INSERT_DONE = (
    "INSERT INTO run_sessions (run_id, session, finished_at) VALUES (?, ?, ?) "
    "ON CONFLICT(run_id, session) DO UPDATE SET finished_at = excluded.finished_at"
)

_UNFINISHED = "session NOT IN (SELECT session FROM run_sessions WHERE run_id = :run)"
_DELETE_PARTIAL = [
    f"DELETE FROM finding_links WHERE run_id = :run AND {_UNFINISHED}",
    f"DELETE FROM results WHERE run_id = :run AND {_UNFINISHED}",
    f"DELETE FROM mismatches WHERE run_id = :run AND {_UNFINISHED}",
    # What only the deleted rows had created (nothing links to it, no verdict holds it).
    "DELETE FROM findings WHERE first_seen_run = :run "
    "AND id NOT IN (SELECT finding FROM finding_links) "
    "AND id NOT IN (SELECT finding FROM verdicts) "
    "AND id NOT IN (SELECT finding FROM verdict_history)",
    "DELETE FROM signatures WHERE first_seen_run = :run "
    "AND id NOT IN (SELECT signature FROM mismatches WHERE signature IS NOT NULL) "
    "AND id NOT IN (SELECT signature FROM results WHERE signature IS NOT NULL) "
    "AND id NOT IN (SELECT signature FROM signature_verdicts) "
    "AND id NOT IN (SELECT signature FROM signature_verdict_history)",
]
_RECOUNT = (
    "UPDATE runs SET "
    "exchanges = (SELECT count(*) FROM results WHERE run_id = :run), "
    "matched = (SELECT count(*) FROM results WHERE run_id = :run AND outcome = 'matched'), "
    "mismatched = (SELECT count(*) FROM results WHERE run_id = :run "
    "AND outcome = 'mismatched'), "
    "errors = (SELECT count(*) FROM results WHERE run_id = :run AND outcome = 'error'), "
    "noise_suppressed = (SELECT coalesce(sum(noise), 0) FROM results WHERE run_id = :run), "
    "interrupted_at = NULL WHERE id = :run"
)


@dataclass(frozen=True, slots=True)
class Reopened:
    """A run as `reopen_run` left it: what its finished sessions stored."""

    finished: frozenset[str]
    """The sessions whose results are all stored (not replayed again)."""
    totals: dict[str, int]
    """`exchanges`, `matched`, `mismatched`, `errors`, `noise_suppressed` of those."""
    routes: Counter[str]
    """Their stored exchanges per route (learned noise's rate needs the whole run's)."""


def run_status(row: dict[str, Any]) -> str:
    """`finished`, `interrupted` (Ctrl-C) or `unfinished` (killed, or still running)."""
    if row.get("finished_at") is not None:
        return "finished"
    if row.get("interrupted_at") is not None:
        return "interrupted"
    return "unfinished"


def finished_sessions(rdb: ResultsDB, run_id: str) -> frozenset[str]:
    rows = rdb.db.execute("SELECT session FROM run_sessions WHERE run_id = ?", [run_id])
    return frozenset(row[0] for row in rows)


def interrupt_run(rdb: ResultsDB, run_id: str, at: float) -> None:
    """Mark the run interrupted (its results so far are stored; it is not finished)."""
    try:
        with rdb.db.atomic():
            cursor = rdb.db.execute(
                "UPDATE runs SET interrupted_at = ? WHERE id = ? AND finished_at IS NULL",
                [at, run_id],
            )
    except sqlite3.Error as exc:
        raise TriageError(f"cannot mark run {run_id} interrupted: {exc}", path=rdb.path) from exc
    if cursor.rowcount == 0:
        raise NotFound(f"no unfinished run {run_id!r} in {rdb.path}", path=rdb.path)


def resumable_run(rdb: ResultsDB, ref: str | None) -> dict[str, Any]:
    """The run `ref` (an id or unique prefix), or the newest unfinished run; a finished
    run is refused (`TriageError`, one line)."""
    from parity.triage.queries import find_run

    if ref:
        row = find_run(rdb, ref)
    else:
        rows = rdb.query(
            "SELECT * FROM runs WHERE finished_at IS NULL ORDER BY started_at DESC, rowid DESC "
            "LIMIT 1"
        )
        if not rows:
            raise NotFound(f"no unfinished run in {rdb.path} to resume", path=rdb.path)
        row = rows[0]
    if row["finished_at"] is not None:
        raise TriageError(f"run {row['id']} already finished: nothing to resume", path=rdb.path)
    row["meta"] = loads(row["meta"], {}) or {}
    return row


def reopen_run(rdb: ResultsDB, run_id: str) -> Reopened:
    """Delete what the run's unfinished sessions stored and recount its totals, in one
    transaction; what the finished sessions stored stays as it is."""
    db = rdb.db
    params = {"run": run_id}
    try:
        with db.atomic():
            for sql in _DELETE_PARTIAL:
                db.execute(sql, params)
            db.execute(_RECOUNT, params)
            row = db.execute(
                "SELECT exchanges, matched, mismatched, errors, noise_suppressed FROM runs "
                "WHERE id = :run",
                params,
            ).fetchone()
            routes = Counter(
                {
                    r[0]: r[1]
                    for r in db.execute(
                        "SELECT route, count(*) FROM results WHERE run_id = :run GROUP BY route",
                        params,
                    )
                }
            )
    except sqlite3.Error as exc:
        raise TriageError(f"cannot reopen run {run_id}: {exc}", path=rdb.path) from exc
    if row is None:
        raise NotFound(f"no run {run_id!r} in {rdb.path}", path=rdb.path)
    names = ("exchanges", "matched", "mismatched", "errors", "noise_suppressed")
    return Reopened(finished_sessions(rdb, run_id), dict(zip(names, row, strict=True)), routes)
