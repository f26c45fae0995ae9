"""Reading the results database into plain JSON-ready dicts: what `parity report`,
`parity show` and `parity runs` print (as JSON, or through `triage.render`)."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson

from parity.differ import PREVIEW_CHARS
from parity.triage.bodies import body_of, rendered_text, with_bodies
from parity.triage.db import ResultsDB
from parity.triage.errors import Ambiguous, NotFound
from parity.triage.masking import mask_json_text, mask_text
from parity.triage.noise import learned_noise_use
from parity.triage.resume import run_status
from parity.triage.sentences import sentence, sentences, sides_of
from parity.triage.text import loads

LARGE_TEXT = 1 << 20
"""Characters: a body this large is rendered with orjson and diffed from the lines where
the two sides part (`_unified_large`) rather than split whole into lines."""
MAX_DIFF_LINES = 400
"""`parity show` prints at most this many lines of the body diff (hunks only)."""
MAX_LINE = 500
"""Characters of one body-diff line (minified JSON is one line); the rest is cut."""
MAX_LISTED = 10
"""URLs and sessions listed for a signature; the rest are counted."""
CONTEXT_LINES = 3
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
            "status": run_status(row),
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
            raise NotFound(f"no runs in {rdb.path}: run `parity replay` first", path=rdb.path)
        return rows[0]
    ref = ref.strip()
    rows = _by_prefix(rdb, "runs", ref)
    exact = [r for r in rows if r["id"] in (ref, ref.lower())]
    if exact:
        return exact[0]
    if not rows:
        raise NotFound(f"no run {ref!r} in {rdb.path} (`parity runs` lists them)", path=rdb.path)
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

    routes = route_figures(rdb, run_id)
    rows = rdb.query(
        "SELECT id, session, seq, method, url, route, signature, outcome, error, "
        "expected_status, actual_status, first_difference, differences "
        "FROM mismatches WHERE run_id = ? ORDER BY session, seq",
        [run_id],
    )
    from parity.triage import finding_queries

    linked = finding_queries.mismatch_findings(rdb, run_id)
    mismatches = [_mismatch_json(row) for row in rows]
    for item in mismatches:
        item["findings"] = linked.get(item["id"], [])

    counts = Counter(row["signature"] for row in rows if row["signature"])
    examples: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["signature"] and row["signature"] not in examples:
            examples[row["signature"]] = {
                "id": row["id"],
                "difference": row["first_difference"],
                "sentence": first_sentence(rdb, row["id"]),
            }
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
        "learned_noise": learned_noise_use(loads(run["meta"], {}) or {}),
        "routes": routes,
        "signatures": signatures,
        "findings": finding_queries.run_findings(rdb, run_id),
        "mismatches": mismatches,
    }


def percentile(ordered: list[float], p: float) -> float | None:
    """The nearest-rank percentile `p` (0-100] of ascending `ordered`: the smallest value
    with at least p % of the values at or below it (None for no values)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return round(ordered[rank - 1], 3)


def latency(expected: list[float], actual: list[float]) -> dict[str, float | None]:
    """p50 and p95 of recorded and replayed response times (ms; None when unknown)."""
    expected.sort()
    actual.sort()
    return {
        "expected_p50": percentile(expected, 50),
        "expected_p95": percentile(expected, 95),
        "actual_p50": percentile(actual, 50),
        "actual_p95": percentile(actual, 95),
    }


def route_figures(rdb: ResultsDB, run_id: str) -> list[dict[str, Any]]:
    """Per route: counts, parity % and latency; worst parity first. One pass over the
    run's results (about 0.1 s for 100k)."""
    counts: dict[str, list[int]] = {}  # route -> [matched, mismatched, errors]
    times: dict[str, tuple[list[float], list[float]]] = {}
    slot = {"matched": 0, "mismatched": 1, "error": 2}
    cursor = rdb.db.conn.execute(
        "SELECT route, outcome, expected_ms, actual_ms FROM results WHERE run_id = ?", [run_id]
    )
    for route, outcome, expected_ms, actual_ms in cursor:
        tally = counts.get(route)
        if tally is None:
            tally = counts[route] = [0, 0, 0]
            times[route] = ([], [])
        tally[slot.get(outcome, 2)] += 1
        if expected_ms is not None:
            times[route][0].append(expected_ms)
        if actual_ms is not None:
            times[route][1].append(actual_ms)
    routes: list[dict[str, Any]] = []
    for route, (matched, mismatched, errors) in counts.items():
        total = matched + mismatched + errors
        routes.append(
            {
                "route": route,
                "exchanges": total,
                "matched": matched,
                "mismatched": mismatched,
                "errors": errors,
                "parity": parity_percent(matched, total),
                "latency": latency(*times[route]),
            }
        )
    routes.sort(key=lambda r: (r["parity"], -r["exchanges"], r["route"]))
    return routes


