"""Verdicts on findings, run-to-run states, and `parity mark | compare | triage` in-process
(CliRunner). Real SQLite files in tmp_path, runs built from `differ.model` verdicts: each
name the test chooses is one route with its own body path, hence one finding (`fid`). The commands are mounted on a local group here; `parity.cli`
registers the same objects."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from sqlite_utils import Database

from parity.differ.findings import FindingKey, finding_id
from parity.differ.model import Difference, DiffKind, HttpResponse, Outcome, Verdict, Where
from parity.gate_cmd import gate
from parity.triage import ExchangeResult, NotFound, ResultsDB, RunInfo, schema, walk
from parity.triage.compare import finding_changes
from parity.triage.verdicts import VERDICTS
from parity.triage_cmd import VERDICT_CHOICES, compare, mark, triage

JSON = [(b"Content-Type", b"application/json")]


@click.group()
def cli() -> None:
    """Test mount."""


for command in (mark, compare, triage, gate):
    cli.add_command(command)


def invoke(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args))


# -- building runs ------------------------------------------------------------------------


def fid(name: str) -> str:
    """The id of the finding `mismatch(..., name)` shows."""
    key = FindingKey(
        "route", f"GET /api/{name}", "body", f"$.value_{name}", "changed", "number", "difference"
    )
    return finding_id(key)


def name_of(ident: str, names: tuple[str, ...]) -> str:
    """The test's name for a finding id, among `names`."""
    return next(name for name in names if fid(name) == ident)


NAMES = ("aaaa0001", "bbbb0002", "cccc0003", "dddd0004", "eeee0005", "abc12345", "abd99999")


def mismatch(session: str, seq: int, signature: str) -> ExchangeResult:
    """A mismatch on route `GET /api/<signature>` at `$.value_<signature>`: the finding
    `fid(signature)`."""
    route = f"GET /api/{signature}"
    return ExchangeResult(
        session=session,
        seq=seq,
        method="GET",
        url=f"/api/{signature}?n={seq}",
        route=route,
        verdict=Verdict(
            Outcome.MISMATCHED,
            route,
            differences=[Difference(Where.BODY, f"$.value_{signature}", DiffKind.CHANGED, 1, 2)],
            signature=signature,
        ),
        request_headers=[(b"Host", b"127.0.0.1")],
        expected=HttpResponse(200, JSON, b'{"value_%s": 1}' % signature.encode()),
        actual=HttpResponse(200, JSON, b'{"value_%s": 2}' % signature.encode()),
        expected_ms=1.0,
        actual_ms=1.0,
    )


def matched(session: str, seq: int) -> ExchangeResult:
    route = "GET /api/health"
    return ExchangeResult(
        session=session,
        seq=seq,
        method="GET",
        url="/api/health",
        route=route,
        verdict=Verdict(Outcome.MATCHED, route),
        expected=HttpResponse(200, JSON, b"{}"),
        actual=HttpResponse(200, JSON, b"{}"),
    )


def errored(session: str, seq: int, reason: str) -> ExchangeResult:
    route = "GET /api/vaults"
    return ExchangeResult(
        session=session,
        seq=seq,
        method="GET",
        url="/api/vaults",
        route=route,
        verdict=Verdict(Outcome.ERROR, route, error=reason),
        expected=HttpResponse(200, JSON, b"[]"),
    )


def make_run(
    db: ResultsDB,
    signatures: dict[str, int],
    *,
    at: float,
    sessions: tuple[str, ...] = ("s1",),
    errors: list[str] | None = None,
    matched_count: int = 1,
    finished: bool = True,
    target: str = "http://127.0.0.1:5001",
    label: str = "",
) -> str:
    """A run over `sessions` with `count` mismatches of each signature."""
    run_id = db.start_run(
        RunInfo(target=target, sessions=list(sessions), started_at=at, label=label)
    )
    session = sessions[0]
    seq = 0
    with db.writer(run_id) as w:
        for signature, count in signatures.items():
            for _ in range(count):
                seq += 1
                w.add(mismatch(session, seq, signature))
        for reason in errors or []:
            seq += 1
            w.add(errored(session, seq, reason))
        for _ in range(matched_count):
            seq += 1
            w.add(matched(session, seq))
    if finished:
        db.finish_run(run_id, finished_at=at + 1)
    return run_id


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "parity.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[ResultsDB]:
    results_db = ResultsDB(db_path)
    yield results_db
    results_db.close()


