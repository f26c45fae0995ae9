"""Findings in the results database: storage, cross-route grouping, the v4 migration.
Real SQLite files in tmp_path; verdicts built from `differ.model`."""

from __future__ import annotations

import json
from pathlib import Path

from parity.differ.findings import finding_id, finding_keys
from parity.differ.model import Difference, DiffKind, HttpResponse, Outcome, Verdict, Where
from parity.differ.signature import signature_of
from parity.triage import ExchangeResult, ResultsDB, RunInfo, schema
from parity.triage.compare import finding_changes
from tests.test_triage_db import database_at

JSON = [(b"Content-Type", b"application/json")]
CORS = Difference(Where.HEADER, "access-control-allow-origin", DiffKind.ADDED, None, "*")
TITLE = Difference(Where.BODY, "$.title", DiffKind.CHANGED, "todo", "Todo")


def exchange(
    seq: int,
    route: str,
    differences: list[Difference],
    *,
    serialization: list[Difference] | None = None,
    ambiguous: list[str] | None = None,
) -> ExchangeResult:
    outcome = Outcome.MISMATCHED if differences else Outcome.MATCHED
    verdict = Verdict(
        outcome,
        route,
        differences=differences,
        serialization=serialization or [],
        signature=signature_of(route, differences) if differences else None,
    )
    return ExchangeResult(
        session="s1",
        seq=seq,
        method="GET",
        url=f"/{seq}",
        route=route,
        verdict=verdict,
        expected=HttpResponse(200, JSON, b"{}"),
        actual=HttpResponse(200, JSON, b"{}"),
        sent={"target": {"method": "GET", "url": f"/{seq}", "substitutions": []}},
        ambiguous_ids=ambiguous or [],
    )


def store(db: ResultsDB, results: list[ExchangeResult], at: float = 1000.0) -> str:
    run = db.start_run(RunInfo(target="http://t", sessions=["s1"], started_at=at))
    with db.writer(run) as writer:
        for result in results:
            writer.add(result)
    db.finish_run(run, finished_at=at + 1)
    return run


def links(db: ResultsDB, run: str) -> dict[str, int]:
    rows = db.query(
        "SELECT finding, COUNT(*) AS n FROM finding_links WHERE run_id = ? GROUP BY finding",
        [run],
    )
    return {r["finding"]: r["n"] for r in rows}


def test_a_header_change_on_every_route_is_one_cross_route_finding(tmp_path: Path) -> None:
    routes = [f"GET /api/r{i}/{{id}}" for i in range(6)]
    results = [exchange(i, routes[i % 6], [CORS]) for i in range(18)]
    results.append(exchange(18, routes[0], [CORS, TITLE]))
    with ResultsDB(tmp_path / "parity.db") as db:
        run = store(db, results)
        found = {r["id"]: r for r in db.query("SELECT * FROM findings")}
        cross = [r for r in found.values() if r["scope"] == "cross-route"]
        assert len(cross) == 1 and cross[0]["route"] is None
        assert cross[0]["place"] == "header" and cross[0]["transition"] == "missing → string"
        per_route = [r for r in found.values() if r["scope"] == "route"]
        assert [(r["route"], r["path"]) for r in per_route] == [(routes[0], "$.title")]
        assert links(db, run) == {cross[0]["id"]: 19, per_route[0]["id"]: 1}


def test_a_cross_route_finding_is_sticky(tmp_path: Path) -> None:
    routes = [f"GET /r{i}" for i in range(4)]
    with ResultsDB(tmp_path / "parity.db") as db:
        store(db, [exchange(i, routes[i], [CORS]) for i in range(4)])
        # Later, fixed on all routes but one of ten: still the same cross-route finding.
        later = [exchange(0, routes[0], [CORS])]
        later += [exchange(i, f"GET /other{i}", []) for i in range(1, 10)]
        run = store(db, later, at=2000.0)
        (only,) = links(db, run)
        row = db.query("SELECT scope FROM findings WHERE id = ?", [only])[0]
        assert row["scope"] == "cross-route"


