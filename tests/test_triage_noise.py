"""Learned noise in the results database: the v1 -> v2 migration on an existing file,
`add_noise` / `learned_noise` / `noise_rows` / `forget_noise`, the run's note of how
learned noise was used, and `parity noise` (CliRunner). Real SQLite files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlite_utils import Database

from parity.differ.noise import LearnedNoise, NoiseKey, NoiseObservations, NoisePolicy, NoiseStats
from parity.noise_cmd import noise
from parity.report_cmd import report
from parity.triage import NotFound, ResultsDB, schema
from parity.triage.noise import EXAMPLE_CHARS
from tests.test_triage_db import fill, run_info

SEARCH = "GET /api/vaults/{id}/search"
ENTRY = "GET /api/vaults/{id}/entries/{id}"
LOGIN = "POST /api/login"
TOOK: NoiseKey = (SEARCH, "body", "$.took_ms")
SCORE: NoiseKey = (SEARCH, "body", "$.results[*].score")
DATE: NoiseKey = (ENTRY, "header", "date")
TOKEN: NoiseKey = (LOGIN, "body", "$.session.token")


@click.group()
def cli() -> None:
    """Test mount."""


cli.add_command(noise)
cli.add_command(report)


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), input=input)


def ok(*args: str, input: str | None = None) -> str:
    result = invoke(*args, input=input)
    assert result.exit_code == 0, result.output
    return result.output


def observed(
    routes: Mapping[str, int],
    disagreements: Mapping[NoiseKey, int],
    kinds: dict[NoiseKey, set[str]],
    examples: dict[NoiseKey, tuple[object, object]],
) -> NoiseObservations:
    """A run's observations, as the replayer hands them to triage."""
    return NoiseObservations(Counter(routes), Counter(disagreements), kinds, examples)


def learn(db: ResultsDB, run_id: str, factor: int = 1) -> None:
    db.add_noise(
        run_id,
        observed(
            {SEARCH: 10 * factor, ENTRY: 4 * factor, LOGIN: 2 * factor},
            {TOOK: 9 * factor, SCORE: 2 * factor, DATE: 4 * factor, TOKEN: 1 * factor},
            {TOOK: {"changed"}, SCORE: {"changed"}, DATE: {"changed"}, TOKEN: {"changed"}},
            {
                TOOK: (12, 31),
                SCORE: (0.5, 0.49),
                DATE: ("<http-date>", "<http-date:+0000>"),
                TOKEN: ("tok-s3cr3t-1", "tok-s3cr3t-2"),
            },
        ),
    )


@pytest.fixture
def db(tmp_path: Path) -> Any:
    results_db = ResultsDB(tmp_path / "parity.db")
    yield results_db
    results_db.close()


# -- the migration -----------------------------------------------------------------------


def make_v1(path: Path) -> None:
    """A results database as parity wrote it before learned noise (schema v1)."""
    db = Database(path)
    db.enable_wal()
    with db.conn:
        schema.MIGRATIONS[0](db)
        db.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
    db.close()


def test_an_existing_v1_file_is_migrated_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    make_v1(path)
    db = Database(path)
    db.table("runs").insert(
        {"id": "0ld0ld00", "target": "http://old", "sessions": "[]", "started_at": 1.0}
    )
    db.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "noise" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()

    with ResultsDB(path, create=False) as migrated:  # a reader migrates too
        assert migrated.schema_version == schema.LATEST == 9
        tables = set(migrated.db.table_names())
        assert {"noise_routes", "noise", "runs", "results"} <= tables
        assert migrated.query("SELECT id, target FROM runs") == [
            {"id": "0ld0ld00", "target": "http://old"}
        ]
        pk = [c.name for c in migrated.db.table("noise").columns if c.is_pk]
        assert pk == ["route", "place", "path"]
        fks = {(fk.column, fk.other_table) for fk in migrated.db.table("noise").foreign_keys}
        assert fks == {("route", "noise_routes"), ("first_run", "runs"), ("last_run", "runs")}
        assert migrated.learned_noise().stats == {}
        learn(migrated, "0ld0ld00")
    with ResultsDB(path) as again:  # opened again: nothing to migrate, the noise is there
        assert again.schema_version == schema.LATEST
        assert len(again.noise_rows()) == 4


