"""The command line, in-process (CliRunner): exit codes and the exact text a user sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.sessions import SessionStore, SessionSummary
from tests.factories import make_exchange


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix}{name} "))
    return found


@pytest.mark.parametrize(("name", "command"), _commands(cli))
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    assert command.help, name
    assert "Example:" in command.help, name


def test_help_does_not_import_the_heavy_libraries() -> None:
    """`parity --help` must stay fast: mitmproxy and deepdiff load only when needed."""
    code = (
        "import sys; from parity.cli import cli; "
        "heavy = [m for m in ('mitmproxy', 'deepdiff', 'aiohttp', 'sqlite_utils', 'parity.differ', 'rich', 'asyncio') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    store = SessionStore(tmp_path)
    with store.create(label="pilot-ana", upstream="http://127.0.0.1:5000") as writer:
        writer.append(make_exchange(1, path="/api/entries/17"))
        writer.append(make_exchange(2, path="/api/entries/18"))
        writer.append(make_exchange(3, path="/api/login", status=401))
        writer.append(make_exchange(4, path="/api/health", error="upstream down"))
    torn = store.create(label="killed")
    torn.append(make_exchange(1))
    torn.close(trailer=False)
    with torn.path.open("ab") as f:
        f.write(b"\x82\xa4kind")  # a record cut short by kill -9
    (tmp_path / "zz-notes.parity").write_text("not a session")
    return tmp_path


def _by_label(root: Path, label: str) -> Path:
    (summary,) = [
        s
        for s in SessionStore(root).summaries()
        if isinstance(s, SessionSummary) and s.header.label == label
    ]
    return summary.path


def test_sessions_list_json(sessions_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["sessions", "list", "--sessions", str(sessions_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r.get("label") for r in rows] == ["pilot-ana", "killed", None]
    first, torn, foreign = rows
    assert first["exchanges"] == 4 and first["errors"] == 1 and first["complete"] is True
    assert first["by_status"] == {"200": 2, "401": 1, "error": 1}
    assert torn["complete"] is False and torn["skipped_bytes"] == 6
    assert foreign["error"].endswith("is not a parity session file (no parity-session header)")


def test_sessions_list_table_names_every_file(sessions_dir: Path) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["sessions", "list", "--sessions", str(sessions_dir)]
    )
    assert result.exit_code == 0
    assert "pilot-ana" in result.output and "complete" in result.output
    assert "torn (6 B skipped)" in result.output
    assert "not a parity session file" in result.output


def test_sessions_show_json_counts_by_route_and_status(sessions_dir: Path) -> None:
    session_id = _by_label(sessions_dir, "pilot-ana").stem
    others = [p.stem for p in SessionStore(sessions_dir).paths() if p.stem != session_id]
    # The shortest prefix no other id shares (two ids of one second share 16 characters).
    prefix = next(
        session_id[:n]
        for n in range(16, len(session_id) + 1)
        if not any(o.startswith(session_id[:n]) for o in others)
    )
    result = CliRunner().invoke(
        cli, ["sessions", "show", prefix, "--sessions", str(sessions_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["session"]["label"] == "pilot-ana"
    assert shown["exchanges_total"] == 4
    routes = {r["route"]: r for r in shown["routes"]}
    assert routes["GET /api/entries/{id}"]["count"] == 1
    assert routes["POST /api/entries/{id}"]["count"] == 1
    assert routes["POST /api/login"]["statuses"] == {"401": 1}
    assert routes["GET /api/health"]["statuses"] == {"error": 1}
    assert [e["seq"] for e in shown["exchanges"]] == [1, 2, 3, 4]
    assert shown["exchanges"][3]["error"] == "upstream down"


def test_sessions_show_table(sessions_dir: Path) -> None:
    session_id = _by_label(sessions_dir, "pilot-ana").stem
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["sessions", "show", session_id, "--sessions", str(sessions_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "closed cleanly" in result.output
    assert "/api/entries/17" in result.output
    assert "upstream down" in result.output


def test_sessions_show_a_torn_file_says_so(sessions_dir: Path) -> None:
    torn = _by_label(sessions_dir, "killed")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["sessions", "show", str(torn), "--sessions", str(sessions_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "skipped 6 bytes: torn tail" in result.output


def test_sessions_show_unknown_is_one_line_exit_2(sessions_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["sessions", "show", "nope", "--sessions", str(sessions_dir)])
    assert result.exit_code == 2
    assert result.output == f"parity: error: no session 'nope' in {sessions_dir}\n"


def test_sessions_show_a_foreign_file_is_one_line_exit_2(sessions_dir: Path) -> None:
    foreign = sessions_dir / "zz-notes.parity"
    result = CliRunner().invoke(cli, ["sessions", "show", str(foreign)])
    assert result.exit_code == 2
    assert result.output == (
        f"parity: error: {foreign} is not a parity session file (no parity-session header)\n"
    )


def test_record_needs_an_upstream_in_reverse_mode() -> None:
    result = CliRunner().invoke(cli, ["record"])
    assert result.exit_code == 2
    assert "--upstream URL is required" in result.output


def test_record_rejects_a_bad_listen_address() -> None:
    result = CliRunner().invoke(cli, ["record", "--upstream", "http://x", "--listen", "host:http"])
    assert result.exit_code == 2
    assert "'host:http' is not HOST:PORT" in result.output


def test_an_empty_sessions_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sessions", "list", "--sessions", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert "No sessions in" in result.output


def test_listings_read_their_paths_from_parity_toml(
    sessions_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "parity.toml").write_text(
        f'[paths]\nsessions = "{sessions_dir.as_posix()}"\ndb = "results/parity.db"\n'
    )
    monkeypatch.chdir(work)
    monkeypatch.delenv("PARITY_SESSIONS", raising=False)
    monkeypatch.delenv("PARITY_DB", raising=False)
    listed = CliRunner().invoke(cli, ["sessions", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "pilot-ana" in [row.get("label") for row in json.loads(listed.output)]
    report = CliRunner().invoke(cli, ["report"])
    assert report.exit_code == 2
    assert "no results database at " in report.output
    assert (
        Path(report.output.split(" at ")[1].split(":")[0]).resolve()
        == work / "results" / "parity.db"
    )


def test_sessions_show_says_what_the_recorder_noted(tmp_path: Path) -> None:
    """A body the recorder did not scan for secrets is counted in `sessions show`."""
    store = SessionStore(tmp_path / "s")
    unscanned = "response body: over 65536 bytes; not scanned ([redact] max_body)"
    with store.create(label="noted", upstream="http://127.0.0.1:5000") as writer:
        for seq in (1, 2, 3):
            exchange = make_exchange(seq, path=f"/api/entries/{seq}")
            exchange.notes = [unscanned] if seq != 2 else []
            writer.append(exchange)
    (path,) = store.paths()
    shown = CliRunner().invoke(cli, ["sessions", "show", str(path), "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["notes"] == {unscanned: 2}
    assert [e["notes"] for e in data["exchanges"]] == [[unscanned], [], [unscanned]]
    table = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["sessions", "show", str(path)])
    assert table.exit_code == 0 and f"noted     2 x {unscanned}" in table.output
