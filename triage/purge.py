"""`parity purge --results`: delete old runs and everything stored for them, then give
the space back (VACUUM, and the WAL checkpointed and truncated).

A run older than the cutoff (`runs.started_at`) goes with its `results`, `mismatches`,
`finding_links` and the `bodies` no remaining mismatch refers to. What is shared across
runs stays when something still holds it: a finding or signature with a verdict, or with
exchanges of a kept run, is kept (its `first_seen_run`/`last_seen_run` re-pointed at the
kept runs, NULL when none); one with neither is deleted. Learned noise (`noise`,
`noise_routes`) is knowledge, not a run's data: it stays, its run references set to NULL
(`parity noise forget` drops it). Verdicts keep their decision; `run_id` becomes NULL.

Nothing is overwritten in place by hand: rows are deleted in one transaction, then
VACUUM rebuilds the file (with `temp_store = MEMORY`, so its copy of the database never
goes to a temp file) and `wal_checkpoint(TRUNCATE)` empties the -wal file, so deleted
pages are left neither in free pages nor in the log.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parity.triage.db import ResultsDB
from parity.triage.errors import TriageError

_PURGED = "SELECT id FROM temp.purged"
_COUNTS = {
    "runs": "SELECT count(*) FROM temp.purged",
    "results": f"SELECT count(*) FROM results WHERE run_id IN ({_PURGED})",
    "mismatches": f"SELECT count(*) FROM mismatches WHERE run_id IN ({_PURGED})",
    "finding_links": f"SELECT count(*) FROM finding_links WHERE run_id IN ({_PURGED})",
}
_KEPT_BODIES = (
    "SELECT request_body_ref FROM mismatches WHERE request_body_ref IS NOT NULL "
    "UNION SELECT expected_body_ref FROM mismatches WHERE expected_body_ref IS NOT NULL "
    "UNION SELECT actual_body_ref FROM mismatches WHERE actual_body_ref IS NOT NULL"
)
_DELETE = [
    f"DELETE FROM run_sessions WHERE run_id IN ({_PURGED})",
    f"DELETE FROM finding_links WHERE run_id IN ({_PURGED})",
    f"DELETE FROM results WHERE run_id IN ({_PURGED})",
    f"DELETE FROM mismatches WHERE run_id IN ({_PURGED})",
]
_ORPHAN_BODIES = f"DELETE FROM bodies WHERE hash NOT IN ({_KEPT_BODIES})"
_ORPHAN_FINDINGS = (
    "DELETE FROM findings WHERE id NOT IN (SELECT finding FROM finding_links) "
    "AND id NOT IN (SELECT finding FROM verdicts) "
    "AND id NOT IN (SELECT finding FROM verdict_history)"
)
_ORPHAN_SIGNATURES = (
    "DELETE FROM signatures WHERE id NOT IN "
    "(SELECT signature FROM mismatches WHERE signature IS NOT NULL) "
    "AND id NOT IN (SELECT signature FROM results WHERE signature IS NOT NULL) "
    "AND id NOT IN (SELECT signature FROM signature_verdicts) "
    "AND id NOT IN (SELECT signature FROM signature_verdict_history)"
)


def _seen(table: str, column: str, key: str, order: str) -> str:
    """Re-point `table.column` at the earliest/latest kept run that stored the row."""
    source = (
        "SELECT l.run_id FROM finding_links l JOIN runs r ON r.id = l.run_id "
        f"WHERE l.finding = {table}.id"
        if key == "finding"
        else "SELECT m.run_id FROM mismatches m JOIN runs r ON r.id = m.run_id "
        f"WHERE m.signature = {table}.id"
    )
    return (
        f"UPDATE {table} SET {column} = ({source} AND r.id NOT IN ({_PURGED}) "
        f"ORDER BY r.started_at {order} LIMIT 1) WHERE {column} IN ({_PURGED})"
    )


_REPOINT = [
    _seen("findings", "first_seen_run", "finding", "ASC"),
    _seen("findings", "last_seen_run", "finding", "DESC"),
    _seen("signatures", "first_seen_run", "signature", "ASC"),
    _seen("signatures", "last_seen_run", "signature", "DESC"),
    *(
        f"UPDATE {table} SET {column} = NULL WHERE {column} IN ({_PURGED})"
        for table, column in (
            ("verdicts", "run_id"),
            ("verdict_history", "run_id"),
            ("signature_verdicts", "run_id"),
            ("signature_verdict_history", "run_id"),
            ("noise_routes", "first_run"),
            ("noise_routes", "last_run"),
            ("noise", "first_run"),
            ("noise", "last_run"),
        )
    ),
]


@dataclass(slots=True)
class ResultsPurge:
    """What `purge_results` removed (or, with `dry_run`, would remove)."""

    path: Path
    runs: int = 0
    results: int = 0
    mismatches: int = 0
    finding_links: int = 0
    bodies: int = 0
    findings: int = 0
    bytes_before: int = 0
    """The database with its -wal file, before."""
    bytes_after: int = 0
    """… and after (the same as before on a dry run)."""
    dry_run: bool = False

    @property
    def freed(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "runs": self.runs,
            "results": self.results,
            "mismatches": self.mismatches,
            "finding_links": self.finding_links,
            "bodies": self.bodies,
            "findings": self.findings,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "bytes_freed": self.freed,
            "dry_run": self.dry_run,
        }


def on_disk(path: Path) -> int:
    """Bytes of the database file and its -wal file."""
    total = 0
    for name in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            total += name.stat().st_size
    return total


def purge_results(path: Path, cutoff: float, *, dry_run: bool = False) -> ResultsPurge:
    """Delete the runs started before `cutoff` (epoch seconds) and what only they hold,
    then VACUUM and truncate the WAL (see the module doc). A missing database has
    nothing to purge. Raises `TriageError` (`NotResultsDB` for another file)."""
    path = Path(path)
    report = ResultsPurge(path=path, dry_run=dry_run)
    if not path.exists():
        return report
    report.bytes_before = report.bytes_after = on_disk(path)
    with ResultsDB(path, create=False) as results_db:
        conn = results_db.db.conn
        try:
            conn.execute("PRAGMA temp_store = MEMORY")
            _delete(conn, cutoff, report)
            if dry_run or report.runs == 0:
                return report
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise TriageError(f"cannot purge {path}: {exc}", path=path) from None
    report.bytes_after = on_disk(path)
    return report


def _delete(conn: sqlite3.Connection, cutoff: float, report: ResultsPurge) -> None:
    """Count, and unless a dry run delete, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TEMP TABLE purged AS SELECT id FROM runs WHERE started_at < ?", [cutoff]
        )
        for name, sql in _COUNTS.items():
            setattr(report, name, int(conn.execute(sql).fetchone()[0]))
        if report.runs == 0:
            conn.execute("ROLLBACK")
            return
        for sql in _DELETE:
            conn.execute(sql)
        report.bodies = conn.execute(_ORPHAN_BODIES).rowcount
        for sql in _REPOINT:
            conn.execute(sql)
        report.findings = conn.execute(_ORPHAN_FINDINGS).rowcount
        conn.execute(_ORPHAN_SIGNATURES)
        conn.execute(f"DELETE FROM runs WHERE id IN ({_PURGED})")
        conn.execute("DROP TABLE temp.purged")
        conn.execute("ROLLBACK" if report.dry_run else "COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
