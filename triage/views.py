"""Views for people reading the results database (sqlite3, sqlite-utils, Datasette).

The tables keep times as Unix seconds (REAL): the code does arithmetic on them and every
query stays as it is. Each table with a time column has a view named `<table>_iso` with
the same columns, in the same order, its times shown as ISO 8601 UTC text
(`2026-12-01T08:05:45.678Z`). Three more views answer the questions a team starts from:

- `open_findings`: per series of runs (finished runs over the same sessions), the
  findings its newest finished run shows that no verdict accepts (no verdict, or `bug`).
- `run_summary`: per run, its times, target, counters and findings (new, regressed and
  fixed against the previous finished run of its series, as `parity compare` has them).
- `mismatches_by_route`: per run and route, exchanges, outcomes and findings.

`create_views` drops and creates all of them: a migration that changes a table they read
calls it again. Documented in `docs/results-db.md` ("Views").
"""

from __future__ import annotations

from sqlite_utils import Database


def iso(column: str) -> str:
    """SQL showing the Unix seconds in `column` as ISO 8601 UTC text (NULL stays NULL)."""
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column}, 'unixepoch')"


TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("started_at", "finished_at", "interrupted_at"),
    "run_sessions": ("finished_at",),
    "verdicts": ("marked_at",),
    "verdict_history": ("marked_at",),
}
"""The tables with times (Unix seconds) and those columns: each has a `<table>_iso` view."""


def _later(newer: str, older: str) -> str:
    """SQL: run `newer` started after run `older` (ties by insertion order, as compare)."""
    return (
        f"({newer}.started_at > {older}.started_at OR ({newer}.started_at = "
        f"{older}.started_at AND {newer}.rowid > {older}.rowid))"
    )


_OPEN_FINDINGS = f"""
WITH latest AS (
    SELECT r.id, r.sessions, r.started_at FROM runs r
    WHERE r.finished_at IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM runs n
        WHERE n.sessions = r.sessions AND n.finished_at IS NOT NULL AND {_later("n", "r")}
    )
)
SELECT
    f.id AS finding,
    f.scope AS scope,
    f.route AS route,
    f.place AS place,
    f.path AS path,
    f.kind AS kind,
    f.transition AS transition,
    f.category AS category,
    v.verdict AS verdict,
    v.note AS note,
    latest.id AS run_id,
    {iso("latest.started_at")} AS run_started_at,
    count(*) AS exchanges,
    json_group_array(DISTINCT m.route) AS routes,
    (SELECT count(DISTINCT a.run_id) FROM finding_links a WHERE a.finding = f.id) AS runs_seen,
    f.first_seen_run AS first_seen_run,
    {iso("fr.started_at")} AS first_seen_at,
    f.last_seen_run AS last_seen_run,
    {iso("lr.started_at")} AS last_seen_at
FROM latest
JOIN finding_links fl ON fl.run_id = latest.id
JOIN mismatches m ON m.id = fl.mismatch_id
JOIN findings f ON f.id = fl.finding
LEFT JOIN verdicts v ON v.finding = f.id
LEFT JOIN runs fr ON fr.id = f.first_seen_run
LEFT JOIN runs lr ON lr.id = f.last_seen_run
WHERE v.verdict IS NULL OR v.verdict = 'bug'
GROUP BY latest.id, f.id
"""

_EARLIER_IN_SERIES = f"""EXISTS (
            SELECT 1 FROM runs er
            WHERE er.sessions = s.sessions AND er.finished_at IS NOT NULL AND {_later("s", "er")}
              AND EXISTS (
                  SELECT 1 FROM finding_links e WHERE e.finding = l.finding AND e.run_id = er.id
              )
        )"""
_NOT_IN_PREVIOUS = """NOT EXISTS (
            SELECT 1 FROM finding_links p WHERE p.finding = l.finding AND p.run_id = s.previous_run
        )"""