# -- add, read, forget --------------------------------------------------------------------


def test_add_noise_adds_up_across_runs_merges_kinds_and_keeps_the_first_example(
    db: ResultsDB,
) -> None:
    first = db.start_run(run_info())
    second = db.start_run(run_info(started_at=1_700_000_100.0))
    learn(db, first)
    db.add_noise(
        second,
        observed(
            {SEARCH: 5},
            {TOOK: 1, SCORE: 3},
            {TOOK: {"type_changed"}, SCORE: {"changed"}},
            {TOOK: (1, 1.0)},
        ),
    )
    rows = {(r["route"], r["where"], r["path"]): r for r in db.noise_rows()}
    took = rows[TOOK]
    assert (took["disagreements"], took["observations"]) == (10, 15)
    assert took["kinds"] == ["changed", "type_changed"]
    assert took["example"] == {"expected": "12", "baseline": "31"}  # the first one stays
    assert (took["first_run"], took["last_run"]) == (first, second)
    assert rows[SCORE]["disagreements"] == 5 and rows[SCORE]["rate"] == 33.34  # 5/15, up
    assert rows[DATE]["last_run"] == first and rows[DATE]["observations"] == 4
    routes = {r["route"]: r for r in db.query("SELECT * FROM noise_routes")}
    assert routes[SEARCH]["observations"] == 15 and routes[SEARCH]["first_run"] == first
    assert routes[LOGIN]["last_run"] == first


def test_examples_are_masked_and_cut(db: ResultsDB) -> None:
    run_id = db.start_run(run_info())
    long_key: NoiseKey = (SEARCH, "body", "$.snippet")
    db.add_noise(
        run_id,
        observed(
            {SEARCH: 1, LOGIN: 1},
            {TOKEN: 1, long_key: 1, (LOGIN, "header", "set-cookie"): 1, (LOGIN, "body", "$.u"): 1},
            {},
            {
                TOKEN: ("tok-s3cr3t-1", "tok-s3cr3t-2"),
                long_key: ("x" * 500, "y" * 500),
                (LOGIN, "header", "set-cookie"): ("sid=s3cr3t", "sid=other"),
                (LOGIN, "body", "$.u"): ({"name": "ana", "password": "hunter2"}, None),
            },
        ),
    )
    text = json.dumps(db.noise_rows())
    assert "s3cr3t" not in text and "hunter2" not in text
    rows = {r["path"]: r["example"] for r in db.noise_rows()}
    assert rows["$.session.token"] == {"expected": '"***"', "baseline": '"***"'}
    assert rows["set-cookie"] == {"expected": '"***"', "baseline": '"***"'}
    assert rows["$.u"] == {"expected": '{"name":"ana","password":"***"}', "baseline": "null"}
    cut = rows["$.snippet"]["expected"]
    assert len(cut) == EXAMPLE_CHARS and cut.endswith("…") and cut.startswith('"xxx')


def test_learned_noise_round_trip(db: ResultsDB) -> None:
    run_id = db.start_run(run_info())
    learn(db, run_id)
    learn(db, run_id)
    learned = db.learned_noise()
    assert isinstance(learned, LearnedNoise)
    assert learned.policy == NoisePolicy()
    assert learned.route_observations == {SEARCH: 20, ENTRY: 8, LOGIN: 4}
    assert learned.stats == {
        TOOK: NoiseStats(observations=20, disagreements=18),
        SCORE: NoiseStats(observations=20, disagreements=4),
        DATE: NoiseStats(observations=8, disagreements=8),
        TOKEN: NoiseStats(observations=4, disagreements=2),
    }
    strict = NoisePolicy(relative=3.0, absolute=0.05, min_observations=10)
    assert db.learned_noise(strict).policy == strict


