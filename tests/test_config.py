"""parity.toml (`parity.config`), `parity init`, reset hooks (`replayer.reset`) and
`parity replay` with named targets, config defaults and resets."""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.config import (
    Config,
    ConfigError,
    GateConfig,
    TargetConfig,
    current_config,
    load_config,
    parse_config,
)
from parity.init_cmd import TEMPLATE, init
from parity.replayer import ReplaySettings, ResetError, Target, command_for, run_reset
from parity.sessions import SessionStore
from tests.factories import make_exchange
from tests.procs import Proc, python

pytestmark = pytest.mark.timeout(60)

PY = shlex.quote(sys.executable)

FULL = """
[paths]
sessions = "rec"
db = "state/results.db"
rules = "my-rules.toml"

[targets.python]
url = "http://127.0.0.1:5000/"
reset = "curl -s -X POST {target}/_admin/reset"

[targets.csharp]
url = "http://127.0.0.1:5001"

[replay]
target = "csharp"
baseline = ["python", "http://127.0.0.1:5002"]
concurrency = 4
timeout = 2.5
reset_timeout = 10

[gate]
max_open = 0
out = "logs/parity_harness_results.json"
"""


def write(tmp_path: Path, text: str, name: str = "parity.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- loading ------------------------------------------------------------------------------


def test_no_file_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARITY_CONFIG", raising=False)
    config = load_config()
    assert config == Config()
    assert config.sessions == Path(".parity/sessions") and config.db == Path(".parity/parity.db")
    assert config.rules is None and config.targets == {} and config.baseline == ()
    assert (config.concurrency, config.timeout, config.reset_timeout) == (8, 30.0, 60.0)
    assert config.gate == GateConfig(max_open=None, out=None)


def test_a_full_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    config = load_config(path)
    assert config.path == path
    assert config.sessions == tmp_path / "rec"  # relative to the file
    assert config.db == tmp_path / "state/results.db"
    assert config.rules == tmp_path / "my-rules.toml"
    assert config.targets["python"] == TargetConfig(
        "python", "http://127.0.0.1:5000", "curl -s -X POST {target}/_admin/reset"
    )
    assert config.target == "csharp"
    assert config.baseline == ("python", "http://127.0.0.1:5002")
    assert (config.concurrency, config.timeout, config.reset_timeout) == (4, 2.5, 10.0)
    assert config.gate == GateConfig(max_open=0, out=tmp_path / "logs/parity_harness_results.json")


def test_targets_resolve_by_name_or_url(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.resolve_target("python") == (
        "http://127.0.0.1:5000",
        "curl -s -X POST {target}/_admin/reset",
    )
    assert config.resolve_target("csharp") == ("http://127.0.0.1:5001", None)
    # A configured target's URL brings its reset hook along; another URL has none.
    assert config.resolve_target("http://127.0.0.1:5000/")[1] is not None
    assert config.resolve_target("https://example.test/api/") == ("https://example.test/api", None)
    with pytest.raises(ConfigError, match=r"'pyhton'.*configured: csharp, python"):
        config.resolve_target("pyhton")
    with pytest.raises(ConfigError, match="no \\[targets\\]"):
        Config().resolve_target("csharp")


def test_the_environment_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARITY_CONFIG", str(write(tmp_path, FULL, "other.toml")))
    assert load_config().target == "csharp"
    monkeypatch.setenv("PARITY_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert caught.value.message.startswith(
        f"PARITY_CONFIG={tmp_path / 'missing.toml'}: no such file"
    )
    assert "--config" not in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[paths\n", "is not valid TOML"),
        (
            "[pahts]\n",
            r"\[pahts\] is not a known table \(known: gate, paths, record, redact, replay, "
            r"targets\)",
        ),
        (
            "[replay]\nconcurrenc = 3\n",
            r"\[replay\] 'concurrenc' is not a known key \(known: baseline, concurrency, "
            r"max_idle, pace, reset_timeout, secrets, target, timeout\)",
        ),
        (
            '[replay]\nconcurrency = "8"\n',
            r"\[replay\] concurrency must be an integer, not a string",
        ),
        ("[replay]\nconcurrency = 0\n", r"concurrency must be an integer from 1 to 256, not 0"),
        ("[replay]\ntimeout = true\n", r"\[replay\] timeout must be a number of seconds"),
        ("[replay]\nbaseline = [1]\n", r"\[replay\] baseline must be a target name or URL"),
        ('[replay]\nbaseline = "nope"\n', r"\[replay\] baseline 'nope': not a URL"),
        ('[replay]\ntarget = "nope"\n', r"\[replay\] target 'nope': not a URL"),
        ("[gate]\nmax_open = -1\n", r"\[gate\] max_open must be an integer of at least 0"),
        (
            "[gate]\nmax_opne = 1\n",
            r"\[gate\] 'max_opne' is not a known key \(known: max_open, out, soak\)",
        ),
        ("[targets.x]\nreset = 'a'\n", r'\[targets.x\] needs url = "http://…"'),
        ('[record]\nencrypt = "yes"\n', r"\[record\] encrypt must be true or false, not a string"),
        ("[record]\nkey_file = ''\n", r"\[record\] key_file must not be empty"),
        (
            "[record]\nencrpyt = true\n",
            r"\[record\] 'encrpyt' is not a known key \(known: encrypt, key_file, rotate\)",
        ),
        ("[targets.x]\nurl = '127.0.0.1:5000'\n", r"\[targets.x\] url must be a URL starting with"),
        ("[targets.x]\nurl = 'http://h'\nrest = 'a'\n", r"\[targets.x\] 'rest' is not a known key"),
        ("targets = 3\n", r"\[targets\] must be a table, not an integer"),
        ('paths = "x"\n', r"\[paths\] must be a table, not a string"),
        # Mistakes that once ended in "internal error" (issue 10), and limits.
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "is nested too deeply to read"),
        ("[gate]\nmax_open = " + "9" * 5000 + "\n", "is not usable TOML: Exceeds the limit"),
        (
            "[gate]\nmax_open = -" + "9" * 4000 + "\n",
            r"\[gate\] max_open must be an integer of at least 0, not an integer of about \d+ digits",
        ),
        (
            '[paths]\ndb = "~nosuchuser-parity/x.db"\n',
            r"\[paths\] db names a home directory that does not exist: '~nosuchuser-parity/x.db'",
        ),
        ('[paths]\nsessions = "a\\u0000b"\n', r"\[paths\] sessions must not contain a NUL"),
        (
            '[paths]\nsessions = "parity.toml"\n',
            r"\[paths\] sessions must be a directory: .* is not",
        ),
        ('[paths]\ndb = "."\n', r"\[paths\] db must be a file: .* is not"),
        ('["a\\nb"]\n', r"\['a\\nb'\] is not a known table"),
        (
            "[replay]\ntimeout = inf\n",
            r"\[replay\] timeout must be from 0.1 to 3600 seconds, not inf",
        ),
        (
            "[replay]\ntimeout = nan\n",
            r"\[replay\] timeout must be from 0.1 to 3600 seconds, not nan",
        ),
        (
            '[targets."x\\ny"]\nurl = "http://h"\n[replay]\ntarget = "' + "z" * 100 + '"\n',
            r"\[replay\] target 'z{59}…: not a URL \(http://…\) nor a target in .* \(configured: 'x\\ny'\)",
        ),
    ],
)
def test_a_bad_file_is_one_error_naming_the_file_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert str(path) in caught.value.message
    assert "\n" not in caught.value.message.rstrip()