def states(db: ResultsDB, a: str | None, b: str) -> dict[str, tuple[str, str | None]]:
    return {name_of(c.id, NAMES): (c.state, c.fixed_in) for c in finding_changes(db, a, b)}


# -- the schema ---------------------------------------------------------------------------


def test_a_v2_file_is_migrated_to_the_latest_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    old = Database(path)
    old.enable_wal()
    with old.conn:
        schema.MIGRATIONS[0](old)
        schema.MIGRATIONS[1](old)
        old.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        old.execute("PRAGMA user_version = 2")
    old.close()
    with ResultsDB(path) as v2:  # written as v2 would have been, then migrated
        assert v2.schema_version == schema.LATEST == 9
        run = make_run(v2, {"aaaa0001": 2}, at=1000.0)
        tables = set(v2.db.table_names())
        assert {"signature_verdicts", "signature_verdict_history", "verdicts"} <= tables
        old = v2.db.table("signature_verdicts").foreign_keys
        assert {(fk.column, fk.other_table) for fk in old} == {
            ("signature", "signatures"),
            ("run_id", "runs"),
        }
        fks = {(fk.column, fk.other_table) for fk in v2.db.table("verdicts").foreign_keys}
        assert fks == {("finding", "findings"), ("run_id", "runs")}
        indexes = {tuple(i.columns) for i in v2.db.table("mismatches").indexes}
        assert ("run_id", "signature") in indexes
        v2.mark(fid("aaaa0001"), "bug", note="real", by="ana", run_id=run)
    with ResultsDB(path, create=False) as again:
        assert again.schema_version == 9
        assert again.verdicts()[fid("aaaa0001")]["verdict"] == "bug"


def test_the_verdict_column_refuses_other_values(db: ResultsDB) -> None:
    make_run(db, {"aaaa0001": 1}, at=1000.0)
    with pytest.raises(sqlite3.IntegrityError):
        db.db.execute(
            "INSERT INTO signature_verdicts (signature, verdict, marked_at) "
            "VALUES ('aaaa0001', 'meh', 1)"
        )
    with pytest.raises(ValueError, match="not a verdict"):
        db.mark(fid("aaaa0001"), "meh")


# -- marking ------------------------------------------------------------------------------


def test_mark_replaces_the_verdict_and_keeps_every_decision(db: ResultsDB) -> None:
    run = make_run(db, {"aaaa0001": 1}, at=1000.0)
    first = db.mark(fid("aaaa0001"), "bug", note="  C# returns 400  ", by="ana", run_id=run)
    assert first["previous"] is None and first["note"] == "C# returns 400"
    second = db.mark(fid("aaaa0001"), "expected", by="ben")  # no note: the note is kept
    assert second["note"] == "C# returns 400"
    assert second["previous"]["verdict"] == "bug" and second["previous"]["marked_by"] == "ana"
    db.mark(fid("aaaa0001"), "noise", note="")  # "" clears it
    current = db.verdicts()[fid("aaaa0001")]
    assert current["verdict"] == "noise" and current["note"] == ""
    assert current["marked_by"]  # the OS user
    history = db.verdict_history(fid("aaaa0001"))
    assert [h["verdict"] for h in history] == ["bug", "expected", "noise"]
    assert [h["run_id"] for h in history] == [run, None, None]
    with pytest.raises(NotFound):
        db.mark(fid("nope"), "bug")
    with pytest.raises(NotFound):
        db.mark(fid("aaaa0001"), "bug", run_id="nope")


