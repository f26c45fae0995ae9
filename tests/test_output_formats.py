"""Every listing with stdout not a terminal: `--nl`, `--csv`, `--tsv` and `-t` write the
same full rows, the human view keeps ids and URLs whole, a broken pipe exits 0, and a
prompt without a terminal is one line and exit 2 unless `--yes`.

A real project: session files written by the session writer, a results database filled
by the triage tests' runs, learned noise and a secret store. CliRunner's stdout is not a
terminal; the pipe tests run the installed `parity` in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from parity.cli import cli
from parity.sessions import SessionHeader, SessionWriter
from parity.sessions.keys import KEY_ENV, project_key
from parity.sessions.secretstore import Secret, SecretStore
from parity.triage import ResultsDB
from tests.factories import make_exchange
from tests.procs import parity
from tests.test_triage_db import fill
from tests.test_triage_noise import learn

SESSION = "20261201-175230-pilot-ana-7f3c9e21"
LONG_PATH = (
    "/api/vaults/8f14e45f-ceea-467a-9575-6c1d5a3e0c4b/entries/"
    "2c624232cdd221771294dfbb310aca000a0df6ac8b66b696d90ef06fdefb64a3"
    "?include=attachments,history&sort=-updated_at"
)
TARGET = "http://candidate-backend.journal.internal.example.com:5001/api/v2/csharp-port"
TOKEN = "PARITY_REDACTED_" + "c" * 20
FORMATS = ("--csv", "--tsv", "--nl", "-t")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    sessions = root / "sessions"
    sessions.mkdir()
    header = SessionHeader(
        id=SESSION, label="pilot-ana", started_at=1_700_000_000.0, upstream="http://x"
    )
    with SessionWriter(sessions / f"{SESSION}.parity", header) as writer:
        writer.append(make_exchange(1, path=LONG_PATH))
        writer.append(make_exchange(2))
    big = root / "big"
    big.mkdir()
    with SessionWriter(big / "big.parity", SessionHeader("big", "", 1.0, None)) as writer:
        for i in range(1, 1501):  # ~0.5 MB of JSON: far more than a pipe's buffer
            writer.append(make_exchange(i % 7 + 1, path=f"/api/entries/{i}"))
    with ResultsDB(root / "parity.db") as db:
        fill(db, started_at=1_700_000_000.0, label="first", target=TARGET)
        learn(db, fill(db, started_at=1_700_100_000.0, target=TARGET))
    return root


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(project)
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = project_key(project / ".parity")
    assert key is not None
    SecretStore(project / ".parity", key).add({TOKEN: Secret(b"pw", "json password", SESSION)})
    yield project


def invoke(*args: str) -> Result:
    """`parity ARGS` with stdout not a terminal and no $COLUMNS."""
    return CliRunner(env={"COLUMNS": None}).invoke(cli, list(args))


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.output


LISTINGS: dict[str, tuple[str, ...]] = {
    "sessions list": ("sessions", "list", "--sessions", "sessions"),
    "sessions show": ("sessions", "show", SESSION[:8], "--sessions", "sessions"),
    "runs": ("runs", "--db", "parity.db"),
    "report": ("report", "--db", "parity.db"),
    "noise": ("noise", "--db", "parity.db"),
    "compare": ("compare", "--db", "parity.db"),
    "secrets list": ("secrets", "list"),
    "soak": ("soak", "sessions"),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in row.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = _cell(value)
    return out


def expected_rows(name: str) -> list[dict[str, str]]:
    """The rows of a listing, read from its `--json` document."""
    data = json.loads(ok(*LISTINGS[name], "--json"))
    if name == "sessions show":
        data = data["exchanges"]
    elif name == "report":
        data = data["routes"]
    elif name == "compare":
        states = ("fixed", "new", "regressed", "still_open", "accepted")
        data = [{"state": state, **item} for state in states for item in data[state]]
    elif name == "soak":
        data = [{k: v for k, v in r.items() if k != "buckets"} for r in data["routes"]]
    return [_flat(row) for row in data]


def parsed(fmt: str, text: str) -> list[dict[str, str]]:
    """The rows a user's tool reads back from `text`, each cell as text."""
    if fmt in ("--csv", "--tsv"):
        dialect = "excel-tab" if fmt == "--tsv" else "excel"
        return list(csv.DictReader(io.StringIO(text), dialect=dialect))
    if fmt == "--nl":
        return [{k: _cell(v) for k, v in json.loads(line).items()} for line in text.splitlines()]
    # -t: the rule under the header marks each column's span
    header, rule, *lines = text.splitlines()
    spans, start = [], 0
    for dashes in rule.split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    names = [header[a:b].strip() for a, b in spans]
    return [
        {n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=True)} for line in lines
    ]