def test_serialization_only_exchanges_are_stored_as_matched(tmp_path: Path) -> None:
    case = Difference(Where.HEADER, "x-request-id", DiffKind.CHANGED, "X-Request-Id", "x")
    with ResultsDB(tmp_path / "parity.db") as db:
        run = store(db, [exchange(0, "GET /a", [], serialization=[case], ambiguous=["13"])])
        (row,) = db.query("SELECT * FROM mismatches WHERE run_id = ?", [run])
        assert row["outcome"] == "matched"
        assert json.loads(row["ambiguous_ids"]) == ["13"]
        assert json.loads(row["sent"])["target"]["url"] == "/0"
        assert json.loads(row["serialization"])[0]["path"] == "x-request-id"
        (result,) = db.query("SELECT serialization, outcome FROM results")
        assert result == {"serialization": 1, "outcome": "matched"}
        (finding,) = db.query("SELECT category FROM findings")
        assert finding["category"] == "serialization"
        assert db.query("SELECT matched, mismatched FROM runs")[0] == {
            "matched": 1,
            "mismatched": 0,
        }


def _v3_file(path: Path) -> None:
    """A results file as parity wrote it at schema v3: runs, results, mismatches,
    signatures and verdicts on signatures (rows as the v3 writer and `mark` stored them)."""
    old = database_at(path, 3)
    rows = [
        # (mismatch, route, differences): sig A shows CORS+TITLE, sig B CORS only
        ("m1", "GET /a", [CORS, TITLE]),
        ("m2", "GET /a", [CORS]),
        ("m3", "GET /b", [TITLE]),
    ]
    with old.conn:
        old.table("runs").insert(
            {"id": "r1", "target": "http://t", "sessions": "[]", "started_at": 1.0}
        )
        for seq, (ident, route, diffs) in enumerate(rows):
            sig = signature_of(route, diffs)
            old.table("signatures").upsert(
                {"id": sig, "route": route, "kinds": "[]", "paths": "[]"}, pk="id"
            )
            old.table("mismatches").insert(
                {
                    "id": ident,
                    "run_id": "r1",
                    "session": "s1",
                    "seq": seq,
                    "method": "GET",
                    "url": "/",
                    "route": route,
                    "outcome": "mismatched",
                    "signature": sig,
                    "differences": json.dumps([d.to_json() for d in diffs]),
                }
            )
            old.table("results").insert(
                {
                    "run_id": "r1",
                    "session": "s1",
                    "seq": seq,
                    "method": "GET",
                    "url": "/",
                    "route": route,
                    "outcome": "mismatched",
                    "signature": sig,
                    "mismatch_id": ident,
                }
            )
        for seq, route in enumerate(["GET /c", "GET /d", "GET /e"], start=10):
            # Matched exchanges on other routes: the run has 5 routes, so a shape on the
            # two routes /a and /b stays per route.
            old.table("results").insert(
                {
                    "run_id": "r1",
                    "session": "s1",
                    "seq": seq,
                    "method": "GET",
                    "url": "/",
                    "route": route,
                    "outcome": "matched",
                }
            )
        marks = [
            (signature_of("GET /a", [CORS, TITLE]), "bug", 10.0),
            (signature_of("GET /a", [CORS]), "expected", 20.0),
            (signature_of("GET /b", [TITLE]), "noise", 30.0),
        ]
        for sig, verdict, at in marks:
            for table in ("verdicts", "verdict_history"):
                old.execute(
                    f"INSERT INTO {table} (signature, verdict, note, marked_at, marked_by) "
                    "VALUES (?, ?, '', ?, 'ana')",
                    [sig, verdict, at],
                )
    old.close()


