"""Verdicts on signatures (tables `signature_verdicts` and `signature_verdict_history`
since schema v4; the commands move to findings, `triage.findings`).

A verdict is a decision about a signature, taken once and applied to every run that has
the signature (signature ids are stable across runs: the same route and the same set of
(kind, templated place)):

- `bug`: a real difference the port must fix. It stays *open* (it counts against the
  gate) for as long as it appears; when it disappears it is *fixed*.
- `expected`: a difference the team accepts (a documented change of behaviour).
- `noise`: a difference that means nothing (a value that varies run to run).

`expected` and `noise` are *accepted*: they no longer count against the gate. A signature
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

from triage.errors import Ambiguous, NotFound, TriageError

if TYPE_CHECKING:
    from triage.db import ResultsDB

VERDICTS = ("bug", "expected", "noise")
"""What `parity mark --as` accepts."""
ACCEPTED = frozenset({"expected", "noise"})
"""Verdicts that take a signature out of the gate's count."""
NOTE_CHARS = 2000
"""A note is cut at this many characters."""

_HIGH = "\U0010ffff"


def is_open(verdict: str | None) -> bool:
    """Open: no verdict yet, or `bug`. Open signatures count against the gate."""
    return verdict not in ACCEPTED


def current_user() -> str:
    """The OS user marking a verdict (`marked_by`); `""` if it cannot be told."""
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry (some containers)
        return ""


def find_signature(rdb: ResultsDB, ref: str) -> dict[str, Any]:
    """The signature `ref` names: its id, or a unique prefix of it (`NotFound`,
    `Ambiguous` otherwise)."""
    key = ref.strip()
    if not key:
        raise NotFound("no signature given")
    rows: dict[str, dict[str, Any]] = {}
    for candidate in dict.fromkeys([key, key.lower()]):
        for row in rdb.query(
            "SELECT * FROM signatures WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
            [candidate, candidate + _HIGH],
        ):
            rows[row["id"]] = row
    exact = [row for ident, row in rows.items() if ident in (key, key.lower())]
    if exact:
        return exact[0]
    if not rows:
        raise NotFound(f"no signature {ref!r} in {rdb.path} (`parity report` lists them)")
    if len(rows) > 1:
        names = sorted(rows)
        more = ", …" if len(names) > 5 else ""
        raise Ambiguous(
            f"signature {ref!r} is ambiguous: {', '.join(names[:5])}{more}; give more characters"
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
    signature: str,
    verdict: str,
    *,
    note: str | None = None,
    by: str | None = None,
    run_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """Set the verdict of `signature` (an exact id) and append it to the history, in one
    transaction. `note=None` keeps the current note; `""` clears it. Returns
    `{"signature", "verdict", "note", "marked_at", "marked_by", "run_id", "previous"}`,
    `previous` being the verdict it replaced (same keys) or None."""
    if verdict not in VERDICTS:
        raise ValueError(f"not a verdict: {verdict!r} (one of {', '.join(VERDICTS)})")
    db = rdb.db
    if db.execute("SELECT 1 FROM signatures WHERE id = ?", [signature]).fetchone() is None:
        raise NotFound(f"no signature {signature!r} in {rdb.path}")
    if run_id is not None and (
        db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone() is None
    ):
        raise NotFound(f"no run {run_id!r} in {rdb.path}")
    previous = verdict_of(rdb, signature)
    if note is None:
        note = previous["note"] if previous else ""
    note = note.strip()[:NOTE_CHARS]
    who = current_user() if by is None else by
    when = time.time() if at is None else at
    row = [signature, verdict, note, when, who, run_id]
    try:
        with db.atomic():
            db.execute(
                "INSERT INTO signature_verdicts (signature, verdict, note, marked_at, marked_by, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(signature) DO UPDATE SET "
                "verdict = excluded.verdict, note = excluded.note, "
                "marked_at = excluded.marked_at, marked_by = excluded.marked_by, "
                "run_id = excluded.run_id",
                row,
            )
            db.execute(
                "INSERT INTO signature_verdict_history (signature, verdict, note, marked_at, marked_by, "
                "run_id) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
    except sqlite3.Error as exc:
        raise TriageError(f"cannot store the verdict in {rdb.path}: {exc}") from exc
    return {
        "signature": signature,
        "verdict": verdict,
        "note": note,
        "marked_at": when,
        "marked_by": who,
        "run_id": run_id,
        "previous": verdict_json(previous),
    }


def verdict_of(rdb: ResultsDB, signature: str) -> dict[str, Any] | None:
    rows = rdb.query("SELECT * FROM signature_verdicts WHERE signature = ?", [signature])
    return rows[0] if rows else None


def verdicts(rdb: ResultsDB) -> dict[str, dict[str, Any]]:
    """Every current verdict, by signature id."""
    return {row["signature"]: row for row in rdb.query("SELECT * FROM signature_verdicts")}


def finding_verdicts(rdb: ResultsDB) -> dict[str, dict[str, Any]]:
    """Every current verdict on a finding (table `verdicts`, v4), by finding id."""
    return {row["finding"]: row for row in rdb.query("SELECT * FROM verdicts")}


def history(rdb: ResultsDB, signature: str) -> list[dict[str, Any]]:
    """Every verdict ever given to `signature`, oldest first."""
    return [
        verdict_json(row) or {}
        for row in rdb.query(
            "SELECT * FROM signature_verdict_history WHERE signature = ? ORDER BY id", [signature]
        )
    ]
