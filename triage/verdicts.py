"""Verdicts on findings (tables `verdicts` and `verdict_history`, schema v4; the verdicts
once given on signatures stay readable in `signature_verdicts`).

A verdict is a decision about a finding, taken once and applied to every run that shows
the finding (finding ids are stable across runs: the same scope, route and key):

- `bug`: a real difference the port must fix. It stays *open* (it counts against the
  gate) for as long as it appears; when it disappears it is *fixed*.
- `expected`: a difference the team accepts (a documented change of behaviour).
- `noise`: a difference that means nothing (a value that varies run to run).

`expected` and `noise` are *accepted*: they no longer count against the gate. A finding
without a verdict is open, like a `bug`. Marking again replaces the verdict; every
decision is kept, in order, in `verdict_history`.

The `ResultsDB` methods `mark`, `verdicts` and `verdict_history` call these functions;
`docs/results-db.md` documents the tables.
"""

from __future__ import annotations

import getpass
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from parity.triage.errors import Ambiguous, NotFound, TriageError

if TYPE_CHECKING:
    from parity.triage.db import ResultsDB

VERDICTS = ("bug", "expected", "noise")
"""What `parity mark --as` accepts."""
ACCEPTED = frozenset({"expected", "noise"})
"""Verdicts that take a finding out of the gate's count."""
NOTE_CHARS = 2000
"""A note is cut at this many characters."""

_HIGH = "\U0010ffff"


def is_open(verdict: str | None) -> bool:
    """Open: no verdict yet, or `bug`. Open findings count against the gate."""
    return verdict not in ACCEPTED


def current_user() -> str:
    """The OS user marking a verdict (`marked_by`); `""` if it cannot be told."""
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry (some containers)
        return ""


def find_finding(rdb: ResultsDB, ref: str) -> dict[str, Any]:
    """The finding `ref` names: its id, or a unique prefix of it, in either case
    (`NotFound`, `Ambiguous` otherwise)."""
    key = ref.strip()
    if not key:
        raise NotFound("no finding given")
    rows: dict[str, dict[str, Any]] = {}
    for candidate in dict.fromkeys([key, "F" + key[1:].lower()]):
        for row in rdb.query(
            "SELECT * FROM findings WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
            [candidate, candidate + _HIGH],
        ):
            rows[row["id"]] = row
    exact = [row for ident, row in rows.items() if ident.lower() == key.lower()]
    if exact:
        return exact[0]
    if not rows:
        raise NotFound(
            f"no finding {ref!r} in {rdb.path} (`parity report` lists them)", path=rdb.path
        )
    if len(rows) > 1:
        names = sorted(rows)
        more = ", …" if len(names) > 5 else ""
        raise Ambiguous(
            f"finding {ref!r} is ambiguous: {', '.join(names[:5])}{more}; give more characters"
        )
    return next(iter(rows.values()))


def verdict_json(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "verdict": row["verdict"],
        "note": row["note"],
        "marked_at": row["marked_at"],
        "marked_by": row["marked_by"],
        "run_id": row["run_id"],
    }


def mark(
    rdb: ResultsDB,
    finding: str,
    verdict: str,
    *,
    note: str | None = None,
    by: str | None = None,
    run_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """Set the verdict of `finding` (an exact id) and append it to the history, in one
    transaction. `note=None` keeps the current note; `""` clears it. Returns
    `{"finding", "verdict", "note", "marked_at", "marked_by", "run_id", "previous"}`,
    `previous` being the verdict it replaced (same keys) or None."""
    if verdict not in VERDICTS:
        raise ValueError(f"not a verdict: {verdict!r} (one of {', '.join(VERDICTS)})")
    db = rdb.db
    if db.execute("SELECT 1 FROM findings WHERE id = ?", [finding]).fetchone() is None:
        raise NotFound(f"no finding {finding!r} in {rdb.path}", path=rdb.path)
    if run_id is not None and (
        db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone() is None
    ):
        raise NotFound(f"no run {run_id!r} in {rdb.path}", path=rdb.path)
    previous = verdict_of(rdb, finding)
    if note is None:
        note = previous["note"] if previous else ""
    note = note.strip()[:NOTE_CHARS]
    who = current_user() if by is None else by
    when = time.time() if at is None else at
    row = [finding, verdict, note, when, who, run_id]
    try:
        with db.atomic():
            db.execute(
                "INSERT INTO verdicts (finding, verdict, note, marked_at, marked_by, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(finding) DO UPDATE SET "
                "verdict = excluded.verdict, note = excluded.note, "
                "marked_at = excluded.marked_at, marked_by = excluded.marked_by, "
                "run_id = excluded.run_id",
                row,
            )
            db.execute(
                "INSERT INTO verdict_history (finding, verdict, note, marked_at, marked_by, "
                "run_id) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
    except sqlite3.Error as exc:
        raise TriageError(f"cannot store the verdict in {rdb.path}: {exc}", path=rdb.path) from exc
    return {
        "finding": finding,
        "verdict": verdict,
        "note": note,
        "marked_at": when,
        "marked_by": who,
        "run_id": run_id,
        "previous": verdict_json(previous),
    }


def verdict_of(rdb: ResultsDB, finding: str) -> dict[str, Any] | None:
    """The current verdict on `finding` (a row of `verdicts`), or None."""
    rows = rdb.query("SELECT * FROM verdicts WHERE finding = ?", [finding])
    return rows[0] if rows else None


def finding_verdicts(rdb: ResultsDB) -> dict[str, dict[str, Any]]:
    """Every current verdict on a finding (table `verdicts`), by finding id."""
    return {row["finding"]: row for row in rdb.query("SELECT * FROM verdicts")}


def history(rdb: ResultsDB, finding: str) -> list[dict[str, Any]]:
    """Every verdict ever given to `finding`, oldest first."""
    return [
        verdict_json(row) or {}
        for row in rdb.query(
            "SELECT * FROM verdict_history WHERE finding = ? ORDER BY id", [finding]
        )
    ]