def test_parity_mark_takes_a_unique_prefix_in_either_case(db: ResultsDB, db_path: Path) -> None:
    make_run(db, {"abc12345": 1, "abd99999": 1}, at=1000.0)
    ident, other = fid("abc12345"), fid("abd99999")
    prefix = next(n for n in range(2, 11) if ident[:n] != other[:n])
    result = invoke(
        "mark", ident[: prefix + 1], "--as", "expected", "--note", "charset", "--db", str(db_path)
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"parity mark: {ident} GET /api/abc12345: $.value_abc12345 changed (number) "
        "marked expected: charset\n"
    )
    result = invoke(
        "mark", ident[: prefix + 2].lower(), "--as", "bug", "--db", str(db_path), "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["finding"] == ident and data["verdict"] == "bug"
    assert data["note"] == "charset" and data["previous"]["verdict"] == "expected"
    assert data["route"] == "GET /api/abc12345" and data["scope"] == "route"
    assert (data["where"], data["path"], data["kind"]) == ("body", "$.value_abc12345", "changed")
    assert (data["transition"], data["category"]) == ("number", "difference")
    assert set(data) == {
        "finding",
        "verdict",
        "note",
        "marked_at",
        "marked_by",
        "run_id",
        "previous",
        "scope",
        "route",
        "where",
        "path",
        "kind",
        "transition",
        "category",
    }
    result = invoke("mark", ident.upper(), "--as", "noise", "--db", str(db_path))
    assert result.output == (
        f"parity mark: {ident} GET /api/abc12345: $.value_abc12345 changed (number) "
        "marked noise (was bug): charset\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["f"], "parity: error: finding 'f' is ambiguous: "),
        (["Fzz"], "parity: error: no finding 'Fzz' in "),
        ([""], "parity: error: no finding given"),
    ],
)
def test_parity_mark_refuses_unknown_and_ambiguous_findings_in_one_line(
    db: ResultsDB, db_path: Path, args: list[str], message: str
) -> None:
    make_run(db, {"abc12345": 1, "abd99999": 1}, at=1000.0)
    result = invoke("mark", *args, "--as", "bug", "--db", str(db_path))
    assert result.exit_code == 2
    assert result.output.startswith(message), result.output
    assert result.output.count("\n") == 1
    assert db.verdicts() == {}


def test_parity_mark_usage_errors(db: ResultsDB, db_path: Path, tmp_path: Path) -> None:
    make_run(db, {"abc12345": 1}, at=1000.0)
    wrong = invoke("mark", "abc", "--as", "wontfix", "--db", str(db_path))
    assert wrong.exit_code == 2 and "'wontfix' is not one of 'bug', 'expected', 'noise'" in (
        wrong.output
    )
    missing = invoke("mark", "abc", "--db", str(db_path))
    assert missing.exit_code == 2 and "Missing option '--as'" in missing.output
    nodb = invoke("mark", "abc", "--as", "bug", "--db", str(tmp_path / "none.db"))
    assert nodb.exit_code == 2
    assert nodb.output.startswith("parity: error: no results database at ")


def test_the_choices_are_triages(db: ResultsDB) -> None:
    assert VERDICT_CHOICES == VERDICTS


# -- states from run to run ---------------------------------------------------------------