def test_a_parity_toml_that_is_a_directory_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARITY_CONFIG", raising=False)
    (tmp_path / "parity.toml").mkdir()
    with pytest.raises(ConfigError, match=r"config file parity\.toml is a directory"):
        load_config()


def test_a_bad_file_is_one_red_line_from_the_cli(tmp_path: Path) -> None:
    path = write(tmp_path, "[replay]\nconcurrency = 'many'\n")
    result = CliRunner().invoke(cli, ["replay", str(tmp_path), "--config", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("parity: error: ") and len(result.stderr.splitlines()) == 1
    assert "concurrency" in result.stderr and str(path) in result.stderr


def test_current_config_outside_a_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARITY_CONFIG", raising=False)
    write(tmp_path, "[gate]\nmax_open = 3\n")
    assert current_config().gate.max_open == 3


# -- parity init ---------------------------------------------------------------------------


def test_init_writes_a_commented_file_that_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(init, [])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "parity.toml").read_text(encoding="utf-8")
    assert text == TEMPLATE and text.count("#") > 20
    config = load_config(tmp_path / "parity.toml")
    assert set(config.targets) == {"python", "csharp"}
    assert config.db == tmp_path / ".parity/parity.db"
    assert config.sessions == tmp_path / ".parity/sessions"
    assert load_config(Path("parity.toml")).db == Path(".parity/parity.db")  # as in the cwd
    assert config.target is None and config.baseline == ()  # the defaults stay opt-in
    # Every commented-out setting is a valid one.
    uncommented = "\n".join(
        line.lstrip("# ") if line.startswith("# ") and "=" in line.split("#")[1] else line
        for line in text.splitlines()
    )
    full = parse_config(__import__("tomllib").loads(uncommented), tmp_path / "parity.toml")
    assert full.targets["csharp"].reset and full.gate.max_open == 0 and full.target == "csharp"


def test_init_refuses_to_overwrite_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "# mine\n")
    result = CliRunner().invoke(init, [])
    assert result.exit_code == 2
    assert result.stderr == "parity: error: parity.toml already exists (--force overwrites it)\n"
    assert (tmp_path / "parity.toml").read_text() == "# mine\n"
    assert CliRunner().invoke(init, ["--force"]).exit_code == 0
    assert (tmp_path / "parity.toml").read_text() == TEMPLATE
    assert CliRunner().invoke(init, ["sub/dir/parity.toml"]).exit_code == 0
    assert (tmp_path / "sub/dir/parity.toml").is_file()


