"""Reading findings: a run's findings by severity (`parity report`), one finding in full
(`parity show FID`), a mismatch's finding ids. Plain dicts: the `--json` shapes
(`docs/results-db.md`).

Severity: status and error changes first, then body structure and values, then headers,
then serialization findings (wire-only, counted apart)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parity.differ.findings import DIFFERENCE, SERIALIZATION, FindingKey, route_key
from parity.triage.bodies import with_bodies
from parity.triage.findings import _difference
from parity.triage.sentences import sentence, sides_of
from parity.triage.text import describe_difference, loads

if TYPE_CHECKING:
    from parity.triage.db import ResultsDB

_PLACE_ORDER = {"status": 0, "body": 1, "header": 2}


def severity(row: dict[str, Any]) -> int:
    """0 status/error, 1 body, 2 header, 3 serialization (any place)."""
    if row["category"] == SERIALIZATION:
        return 3
    return _PLACE_ORDER.get(row["place"], 2)


def title(row: dict[str, Any]) -> str:
    """One line naming a finding: `header access-control-allow-origin added (missing →
    string)`, `$.title changed ("todo" → "Todo")`, `status changed (404 → 400)`."""
    place = row["place"]
    where = (
        "status"
        if place == "status"
        else (f"header {row['path']}" if place == "header" else row["path"])
    )
    kind = row["kind"].replace("_", " ")
    text = f"{where} {kind} ({row['transition']})"
    return f"{text} [wire only]" if row["category"] == SERIALIZATION else text


def finding_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "scope": row["scope"],
        "route": row["route"],
        "where": row["place"],
        "path": row["path"],
        "kind": row["kind"],
        "transition": row["transition"],
        "category": row["category"],
    }


def run_findings(rdb: ResultsDB, run_id: str) -> list[dict[str, Any]]:
    """The run's findings, most severe first, then most exchanges: the spec's shape plus
    `ambiguous_only` (every exchange showing it depends on an ambiguous id) and `title`."""
    rows = rdb.query(
        "SELECT f.*, count(*) AS count, "
        "sum(CASE WHEN m.ambiguous_ids = '[]' THEN 0 ELSE 1 END) AS ambiguous, "
        "min(m.session || char(31) || printf('%012d', m.seq) || char(31) || m.id) "
        "AS first, v.verdict AS verdict "
        "FROM finding_links l JOIN findings f ON f.id = l.finding "
        "JOIN mismatches m ON m.id = l.mismatch_id "
        "LEFT JOIN verdicts v ON v.finding = f.id "
        "WHERE l.run_id = ? GROUP BY f.id",
        [run_id],
    )
    routes = finding_routes(rdb, run_id)
    rows.sort(key=lambda r: (severity(r), -r["count"], r["id"]))
    out = []
    for row in rows:
        example_id = row["first"].rsplit("\x1f", 1)[-1]
        out.append(
            {
                **finding_json(row),
                "routes": routes.get(row["id"], []),
                "count": row["count"],
                "ambiguous_only": row["ambiguous"] == row["count"],
                "verdict": row["verdict"],
                "title": title(row),
                "example": example(rdb, example_id, row),
            }
        )
    return out


def _key(row: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (row["place"], row["path"], row["kind"], row["transition"], row["category"])


def example(rdb: ResultsDB, mismatch_id: str, finding: dict[str, Any]) -> dict[str, Any]:
    """`{"id", "difference", "sentence"}`: the mismatch's difference that shows
    `finding` (found by recomputing its key), as a line and as a sentence."""
    row = rdb.query(
        "SELECT route, differences, serialization, expected_status, actual_status, "
        "expected_headers, actual_headers, expected_body, actual_body, "
        "expected_body_ref, actual_body_ref FROM mismatches WHERE id = ?",
        [mismatch_id],
    )[0]
    with_bodies(rdb.db.conn, row)
    column = "serialization" if finding["category"] == SERIALIZATION else "differences"
    category = SERIALIZATION if column == "serialization" else DIFFERENCE
    wanted = _key(finding)
    for raw in loads(row[column], []):
        parsed = _difference(raw) if isinstance(raw, dict) else None
        if parsed is None:
            continue
        key: FindingKey = route_key(row["route"], parsed, category)
        if key.shape == wanted:
            expected, actual = sides_of(row)
            return {
                "id": mismatch_id,
                "difference": describe_difference(raw),
                "sentence": sentence(raw, expected, actual),
            }
    return {"id": mismatch_id, "difference": None, "sentence": None}


def mismatch_findings(rdb: ResultsDB, run_id: str) -> dict[str, list[str]]:
    """Per mismatch id of the run, the ids of the findings it shows (sorted)."""
    found: dict[str, list[str]] = {}
    for mismatch_id, finding in rdb.db.conn.execute(
        "SELECT mismatch_id, finding FROM finding_links WHERE run_id = ? "
        "ORDER BY mismatch_id, finding",
        [run_id],
    ):
        found.setdefault(mismatch_id, []).append(finding)
    return found


def finding_detail(rdb: ResultsDB, finding_id: str) -> dict[str, Any]:
    """`{"finding": {...key, "routes", "count" (latest run it shows in), "runs",
    "verdict", "title"}, "example": mismatch id or None}`."""
    row = rdb.query(
        "SELECT f.*, v.verdict AS verdict, v.note AS note FROM findings f "
        "LEFT JOIN verdicts v ON v.finding = f.id WHERE f.id = ?",
        [finding_id],
    )[0]
    runs = rdb.query(
        "SELECT l.run_id AS run, r.started_at AS started_at, count(*) AS count "
        "FROM finding_links l JOIN runs r ON r.id = l.run_id WHERE l.finding = ? "
        "GROUP BY l.run_id ORDER BY r.started_at DESC, r.rowid DESC",
        [finding_id],
    )
    routes: list[str] = []
    first: str | None = None
    if runs:
        latest = runs[0]["run"]
        routes = [
            r["route"]
            for r in rdb.query(
                "SELECT DISTINCT m.route FROM finding_links l JOIN mismatches m "
                "ON m.id = l.mismatch_id WHERE l.finding = ? AND l.run_id = ? "
                "ORDER BY m.route",
                [finding_id, latest],
            )
        ]
        first = first_mismatch(rdb, finding_id, latest)
    return {
        "finding": {
            **finding_json(row),
            "title": title(row),
            "routes": routes,
            "count": runs[0]["count"] if runs else 0,
            "runs": runs,
            "first_seen_run": row["first_seen_run"],
            "last_seen_run": row["last_seen_run"],
            "verdict": row["verdict"],
            "note": row["note"],
            "example": None if first is None else example(rdb, first, row),
        },
        "example_id": first,
    }


def first_links(rdb: ResultsDB, run_id: str) -> dict[str, str]:
    """Per finding, the id of its first mismatch in the run (by session, seq), from
    `finding_links`."""
    first: dict[str, str] = {}
    for finding, mismatch_id in rdb.db.conn.execute(
        "SELECT finding, mismatch_id FROM finding_links WHERE run_id = ? ORDER BY session, seq",
        [run_id],
    ):
        first.setdefault(finding, mismatch_id)
    return first


def finding_routes(rdb: ResultsDB, run_id: str) -> dict[str, list[str]]:
    """Per finding, the routes of the run's exchanges that show it (sorted)."""
    routes: dict[str, list[str]] = {}
    for finding, route in rdb.db.conn.execute(
        "SELECT DISTINCT l.finding, m.route FROM finding_links l "
        "JOIN mismatches m ON m.id = l.mismatch_id WHERE l.run_id = ? ORDER BY m.route",
        [run_id],
    ):
        routes.setdefault(finding, []).append(route)
    return routes


def first_mismatch(rdb: ResultsDB, finding_id: str, run_id: str) -> str | None:
    """The id of the finding's first mismatch in the run (by session, seq), or None."""
    rows = rdb.query(
        "SELECT mismatch_id FROM finding_links WHERE finding = ? AND run_id = ? "
        "ORDER BY session, seq LIMIT 1",
        [finding_id, run_id],
    )
    return rows[0]["mismatch_id"] if rows else None


def latest_mismatch(rdb: ResultsDB, finding_id: str) -> str | None:
    """The id of the finding's first mismatch (by session, seq) in the latest run that
    shows it, or None."""
    rows = rdb.query(
        "SELECT l.mismatch_id AS id FROM finding_links l JOIN runs r ON r.id = l.run_id "
        "WHERE l.finding = ? ORDER BY r.started_at DESC, r.rowid DESC, l.session, l.seq "
        "LIMIT 1",
        [finding_id],
    )
    return str(rows[0]["id"]) if rows else None