def test_fixed_new_recurring_and_regressed_over_a_series(db: ResultsDB) -> None:
    r1 = make_run(db, {"aaaa0001": 2, "bbbb0002": 1}, at=1000.0)
    r2 = make_run(db, {"aaaa0001": 1, "cccc0003": 3}, at=2000.0)
    r3 = make_run(db, {"aaaa0001": 1, "bbbb0002": 1, "cccc0003": 3}, at=3000.0)
    assert states(db, None, r1) == {"aaaa0001": ("new", None), "bbbb0002": ("new", None)}
    assert states(db, r1, r2) == {
        "aaaa0001": ("recurring", None),
        "bbbb0002": ("fixed", None),
        "cccc0003": ("new", None),
    }
    # bbbb0002 was in r1, gone in r2, back in r3: regressed, fixed in r2.
    assert states(db, r2, r3) == {
        "aaaa0001": ("recurring", None),
        "bbbb0002": ("regressed", r2),
        "cccc0003": ("recurring", None),
    }
    # Compared with r1 directly it was never gone: recurring.
    assert states(db, r1, r3)["bbbb0002"] == ("recurring", None)


def test_regressed_needs_a_disappearance_in_the_same_series(db: ResultsDB) -> None:
    other = make_run(db, {"dddd0004": 1}, at=500.0, sessions=("soak",))
    r1 = make_run(db, {}, at=1000.0)
    r2 = make_run(db, {"dddd0004": 1}, at=2000.0)
    # Seen in another series only (a soak run): new here, not regressed.
    assert states(db, r1, r2) == {"dddd0004": ("new", None)}
    # Appeared after A, gone, back in B: regressed against A too.
    r3 = make_run(db, {}, at=3000.0)
    r4 = make_run(db, {"dddd0004": 2}, at=4000.0)
    assert states(db, r1, r4) == {"dddd0004": ("regressed", r3)}
    assert states(db, r3, r4) == {"dddd0004": ("regressed", r3)}
    assert other


def test_unfinished_runs_do_not_count_as_fixing_anything(db: ResultsDB) -> None:
    r1 = make_run(db, {"aaaa0001": 1}, at=1000.0)
    make_run(db, {}, at=2000.0, finished=False)  # interrupted before it got there
    r3 = make_run(db, {"aaaa0001": 1}, at=3000.0)
    assert states(db, r1, r3) == {"aaaa0001": ("recurring", None)}


def test_compare_json_lists_each_category_with_counts_and_verdicts(
    db: ResultsDB, db_path: Path
) -> None:
    make_run(db, {"aaaa0001": 2, "bbbb0002": 1, "eeee0005": 1}, at=1000.0)
    r2 = make_run(db, {"aaaa0001": 1, "eeee0005": 1}, at=2000.0, label="fix-b")
    r3 = make_run(
        db, {"aaaa0001": 3, "bbbb0002": 2, "cccc0003": 1, "eeee0005": 4}, at=3000.0, label="c"
    )
    db.mark(fid("eeee0005"), "expected", note="documented")
    db.mark(fid("aaaa0001"), "bug")
    data = json.loads(invoke("compare", "--db", str(db_path), "--json").output)
    assert data["a"]["id"] == r2 and data["b"]["id"] == r3 and data["same_sessions"] is True
    assert data["a"]["label"] == "fix-b" and data["b"]["totals"]["mismatched"] == 10
    assert data["counts"] == {
        "fixed": 0,
        "new": 1,
        "regressed": 1,
        "still_open": 1,
        "accepted": 1,
    }
    assert set(data) == {"a", "b", "same_sessions", "counts", *data["counts"]}
    (regressed,) = data["regressed"]
    assert regressed == {
        "id": fid("bbbb0002"),
        "scope": "route",
        "route": "GET /api/bbbb0002",
        "routes": ["GET /api/bbbb0002"],
        "where": "body",
        "path": "$.value_bbbb0002",
        "kind": "changed",
        "transition": "number",
        "category": "difference",
        "title": "$.value_bbbb0002 changed (number)",
        "state": "regressed",
        "count_a": 0,
        "count_b": 2,
        "verdict": None,
        "note": None,
        "fixed_in": r2,
        "example": {
            "id": regressed["example"]["id"],
            "run": r3,
            "difference": "$.value_bbbb0002 changed: 1 -> 2",
            "sentence": "`$.value_bbbb0002`: `2` where the recording had `1`",
        },
    }
    assert [s["id"] for s in data["new"]] == [fid("cccc0003")]
    assert data["still_open"][0]["id"] == fid("aaaa0001")
    assert data["still_open"][0]["verdict"] == "bug"
    assert (data["still_open"][0]["count_a"], data["still_open"][0]["count_b"]) == (1, 3)
    assert data["accepted"][0]["id"] == fid("eeee0005")
    assert data["accepted"][0]["note"] == "documented"

    # The other way round (given older first or not): r2 against r1 fixed bbbb0002.
    data = json.loads(invoke("compare", r2, "--db", str(db_path), "--json").output)
    assert [s["id"] for s in data["fixed"]] == [fid("bbbb0002")]
    assert data["fixed"][0]["count_a"] == 1 and data["fixed"][0]["count_b"] == 0
    assert data["fixed"][0]["example"]["run"] == data["a"]["id"]
    both = json.loads(invoke("compare", r3[:6], r2, "--db", str(db_path), "--json").output)
    assert both["a"]["id"] == r2 and both["b"]["id"] == r3