def first_sentence(rdb: ResultsDB, mismatch_id: str) -> str | None:
    """The first difference of a mismatch as a sentence (raw values); None if none."""
    row = rdb.query(
        "SELECT differences, expected_status, actual_status, expected_headers, "
        "actual_headers, expected_body, actual_body, expected_body_ref, actual_body_ref "
        "FROM mismatches WHERE id = ?",
        [mismatch_id],
    )[0]
    with_bodies(rdb.db.conn, row)
    differences = loads(row["differences"], [])
    if not differences:
        return None
    expected, actual = sides_of(row)
    return sentence(differences[0], expected, actual)


# -- show -----------------------------------------------------------------------------


def find(rdb: ResultsDB, ref: str) -> tuple[str, str]:
    """`("mismatch", id)`, `("finding", id)` or `("signature", id)` for an id or a unique
    prefix of one (finding ids start with `F`; the prefix may be in lower case)."""
    key = ref.strip()
    found: list[tuple[str, str]] = []
    if key[:1] in ("F", "f"):
        found.extend(
            ("finding", row["id"]) for row in _by_prefix(rdb, "findings", "F" + key[1:].lower())
        )
    for kind, table in (("mismatch", "mismatches"), ("signature", "signatures")):
        found.extend((kind, row["id"]) for row in _by_prefix(rdb, table, key))
    exact = [item for item in found if item[1] in (key, key.lower())]
    if len(exact) == 1:
        return exact[0]
    if not found:
        raise NotFound(f"no mismatch or finding {ref!r} in {rdb.path}", path=rdb.path)
    if len(found) > 1:
        names = ", ".join(f"{kind} {ident}" for kind, ident in found[:5])
        more = ", …" if len(found) > 5 else ""
        raise Ambiguous(f"{ref!r} is ambiguous: {names}{more}; give more characters")
    return found[0]


def show(rdb: ResultsDB, ref: str) -> dict[str, Any]:
    """`{"mismatch": {...}}`, `{"finding": {...}, "mismatch": {...}}` or
    `{"signature": {...}, "mismatch": {...}}` (old data)."""
    kind, ident = find(rdb, ref)
    if kind == "mismatch":
        return {"mismatch": mismatch_detail(rdb, ident)}
    if kind == "finding":
        from parity.triage.finding_queries import finding_detail

        detail = finding_detail(rdb, ident)
        first = detail.pop("example_id")
        return {**detail, "mismatch": None if first is None else mismatch_detail(rdb, first)}
    return signature_detail(rdb, ident)


def signature_detail(rdb: ResultsDB, sig_id: str, run_id: str | None = None) -> dict[str, Any]:
    """A signature, its runs, and its first mismatch in the latest run it appears in (in
    run `run_id` instead, when given and it appears there: what `parity triage` shows)."""
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
    urls: list[str] = []
    url_count = 0
    sessions: list[str] = []
    session_count = 0
    focus = next((r for r in runs if r["run"] == run_id), runs[0] if runs else None)
    if focus is not None:
        urls, url_count = _distinct(rdb, "url", sig_id, focus["run"])
        sessions, session_count = _distinct(rdb, "session", sig_id, focus["run"])
        first = rdb.query(
            "SELECT id FROM mismatches WHERE signature = ? AND run_id = ? "
            "ORDER BY session, seq LIMIT 1",
            [sig_id, focus["run"]],
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
            "count": focus["count"] if focus else 0,
            "urls": urls,
            "url_count": url_count,
            "sessions": sessions,
            "session_count": session_count,
            "runs": runs,
        },
        "mismatch": example,
    }


def _distinct(rdb: ResultsDB, column: str, sig_id: str, run_id: str) -> tuple[list[str], int]:
    """The first MAX_LISTED distinct values of `column` among the signature's mismatches
    in a run (by first appearance), and how many distinct values there are."""
    rows = rdb.query(
        f"SELECT {column} AS value, min(session || char(0) || printf('%012d', seq)) AS first "
        f"FROM mismatches WHERE signature = ? AND run_id = ? GROUP BY {column} ORDER BY first",
        [sig_id, run_id],
    )
    return [r["value"] for r in rows[:MAX_LISTED]], len(rows)


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
        tree = json.loads(text)
    except ValueError:
        return mask_text(text)
    if len(text) < LARGE_TEXT:
        return mask_json_text(json.dumps(tree, indent=2, ensure_ascii=False))
    del text  # a large body: one copy alive at a time, and orjson's writer, not json's
    try:
        pretty = orjson.dumps(tree, option=orjson.OPT_INDENT_2)
    except TypeError:  # integers beyond 64 bits, lone surrogates
        return mask_json_text(json.dumps(tree, indent=2, ensure_ascii=False))
    del tree
    return mask_json_text(pretty.decode("utf-8"))


