"""`parity replay` on bad input and bad targets: one line and exit 2, or an `error`
verdict per exchange while the run goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.sessions import SessionStore
from tests.factories import make_exchange
from tests.procs import Proc, python

pytestmark = pytest.mark.timeout(60)


def _session(root: Path, paths: list[str]) -> Path:
    with SessionStore(root).create(label="t", upstream="http://127.0.0.1:5000") as writer:
        for seq, path in enumerate(paths, 1):
            exchange = make_exchange(seq, path=path)
            exchange.request.method = "GET"
            writer.append(exchange)
    return root


def _report(db: Path) -> dict:
    result = CliRunner().invoke(cli, ["report", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_dead_target_is_an_error_verdict_per_exchange_and_the_run_goes_on(tmp_path: Path) -> None:
    sessions = _session(tmp_path / "s", ["/a", "/b", "/c"])
    db = tmp_path / "parity.db"
    result = CliRunner().invoke(
        cli, ["replay", str(sessions), "--target", "http://127.0.0.1:9", "--db", str(db)]
    )
    assert result.exit_code == 1, result.output
    report = _report(db)
    assert report["totals"]["errors"] == 3 and report["totals"]["exchanges"] == 3
    assert all("cannot connect" in m["error"] for m in report["mismatches"])


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_prints_nothing_but_the_summary(tmp_path: Path, quiet: bool) -> None:
    sessions = _session(tmp_path / "s", ["/a", "/b"])
    args = ["replay", str(sessions), "--target", "http://127.0.0.1:9", "--db", str(tmp_path / "d")]
    result = CliRunner().invoke(cli, [*args, "-q"] if quiet else args)
    assert result.exit_code == 1, result.output
    assert "2 exchanges: 0 matched, 0 mismatched, 2 errors" in result.output
    assert ("1 session, 2 exchanges -> http://127.0.0.1:9" in result.output) is not quiet


def test_a_slow_target_times_out_per_exchange(tmp_path: Path) -> None:
    sessions = _session(tmp_path / "s", ["/slow?ms=2000", "/dup"])
    db = tmp_path / "parity.db"
    with Proc(python("tests/upstream.py")) as upstream:
        url = upstream.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)
        result = CliRunner().invoke(
            cli, ["replay", str(sessions), "--target", url, "--db", str(db), "--timeout", "0.3"]
        )
    assert result.exit_code == 1, result.output
    report = _report(db)
    errors = [m for m in report["mismatches"] if m["error"]]
    assert [m["url"] for m in errors] == ["/slow?ms=2000"]
    assert "timed out" in errors[0]["error"]
    assert report["totals"]["exchanges"] == 2  # the second one was still replayed


def test_a_foreign_session_file_is_one_line_exit_2(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.parity"
    foreign.write_text("hello")
    result = CliRunner().invoke(
        cli,
        ["replay", str(foreign), "--target", "http://127.0.0.1:9", "--db", str(tmp_path / "db")],
    )
    assert result.exit_code == 2
    assert (
        result.output
        == f"parity: error: {foreign} is not a parity session file (no parity-session header)\n"
    )
    assert not (tmp_path / "db").exists()


def test_a_malformed_rules_file_is_one_line_exit_2(tmp_path: Path) -> None:
    sessions = _session(tmp_path / "s", ["/a"])
    rules = tmp_path / "rules.toml"
    rules.write_text('[[ignore]]\npaths = "$.x"\n')
    result = CliRunner().invoke(
        cli,
        [
            "replay",
            str(sessions),
            "--target",
            "http://127.0.0.1:9",
            "--rules",
            str(rules),
            "--db",
            str(tmp_path / "db"),
        ],
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"parity: error: {rules}: rules: [[ignore]] #1")


def test_rules_that_are_not_toml_are_one_line_exit_2(tmp_path: Path) -> None:
    sessions = _session(tmp_path / "s", ["/a"])
    rules = tmp_path / "rules.toml"
    rules.write_bytes(b"[[ignore]\n\xff")
    result = CliRunner().invoke(
        cli,
        [
            "replay",
            str(sessions),
            "--target",
            "http://127.0.0.1:9",
            "--rules",
            str(rules),
            "--db",
            str(tmp_path / "db"),
        ],
    )
    assert result.exit_code == 2
    assert result.output.startswith(f"parity: error: rules file {rules} is not valid TOML")


def test_a_directory_without_sessions_is_one_line_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(tmp_path), "--target", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert result.output == f"parity: error: no session files (*.parity) in {tmp_path}\n"


def test_a_target_that_is_not_a_url_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(tmp_path), "--target", "localhost:5000"])
    assert result.exit_code == 2
    assert "must start with http:// or https://" in result.output
