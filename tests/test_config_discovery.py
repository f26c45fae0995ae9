"""parity.toml found from anywhere in a project (issue 13): the nearest one in the working
directory or its parents, paths relative to the file, `--config` on the group, and
messages that name where a setting came from."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.config import ConfigError, find_config, load_config
from tests.procs import BIN, Proc, python
from tests.test_config import sessions_in

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with Proc(python("tests/upstream.py")) as proc:
        yield proc.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PARITY_CONFIG", "PARITY_DB", "PARITY_SESSIONS"):
        monkeypatch.delenv(name, raising=False)


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed `parity` in `cwd`, without the parity variables of the test's shell."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PARITY_")}
    return subprocess.run(
        [str(BIN / "parity"), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_nearest_parity_toml_is_found_and_its_paths_are_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    project = tmp_path / "project"
    deep = project / "src" / "api"
    deep.mkdir(parents=True)
    (project / "parity.toml").write_text(
        '[paths]\ndb = "state/results.db"\n[record]\nkey_file = "keys/k"\n'
        '[gate]\nout = "logs/gate.json"\n',
        encoding="utf-8",
    )
    (project / "parity-rules.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(deep)
    assert find_config() == project / "parity.toml"
    config = load_config()
    assert config.path == project / "parity.toml" and config.origin == ""
    assert config.db == project / "state/results.db"  # relative to the file, not the cwd
    assert config.sessions == project / ".parity/sessions"  # the default, beside the file
    assert config.state == project / ".parity"
    assert config.record.key_file == project / "keys/k"
    assert config.gate.out == project / "logs/gate.json"
    assert config.default_rules == project / "parity-rules.toml"
    # In the file's own directory it is the short relative name, as before.
    monkeypatch.chdir(project)
    assert find_config() == Path("parity.toml")
    assert load_config().db == Path("state/results.db")
    # Nothing up to the root: the defaults, relative to the working directory.
    monkeypatch.chdir(tmp_path)
    assert find_config() is None and load_config().db == Path(".parity/parity.db")


def test_runs_replay_and_report_from_a_subdirectory_use_the_project(
    tmp_path: Path, upstream: str
) -> None:
    project = tmp_path / "project"
    sessions_in(project / "rec", count=1)
    (project / "parity.toml").write_text(
        f'[paths]\nsessions = "rec"\ndb = "results.db"\n[targets.up]\nurl = "{upstream}"\n'
        '[replay]\ntarget = "up"\n',
        encoding="utf-8",
    )
    sub = project / "docs" / "notes"
    sub.mkdir(parents=True)
    replayed = run(sub, "replay", "--quiet")
    assert replayed.returncode == 1, replayed.stderr  # the recordings differ from /json
    run_id = replayed.stdout.strip().splitlines()[-1]
    assert (project / "results.db").is_file() and not (sub / "results.db").exists()
    runs = run(sub, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    assert [r["id"] for r in json.loads(runs.stdout)] == [run_id]
    report = run(sub, "report", "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["exchanges"] == 2


def test_a_missing_database_says_it_is_the_default_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "parity.toml").write_text("[gate]\nmax_open = 0\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    result = run(tmp_path / "sub", "runs")
    assert result.returncode == 2
    assert result.stderr == (
        f"parity: error: no results database at {tmp_path / '.parity/parity.db'}: run "
        f"`parity replay` first (the default beside {tmp_path / 'parity.toml'})\n"
    )
    (tmp_path / "parity.toml").write_text('[paths]\n\ndb = "x/r.db"\n', encoding="utf-8")
    result = run(tmp_path / "sub", "runs")
    assert result.returncode == 2 and result.stderr.endswith(
        f"({tmp_path / 'parity.toml'}:3 [paths] db)\n"
    )


def test_config_is_a_global_option_and_stays_on_the_commands(
    tmp_path: Path, clean_env: None
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[paths]\ndb = "r.db"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "runs"])
    assert result.exit_code == 2
    assert f"no results database at {tmp_path / 'r.db'}" in result.stderr
    assert f"({config}:2 [paths] db)" in result.stderr
    # A command that had --config keeps it: the last one given wins.
    other = tmp_path / "other.toml"
    other.write_text("[replay]\ntimeout = 0\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "replay", "--config", str(other)])
    assert result.exit_code == 2 and str(other) in result.stderr and "timeout" in result.stderr


def test_a_missing_file_names_what_named_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    from_env = run(tmp_path, "runs", env={"PARITY_CONFIG": str(missing)})
    assert from_env.returncode == 2
    assert from_env.stderr.startswith(f"parity: error: PARITY_CONFIG={missing}: no such file")
    assert "--config" not in from_env.stderr
    from_option = run(tmp_path, "--config", str(missing), "runs")
    assert from_option.returncode == 2
    assert from_option.stderr.startswith(f"parity: error: --config {missing}: no such file")


def test_errors_name_the_line_of_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "parity.toml"
    path.write_text(
        '# targets\n[targets.up]\nurl = "http://127.0.0.1:9"\n\n[replay]\n'
        'concurrency = 4\ntarget = "nope"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message.startswith(f"{path}:7 [replay] target 'nope': not a URL")
    path.write_text('[replay]\n  timeout = "soon"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r":2 \[replay\] timeout must be a number of seconds"):
        load_config(path)
    path.write_text("[gate]\n[gate.soak]\nmax_p95_growth = 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"parity\.toml:2 \[gate\] soak max_p95_growth"):
        load_config(path)