# -- reset hooks ---------------------------------------------------------------------------


def test_the_target_placeholder_is_the_only_thing_replaced() -> None:
    assert (
        command_for("""curl -d '{"a": 1}' {target}/_admin/reset {target}""", "http://h:1/")
        == """curl -d '{"a": 1}' http://h:1/_admin/reset http://h:1"""
    )


def test_a_reset_runs_through_the_shell_with_the_target(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    run_reset(f"echo {{target}} >> {shlex.quote(str(marks))}", "http://127.0.0.1:9")
    assert marks.read_text() == "http://127.0.0.1:9\n"


def test_a_failed_reset_says_how_with_the_last_line_it_printed() -> None:
    script = "import sys; print('noise'); sys.stderr.write('one\\nvault fixtures missing\\n'); sys.exit(3)"
    with pytest.raises(ResetError) as caught:
        run_reset(f"{PY} -c {shlex.quote(script)}", "http://h")
    message = str(caught.value)
    assert message.startswith("reset failed: ") and message.endswith(
        "exit 3: vault fixtures missing"
    )
    with pytest.raises(ResetError, match="exit 127"):
        run_reset("no-such-command-for-parity-tests", "http://h")


def test_a_slow_reset_is_killed_at_its_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(ResetError, match=r"timed out after 0.5 s"):
        run_reset("sleep 30", "http://h", timeout=0.5)
    assert time.monotonic() - started < 5


def test_a_reset_that_leaves_a_server_running_still_returns(tmp_path: Path) -> None:
    """Output goes to a file, not a pipe: a background child holding it does not block."""
    started = time.monotonic()
    run_reset("(sleep 5 &) ; echo started", "http://h", timeout=4)
    assert time.monotonic() - started < 3


def test_sessions_run_one_at_a_time_while_a_reset_is_in_use() -> None:
    target = Target("http://h:1")
    assert ReplaySettings(target, concurrency=8).sessions_at_once == 8
    assert ReplaySettings(target, concurrency=8, resets={target: "x"}).sessions_at_once == 1


# -- parity replay with parity.toml ------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with Proc(python("tests/upstream.py")) as proc:
        yield proc.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)