def test_add_noise_checks_its_input_and_writes_all_or_nothing(db: ResultsDB) -> None:
    with pytest.raises(NotFound, match="no run 'nope'"):
        db.add_noise("nope", observed({SEARCH: 1}, {}, {}, {}))
    run_id = db.start_run(run_info())
    with pytest.raises(ValueError, match="must be a count"):
        db.add_noise(run_id, observed({SEARCH: 3}, {TOOK: -1}, {}, {}))
    assert db.noise_rows() == [] and db.query("SELECT * FROM noise_routes") == []
    # a disagreement on a route without observations still gets its route's row
    db.add_noise(run_id, observed({}, {TOOK: 1}, {}, {}))
    assert db.noise_rows()[0]["observations"] == 0 and db.noise_rows()[0]["rate"] is None


def test_rows_come_most_frequent_first_and_filter_by_route_glob_and_path(
    db: ResultsDB,
) -> None:
    learn(db, db.start_run(run_info()))
    order = [(r["route"], r["path"], r["rate"]) for r in db.noise_rows()]
    assert order == [
        (ENTRY, "date", 100.0),
        (SEARCH, "$.took_ms", 90.0),
        (LOGIN, "$.session.token", 50.0),
        (SEARCH, "$.results[*].score", 20.0),
    ]
    assert {r["route"] for r in db.noise_rows("GET /api/vaults/*")} == {SEARCH, ENTRY}
    assert {r["route"] for r in db.noise_rows("/api/vaults/*/search")} == {SEARCH}
    assert [r["path"] for r in db.noise_rows("*", "$.took_ms")] == ["$.took_ms"]
    assert [r["path"] for r in db.noise_rows(None, "header date")] == ["date"]
    assert db.noise_rows("get /api/*") == []  # GLOB is case-sensitive


def test_forget_by_route_glob_and_by_path(db: ResultsDB) -> None:
    learn(db, db.start_run(run_info()))
    # one path: the route keeps its observations and its other paths
    assert db.forget_noise(SEARCH, "$.took_ms") == 1
    assert [r["path"] for r in db.noise_rows(SEARCH)] == ["$.results[*].score"]
    assert db.learned_noise().route_observations[SEARCH] == 10
    # every path of the matching routes: their observations go too
    assert db.forget_noise("/api/vaults/*") == 2
    learned = db.learned_noise()
    assert set(learned.stats) == {TOKEN}
    assert learned.route_observations == {LOGIN: 2}
    assert db.forget_noise("GET *") == 0
    assert db.forget_noise() == 1
    assert db.learned_noise().route_observations == {}


