"""`parity report | show | runs`, in-process (CliRunner): JSON shapes, exit codes and the
exact lines a user sees. The commands are mounted on a local group here; `parity.cli`
registers the same objects."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import parity.triage.db
from parity.report_cmd import report, runs, show
from parity.triage import ResultsDB
from tests.test_triage_db import fill


@click.group()
def cli() -> None:
    """Test mount."""


for command in (report, show, runs):
    cli.add_command(command)


def invoke(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "220"}).invoke(cli, list(args))


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.output


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two runs of the same 7 exchanges. Ids come out as 11111111, 22222222, …: the older
    run is 11111111 (mismatches 2… to 5…), the latest 66666666 (mismatches 7… to a…)."""
    counter = itertools.count(1)
    monkeypatch.setattr(parity.triage.db, "random_id", lambda: f"{next(counter):x}" * 8)
    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        fill(db, started_at=1_700_000_000.0, label="first")
        fill(db, started_at=1_700_100_000.0)
    return path


def mismatch_id(db_path: Path, run: str, seq: int, session: str = "s1") -> str:
    conn = sqlite3.connect(db_path)
    row = conn.execute(
        "SELECT id FROM mismatches WHERE run_id = ? AND session = ? AND seq = ?",
        [run, session, seq],
    ).fetchone()
    conn.close()
    return str(row[0])


def test_every_command_has_help_with_an_example() -> None:
    for command in (report, show, runs):
        assert command.help and "Example:" in command.help, command.name