def sessions_in(root: Path, count: int = 3) -> Path:
    for n in range(count):
        with SessionStore(root).create(label=f"s{n}", upstream="http://127.0.0.1:5000") as w:
            for seq in (1, 2):
                exchange = make_exchange(seq, path=f"/json?size=100&n={n}")
                exchange.request.method = "GET"
                exchange.request.body = b""
                w.append(exchange)
    return root


def _report(db: Path) -> dict:
    result = CliRunner().invoke(cli, ["report", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_replay_takes_targets_paths_and_resets_from_parity_toml(
    tmp_path: Path, upstream: str
) -> None:
    sessions_in(tmp_path / "rec")
    marks = tmp_path / "marks"
    reset = f"echo {{target}} >> {shlex.quote(str(marks))}"
    config = write(
        tmp_path,
        f"""
[paths]
sessions = "rec"
db = "results.db"
[targets.up]
url = "{upstream}"
reset = "{reset}"
[replay]
target = "up"
concurrency = 8
""",
    )
    result = CliRunner().invoke(cli, ["replay", "--config", str(config)])
    assert result.exit_code == 1, result.output  # the recordings differ from /json
    assert "reset hooks for target: sessions replay one at a time" in result.stderr
    assert marks.read_text().splitlines() == [upstream] * 3  # one reset per session
    report = _report(tmp_path / "results.db")
    assert report["totals"]["exchanges"] == 6 and report["totals"]["errors"] == 0


def test_a_named_baseline_brings_its_own_reset(tmp_path: Path, upstream: str) -> None:
    sessions_in(tmp_path / "rec", count=2)
    marks = tmp_path / "marks"
    config = write(
        tmp_path,
        f"""
[targets.ref]
url = "{upstream}"
reset = "echo ref >> {shlex.quote(str(marks))}"
""",
    )
    args = ["replay", str(tmp_path / "rec"), "--target", upstream, "--baseline", "ref"]
    args += ["--reset", f"echo target >> {shlex.quote(str(marks))}", "--db", str(tmp_path / "r.db")]
    result = CliRunner().invoke(cli, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output  # the baseline explains every difference
    # --reset for the target, ref's own for the baseline; the URL of `ref` given as the
    # target would also bring ref's reset, but --reset wins.
    assert marks.read_text().splitlines() == ["target", "ref", "target", "ref"]


def test_a_failed_reset_skips_its_session_as_errors_saying_why(
    tmp_path: Path, upstream: str
) -> None:
    sessions_in(tmp_path / "rec", count=2)
    script = "import sys; sys.stderr.write('cannot reach the admin port\\n'); sys.exit(7)"
    reset = f"{PY} -c {shlex.quote(script)}"
    db = tmp_path / "r.db"
    args = ["replay", str(tmp_path / "rec"), "--target", upstream, "--reset", reset]
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "2 sessions not replayed (reset failed)" in result.stderr
    assert "exit 7: cannot reach the admin port" in result.stderr
    report = _report(db)
    assert report["totals"]["errors"] == 4 and report["totals"]["exchanges"] == 4
    assert all(
        m["error"].startswith(f"target {upstream}: reset failed: ")
        and m["error"].endswith("exit 7: cannot reach the admin port")
        for m in report["mismatches"]
    )


def test_unknown_target_names_list_the_configured_ones(tmp_path: Path) -> None:
    sessions_in(tmp_path / "rec", count=1)
    config = write(tmp_path, '[targets.python]\nurl = "http://127.0.0.1:5000"\n')
    result = CliRunner().invoke(
        cli, ["replay", str(tmp_path / "rec"), "--target", "csharp", "--config", str(config)]
    )
    assert result.exit_code == 2
    assert "--target 'csharp'" in result.stderr and "(configured: python)" in result.stderr


def test_without_parity_toml_the_options_stay_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARITY_CONFIG", raising=False)
    sessions_in(tmp_path / "rec", count=1)
    result = CliRunner().invoke(cli, ["replay", "rec"])
    assert result.exit_code == 2 and "Missing option '--target'" in result.stderr
    result = CliRunner().invoke(cli, ["replay", "--target", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "Missing argument" in result.stderr
    result = CliRunner().invoke(cli, ["replay", "rec", "--target", "csharp"])
    assert result.exit_code == 2 and "must start with http:// or https://" in result.stderr