def test_the_run_keeps_how_learned_noise_was_used(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        run_id = fill(db)
        db.update_run_meta(run_id, {"concurrency": 8})
        db.note_learned_noise(run_id, NoisePolicy(relative=3.0), settled=5)
        db.note_learned_noise(run_id, NoisePolicy(relative=3.0), settled=6)  # replaces
        meta = json.loads(db.query("SELECT meta FROM runs WHERE id = ?", [run_id])[0]["meta"])
        with pytest.raises(NotFound):
            db.note_learned_noise("nope", NoisePolicy(), 1)
    assert meta == {
        "concurrency": 8,
        "learned_noise": {
            "policy": {"relative": 3.0, "absolute": 0.1, "min_observations": 2},
            "settled": 6,
        },
    }
    data = json.loads(ok("report", "--db", str(path), "--json"))
    assert data["learned_noise"] == meta["learned_noise"]
    assert data["totals"]["noise_suppressed"] == 4  # totals unchanged
    out = ok("report", "--db", str(path))
    assert "6 differences suppressed by learned noise (relative 3.0, absolute 0.1" in out


# -- parity noise -------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "parity.db"
    with ResultsDB(path) as db:
        learn(db, db.start_run(run_info()))
    return path


def test_noise_command_has_help_with_an_example() -> None:
    assert noise.help and "Example:" in noise.help
    assert "--forget" in ok("noise", "--help") and "--route" in ok("noise", "--help")


def test_the_noise_module_imports_neither_sqlite_nor_rich() -> None:
    code = (
        "import sys, parity.noise_cmd; "
        "print(','.join(m for m in ('sqlite_utils', 'parity.triage', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_noise_table(db_path: Path) -> None:
    out = ok("noise", "--db", str(db_path))
    assert "Learned noise (most frequent first)" in out
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "date" in line)
    took = next(i for i, line in enumerate(lines) if "$.took_ms" in line)
    assert first < took
    assert "90.00 %" in out and "9/10" in out and "12 → 31" in out
    assert "s3cr3t" not in out
    only = ok("noise", "--route", "/api/vaults/*/search", "--db", str(db_path))
    assert "$.took_ms" in only and "date" not in only and "routes matching" in only
    none = ok("noise", "--route", "DELETE *", "--db", str(db_path))
    assert none.startswith("No learned noise for routes matching 'DELETE *'")


def test_noise_json(db_path: Path) -> None:
    rows = json.loads(ok("noise", "--db", str(db_path), "--json"))
    assert [r["path"] for r in rows] == [
        "date",
        "$.took_ms",
        "$.session.token",
        "$.results[*].score",
    ]
    assert rows[1] == {
        "route": SEARCH,
        "where": "body",
        "path": "$.took_ms",
        "disagreements": 9,
        "observations": 10,
        "rate": 90.0,
        "kinds": ["changed"],
        "example": {"expected": "12", "baseline": "31"},
        "first_run": rows[1]["first_run"],
        "last_run": rows[1]["first_run"],
        "why": "disagreed in 9 of 10 exchanges, values vary: `12` vs `31`",
    }


def test_forget_with_yes(db_path: Path) -> None:
    out = ok(
        "noise", "--forget", "--route", SEARCH, "--path", "$.took_ms", "--yes", "--db", str(db_path)
    )
    assert out == "parity noise: forgot 1 learned noise entry\n"
    left = json.loads(ok("noise", "--db", str(db_path), "--json"))
    assert "$.took_ms" not in [r["path"] for r in left] and len(left) == 3
    data = json.loads(ok("noise", "--forget", "--yes", "--json", "--db", str(db_path)))
    assert data == {"forgotten": 3}
    assert json.loads(ok("noise", "--db", str(db_path), "--json")) == []
    assert ok("noise", "--forget", "--yes", "--db", str(db_path)) == (
        "parity noise: no learned noise matches: nothing forgotten\n"
    )


def test_forget_asks_first_and_a_no_forgets_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import parity.prompts

    monkeypatch.setattr(parity.prompts, "_stdin_is_terminal", lambda: True)  # asks on one
    out = ok("noise", "--forget", "--route", "GET /api/vaults/*", "--db", str(db_path), input="n\n")
    assert "Forget 3 learned noise entries (routes matching 'GET /api/vaults/*')? [y/N]" in out
    assert out.endswith("parity noise: nothing forgotten\n")
    assert len(json.loads(ok("noise", "--db", str(db_path), "--json"))) == 4
    out = ok("noise", "--forget", "--route", "GET /api/vaults/*", "--db", str(db_path), input="y\n")
    assert out.endswith("parity noise: forgot 3 learned noise entries\n")
    assert [r["route"] for r in json.loads(ok("noise", "--db", str(db_path), "--json"))] == [LOGIN]


def test_noise_on_a_missing_database_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    result = invoke("noise", "--db", str(missing))
    assert result.exit_code == 2
    assert result.output == (
        f"parity: error: no results database at {missing}: run `parity replay` first\n"
    )
    empty = tmp_path / "empty.db"
    ResultsDB(empty).close()
    assert ok("noise", "--db", str(empty)).startswith("No learned noise in")