def test_compare_table_names_each_state(db: ResultsDB, db_path: Path) -> None:
    make_run(db, {"aaaa0001": 2, "bbbb0002": 1}, at=1000.0)
    make_run(db, {"aaaa0001": 1}, at=2000.0)
    r3 = make_run(db, {"aaaa0001": 1, "bbbb0002": 1, "cccc0003": 1}, at=3000.0)
    db.mark(fid("aaaa0001"), "expected", note="ok by ADR-7")
    result = invoke("compare", "--db", str(db_path))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "0 fixed, 1 new, 1 regressed, 0 recurring, 1 accepted" in out
    assert f"to run {r3}" in out
    for text in ("regressed", "fixed in", "new", "accepted", "ok by ADR-7", "bbbb0002", "1 → 1"):
        assert text in out, text
    assert out.index("regressed") < out.index("cccc0003") < out.index("aaaa0001")


def test_compare_with_different_sessions_says_so(db: ResultsDB, db_path: Path) -> None:
    a = make_run(db, {"aaaa0001": 1}, at=1000.0, sessions=("s1",))
    b = make_run(db, {}, at=2000.0, sessions=("s2",))
    result = invoke("compare", a, b, "--db", str(db_path))
    assert result.exit_code == 0
    assert "replayed different sessions" in result.output
    data = json.loads(invoke("compare", a, b, "--db", str(db_path), "--json").output)
    assert data["same_sessions"] is False and data["counts"]["fixed"] == 1


def test_compare_usage_errors_are_one_line(db: ResultsDB, db_path: Path, tmp_path: Path) -> None:
    r1 = make_run(db, {"aaaa0001": 1}, at=1000.0)
    make_run(db, {}, at=2000.0, sessions=("other",))
    alone = invoke("compare", "--db", str(db_path))  # the latest run has no predecessor
    assert alone.exit_code == 2
    assert "is the first finished run over its sessions: nothing to compare" in alone.output
    assert alone.output.count("\n") == 1
    same = invoke("compare", r1, r1, "--db", str(db_path))
    assert same.exit_code == 2 and "give two runs" in same.output
    many = invoke("compare", "a", "b", "c", "--db", str(db_path))
    assert many.exit_code == 2 and "at most two runs" in many.output
    unknown = invoke("compare", "ffff", r1, "--db", str(db_path))
    assert unknown.exit_code == 2 and "no run 'ffff'" in unknown.output
    nodb = invoke("compare", "--db", str(tmp_path / "none.db"))
    assert nodb.exit_code == 2 and "no results database" in nodb.output


# -- triage ---------------------------------------------------------------------------------