def body_diff(expected: str, actual: str) -> tuple[list[str], int]:
    """Unified diff lines (hunks around the differences only), cut at MAX_DIFF_LINES;
    returns the lines and how many more there were."""
    if expected == actual:
        return [], 0
    if min(len(expected), len(actual)) >= LARGE_TEXT:
        lines = list(_unified_large(expected, actual))
    else:
        lines = list(_unified(expected.splitlines(), actual.splitlines()))
    shown = [
        line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}… ({len(line)} chars)"
        for line in lines[:MAX_DIFF_LINES]
    ]
    return shown, max(0, len(lines) - MAX_DIFF_LINES)


PAIRWISE_FROM = 200
"""Bodies of at least this many lines, on both sides the same number, are compared line
by line when at most half of the lines differ: the same document with other values (a
timestamp format in every item of a 200 KB list) needs no alignment, which difflib would
take seconds to find."""


class _LineByLine(difflib.SequenceMatcher[str]):
    """A matcher whose opcodes pair line i with line i (see PAIRWISE_FROM)."""

    def __init__(self, expected: list[str], actual: list[str], same: list[bool]) -> None:
        super().__init__(None, expected, actual, autojunk=False)
        self._pairs: list[tuple[str, int, int, int, int]] = []
        start = 0
        for end in range(1, len(same) + 1):
            if end == len(same) or same[end] != same[start]:
                tag = "equal" if same[start] else "replace"
                self._pairs.append((tag, start, end, start, end))
                start = end

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:  # type: ignore[override]
        return self._pairs


def _matcher(expected: list[str], actual: list[str]) -> difflib.SequenceMatcher[str]:
    if len(expected) == len(actual) >= PAIRWISE_FROM:
        same = [e == a for e, a in zip(expected, actual, strict=True)]
        if same.count(False) * 2 <= len(same):
            return _LineByLine(expected, actual, same)
    return difflib.SequenceMatcher(None, expected, actual)