def test_verdicts_on_signatures_survive_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    _v3_file(path)
    with ResultsDB(path) as db:
        assert db.schema_version == schema.LATEST == 9  # v3 -> ... -> v9
        cors_a = finding_id(finding_keys("GET /a", Verdict(Outcome.MISMATCHED, "", [CORS]))[0])
        title_a = finding_id(finding_keys("GET /a", Verdict(Outcome.MISMATCHED, "", [TITLE]))[0])
        title_b = finding_id(finding_keys("GET /b", Verdict(Outcome.MISMATCHED, "", [TITLE]))[0])
        given = {r["finding"]: r["verdict"] for r in db.query("SELECT * FROM verdicts")}
        # CORS on /a: `bug` (sig A, older) beats `expected` (sig B, newer).
        assert given == {cors_a: "bug", title_a: "bug", title_b: "noise"}
        history = db.query("SELECT finding, note FROM verdict_history ORDER BY finding")
        assert len(history) == 3
        assert all(r["note"].startswith("carried over from signature") for r in history)
        assert links(db, "r1") == {cors_a: 2, title_a: 1, title_b: 1}
        # The old tables stay readable.
        assert len(db.query("SELECT * FROM signature_verdicts")) == 3
        assert len(db.query("SELECT * FROM signatures")) == 3


def test_a_fix_of_one_of_two_divergences_is_one_fixed_and_nothing_new(tmp_path: Path) -> None:
    with ResultsDB(tmp_path / "parity.db") as db:
        a = store(db, [exchange(0, "GET /a", [CORS, TITLE])])
        b = store(db, [exchange(0, "GET /a", [CORS])], at=2000.0)
        states = {c.id: c.state for c in finding_changes(db, a, b)}
        title = finding_id(finding_keys("GET /a", Verdict(Outcome.MISMATCHED, "", [TITLE]))[0])
        assert sorted(states.values()) == ["fixed", "recurring"]
        assert states[title] == "fixed"


def test_a_finding_shown_only_by_ambiguous_exchanges_is_not_new(tmp_path: Path) -> None:
    with ResultsDB(tmp_path / "parity.db") as db:
        a = store(db, [exchange(0, "GET /a", [CORS])])
        b = store(db, [exchange(0, "GET /a", [CORS, TITLE], ambiguous=["13"])], at=2000.0)
        assert [(c.state, c.count_b) for c in finding_changes(db, a, b)] == [("recurring", 1)]
        # Between two runs where only ambiguous exchanges show it: nothing to say.
        c = store(db, [exchange(0, "GET /a", [CORS], ambiguous=["13"])], at=3000.0)
        assert finding_changes(db, b, c) == []


def test_report_and_show_name_a_cross_route_finding(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from parity.report_cmd import report, show

    routes = [f"GET /api/r{i}" for i in range(4)]
    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        store(db, [exchange(i, routes[i % 4], [CORS]) for i in range(8)])
    runner = CliRunner(env={"COLUMNS": "200"})
    data = json.loads(runner.invoke(report, ["--db", str(path), "--json"]).output)
    (finding,) = data["findings"]
    assert finding["scope"] == "cross-route" and finding["routes"] == routes
    assert finding["count"] == 8 and finding["verdict"] is None
    assert finding["title"] == "header access-control-allow-origin added (missing → string)"
    text = runner.invoke(report, ["--db", str(path)]).output
    assert "across 4 routes" in text and finding["id"] in text
    shown = runner.invoke(show, [finding["id"][:6].lower(), "--db", str(path), "--json"])
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert detail["finding"]["id"] == finding["id"] and detail["finding"]["count"] == 8
    assert detail["mismatch"]["findings"] == [finding["id"]]
    assert detail["mismatch"]["sent"]["target"]["url"] == "/0"
    out = runner.invoke(show, [finding["id"], "--db", str(path)]).output
    assert out.startswith(
        f"Finding {finding['id']}  header access-control-allow-origin added "
        "(missing → string) — on 8 exchanges across 4 routes\n"
    )