def test_triage_refuses_without_a_terminal(db: ResultsDB, db_path: Path) -> None:
    make_run(db, {"aaaa0001": 1}, at=1000.0)
    result = invoke("triage", "--db", str(db_path))
    assert result.exit_code == 2
    assert result.output == (
        "parity: error: parity triage needs a terminal; use `parity mark` in scripts\n"
    )


def test_triage_refuses_in_a_pipe_as_a_real_process(db: ResultsDB, db_path: Path) -> None:
    make_run(db, {"aaaa0001": 1}, at=1000.0)
    code = (
        "import sys, click; from parity.triage_cmd import triage; "
        "triage.main(sys.argv[1:], prog_name='parity triage')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "--db", str(db_path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr == (
        "parity: error: parity triage needs a terminal; use `parity mark` in scripts\n"
    )
    assert out.stdout == ""


class Keys:
    """Keys and lines for `walk.walk`, as a user would type them."""

    def __init__(self, keys: str, lines: list[str | None] | None = None) -> None:
        self.keys = list(keys)
        self.lines = list(lines or [])
        self.prompts: list[str] = []

    def getchar(self) -> str:
        if not self.keys:
            raise EOFError  # Ctrl-D
        return self.keys.pop(0)

    def prompt(self, label: str) -> str | None:
        self.prompts.append(label)
        return self.lines.pop(0)


def run_walk(
    db: ResultsDB, run: str, keys: Keys, every: bool = False
) -> tuple[walk.Walked, str, list[walk.Item]]:
    out = Console(file=StringIO(), width=120, height=60, force_terminal=False)
    items = walk.items(db, run, every=every)
    walked = walk.walk(db, run, items, out, keys.getchar, keys.prompt)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    return walked, text, items


def test_the_walk_goes_most_frequent_first_and_stores_verdicts_as_it_goes(
    db: ResultsDB,
) -> None:
    run = make_run(db, {"aaaa0001": 1, "bbbb0002": 3, "cccc0003": 2, "dddd0004": 1}, at=1.0)
    db.mark(fid("dddd0004"), "noise")  # decided already: not walked
    keys = Keys("tbxpEsqn", ["timezone drift"])
    walked, text, items = run_walk(db, run, keys)
    assert [i.finding for i in items] == [fid("bbbb0002"), fid("cccc0003"), fid("aaaa0001")]
    assert [i.count for i in items] == [3, 2, 1]
    # t: note for bbbb0002 (kept), b: bug -> 2/3, x: unknown, p: back to 1/3, E: expected
    # (re-marked, the note stays) -> 2/3, s: skip -> 3/3, q: quit; n never read.
    assert keys.keys == ["n"]
    assert keys.prompts == ["Note"]
    judged = db.verdicts()
    assert judged[fid("bbbb0002")]["verdict"] == "expected"
    assert judged[fid("bbbb0002")]["note"] == "timezone drift"
    assert judged[fid("bbbb0002")]["run_id"] == run
    assert fid("cccc0003") not in judged and fid("aaaa0001") not in judged
    assert [h["verdict"] for h in db.verdict_history(fid("bbbb0002"))] == ["bug", "expected"]
    assert walked.quit and walked.marked == {fid("bbbb0002"): "expected"}
    assert walked.summary() == (
        "parity triage: stopped at 3/3: marked 1 (1 expected), 1 skipped, 1 note"
    )
    for shown in (
        "1/3",
        "2/3",
        "3/3",
        f"finding {fid('bbbb0002')}: 3 exchanges in this run",
        "note kept: it is saved with the verdict",
        f"✓ {fid('bbbb0002')} marked bug",
        "finding    $.value_bbbb0002 changed (number)",
        "route      GET /api/bbbb0002",
        "press b, e, n, t, s, p, v or q",
        "verdict    bug (timezone drift)",
        "What differs",  # the mismatch, as `parity show` prints it
        "`$.value_bbbb0002`: `2` where the recording had `1`",
        "b bug · e expected · n noise · t note · s skip · p previous · v view all · q quit",
    ):
        assert shown in text, shown


