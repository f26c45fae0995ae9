"""`parity purge`: old session files (and their leftovers) and old runs go for good; the
results database is vacuumed and its WAL truncated, so no deleted byte stays in a file.
Real files and SQLite databases in tmp_path; the CLI in-process (CliRunner)."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import parity.purge_cmd
from parity.cli import cli
from parity.differ.model import HttpResponse
from parity.output import format_bytes
from parity.sessions import SessionHeader, SessionStore, SessionWriter, save_session
from parity.triage import ResultsDB
from tests.factories import make_exchange
from tests.test_triage_db import JSON, date_mismatch, fill, run_info

DAY = 86400.0
OLD_CANARY = b"CANARY-OLD-RUN-7f3a"
NEW_CANARY = b"CANARY-NEW-RUN-91c2"


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner(env={"COLUMNS": "220"}).invoke(cli, ["purge", *args], input=input)


def found_in_files(db: Path, needle: bytes) -> list[str]:
    """The database's files (itself, -wal, -shm) that hold `needle`."""
    names = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return [p.name for p in names if p.exists() and needle in p.read_bytes()]


def run_with_canary(db: ResultsDB, started_at: float, canary: bytes) -> str:
    """A run whose mismatches hold `canary` inline and in a large stored body."""
    run_id = fill(db, started_at=started_at)
    large = canary + os.urandom(80 * 1024)  # incompressible: stored as it is
    small = dataclasses.replace(
        date_mismatch("s3", 1, 9), expected=HttpResponse(200, JSON, b'{"t": "' + canary + b'"}')
    )
    big = dataclasses.replace(date_mismatch("s3", 2, 10), actual=HttpResponse(200, JSON, large))
    more = db.start_run(run_info(started_at=started_at + 1))
    with db.writer(more) as w:
        w.add(small)
        w.add(big)
    db.finish_run(more, finished_at=started_at + 2)
    return run_id


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / ".parity" / "parity.db"
    now = time.time()
    with ResultsDB(path) as db:
        old = run_with_canary(db, now - 30 * DAY, OLD_CANARY)
        run_with_canary(db, now - 1 * DAY, NEW_CANARY)
        # A verdict given while looking at the old run: the decision stays, its run goes.
        (finding,) = db.query(
            "SELECT DISTINCT finding FROM finding_links WHERE run_id = ? LIMIT 1", [old]
        )
        db.mark(finding["finding"], "bug", run_id=old)
    return path