def test_the_module_does_not_import_sqlite_or_rich_at_import_time() -> None:
    code = (
        "import sys, parity.report_cmd; "
        "print(','.join(m for m in ('sqlite_utils', 'parity.triage', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- report ------------------------------------------------------------------------------


def test_report_json_has_exactly_the_documented_shape(db_path: Path) -> None:
    data = as_json("report", "--db", str(db_path))
    assert set(data) == {
        "run",
        "totals",
        "learned_noise",
        "routes",
        "signatures",
        "findings",
        "mismatches",
    }
    assert data["learned_noise"] is None
    assert data["run"] == {
        "id": "66666666",
        "target": "http://127.0.0.1:5001",
        "baseline": "http://127.0.0.1:5000",
        "sessions": ["s1", "s2"],
        "started_at": "2023-11-16T02:00:00.000Z",
        "finished_at": "2023-11-16T02:00:12.500Z",
        "label": "nightly",
    }
    assert data["totals"] == {
        "exchanges": 7,
        "matched": 3,
        "mismatched": 3,
        "errors": 1,
        "noise_suppressed": 4,
    }
    assert data["routes"] == [
        {
            "route": "POST /api/login",
            "exchanges": 1,
            "matched": 0,
            "mismatched": 1,
            "errors": 0,
            "parity": 0.0,
            "latency": {
                "expected_p50": 5.0,
                "expected_p95": 5.0,
                "actual_p50": 1.0,
                "actual_p95": 1.0,
            },
        },
        {
            "route": "GET /api/entries/{id}",
            "exchanges": 3,
            "matched": 1,
            "mismatched": 2,
            "errors": 0,
            "parity": 33.33,
            "latency": {
                "expected_p50": 3.0,
                "expected_p95": 3.0,
                "actual_p50": 4.5,
                "actual_p95": 4.5,
            },
        },
        {
            "route": "GET /api/vaults",
            "exchanges": 2,
            "matched": 1,
            "mismatched": 0,
            "errors": 1,
            "parity": 50.0,
            "latency": {
                "expected_p50": 1.0,
                "expected_p95": 1.0,
                "actual_p50": 2.0,
                "actual_p95": 2.0,
            },
        },
        {
            "route": "GET /api/health",
            "exchanges": 1,
            "matched": 1,
            "mismatched": 0,
            "errors": 0,
            "parity": 100.0,
            "latency": {
                "expected_p50": 1.0,
                "expected_p95": 1.0,
                "actual_p50": 2.0,
                "actual_p95": 2.0,
            },
        },
    ]
    first_date = mismatch_id(db_path, "66666666", 2)
    assert data["signatures"] == [
        {
            "id": "d4te5163",
            "route": "GET /api/entries/{id}",
            "kinds": ["changed"],
            "paths": ["$.created"],
            "count": 2,
            "example": {
                "id": first_date,
                "difference": '$.created changed: "2026-01-01T10:00:00Z" -> "2026-01-01T10:00:00+00:00"',
                "sentence": "`$.created`: `2026-01-01T10:00:00+00:00` "
                "where the recording had `2026-01-01T10:00:00Z`",
            },
        },
        {
            "id": "5ta7u500",
            "route": "POST /api/login",
            "kinds": ["changed", "removed"],
            "paths": ["$.token", "header set-cookie", "status"],
            "count": 1,
            "example": {
                "id": mismatch_id(db_path, "66666666", 4),
                "difference": "status changed: 200 -> 500",
                "sentence": "status 500 where the recording had 200",
            },
        },
    ]
    mismatches = data["mismatches"]
    assert [(m["session"], m["seq"]) for m in mismatches] == [
        ("s1", 2),
        ("s1", 3),
        ("s1", 4),
        ("s2", 2),
    ]
    keys = {
        "id",
        "session",
        "seq",
        "method",
        "url",
        "route",
        "signature",
        "expected_status",
        "actual_status",
        "error",
        "differences",
        "findings",
    }
    assert all(set(m) == keys for m in mismatches)
    findings = data["findings"]
    assert [
        (f["where"], f["path"], f["kind"], f["transition"], f["count"], f["routes"])
        for f in findings
    ] == [
        # The 500 explains its exchange: `$.token` and Set-Cookie gone are its consequences
        # (on the exchange, not findings of their own); the answer's shape is in the key.
        ("status", "", "changed", "200 → 500 (-token)", 1, ["POST /api/login"]),
        (
            "body",
            "$.created",
            "changed",
            '"2026-01-01T10:00:00Z" → "2026-01-01T10:00:00+00:00"',
            2,
            ["GET /api/entries/{id}"],
        ),
    ]
    assert all(f["scope"] == "route" and f["category"] == "difference" for f in findings)
    assert findings[1]["example"]["id"] == first_date
    assert findings[1]["example"]["sentence"] == (
        "`$.created`: `2026-01-01T10:00:00+00:00` where the recording had `2026-01-01T10:00:00Z`"
    )
    assert mismatches[0]["findings"] == [findings[1]["id"]]
    assert sorted(mismatches[2]["findings"]) == sorted(
        f["id"] for f in findings if f["routes"] == ["POST /api/login"]
    )
    assert mismatches[3]["findings"] == []
    assert mismatches[0] == {
        "id": first_date,
        "session": "s1",
        "seq": 2,
        "method": "GET",
        "url": "/api/entries/2",
        "route": "GET /api/entries/{id}",
        "signature": "d4te5163",
        "expected_status": 200,
        "actual_status": 200,
        "error": None,
        "findings": [findings[1]["id"]],
        "differences": [
            {
                "where": "body",
                "path": "$.created",
                "kind": "changed",
                "expected": "2026-01-01T10:00:00Z",
                "actual": "2026-01-01T10:00:00+00:00",
            }
        ],
    }
    login = mismatches[2]["differences"]
    assert login == [
        {"where": "status", "path": "", "kind": "changed", "expected": 200, "actual": 500},
        {
            "where": "header",
            "path": "set-cookie",
            "kind": "removed",
            "expected": "***",
            "actual": None,
        },
        {"where": "body", "path": "$.token", "kind": "removed", "expected": "***", "actual": None},
    ]
    error = mismatches[3]
    assert error["actual_status"] is None and error["error"] == "connection refused"
    assert error["expected_status"] == 200 and error["signature"] is None


def test_report_of_an_older_run_by_prefix(db_path: Path) -> None:
    data = as_json("report", "1111", "--db", str(db_path))
    assert data["run"]["id"] == "11111111" and data["run"]["label"] == "first"
    assert {m["id"][0] for m in data["mismatches"]} == {"2", "3", "4", "5"}


def test_report_rich_view(db_path: Path) -> None:
    out = ok("report", "--db", str(db_path))
    assert out.startswith(
        "Run 66666666  nightly\n"
        "  target    http://127.0.0.1:5001\n"
        "  baseline  http://127.0.0.1:5000\n"
        "  sessions  s1, s2\n"
    )
    assert "took 12.5 s" in out
    assert "  7 exchanges: 3 matched (42.85 %), 3 mismatched, 1 error, 4 differences" in out
    lines = out.splitlines()
    route_lines = [i for i, line in enumerate(lines) if "/api/" in line and "%" in line]
    order = [
        next(r for r in ("login", "entries", "vaults", "health") if r in lines[i])
        for i in route_lines
    ]
    assert order == ["login", "entries", "vaults", "health"]
    ids = [f["id"] for f in as_json("report", "--db", str(db_path))["findings"]]
    assert len(ids) == 2 and all(ident in out for ident in ids)
    assert "Findings, most severe first" in out
    assert "`$.created`: `2026-01-01T10:00:00+00:00` where the recording had" in out
    assert "p50 ms" in out and "3.0 / 4.5" in out
    assert "connection refused" in out
    assert "s3cr3t" not in out


def test_report_of_an_unknown_run_and_of_no_runs(db_path: Path, tmp_path: Path) -> None:
    result = invoke("report", "zzz", "--db", str(db_path))
    assert result.exit_code == 2
    assert result.output == f"parity: error: no run 'zzz' in {db_path} (`parity runs` lists them)\n"
    empty = tmp_path / "empty.db"
    ResultsDB(empty).close()
    result = invoke("report", "--db", str(empty))
    assert result.exit_code == 2
    assert result.output == f"parity: error: no runs in {empty}: run `parity replay` first\n"
    assert ok("runs", "--db", str(empty)).startswith("No runs in")
    assert as_json("runs", "--db", str(empty)) == []


# -- show --------------------------------------------------------------------------------


def test_show_a_mismatch_by_id_and_by_prefix(db_path: Path) -> None:
    ident = mismatch_id(db_path, "66666666", 2)
    full = as_json("show", ident, "--db", str(db_path))
    assert as_json("show", ident[:6], "--db", str(db_path)) == full
    m = full["mismatch"]
    assert (m["id"], m["run_id"], m["session"], m["seq"]) == (ident, "66666666", "s1", 2)
    assert m["expected"]["status"] == m["actual"]["status"] == 200
    assert m["noise"] == [
        {"where": "header", "path": "date", "kind": "changed", "expected": "Mon", "actual": "Tue"}
    ]
    assert m["rules_applied"] == ["python-vs-csharp"]
    # only the hunk around the difference, from the differ's rendered bodies
    assert m["body_diff"][:2] == ["--- expected", "+++ actual"]
    assert '-"created": "…Z"' in m["body_diff"] and '+"created": "…+00:00"' in m["body_diff"]
    assert "line 0" not in "\n".join(m["body_diff"])

    out = ok("show", ident[:6], "--db", str(db_path))
    assert f"{ident} mismatch  GET /api/entries/2  route GET /api/entries/{{id}}" in out
    assert '-"created": "…Z"' in out and "line 0" not in out
    assert "Noise suppressed (1)" in out and "python-vs-csharp" in out


def test_show_masks_credentials(db_path: Path) -> None:
    ident = mismatch_id(db_path, "66666666", 4)
    out = ok("show", ident, "--db", str(db_path))
    assert "Authorization: ***" in out and "Cookie: ***" in out
    assert "X-Vault-Session: ***" in out and "Set-Cookie: ***" in out
    assert '"password": "***"' in out and '"author": "ana"' in out
    assert "/api/login?next=%2F&token=***" in out
    assert "s3cr3t" not in out and "hunter2" not in out
    data = json.dumps(as_json("show", ident, "--db", str(db_path)))
    assert "s3cr3t" not in data and "hunter2" not in data
    assert "status changed: 200 -> 500" in out


def test_show_an_error(db_path: Path) -> None:
    ident = mismatch_id(db_path, "66666666", 2, session="s2")
    out = ok("show", ident, "--db", str(db_path))
    assert "the target did not answer: connection refused" in out and "no response" in out
    m = as_json("show", ident, "--db", str(db_path))["mismatch"]
    assert m["outcome"] == "error" and m["actual"] is None and m["body_diff"] == []


def test_show_a_signature(db_path: Path) -> None:
    data = as_json("show", "d4te", "--db", str(db_path))
    sig = data["signature"]
    assert (
        sig["id"] == "d4te5163" and sig["count"] == 2 and sig["routes"] == ["GET /api/entries/{id}"]
    )
    assert (sig["first_seen_run"], sig["last_seen_run"]) == ("11111111", "66666666")
    assert [(r["run"], r["count"]) for r in sig["runs"]] == [("66666666", 2), ("11111111", 2)]
    assert data["mismatch"]["id"] == mismatch_id(db_path, "66666666", 2)
    out = ok("show", "d4te5163", "--db", str(db_path))
    assert "Signature d4te5163  route GET /api/entries/{id}" in out
    assert "count      2 in run 66666666 (latest seen)" in out
    assert "Its first mismatch in the latest run:" in out and '+"created": "…+00:00"' in out


def test_unknown_and_ambiguous_ids(db_path: Path) -> None:
    result = invoke("show", "zzzz", "--db", str(db_path))
    assert result.exit_code == 2
    assert result.output == f"parity: error: no mismatch or finding 'zzzz' in {db_path}\n"
    # 55555555 is a mismatch of the older run, 5ta7u500 a signature
    result = invoke("show", "5", "--db", str(db_path))
    assert result.exit_code == 2
    assert result.output == (
        "parity: error: '5' is ambiguous: mismatch 55555555, signature 5ta7u500; "
        "give more characters\n"
    )
    assert as_json("show", "55", "--db", str(db_path))["mismatch"]["id"] == "55555555"
    assert as_json("show", "AAAA", "--db", str(db_path))["mismatch"]["id"] == "aaaaaaaa"


def test_an_ambiguous_run_prefix(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_triage_db import run_info

    monkeypatch.setattr(parity.triage.db, "random_id", lambda: "11112222")
    with ResultsDB(db_path) as db:
        db.start_run(run_info(started_at=1_600_000_000.0))
    result = invoke("report", "1111", "--db", str(db_path))
    assert result.exit_code == 2
    assert result.output == (
        "parity: error: run id '1111' is ambiguous: 11111111, 11112222; give more characters\n"
    )
    assert as_json("report", "11112", "--db", str(db_path))["totals"]["exchanges"] == 0
    assert "No exchanges stored for this run yet." in ok("report", "11112", "--db", str(db_path))


# -- runs and the database file ---------------------------------------------------------


def test_runs_newest_first(db_path: Path) -> None:
    rows = as_json("runs", "--db", str(db_path))
    assert [r["id"] for r in rows] == ["66666666", "11111111"]
    assert rows[0]["totals"] == {
        "exchanges": 7,
        "matched": 3,
        "mismatched": 3,
        "errors": 1,
        "noise_suppressed": 4,
    }
    assert rows[0]["parity"] == 42.85 and rows[1]["label"] == "first"
    out = ok("runs", "--db", str(db_path))
    assert out.index("66666666") < out.index("11111111") and "42.85 %" in out


@pytest.mark.parametrize("command", [["report"], ["show", "abc"], ["runs"]])
def test_a_missing_or_foreign_database_is_one_line(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nope" / "parity.db"
    result = invoke(*command, "--db", str(missing))
    assert result.exit_code == 2
    assert result.output == (
        f"parity: error: no results database at {missing}: run `parity replay` first\n"
    )
    assert not missing.parent.exists()

    text = tmp_path / "notes.db"
    text.write_text("not sqlite at all " * 20)
    result = invoke(*command, "--db", str(text))
    assert result.exit_code == 2
    assert result.output == (
        f"parity: error: {text} is not a parity results database (file is not a database)\n"
    )

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    result = invoke(*command, "--db", str(other))
    assert result.exit_code == 2
    assert result.output == f"parity: error: {other} is not a parity results database\n"


def test_user_data_is_not_rich_markup(tmp_path: Path) -> None:
    from tests.test_triage_db import matched, run_info

    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        run_id = db.start_run(run_info(label="[red]x[/red]", target="http://h/[bold]"))
        with db.writer(run_id) as w:
            w.add(matched("s1", 1, "/a[b]", "GET /a[b]"))
        db.finish_run(run_id, finished_at=1001.0)
    out = ok("report", "--db", str(path))
    assert "[red]x[/red]" in out and "http://h/[bold]" in out and "GET /a[b]" in out


def test_show_prints_the_request_as_sent(tmp_path: Path) -> None:
    from parity.differ.model import Difference, DiffKind, HttpResponse, Outcome, Verdict, Where
    from parity.triage import ExchangeResult, RunInfo

    route = "GET /posts/{id}/comments"
    sub = {
        "recorded": "13",
        "sent": "41",
        "at": "path segment 2",
        "minted_by": {"session": "s1", "seq": 3, "path": "$.id"},
    }
    sent = {
        "target": {
            "method": "GET",
            "url": "/posts/41/comments",
            "headers": [],
            "body_preview": "",
            "body_bytes": 0,
            "substitutions": [sub],
        },
        "baseline": None,
    }
    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        run_id = db.start_run(
            RunInfo(target="http://127.0.0.1:1", sessions=["s1"], started_at=1000.0)
        )
        with db.writer(run_id) as w:
            w.add(
                ExchangeResult(
                    session="s1",
                    seq=4,
                    method="GET",
                    url="/posts/13/comments",
                    route=route,
                    verdict=Verdict(
                        Outcome.MISMATCHED,
                        route,
                        differences=[Difference(Where.STATUS, "", DiffKind.CHANGED, 200, 404)],
                    ),
                    expected=HttpResponse(200, [], b"[]"),
                    actual=HttpResponse(404, [], b""),
                    sent=sent,
                )
            )
        db.finish_run(run_id, finished_at=1001.0)
        (ident,) = [row["id"] for row in db.query("SELECT id FROM mismatches")]
    out = ok("show", ident, "--db", str(path))
    assert "sent to target: GET /posts/41/comments" in out
    assert "/posts/13 → /posts/41: `13` minted as `41` by exchange 3 at $.id" in out
    assert "sent to baseline" not in out
    assert as_json("show", ident, "--db", str(path))["mismatch"]["sent"] == sent
