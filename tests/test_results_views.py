"""A results database people can read (issue 13): no SQL keyword as a column name, times
as ISO 8601 in views, the views a team starts from (`run_summary`, `open_findings`,
`mismatches_by_route`), Datasette's metadata, the v7 -> v8 migration, `parity serve`."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import stat
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from parity.triage import ResultsDB, schema
from parity.triage.metadata import metadata_path
from parity.triage.views import view_names
from tests.procs import Proc, parity
from tests.test_triage_db import database_at, date_mismatch, login_mismatch, matched, run_info

# https://sqlite.org/lang_keywords.html
_KEYWORDS = """ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE
    DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE
    EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP
    GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD
    INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT
    NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA
    PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME
    REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP
    TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM
    VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT"""
SQL_KEYWORDS = set(_KEYWORDS.split())
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
T0 = 1_796_112_000.0  # 2026-12-01T08:00:00Z


def columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    ]
    return {n: [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}


def store(
    db: ResultsDB, started: float, results: list[Any], sessions: list[str] | None = None
) -> str:
    run_id = db.start_run(run_info(started_at=started, sessions=sessions or ["s1"]))
    with db.writer(run_id) as w:
        for r in results:
            w.add(r)
    db.finish_run(run_id, finished_at=started + 60.5)
    return run_id


def make_v8(path: Path) -> None:
    """A results database as parity wrote it before this change (schema v8), with a run
    and learned noise."""
    old = database_at(path, 8)
    with old.conn:
        old.execute(
            "INSERT INTO runs (id, target, sessions, started_at, interrupted_at) "
            "VALUES ('0ld0ld00', 'http://old', '[\"s1\"]', ?, ?)",
            [T0, T0 + 1.25],
        )
        old.execute("INSERT INTO noise_routes (route, observations) VALUES ('GET /a', 4)")
        old.execute(
            'INSERT INTO noise (route, "where", path, disagreements, kinds) '
            "VALUES ('GET /a', 'body', '$.took_ms', 3, '[\"changed\"]')"
        )
    old.close()


# -- the migration and the file ----------------------------------------------------------


def test_a_v8_database_is_carried_forward_with_place_views_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    make_v8(path)
    with ResultsDB(path, create=False) as db:  # a reader migrates
        assert db.schema_version == schema.LATEST == 9
        assert db.query("SELECT route, place, path FROM noise") == [
            {"route": "GET /a", "place": "body", "path": "$.took_ms"}
        ]
        with pytest.raises(sqlite3.OperationalError):
            db.db.execute("SELECT where FROM noise")
        assert "where" not in [c.name for c in db.db.table("noise").columns]
        pk = [c.name for c in db.db.table("noise").columns if c.is_pk]
        assert pk == ["route", "place", "path"]
        [row] = db.noise_rows()
        assert (row["where"], row["path"], row["disagreements"]) == ("body", "$.took_ms", 3)
        assert set(view_names()) <= set(db.db.view_names())
        [run_row] = db.query("SELECT started_at, finished_at, interrupted_at FROM runs_iso")
        assert run_row == {
            "started_at": "2026-12-01T08:00:00.000Z",
            "finished_at": None,
            "interrupted_at": "2026-12-01T08:00:01.250Z",
        }
        assert db.query("SELECT started_at FROM runs") == [{"started_at": T0}]  # unchanged
    meta = metadata_path(path)
    assert meta.name == "parity.metadata.json"
    if sys.platform != "win32":
        assert stat.S_IMODE(meta.stat().st_mode) == 0o600
    data = json.loads(meta.read_text(encoding="utf-8"))
    assert data["databases"]["parity"]["tables"]["noise"]["columns"]["place"].startswith("where")


def test_no_column_is_an_sql_keyword_and_every_column_is_described(tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    ResultsDB(path).close()
    data = json.loads(metadata_path(path).read_text(encoding="utf-8"))
    described = data["databases"]["results"]["tables"]
    conn = sqlite3.connect(path)
    for name, cols in columns(conn).items():
        if name.startswith("sqlite_"):
            continue
        assert name.upper() not in SQL_KEYWORDS
        for col in cols:
            assert col.upper() not in SQL_KEYWORDS, f"{name}.{col}"
            conn.execute(f"SELECT {col} FROM {name} LIMIT 0")  # no quoting needed
        assert described[name]["title"] and described[name]["description"], name
        assert sorted(described[name]["columns"]) == sorted(cols), name
    conn.close()


# -- the views, on stored runs -----------------------------------------------------------


def test_views_answer_new_fixed_regressed_open_and_by_route(tmp_path: Path) -> None:
    with ResultsDB(tmp_path / "parity.db") as db:
        first = store(db, T0, [date_mismatch("s1", 0, 1), login_mismatch("s1", 1)])
        second = store(
            db,
            T0 + 3600,
            [matched("s1", 0, "/api/entries/1", "GET /api/entries/{id}"), login_mismatch("s1", 1)],
        )
        third = store(db, T0 + 7200, [date_mismatch("s1", 0, 1), login_mismatch("s1", 1)])
        other = store(db, T0 + 9000, [matched("s9", 0, "/x", "GET /x")], sessions=["s9"])
        summary = {r["run_id"]: r for r in db.query("SELECT * FROM run_summary")}
        assert summary[first]["started_at"] == "2026-12-01T08:00:00.000Z"
        assert summary[first]["finished_at"] == "2026-12-01T08:01:00.500Z"
        counts = {
            run_id: (
                r["previous_run"],
                r["findings"],
                r["findings_new"],
                r["findings_regressed"],
                r["findings_fixed"],
            )
            for run_id, r in summary.items()
        }
        login_findings = len(
            {
                r["finding"]
                for r in db.query(
                    "SELECT finding FROM finding_links WHERE run_id = ? AND seq = 1", [first]
                )
            }
        )
        assert counts == {
            first: (None, login_findings + 1, login_findings + 1, 0, 0),
            second: (first, login_findings, 0, 0, 1),
            third: (second, login_findings + 1, 0, 1, 0),
            other: (None, 0, 0, 0, 0),
        }
        assert (
            summary[third]["exchanges"],
            summary[third]["mismatched"],
            summary[third]["matched_pct"],
        ) == (2, 2, 0.0)

        open_rows = db.query("SELECT * FROM open_findings ORDER BY route, finding")
        assert {r["run_id"] for r in open_rows} == {third}  # the newest run of its series
        assert len(open_rows) == login_findings + 1
        date = [r for r in open_rows if r["route"] == "GET /api/entries/{id}"]
        assert len(date) == 1
        assert (date[0]["exchanges"], json.loads(date[0]["routes"]), date[0]["runs_seen"]) == (
            1,
            ["GET /api/entries/{id}"],
            2,
        )
        assert (date[0]["first_seen_run"], date[0]["last_seen_run"]) == (first, third)
        assert date[0]["first_seen_at"] == "2026-12-01T08:00:00.000Z"
        assert date[0]["last_seen_at"] == "2026-12-01T10:00:00.000Z"
        db.mark(date[0]["finding"], "expected", note="the C# date format is fine")
        still_open = {r["finding"] for r in db.query("SELECT finding FROM open_findings")}
        assert still_open == {r["finding"] for r in open_rows} - {date[0]["finding"]}
        [verdict] = db.query("SELECT verdict, marked_at FROM verdicts_iso")
        assert verdict["verdict"] == "expected" and ISO.match(verdict["marked_at"])

        by_route = db.query(
            "SELECT * FROM mismatches_by_route WHERE run_id = ? ORDER BY route", [second]
        )
        assert by_route == [
            {
                "run_id": second,
                "route": "GET /api/entries/{id}",
                "exchanges": 1,
                "matched": 1,
                "mismatched": 0,
                "errors": 0,
                "mismatched_pct": 0.0,
                "findings": 0,
            },
            {
                "run_id": second,
                "route": "POST /api/login",
                "exchanges": 1,
                "matched": 0,
                "mismatched": 1,
                "errors": 0,
                "mismatched_pct": 100.0,
                "findings": login_findings,
            },
        ]


# -- Datasette -----------------------------------------------------------------------------


def test_datasette_opens_the_database_with_its_metadata(tmp_path: Path) -> None:
    from datasette.app import Datasette

    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        run_id = store(db, T0, [date_mismatch("s1", 0, 1), matched("s1", 1, "/x", "GET /x")])
    meta = json.loads(metadata_path(path).read_text(encoding="utf-8"))

    async def ask() -> list[Any]:
        ds = Datasette([str(path)], metadata=meta)
        out = []
        for url in (
            "/parity/run_summary.json?_shape=array",
            "/parity/runs_iso.json?_shape=array",
            "/parity/mismatches_by_route.json?_shape=array&run_id=" + run_id,
            "/parity/noise.json?_shape=array",
        ):
            response = await ds.client.get(url)
            assert response.status_code == 200, (url, response.text)
            out.append(response.json())
        page = await ds.client.get("/parity/run_summary")
        out.append(page.text)
        return out

    summary, runs_iso, by_route, noise, html = asyncio.run(ask())
    assert [(r["run_id"], r["started_at"], r["exchanges"]) for r in summary] == [
        (run_id, "2026-12-01T08:00:00.000Z", 2)
    ]
    assert ISO.match(runs_iso[0]["finished_at"])
    assert {r["route"]: r["mismatched"] for r in by_route} == {
        "GET /api/entries/{id}": 1,
        "GET /x": 0,
    }
    assert noise == []
    assert "Run summary" in html and "previous finished run over the same sessions" in html


def test_parity_serve_starts_datasette_with_the_metadata(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        store(db, T0, [matched("s1", 0, "/x", "GET /x")])
    with Proc(parity("serve", "--db", str(path), "--port", "0")) as server:
        url = server.wait_for(r"(http://127\.0\.0\.1:\d+)", timeout=30).group(1)
        with urllib.request.urlopen(url + "/parity/run_summary.json?_shape=array", timeout=10) as r:
            rows = json.loads(r.read())
        with urllib.request.urlopen(url + "/-/metadata.json", timeout=10) as r:
            served = json.loads(r.read())
    assert [row["exchanges"] for row in rows] == [1]
    assert served["databases"]["parity"]["tables"]["open_findings"]["title"] == "Open findings"


def test_parity_serve_without_datasette_says_what_to_install(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text(
        "import importlib.util as u\n_f = u.find_spec\n"
        "u.find_spec = lambda n, *a: None if n == 'datasette' else _f(n, *a)\n",
        encoding="utf-8",
    )
    args = parity("serve", "--db", str(tmp_path / "parity.db"))
    with Proc(args, env={"PYTHONPATH": str(hidden)}) as proc:
        assert proc.popen.wait(30) == 2
        out = proc.output()
    assert out.strip().splitlines() == [
        "parity: error: parity serve needs Datasette: pip install 'parity[datasette]' (or datasette)"
    ]


# -- on a real run ---------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_the_views_agree_with_compare_on_the_journal_pilot(tmp_path: Path) -> None:
    from datasette.app import Datasette

    from tests.journal import record_pilot
    from tests.test_gate_journal import FIXED, replay, run

    sessions = record_pilot(tmp_path / "sessions")
    db_path = tmp_path / "parity.db"
    rules = tmp_path / "rules.toml"
    rules.write_text('[[ignore]]\nname = "timing"\npaths = ["$.took_ms"]\n', encoding="utf-8")
    first = replay(sessions, db_path, rules)
    second = replay(sessions, db_path, rules, fixes=(FIXED,))
    compared = json.loads(run("compare", "--db", str(db_path), "--json"))
    assert compared["counts"]["fixed"] > 0
    with ResultsDB(db_path, create=False) as db:
        summary = {r["run_id"]: r for r in db.query("SELECT * FROM run_summary")}
        assert summary[second]["previous_run"] == first
        assert summary[second]["sessions_done"] == summary[second]["sessions"] > 0
        assert summary[second]["interrupted_at"] is None
        counts = compared["counts"]
        assert (
            summary[second]["findings_fixed"],
            summary[second]["findings_new"],
            summary[second]["findings_regressed"],
        ) == (counts["fixed"], counts["new"], counts["regressed"])
        assert all(
            ISO.match(r["started_at"]) and ISO.match(r["finished_at"]) for r in summary.values()
        )
        open_ids = {r["finding"] for r in db.query("SELECT finding FROM open_findings")}
        assert open_ids == {f["id"] for f in compared["still_open"]}
        by_route = db.query("SELECT * FROM mismatches_by_route WHERE run_id = ?", [second])
        totals = db.query("SELECT exchanges, mismatched, errors FROM runs WHERE id = ?", [second])[
            0
        ]
        assert sum(r["exchanges"] for r in by_route) == totals["exchanges"]
        assert sum(r["mismatched"] for r in by_route) == totals["mismatched"]
        learned = db.query("SELECT route, place, path FROM noise ORDER BY 1, 2, 3")
        assert learned == sorted(
            (
                {"route": r["route"], "place": r["where"], "path": r["path"]}
                for r in db.noise_rows()
            ),
            key=lambda r: (r["route"], r["place"], r["path"]),
        )
    meta = json.loads(metadata_path(db_path).read_text(encoding="utf-8"))

    async def ask(url: str) -> Any:
        response = await Datasette([str(db_path)], metadata=meta).client.get(url)
        assert response.status_code == 200, response.text
        return response.json()

    rows = asyncio.run(ask("/parity/open_findings.json?_shape=array&_size=max"))
    assert {r["finding"] for r in rows} == open_ids
    assert all(ISO.match(r["first_seen_at"]) for r in rows)


def test_run_summary_checks_each_finding_once_not_each_exchange(tmp_path: Path) -> None:
    """One finding on 5,000 exchanges of each of three runs: the view looks each finding
    up by index (before: every link against every link, 30 s and more)."""
    with ResultsDB(tmp_path / "parity.db") as db:
        runs = [db.start_run(run_info(started_at=T0 + i)) for i in range(3)]
        for i, run_id in enumerate(runs):
            db.finish_run(run_id, finished_at=T0 + i + 0.5)
        with db.db.conn:
            db.db.conn.executemany(
                "INSERT INTO finding_links (run_id, session, seq, mismatch_id, finding) "
                "VALUES (?, 's1', ?, ?, 'Fsame')",
                [(r, seq, f"{r}-{seq}") for r in runs for seq in range(5000)],
            )
        started = time.perf_counter()
        rows = db.query("SELECT run_id, findings, findings_new FROM run_summary")
        assert time.perf_counter() - started < 1.0
    assert [(r["findings"], r["findings_new"]) for r in rows] == [(1, 1), (1, 0), (1, 0)]