def _range(start: int, stop: int) -> str:
    """A hunk's line range as `diff -u` writes it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _common_lines(expected: str, actual: str) -> tuple[int, int]:
    """Characters of whole lines the two texts share at their start and at their end
    (never overlapping), found by comparing chunks rather than splitting lines."""
    limit = min(len(expected), len(actual))
    head = 0
    step = 1 << 16
    while head < limit:
        size = min(step, limit - head)
        if expected[head : head + size] == actual[head : head + size]:
            head += size
        elif size > 1:
            step = max(1, size // 2)
        else:
            break
    head = expected.rfind("\n", 0, head) + 1  # back to the start of a line
    tail = 0
    step = 1 << 16
    room = limit - head
    while tail < room:
        size = min(step, room - tail)
        if (
            expected[len(expected) - tail - size : len(expected) - tail]
            == (actual[len(actual) - tail - size : len(actual) - tail])
        ):
            tail += size
        elif size > 1:
            step = max(1, size // 2)
        else:
            break
    cut = expected.find("\n", len(expected) - tail)  # forward to the end of a line
    tail = 0 if cut < 0 else len(expected) - cut - 1
    return head, tail


_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _lines_before(text: str, end: int) -> int:
    """`len(text[:end].splitlines())` for an `end` just after a line break, uncopied."""
    count = sum(text.count(mark, 0, end) for mark in _BREAKS)
    return count - text.count("\r\n", 0, end)


def _unified_large(expected: str, actual: str) -> Iterator[str]:
    """`_unified` of two large texts, splitting into lines only what lies between their
    common head and tail (with the context lines): two 100 MB renderings that differ in
    one value are not held a second time as millions of lines."""
    head, tail = _common_lines(expected, actual)
    for _ in range(CONTEXT_LINES):  # the context of the first hunk
        if head:
            head = expected.rfind("\n", 0, head - 1) + 1
    for _ in range(CONTEXT_LINES):  # and of the last
        if tail:
            cut = expected.find("\n", len(expected) - tail)
            tail = 0 if cut < 0 else len(expected) - cut - 1
    offset = _lines_before(expected, head)
    middle_e = expected[head : len(expected) - tail].splitlines()
    middle_a = actual[head : len(actual) - tail].splitlines()
    yield from _unified(middle_e, middle_a, offset)


def _unified(expected: list[str], actual: list[str], offset: int = 0) -> Iterator[str]:
    """`difflib.unified_diff(expected, actual, "expected", "actual", n=CONTEXT_LINES)`,
    with the line-by-line shortcut of `_matcher` for large bodies; `offset`: lines
    before the first of `expected` and `actual` (hunk headers count them)."""
    groups = _matcher(expected, actual).get_grouped_opcodes(CONTEXT_LINES)
    first = True
    for group in groups:
        if first:
            yield "--- expected"
            yield "+++ actual"
            first = False
        old = _range(group[0][1] + offset, group[-1][2] + offset)
        new = _range(group[0][3] + offset, group[-1][4] + offset)
        yield f"@@ -{old} +{new} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in expected[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in expected[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in actual[j1:j2])


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


def _row_diff(conn: sqlite3.Connection, row: dict[str, Any]) -> tuple[list[str], int]:
    """The body diff of a row, reading one stored body at a time (a large one is held
    as its rendering only)."""
    expected_text = body_text(
        rendered_text(conn, row["expected_rendered"]), body_of(conn, row, "expected_body")
    )
    actual_text = (
        body_text(rendered_text(conn, row["actual_rendered"]), body_of(conn, row, "actual_body"))
        if row["outcome"] != "error"
        else expected_text
    )
    return body_diff(expected_text, actual_text)


def mismatch_detail(rdb: ResultsDB, mismatch_id: str) -> dict[str, Any]:
    row = rdb.query("SELECT * FROM mismatches WHERE id = ?", [mismatch_id])[0]
    diff, more = _row_diff(rdb.db.conn, row)  # the renderings freed before what follows
    with_bodies(rdb.db.conn, row)
    differences = loads(row["differences"], [])
    expected_side, actual_side = sides_of(row)
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
        "sentences": sentences(differences, expected_side, actual_side),
        "differences": differences,
        "noise": loads(row["noise"], []),
        "rules_applied": loads(row["rules_applied"], []),
        "serialization": loads(row["serialization"], []),
        "findings": [
            r["finding"]
            for r in rdb.query(
                "SELECT finding FROM finding_links WHERE mismatch_id = ? ORDER BY finding",
                [row["id"]],
            )
        ],
        "ambiguous_ids": loads(row["ambiguous_ids"], []),
        "sent": loads(row["sent"]),
        "body_diff": diff,
        "body_diff_more_lines": more,
    }


# -- one mismatch, to send again (`parity repro`, `parity shrink`) --------------------


def mismatch_named(rdb: ResultsDB, ref: str) -> str:
    """The id of the mismatch `ref` names: a mismatch id, or a finding's or a signature's
    first mismatch in the latest run that has it (ids or unique prefixes)."""
    from parity.triage.finding_queries import latest_mismatch

    kind, ident = find(rdb, ref)
    if kind == "mismatch":
        return ident
    if kind == "finding":
        found = latest_mismatch(rdb, ident)
        if found is None:
            raise NotFound(f"finding {ident} has no exchange in {rdb.path}")
        return found
    rows = rdb.query(
        "SELECT m.id AS id FROM mismatches m JOIN runs r ON r.id = m.run_id "
        "WHERE m.signature = ? ORDER BY r.started_at DESC, r.rowid DESC, m.session, m.seq "
        "LIMIT 1",
        [ident],
    )
    if not rows:
        raise NotFound(f"signature {ident} has no mismatch in {rdb.path}")
    return str(rows[0]["id"])


def stored_mismatch(rdb: ResultsDB, mismatch_id: str) -> dict[str, Any]:
    """What the database keeps of a mismatch for sending it again: `id`, `run_id`,
    `session`, `seq`, `route`, `outcome`, `signature`, `actual_status`, and `differences`
    as (kind, where, path) triples."""
    row = rdb.query(
        "SELECT id, run_id, session, seq, route, outcome, signature, actual_status, "
        "differences FROM mismatches WHERE id = ?",
        [mismatch_id],
    )[0]
    row["differences"] = [
        (str(d.get("kind")), str(d.get("where")), str(d.get("path")))
        for d in _json_list(row.pop("differences"))
        if isinstance(d, dict)
    ]
    return row


def run_setup(rdb: ResultsDB, run_id: str) -> dict[str, Any]:
    """How run `run_id` was replayed: `target` (URL), `baselines` (URLs, as
    `RunInfo.baseline` joins them), `rules` (the rules file's path, or None) and
    `sessions` (session ids)."""
    run = rdb.query(
        "SELECT target, baseline, rules_path, sessions FROM runs WHERE id = ?", [run_id]
    )[0]
    return {
        "target": str(run["target"]),
        "baselines": [b.strip() for b in (run["baseline"] or "").split(",") if b.strip()],
        "rules": run["rules_path"],
        "sessions": [str(s) for s in _json_list(run["sessions"])],
    }


def _json_list(stored: str | None) -> list[Any]:
    """A stored JSON list; empty when there is none or it does not parse."""
    try:
        found = json.loads(stored or "[]")
    except ValueError:
        return []
    return found if isinstance(found, list) else []