# Per distinct finding of a run (not per link: a finding on 10,000 exchanges is one check),
# each check an index lookup: finding_links (finding, run_id).
_RUN_SUMMARY = f"""
WITH s AS (
    SELECT r.rowid AS rowid, r.*, (
        SELECT p.id FROM runs p
        WHERE p.sessions = r.sessions AND p.finished_at IS NOT NULL AND {_later("r", "p")}
        ORDER BY p.started_at DESC, p.rowid DESC LIMIT 1
    ) AS previous_run
    FROM runs r
)
SELECT
    s.id AS run_id,
    s.label AS label,
    {iso("s.started_at")} AS started_at,
    {iso("s.finished_at")} AS finished_at,
    {iso("s.interrupted_at")} AS interrupted_at,
    s.target AS target,
    s.baseline AS baseline,
    json_array_length(s.sessions) AS sessions,
    (SELECT count(*) FROM run_sessions rs WHERE rs.run_id = s.id) AS sessions_done,
    s.exchanges AS exchanges,
    s.matched AS matched,
    s.mismatched AS mismatched,
    s.errors AS errors,
    s.noise_suppressed AS noise_suppressed,
    round(100.0 * s.matched / nullif(s.exchanges, 0), 2) AS matched_pct,
    (SELECT count(DISTINCT l.finding) FROM finding_links l WHERE l.run_id = s.id) AS findings,
    s.previous_run AS previous_run,
    (
        SELECT count(*) FROM (SELECT DISTINCT finding FROM finding_links WHERE run_id = s.id) l
        WHERE {_NOT_IN_PREVIOUS} AND NOT {_EARLIER_IN_SERIES}
    ) AS findings_new,
    (
        SELECT count(*) FROM (SELECT DISTINCT finding FROM finding_links WHERE run_id = s.id) l
        WHERE {_NOT_IN_PREVIOUS} AND {_EARLIER_IN_SERIES}
    ) AS findings_regressed,
    (
        SELECT count(*) FROM (
            SELECT DISTINCT finding FROM finding_links WHERE run_id = s.previous_run
        ) p
        WHERE NOT EXISTS (
            SELECT 1 FROM finding_links l WHERE l.finding = p.finding AND l.run_id = s.id
        )
    ) AS findings_fixed
FROM s
"""

_MISMATCHES_BY_ROUTE = """
SELECT
    r.run_id AS run_id,
    r.route AS route,
    r.exchanges AS exchanges,
    r.matched AS matched,
    r.mismatched AS mismatched,
    r.errors AS errors,
    round(100.0 * r.mismatched / r.exchanges, 2) AS mismatched_pct,
    coalesce(f.findings, 0) AS findings
FROM (
    SELECT
        run_id,
        route,
        count(*) AS exchanges,
        sum(outcome = 'matched') AS matched,
        sum(outcome = 'mismatched') AS mismatched,
        sum(outcome = 'error') AS errors
    FROM results GROUP BY run_id, route
) r
LEFT JOIN (
    SELECT fl.run_id AS run_id, m.route AS route, count(DISTINCT fl.finding) AS findings
    FROM finding_links fl JOIN mismatches m ON m.id = fl.mismatch_id
    GROUP BY fl.run_id, m.route
) f ON f.run_id = r.run_id AND f.route = r.route
"""

QUESTIONS: dict[str, str] = {
    "open_findings": _OPEN_FINDINGS,
    "run_summary": _RUN_SUMMARY,
    "mismatches_by_route": _MISMATCHES_BY_ROUTE,
}
"""The views a team starts from, by name: their SELECT."""


def _iso_view(db: Database, table: str, times: tuple[str, ...]) -> str:
    columns = [c.name for c in db.table(table).columns]
    shown = [f"{iso(c)} AS {c}" if c in times else c for c in columns]
    return f"SELECT {', '.join(shown)} FROM {table}"


def view_names() -> list[str]:
    """Every view `create_views` makes."""
    return [f"{t}_iso" for t in TIME_COLUMNS] + list(QUESTIONS)


def create_views(db: Database) -> None:
    """Drop and create every view (inside the caller's transaction): the `_iso` view of
    each table with times, from the table's columns as they are now, and the questions."""
    for name in view_names():
        db.execute(f"DROP VIEW IF EXISTS {name}")
    for table, times in TIME_COLUMNS.items():
        db.execute(f"CREATE VIEW {table}_iso AS {_iso_view(db, table, times)}")
    for name, select in QUESTIONS.items():
        db.execute(f"CREATE VIEW {name} AS {select}")
