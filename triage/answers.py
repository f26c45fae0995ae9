"""What the target answered for one mismatch, as stored (`parity export --mismatch`):
status, headers (masked when stored, `[name, value]` text pairs), the whole body (from
`bodies` when it lives there), how long it took, the error, and the run's `sent`."""

from __future__ import annotations

from typing import Any

from parity.triage.bodies import body_of
from parity.triage.db import ResultsDB
from parity.triage.text import loads


def actual_answer(rdb: ResultsDB, mismatch_id: str) -> dict[str, Any]:
    row = rdb.query(
        "SELECT outcome, error, actual_status, actual_headers, actual_ms, actual_body, "
        "actual_body_ref, sent FROM mismatches WHERE id = ?",
        [mismatch_id],
    )[0]
    return {
        "outcome": row["outcome"],
        "error": row["error"],
        "status": row["actual_status"],
        "headers": loads(row["actual_headers"], []),
        "ms": row["actual_ms"],
        "body": body_of(rdb.db.conn, row, "actual_body") or b"",
        "sent": loads(row["sent"]),
    }