@pytest.mark.parametrize("name", list(LISTINGS))
def test_every_listing_writes_the_same_full_rows_in_every_format(
    in_project: Path, name: str
) -> None:
    expected = expected_rows(name)
    assert expected, name
    for fmt in FORMATS:
        out = ok(*LISTINGS[name], fmt)
        rows = parsed(fmt, out)
        if fmt == "-t":  # a table pads its cells: compare them stripped
            expected_here = [{k: v.strip() for k, v in row.items()} for row in expected]
        else:
            expected_here = expected
        assert rows == expected_here, (name, fmt, out)


def test_runs_and_sessions_rows_keep_full_ids_and_urls(in_project: Path) -> None:
    ids = [run["id"] for run in json.loads(ok("runs", "--db", "parity.db", "--json"))]
    runs = parsed("--csv", ok("runs", "--db", "parity.db", "--csv"))
    assert [(r["id"], r["target"], r["label"], r["sessions"]) for r in runs] == [
        (ids[0], TARGET, "nightly", '["s1","s2"]'),
        (ids[1], TARGET, "first", '["s1","s2"]'),
    ]
    assert [(r["totals.exchanges"], r["totals.matched"], r["parity"]) for r in runs] == [
        ("7", "3", "42.85"),
        ("7", "3", "42.85"),
    ]
    listed = parsed("--tsv", ok("sessions", "list", "--sessions", "sessions", "--tsv"))
    assert [(r["id"], r["label"], r["exchanges"], r["complete"]) for r in listed] == [
        (SESSION, "pilot-ana", "2", "true")
    ]
    shown = parsed("--nl", ok("sessions", "show", SESSION, "--sessions", "sessions", "--nl"))
    assert [r["path"] for r in shown] == [LONG_PATH, "/api/entries/1"]
    secrets = ok("secrets", "list", "--csv")
    assert secrets == f"token,field,session\n{TOKEN},json password,{SESSION}\n"


def test_the_human_views_off_a_terminal_cut_nothing(in_project: Path) -> None:
    def line_with(text: str, out: str) -> str:
        found = [line for line in out.splitlines() if text in line]
        assert found, (text, out)
        return found[0]

    line_with(SESSION, ok("sessions", "list", "--sessions", "sessions"))
    line_with(LONG_PATH, ok("sessions", "show", SESSION, "--sessions", "sessions"))
    assert "…" not in line_with(TARGET, ok("runs", "--db", "parity.db"))
    report = ok("report", "--db", "parity.db")
    line_with(TARGET, report)
    assert "p95 ms" in report and "Latency per route" not in report  # no section dropped
    line_with("`$.created`: `2026-01-01T10:00:00+00:00` where the recording had", report)