def test_old_runs_go_with_everything_only_they_held_and_no_byte_stays(results: Path) -> None:
    assert found_in_files(results, OLD_CANARY)  # the test would prove nothing otherwise
    with ResultsDB(results, create=False) as db:
        before = {t: db.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("runs",)}
    assert before["runs"] == 4

    dry = invoke("--results", "--older-than", "14d", "--db", str(results), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would remove 2 runs older than 14d" in dry.output
    assert found_in_files(results, OLD_CANARY)

    done = invoke("--results", "--older-than", "14d", "--db", str(results), "--yes")
    assert done.exit_code == 0, done.output
    assert "removed 2 runs older than 14d (9 results, 6 mismatches, 1 stored body" in done.output
    assert " -> " in done.output

    assert found_in_files(results, OLD_CANARY) == []
    assert found_in_files(results, NEW_CANARY)  # what is kept is intact
    wal = results.with_name(results.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    conn = sqlite3.connect(results)
    try:
        # SQLite 3.40 reports NOT NULL columns of a WITHOUT ROWID table (finding_links)
        # as NULL in any database, purged or not: those lines are not this test's.
        checked = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        assert [c for c in checked if not c.startswith("NULL value in finding_links.")] in (
            ["ok"],
            [],
        )
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM bodies").fetchone()[0] == 1
        kept = conn.execute("SELECT verdict, run_id FROM verdicts").fetchall()
        assert kept == [("bug", None)]
        # Every finding left is one a kept run shows or one with a verdict.
        orphans = conn.execute(
            "SELECT count(*) FROM findings WHERE id NOT IN (SELECT finding FROM finding_links)"
            " AND id NOT IN (SELECT finding FROM verdicts)"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        conn.close()
    assert results.stat().st_mode & 0o777 == 0o600

    again = invoke("--results", "--older-than", "14d", "--db", str(results), "--yes")
    assert again.exit_code == 0 and "removed 0 runs" in again.output


def old_session(root: Path, days: float, label: str = "old") -> Path:
    """A session started `days` ago and last written then."""
    when = time.time() - days * DAY
    header = SessionHeader(
        id=f"2026{int(days):04d}-{label}", label=label, started_at=when, upstream=None
    )
    root.mkdir(mode=0o700, exist_ok=True)
    with SessionWriter(root / f"{header.id}.parity", header) as writer:
        for seq in range(1, 4):
            writer.append(make_exchange(seq))
    os.utime(writer.path, (when, when))
    return writer.path


def test_old_session_files_go_with_their_leftovers_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    old = old_session(root, 20)
    part = root / f"{old.stem}.parity.part"
    temp = root / f".{old.name}.1a2b.tmp"
    stray_temp = root / ".other.parity.9f9f.tmp"
    notes = root / "notes.txt"  # the user's own: never touched
    for extra in (part, temp, stray_temp, notes):
        extra.write_bytes(b"x" * 100)
        os.utime(extra, (time.time() - 20 * DAY,) * 2)
    recent = save_session(f"{root}/", [make_exchange(1)])
    writing = old_session(root, 30, "live")
    os.utime(writing, None)  # started long ago, still being written: stays
    size = sum(p.stat().st_size for p in (old, part, temp, stray_temp))

    dry = invoke("--sessions", "--sessions-dir", str(root), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would remove 1 session file and 3 leftovers older than 14d" in dry.output
    assert str(old) in dry.output and str(notes) not in dry.output
    assert old.exists()

    done = invoke("--sessions", "--sessions-dir", str(root), "--older-than", "14d", "-y")
    assert done.exit_code == 0, done.output
    assert "removed 1 session file and 3 leftovers older than 14d" in done.output
    assert f"({format_bytes(size)})" in done.output
    assert sorted(p.name for p in root.iterdir()) == sorted([recent.name, writing.name, notes.name])
    assert SessionStore(root).paths() == sorted([recent, writing])


def test_both_by_default_and_a_missing_directory_or_database_is_nothing_to_do(
    tmp_path: Path, results: Path
) -> None:
    sessions = tmp_path / "sessions"
    old_session(sessions, 15)
    done = invoke(
        "--sessions-dir", str(sessions), "--db", str(results), "--older-than", "14d", "--yes"
    )
    assert done.exit_code == 0, done.output
    assert "removed 1 session file" in done.output and "removed 2 runs" in done.output
    nothing = invoke(
        "--sessions-dir", str(tmp_path / "none"), "--db", str(tmp_path / "none.db"), "--yes"
    )
    assert nothing.exit_code == 0, nothing.output
    assert "removed 0 session files" in nothing.output and "removed 0 runs" in nothing.output
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "none").exists()


@pytest.mark.parametrize("bad", ["14", "3x", "d", "-1d", "1.5h", "14 days", ""])
def test_a_bad_duration_is_one_line_and_exit_2(tmp_path: Path, bad: str) -> None:
    result = invoke("--older-than", bad, "--db", str(tmp_path / "x.db"), "--yes")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a duration" in lines[0], result.stderr


@pytest.mark.parametrize("good", ["14d", "12h", "30m", "90s", "0s"])
def test_the_durations(good: str) -> None:
    seconds = {"14d": 14 * DAY, "12h": 43200, "30m": 1800, "90s": 90, "0s": 0}
    assert parity.purge_cmd.parse_duration(good) == seconds[good]


def test_without_a_terminal_it_needs_yes(tmp_path: Path, results: Path) -> None:
    result = invoke("--db", str(results), "--sessions-dir", str(tmp_path / "s"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "parity: error: parity purge deletes data: give --yes (no terminal to ask on)"
    )
    with ResultsDB(results, create=False) as db:
        assert len(db.query("SELECT id FROM runs")) == 4


def test_on_a_terminal_it_lists_and_asks_first(
    tmp_path: Path, results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parity.purge_cmd, "_on_terminal", lambda: True)
    args = ("--results", "--db", str(results))
    declined = invoke(*args, input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "would remove 2 runs" in declined.output
    assert "Delete these for good?" in declined.stderr
    assert "nothing deleted" in declined.output
    with ResultsDB(results, create=False) as db:
        assert len(db.query("SELECT id FROM runs")) == 4
    accepted = invoke(*args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "removed 2 runs" in accepted.output
    with ResultsDB(results, create=False) as db:
        assert len(db.query("SELECT id FROM runs")) == 2


def test_json_says_what_went(tmp_path: Path, results: Path) -> None:
    sessions = tmp_path / "sessions"
    old = old_session(sessions, 15)
    done = invoke("--sessions-dir", str(sessions), "--db", str(results), "--yes", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["older_than"] == "14d"
    assert data["sessions"]["sessions"] == [str(old)] and data["sessions"]["failed"] == []
    assert data["results"]["runs"] == 2 and data["results"]["bytes_freed"] > 0
    assert data["results"]["dry_run"] is False