def test_the_walk_ends_at_the_last_one_and_on_ctrl_d(db: ResultsDB) -> None:
    run = make_run(db, {"aaaa0001": 1, "bbbb0002": 1}, at=1.0)
    walked, _, _ = run_walk(db, run, Keys("pbn"))
    assert not walked.quit
    assert walked.summary() == "parity triage: walked all 2: marked 2 (1 bug, 1 noise), 0 skipped"
    # Everything has a verdict now: nothing to walk, unless --all.
    assert walk.items(db, run) == []
    # A cancelled note (Ctrl-C at the prompt), then Ctrl-D.
    walked, text, items = run_walk(db, run, Keys("t", [None]), every=True)
    assert len(items) == 2 and walked.quit and "no note" in text
    assert walked.summary() == "parity triage: stopped at 1/2: marked 0, 0 skipped"
    walked, _, items = run_walk(db, run, Keys("t", ["fine as is"]), every=True)
    first = items[0].finding  # marked bug by the first walk
    assert db.verdicts()[first]["note"] == "fine as is"  # saved at once: it had one
    assert db.verdicts()[first]["verdict"] == "bug"


def test_triage_with_nothing_to_walk_says_so(
    db: ResultsDB, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(db, {"aaaa0001": 1}, at=1.0)
    db.mark(fid("aaaa0001"), "expected")
    monkeypatch.setattr("parity.triage_cmd.has_terminal", lambda: True)
    result = invoke("triage", "--db", str(db_path))
    assert result.exit_code == 0
    assert result.output == (
        f"parity triage: run {run} has no findings without a verdict "
        "(`parity triage --all` walks the others again)\n"
    )


def test_the_commands_document_an_example_and_import_nothing_heavy() -> None:
    for command in (mark, compare, triage, gate):
        assert command.help and "Example:" in command.help, command.name
    code = (
        "import sys, parity.triage_cmd, parity.gate_cmd; "
        "print(','.join(m for m in ('sqlite_utils', 'parity.triage', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def shared(session: str, seq: int, name: str) -> ExchangeResult:
    """A mismatch on route `GET /api/<name>` at `$.value`, a place every route shares."""
    result = mismatch(session, seq, name)
    result.verdict.differences[:] = [Difference(Where.BODY, "$.value", DiffKind.CHANGED, 1, 2)]
    return result


def test_compare_and_mark_on_a_cross_route_finding(db: ResultsDB, db_path: Path) -> None:
    runs = []
    for at, names in ((1000.0, ("r1", "r2", "r3")), (2000.0, ("r1", "r2", "r3", "r4"))):
        run_id = db.start_run(RunInfo(target="http://127.0.0.1:1", sessions=["s1"], started_at=at))
        with db.writer(run_id) as w:
            for seq, name in enumerate(names, 1):
                w.add(shared("s1", seq, name))
        db.finish_run(run_id, finished_at=at + 1)
        runs.append(run_id)
    data = json.loads(invoke("compare", "--db", str(db_path), "--json").output)
    (item,) = data["still_open"]  # one root cause across routes, whatever route it is on
    assert item["scope"] == "cross-route" and item["route"] is None
    assert item["routes"] == [f"GET /api/r{n}" for n in (1, 2, 3, 4)]
    assert (item["count_a"], item["count_b"]) == (3, 4)
    assert (item["path"], item["kind"], item["transition"]) == ("$.value", "changed", "number")
    assert data["new"] == [] and data["fixed"] == []
    result = invoke("mark", item["id"].lower(), "--as", "expected", "--db", str(db_path))
    assert result.output == (
        f"parity mark: {item['id']} across routes: $.value changed (number) marked expected\n"
    )
    marked = json.loads(invoke("compare", "--db", str(db_path), "--json").output)
    assert [f["id"] for f in marked["accepted"]] == [item["id"]]
    assert marked["accepted"][0]["verdict"] == "expected"