def test_piped_into_a_reader_the_lines_are_whole(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        parity("runs", "--db", "parity.db"),
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sum(TARGET in line for line in done.stdout.splitlines()) == 2

    def body_rows(*args: str) -> list[str]:
        """The lines of the table's body (between the header's rule and the bottom)."""
        done = subprocess.run(
            parity(*args), cwd=project, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        start = next(i for i, ln in enumerate(lines) if ln.startswith("┡"))
        return [ln for ln in lines[start + 1 :] if ln.startswith("│")]

    noise = body_rows("noise", "--db", "parity.db")  # one line a learned entry, rate whole
    assert len(noise) == 4, noise
    assert any("100.00 % (4/4)" in line for line in noise), noise
    compare = body_rows("compare", "--db", "parity.db")  # one line a finding
    assert len(compare) == 2, compare
    assert all("recurring" in line and " · " in line for line in compare), compare


def test_compare_names_a_finding_in_both_runs_recurring_in_every_format(
    in_project: Path,
) -> None:
    data = json.loads(ok("compare", "--db", "parity.db", "--json"))
    assert {item["state"] for item in data["still_open"]} == {"recurring"}
    assert "still open" not in ok("compare", "--db", "parity.db")
    assert "2 recurring" in ok("compare", "--db", "parity.db")
    for fmt in ("--csv", "--nl", "-t"):
        rows = parsed(fmt, ok("compare", "--db", "parity.db", fmt))
        assert [row["state"] for row in rows] == ["recurring", "recurring"], fmt


def test_times_are_iso_8601_utc_text_in_every_format(in_project: Path) -> None:
    runs = json.loads(ok("runs", "--db", "parity.db", "--json"))
    assert [(r["started_at"], r["finished_at"]) for r in runs] == [
        ("2023-11-16T02:00:00.000Z", "2023-11-16T02:00:12.500Z"),
        ("2023-11-14T22:13:20.000Z", "2023-11-14T22:13:32.500Z"),
    ]
    for fmt in ("--csv", "--tsv", "--nl", "-t"):
        rows = parsed(fmt, ok("runs", "--db", "parity.db", fmt))
        assert rows[1]["started_at"] == "2023-11-14T22:13:20.000Z", fmt
        listed = parsed(fmt, ok("sessions", "list", "--sessions", "sessions", fmt))
        assert listed[0]["started_at"] == "2023-11-14T22:13:20.000Z", fmt
    report = json.loads(ok("report", "--db", "parity.db", "--json"))
    assert report["run"]["started_at"] == "2023-11-16T02:00:00.000Z"
    compare = json.loads(ok("compare", "--db", "parity.db", "--json"))
    assert compare["a"]["started_at"] == "2023-11-14T22:13:20.000Z"
    shown = json.loads(ok("sessions", "show", SESSION, "--sessions", "sessions", "--json"))
    assert shown["session"]["started_at"] == "2023-11-14T22:13:20.000Z"
    assert shown["exchanges"][0]["started_at"].endswith("Z")


def test_two_formats_are_one_usage_error(in_project: Path) -> None:
    result = invoke("runs", "--db", "parity.db", "--csv", "-t")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: --csv and --table: give one output format (--json, --nl, --csv, --tsv, -t/--table)"
    )


@pytest.mark.parametrize("fmt", ["--json", "--nl", None])
def test_a_reader_that_goes_away_is_a_quiet_exit_0(project: Path, fmt: str | None) -> None:
    args = ["sessions", "show", "big", "--sessions", "big", "--limit", "0"]
    proc = subprocess.Popen(
        parity(*args, *([fmt] if fmt else [])),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()  # `| head -1`
        proc.stdout.close()
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stderr.close()  # type: ignore[union-attr]


def test_prompts_without_a_terminal_refuse_in_one_line_unless_yes(
    in_project: Path, tmp_path: Path
) -> None:
    db = tmp_path / "parity.db"
    db.write_bytes((in_project / "parity.db").read_bytes())
    refused = invoke("noise", "--forget", "--db", str(db))
    assert (refused.exit_code, refused.output) == (
        2,
        "parity: error: parity noise --forget deletes learned noise: give --yes "
        "(no terminal to ask on)\n",
    )
    assert len(json.loads(ok("noise", "--db", str(db), "--json"))) == 4
    assert ok("noise", "--forget", "--db", str(db), "--yes") == (
        "parity noise: forgot 4 learned noise entries\n"
    )

    store = Path(".parity") / "secrets"
    refused = invoke("secrets", "forget")
    assert (refused.exit_code, refused.output) == (
        2,
        "parity: error: parity secrets forget deletes the secret store: give --yes "
        "(no terminal to ask on)\n",
    )
    assert store.exists()
    assert ok("secrets", "forget", "--yes") == f"parity secrets: deleted {store}\n"
    assert not (in_project / store).exists()
