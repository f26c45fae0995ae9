"""Reading the results database into plain JSON-ready dicts: what `parity report`,
`parity show` and `parity runs` print (as JSON, or through `triage.render`)."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections import Counter
from typing import Any

from triage.db import ResultsDB
from triage.errors import Ambiguous, NotFound
from triage.masking import mask_json_text, mask_text
from triage.text import loads

MAX_DIFF_LINES = 400
"""`parity show` prints at most this many lines of the body diff (hunks only)."""
CONTEXT_LINES = 3
PREVIEW_CHARS = 2000
_HIGH = "\U0010ffff"  # sorts after every other character: `id >= p AND id < p + _HIGH`


def parity_percent(matched: int, total: int) -> float:
    """matched/total as a percentage, rounded *down* to 2 decimals: 100.0 only when all
    matched, so that a gate on `parity == 100` never passes by rounding."""
    if total == 0:
        return 100.0
    return math.floor(matched * 10000 / total) / 100


# -- runs -----------------------------------------------------------------------------


def run_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "target": row["target"],
        "baseline": row["baseline"],
        "sessions": loads(row["sessions"], []),
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "label": row["label"],
    }


def totals_json(row: dict[str, Any]) -> dict[str, int]:
    return {
        "exchanges": row["exchanges"],
        "matched": row["matched"],
        "mismatched": row["mismatched"],
        "errors": row["errors"],
        "noise_suppressed": row["noise_suppressed"],
    }


def list_runs(rdb: ResultsDB) -> list[dict[str, Any]]:
    """Every run, newest first, with its totals and parity %."""
    rows = rdb.query("SELECT * FROM runs ORDER BY started_at DESC, rowid DESC")
    return [
        {
            **run_json(row),
            "totals": totals_json(row),
            "parity": parity_percent(row["matched"], row["exchanges"]),
        }
        for row in rows
    ]


def _by_prefix(rdb: ResultsDB, table: str, ref: str, limit: int = 6) -> list[dict[str, Any]]:
    """Rows whose id starts with `ref` (as typed, or in lower case: ids are hex)."""
    rows: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys([ref, ref.lower()]):
        if key:
            for row in rdb.query(
                f"SELECT * FROM {table} WHERE id >= ? AND id < ? ORDER BY id LIMIT {limit}",
                [key, key + _HIGH],
            ):
                rows[row["id"]] = row
    return [rows[k] for k in sorted(rows)][:limit]


def find_run(rdb: ResultsDB, ref: str | None) -> dict[str, Any]:
    """The run `ref` (an id or a unique prefix), or the latest run."""
    if ref is None:
        rows = rdb.query("SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")
        if not rows:
            raise NotFound(f"no runs in {rdb.path}: run `parity replay` first")
        return rows[0]
    ref = ref.strip()
    rows = _by_prefix(rdb, "runs", ref)
    exact = [r for r in rows if r["id"] in (ref, ref.lower())]
    if exact:
        return exact[0]
    if not rows:
        raise NotFound(f"no run {ref!r} in {rdb.path} (`parity runs` lists them)")
    if len(rows) > 1:
        names = ", ".join(r["id"] for r in rows[:5])
        more = ", …" if len(rows) > 5 else ""
        raise Ambiguous(f"run id {ref!r} is ambiguous: {names}{more}; give more characters")
    return rows[0]


# -- report ---------------------------------------------------------------------------


def _mismatch_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "session": row["session"],
        "seq": row["seq"],
        "method": row["method"],
        "url": row["url"],
        "route": row["route"],
        "signature": row["signature"],
        "expected_status": row["expected_status"],
        "actual_status": row["actual_status"],
        "error": row["error"] if row["outcome"] == "error" else None,
        "differences": loads(row["differences"], []),
    }


def build_report(rdb: ResultsDB, run_ref: str | None = None) -> dict[str, Any]:
    """The report of one run (the latest by default); see `docs/results-db.md`."""
    run = find_run(rdb, run_ref)
    run_id = run["id"]

    per_route: dict[str, Counter[str]] = {}
    for row in rdb.query(
        "SELECT route, outcome, count(*) AS n FROM results WHERE run_id = ? "
        "GROUP BY route, outcome",
        [run_id],
    ):
        per_route.setdefault(row["route"], Counter())[row["outcome"]] = row["n"]
    routes: list[dict[str, Any]] = []
    for route, counts in per_route.items():
        total = sum(counts.values())
        routes.append(
            {
                "route": route,
                "exchanges": total,
                "matched": counts["matched"],
                "mismatched": counts["mismatched"],
                "errors": counts["error"],
                "parity": parity_percent(counts["matched"], total),
            }
        )
    routes.sort(key=lambda r: (r["parity"], -r["exchanges"], r["route"]))

    rows = rdb.query(
        "SELECT id, session, seq, method, url, route, signature, outcome, error, "
        "expected_status, actual_status, first_difference, differences "
        "FROM mismatches WHERE run_id = ? ORDER BY session, seq",
        [run_id],
    )
    mismatches = [_mismatch_json(row) for row in rows]

    counts = Counter(row["signature"] for row in rows if row["signature"])
    examples: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["signature"] and row["signature"] not in examples:
            examples[row["signature"]] = {"id": row["id"], "difference": row["first_difference"]}
    known = {
        row["id"]: row
        for row in rdb.query(
            "SELECT * FROM signatures WHERE id IN "
            "(SELECT DISTINCT signature FROM mismatches WHERE run_id = ?)",
            [run_id],
        )
    }
    signatures = []
    for signature, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        sig = known.get(signature)
        signatures.append(
            {
                "id": signature,
                "route": sig["route"] if sig else None,
                "kinds": loads(sig["kinds"], []) if sig else [],
                "paths": loads(sig["paths"], []) if sig else [],
                "count": count,
                "example": examples[signature],
            }
        )
    return {
        "run": run_json(run),
        "totals": totals_json(run),
        "routes": routes,
        "signatures": signatures,
        "mismatches": mismatches,
    }


# -- show -----------------------------------------------------------------------------


def find(rdb: ResultsDB, ref: str) -> tuple[str, str]:
    """`("mismatch", id)` or `("signature", id)` for an id or a unique prefix of one."""
    key = ref.strip()
    found: list[tuple[str, str]] = []
    for kind, table in (("mismatch", "mismatches"), ("signature", "signatures")):
        found.extend((kind, row["id"]) for row in _by_prefix(rdb, table, key))
    exact = [item for item in found if item[1] in (key, key.lower())]
    if len(exact) == 1:
        return exact[0]
    if not found:
        raise NotFound(f"no mismatch or signature {ref!r} in {rdb.path}")
    if len(found) > 1:
        names = ", ".join(f"{kind} {ident}" for kind, ident in found[:5])
        more = ", …" if len(found) > 5 else ""
        raise Ambiguous(f"{ref!r} is ambiguous: {names}{more}; give more characters")
    return found[0]


def show(rdb: ResultsDB, ref: str) -> dict[str, Any]:
    """`{"mismatch": {...}}` or `{"signature": {...}, "mismatch": {...}}`."""
    kind, ident = find(rdb, ref)
    if kind == "mismatch":
        return {"mismatch": mismatch_detail(rdb, ident)}
    return signature_detail(rdb, ident)


def signature_detail(rdb: ResultsDB, sig_id: str) -> dict[str, Any]:
    sig = rdb.query("SELECT * FROM signatures WHERE id = ?", [sig_id])[0]
    runs = rdb.query(
        "SELECT m.run_id AS run, r.started_at AS started_at, count(*) AS count "
        "FROM mismatches m JOIN runs r ON r.id = m.run_id WHERE m.signature = ? "
        "GROUP BY m.run_id ORDER BY r.started_at DESC, r.rowid DESC",
        [sig_id],
    )
    routes = [
        r["route"]
        for r in rdb.query(
            "SELECT DISTINCT route FROM mismatches WHERE signature = ? ORDER BY route", [sig_id]
        )
    ]
    example = None
    if runs:
        first = rdb.query(
            "SELECT id FROM mismatches WHERE signature = ? AND run_id = ? "
            "ORDER BY session, seq LIMIT 1",
            [sig_id, runs[0]["run"]],
        )
        example = mismatch_detail(rdb, first[0]["id"])
    return {
        "signature": {
            "id": sig["id"],
            "route": sig["route"],
            "routes": routes,
            "kinds": loads(sig["kinds"], []),
            "paths": loads(sig["paths"], []),
            "first_seen_run": sig["first_seen_run"],
            "last_seen_run": sig["last_seen_run"],
            "count": runs[0]["count"] if runs else 0,
            "runs": runs,
        },
        "mismatch": example,
    }


def _is_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text[:4096]):
        return None
    return text


def preview(body: bytes | None, limit: int = PREVIEW_CHARS) -> str:
    """A body for reading: text with secrets masked and cut at `limit`, or a note."""
    if not body:
        return ""
    text = _is_text(body)
    if text is None:
        return f"({len(body)} bytes of binary data)"
    text = mask_text(text)
    if len(text) > limit:
        return f"{text[:limit]}… ({len(body)} bytes in all)"
    return text


def body_text(rendered: str | None, raw: bytes | None) -> str:
    """The text to diff: the differ's normalized rendering, else the raw body made
    readable (JSON pretty-printed, secrets masked), else a line naming binary data."""
    if rendered is not None:
        return rendered
    if not raw:
        return ""
    text = _is_text(raw)
    if text is None:
        digest = hashlib.sha256(raw).hexdigest()[:16]
        return f"({len(raw)} bytes of binary data, sha256 {digest}…)"
    try:
        return mask_json_text(json.dumps(json.loads(text), indent=2, ensure_ascii=False))
    except ValueError:
        return mask_text(text)


def body_diff(expected: str, actual: str) -> tuple[list[str], int]:
    """Unified diff lines (hunks around the differences only), cut at MAX_DIFF_LINES;
    returns the lines and how many more there were."""
    if expected == actual:
        return [], 0
    lines = list(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            "expected",
            "actual",
            n=CONTEXT_LINES,
            lineterm="",
        )
    )
    return lines[:MAX_DIFF_LINES], max(0, len(lines) - MAX_DIFF_LINES)


def _side(
    status: int | None, headers: str | None, ms: float | None, body: bytes | None
) -> dict[str, Any] | None:
    if status is None and headers is None:
        return None
    return {
        "status": status,
        "headers": loads(headers, []),
        "ms": ms,
        "body_bytes": len(body) if body is not None else 0,
    }


def mismatch_detail(rdb: ResultsDB, mismatch_id: str) -> dict[str, Any]:
    row = rdb.query("SELECT * FROM mismatches WHERE id = ?", [mismatch_id])[0]
    expected_text = body_text(row["expected_rendered"], row["expected_body"])
    actual_text = (
        body_text(row["actual_rendered"], row["actual_body"])
        if row["outcome"] != "error"
        else expected_text
    )
    diff, more = body_diff(expected_text, actual_text)
    return {
        "id": row["id"],
        "run_id": row["run_id"],
        "session": row["session"],
        "seq": row["seq"],
        "method": row["method"],
        "url": row["url"],
        "route": row["route"],
        "signature": row["signature"],
        "outcome": row["outcome"],
        "error": row["error"],
        "request": {
            "method": row["method"],
            "url": row["url"],
            "headers": loads(row["request_headers"], []),
            "body": preview(row["request_body"]),
            "body_bytes": len(row["request_body"] or b""),
        },
        "expected": _side(
            row["expected_status"],
            row["expected_headers"],
            row["expected_ms"],
            row["expected_body"],
        ),
        "actual": _side(
            row["actual_status"], row["actual_headers"], row["actual_ms"], row["actual_body"]
        ),
        "baseline_status": row["baseline_status"],
        "differences": loads(row["differences"], []),
        "noise": loads(row["noise"], []),
        "rules_applied": loads(row["rules_applied"], []),
        "body_diff": diff,
        "body_diff_more_lines": more,
    }
