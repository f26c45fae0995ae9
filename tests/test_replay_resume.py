"""Resumable runs (issue 12): `parity replay` killed (`kill -9`) or stopped by Ctrl-C
mid-run, then `parity replay --resume`: every exchange has exactly one result and the
findings are those of a run never interrupted.

Real processes: `parity replay` as a subprocess against a real aiohttp backend on
127.0.0.1 (tests/resume_backend.py) with one route that holds its answer until the test
releases it, so the run is stopped at a known point, never after a fixed sleep. Every
wait polls the database or the backend, with a bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.sessions import Exchange, SessionStore
from tests.factories import make_exchange
from tests.procs import Proc, parity, python

pytestmark = pytest.mark.timeout(60)

posix_signals = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX signals (Ctrl-C is a console event on Windows)"
)

FAST_SESSIONS = 4
PER_SESSION = 6
HELD = [100, 101, 102, 103, 104]  # the held session: /hold/102 waits for the release
TOTAL = FAST_SESSIONS * PER_SESSION + len(HELD)
NEWEST = "SELECT id FROM runs ORDER BY started_at DESC LIMIT 1"


def _exchange(seq: int, n: int) -> Exchange:
    path = f"/hold/{n}" if n == 102 else f"/items/{n}"
    exchange = make_exchange(
        seq, path=path, body=json.dumps({"id": n, "price": n, "node": "a"}).encode()
    )
    exchange.request.method = "GET"
    exchange.request.headers = [(b"Host", b"127.0.0.1:5000")]
    exchange.request.body = b""
    assert exchange.response is not None
    exchange.response.headers = [(b"Content-Type", b"application/json; charset=utf-8")]
    exchange.messages = []
    return exchange


def _session(store: SessionStore, numbers: list[int], name: str | None = None) -> Path:
    with store.create(label="t", upstream="http://127.0.0.1:5000") as writer:
        for seq, n in enumerate(numbers, 1):
            writer.append(_exchange(seq, n))
        written = writer.path
    if name is None:
        return written
    # The held session sorts first, so it starts first and its first results are stored
    # with the next session that finishes.
    return written.rename(written.with_name(name))


def _parts(store: SessionStore, parts: list[list[int]], session_id: str) -> list[Path]:
    """A rotated session (`parity record --rotate` writes it so): `ID.part0001.parity`,
    ..., each part closed with `continued` but the last."""
    paths, seq = [], 0
    for number, numbers in enumerate(parts, 1):
        writer = store.create(
            label="t", upstream="http://127.0.0.1:5000", part=number, session_id=session_id
        )
        for n in numbers:
            seq += 1
            writer.append(_exchange(seq, n))
        writer.close(continued=number < len(parts))
        paths.append(writer.path)
    return paths


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    store = SessionStore(tmp_path / "sessions")
    _session(store, HELD, "000-held.parity")
    for s in range(FAST_SESSIONS):
        _session(store, list(range(s * PER_SESSION + 1, (s + 1) * PER_SESSION + 1)))
    return store.root


@pytest.fixture
def backend() -> Iterator[str]:
    with Proc(python("tests/resume_backend.py")) as proc:
        yield proc.wait_for(r"BACKEND_LISTENING (\S+)").group(1)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _release(url: str) -> None:
    request = urllib.request.Request(url + "/_release", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _until(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s: {what}")


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return []
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.Error:  # not created or not migrated yet
        return []
    finally:
        conn.close()


def _consistent(db: Path) -> None:
    """`PRAGMA integrity_check` passes. SQLite 3.40 reports "NULL value in T.C" for the
    WITHOUT ROWID `finding_links` although no row has one (a false positive of its NOT
    NULL check there): such a line counts only if a query finds the NULL."""
    problems = []
    for (line,) in _rows(db, "PRAGMA integrity_check"):
        if line == "ok":
            continue
        table, _, column = line.removeprefix("NULL value in ").partition(".")
        if line.startswith("NULL value in ") and _rows(
            db, f'SELECT count(*) FROM "{table}" WHERE "{column}" IS NULL'
        ) == [(0,)]:
            continue
        problems.append(line)
    assert problems == []
    assert _rows(db, "PRAGMA foreign_key_check") == []


def _finished_sessions(db: Path) -> int:
    rows = _rows(db, f"SELECT count(*) FROM run_sessions WHERE run_id = ({NEWEST})")
    return int(rows[0][0]) if rows else 0


@contextlib.contextmanager
def _at_the_hold(
    sessions: Path, url: str, db: Path, finished: int = FAST_SESSIONS
) -> Iterator[tuple[Proc, str]]:
    """`parity replay` running with every fast session replayed (`finished` of them
    stored as finished) and the held one waiting on /hold/102; the process, the run id."""
    args = ("replay", str(sessions), "--target", url, "--db", str(db), "--concurrency", "2")
    with Proc(parity(*args)) as proc:
        _until("the held request", lambda: _get(url + "/_held")["held"] == 1)
        _until("every other request sent", lambda: sum(_get(url + "/_count").values()) == TOTAL - 2)
        _until("the fast sessions stored", lambda: _finished_sessions(db) == finished)
        assert proc.popen.poll() is None
        (run,) = _rows(db, NEWEST)[0]
        yield proc, run


def _report(db: Path, run: str | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["report", *([run] if run else []), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def _findings(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((f["id"], f["count"], f["title"]) for f in report["findings"])


@pytest.fixture
def reference(sessions: Path, tmp_path: Path) -> dict[str, Any]:
    return _uninterrupted(sessions, tmp_path / "reference.db")


def _uninterrupted(sessions: Path, db: Path) -> dict[str, Any]:
    """The report of the same run, never interrupted (on a backend that holds nothing)."""
    with Proc(python("tests/resume_backend.py")) as proc:
        url = proc.wait_for(r"BACKEND_LISTENING (\S+)").group(1)
        _release(url)
        result = CliRunner().invoke(
            cli, ["replay", str(sessions), "--target", url, "--db", str(db), "--quiet"]
        )
    assert result.exit_code == 1, result.output  # it has mismatches
    report = _report(db)
    assert report["totals"]["exchanges"] == TOTAL and report["findings"]
    return report


def _each_exchange_once(db: Path, run: str) -> None:
    rows = _rows(
        db, f"SELECT session, seq, count(*) FROM results WHERE run_id = '{run}' GROUP BY 1, 2"
    )
    assert len(rows) == TOTAL and all(n == 1 for _, _, n in rows)
    links = _rows(
        db,
        f"SELECT count(*) FROM finding_links l LEFT JOIN mismatches m ON m.id = l.mismatch_id "
        f"WHERE l.run_id = '{run}' AND m.id IS NULL",
    )
    assert links == [(0,)]  # no link left pointing at a deleted mismatch


def _resume(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["replay", "--resume", *args, "--db", str(db)])


def _same_as_reference(db: Path, run: str, reference: dict[str, Any]) -> None:
    report = _report(db, run)
    assert report["run"]["finished_at"] is not None
    assert report["totals"] == reference["totals"]
    assert _findings(report) == _findings(reference)
    _each_exchange_once(db, run)


def test_a_killed_run_is_resumed_to_the_results_of_an_uninterrupted_one(
    sessions: Path, backend: str, tmp_path: Path, reference: dict[str, Any]
) -> None:
    db = tmp_path / "parity.db"
    with _at_the_hold(sessions, backend, db) as (proc, run):
        proc.kill()  # SIGKILL: nothing of parity runs after this
    partial = _rows(
        db, "SELECT count(*) FROM results WHERE session NOT IN (SELECT session FROM run_sessions)"
    )
    assert partial == [(2,)]  # the held session's first two, committed with the others
    runs = json.loads(CliRunner().invoke(cli, ["runs", "--db", str(db), "--json"]).output)
    assert runs[0]["status"] == "unfinished"
    _release(backend)
    before = _get(backend + "/_count")
    result = _resume(db)  # the newest unfinished run
    assert result.exit_code == 1, result.output  # mismatches, as the reference
    assert f"resuming unfinished run {run}: 4 of 5 sessions finished" in result.output
    _same_as_reference(db, run, reference)
    # Only the unfinished session was sent again, from its start.
    after = _get(backend + "/_count")
    sent_again = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert sent_again == {("/hold/" if n == 102 else "/items/") + str(n): 1 for n in HELD}
    again = _resume(db, run)
    assert again.exit_code == 2
    assert again.output.strip().splitlines() == [
        f"parity: error: run {run} already finished: nothing to resume"
    ]


@posix_signals
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_cleanly_with_exit_130_and_resume_completes(
    sessions: Path, backend: str, tmp_path: Path, reference: dict[str, Any], stop: str
) -> None:
    db = tmp_path / "parity.db"
    with _at_the_hold(sessions, backend, db) as (proc, run):
        proc.popen.send_signal(getattr(signal, stop))
        proc.wait_for("stopping: the requests in flight finish")
        _release(backend)  # the request in flight finishes; nothing new is sent
        assert proc.popen.wait(20) == 130
        output = proc.output()
    assert f"resume it with: parity replay --resume {run}" in output
    assert "Traceback" not in output
    _consistent(db)
    (status,) = _rows(db, "SELECT finished_at IS NULL AND interrupted_at IS NOT NULL FROM runs")
    assert status == (1,)
    # The held session got its answer but did not go on: 3 of its 5 exchanges stored.
    assert _rows(
        db, "SELECT count(*) FROM results WHERE session NOT IN (SELECT session FROM run_sessions)"
    ) == [(3,)]
    runs = json.loads(CliRunner().invoke(cli, ["runs", "--db", str(db), "--json"]).output)
    assert runs[0]["status"] == "interrupted"
    out = tmp_path / "gate.json"
    gate = CliRunner().invoke(cli, ["gate", "--db", str(db), "--out", str(out)])
    assert gate.exit_code == 1
    reasons = json.loads(out.read_text(encoding="utf-8"))["reasons"]
    assert (
        f"run {run} was interrupted and not resumed: `parity replay --resume {run}` finishes it"
        in reasons
    )
    result = _resume(db, run[:4])
    assert result.exit_code == 1, result.output
    _same_as_reference(db, run, reference)


@posix_signals
def test_a_second_ctrl_c_aborts_what_is_in_flight_and_resume_completes(
    sessions: Path, backend: str, tmp_path: Path, reference: dict[str, Any]
) -> None:
    db = tmp_path / "parity.db"
    with _at_the_hold(sessions, backend, db) as (proc, run):
        proc.popen.send_signal(signal.SIGINT)
        proc.wait_for("stopping")
        proc.popen.send_signal(signal.SIGINT)  # the held request is never answered
        assert proc.popen.wait(20) == 130
    _consistent(db)
    held = _rows(db, "SELECT seq, outcome, error FROM results WHERE url = '/hold/102'")
    assert held == [
        (3, "error", "interrupted: the run was stopped (Ctrl-C) before the answer came")
    ]
    _release(backend)
    result = _resume(db)
    assert result.exit_code == 1, result.output
    _same_as_reference(db, run, reference)


def test_resume_refuses_changed_or_missing_files_and_other_options(
    sessions: Path, backend: str, tmp_path: Path
) -> None:
    db = tmp_path / "parity.db"
    with _at_the_hold(sessions, backend, db) as (proc, run):
        proc.kill()
    mixed = _resume(db, run, str(sessions))
    assert mixed.exit_code == 2
    assert mixed.output.strip() == (
        "parity: error: --resume replays with the run's own options: drop SESSION_FILE_OR_DIR"
    )
    held = sessions / "000-held.parity"
    with held.open("ab") as file:
        file.write(b"\x00")
    changed = _resume(db)
    assert changed.exit_code == 2
    (line,) = changed.output.strip().splitlines()
    assert line.startswith(  # mtime too, where the file system's clock is fine enough
        f"parity: error: cannot resume run {run}: session file {os.path.abspath(held)} "
        "changed since the run started (size"
    )
    held.unlink()
    gone = _resume(db)
    assert gone.exit_code == 2
    assert gone.output.strip().splitlines() == [
        f"parity: error: cannot resume run {run}: session file {os.path.abspath(held)} is gone"
    ]
    assert _finished_sessions(db) == FAST_SESSIONS  # nothing was touched
    none = _resume(tmp_path / "other.db")
    assert none.exit_code == 2 and len(none.output.strip().splitlines()) == 1


def _with_baseline(sessions: Path, db: Path) -> None:
    """An uninterrupted run with a baseline (`$.node` noise a quarter of the time)."""
    with (
        Proc(python("tests/resume_backend.py")) as free,
        Proc(python("tests/resume_backend.py", "b")) as baseline,
    ):
        urls = [p.wait_for(r"BACKEND_LISTENING (\S+)").group(1) for p in (free, baseline)]
        for url in urls:
            _release(url)
        args = ["replay", str(sessions), "--target", urls[0], "--baseline", urls[1], "--quiet"]
        result = CliRunner().invoke(cli, [*args, "--db", str(db)])
        assert result.exit_code == 1, result.output


def test_a_killed_run_with_a_baseline_learns_its_noise_once(
    sessions: Path, backend: str, tmp_path: Path
) -> None:
    """With a baseline, the run's noise observations are stored at its end only: every
    session is replayed again, and the learned noise is that of one run."""
    noise_db, db = tmp_path / "reference.db", tmp_path / "parity.db"
    _with_baseline(sessions, noise_db)
    reference = _report(noise_db)
    with (
        Proc(python("tests/resume_backend.py", "b")) as baseline_proc,
        Proc(
            parity(
                *("replay", str(sessions), "--target", backend, "--db", str(db)),
                *(
                    "--concurrency",
                    "2",
                    "--baseline",
                    baseline_proc.wait_for(r"LISTENING (\S+)")[1],
                ),
            )
        ) as proc,
    ):
        baseline = baseline_proc.wait_for(r"LISTENING (\S+)")[1]
        for url in (backend, baseline):
            _until("the held request", lambda u=url: _get(u + "/_held")["held"] == 1)
            _until(
                "every other request sent",
                lambda u=url: sum(_get(u + "/_count").values()) == TOTAL - 2,
            )
        proc.kill()
        assert _finished_sessions(db) == 0  # with a baseline, finished only at the end
        assert _rows(db, "SELECT count(*) FROM noise") == [(0,)]
        for url in (backend, baseline):
            _release(url)
        result = _resume(db)
    assert result.exit_code == 1, result.output
    (run,) = _rows(db, "SELECT id FROM runs")[0]
    _same_as_reference(db, run, reference)

    def noise(path: Path) -> list[tuple[Any, ...]]:
        return _rows(
            path,
            "SELECT n.route, n.place, n.path, n.disagreements, r.observations, n.kinds "
            "FROM noise n JOIN noise_routes r USING (route) ORDER BY 1, 2, 3",
        )

    assert noise(db) == noise(noise_db) and noise(db)


def test_learned_noise_settles_a_resumed_run_as_an_uninterrupted_one(
    sessions: Path, tmp_path: Path
) -> None:
    """Without a baseline, differences at a spot of learned noise wait for the end of
    the run, where the candidate's rate there over the whole run decides. Sessions
    without such a difference are finished as they end (here only /items/1-6: a 404
    lacks `$.node` too); the resumed run counts their exchanges too (13 of 28 is noise
    against a learned 1 in 4; 13 of 22 would not be)."""
    learned = tmp_path / "learned.db"
    _with_baseline(sessions, learned)
    dbs = {name: tmp_path / f"{name}.db" for name in ("reference", "resumed")}
    for db in dbs.values():
        with sqlite3.connect(learned) as source, sqlite3.connect(db) as copy:
            source.backup(copy)
    with Proc(python("tests/resume_backend.py", "drift")) as drift:
        url = drift.wait_for(r"BACKEND_LISTENING (\S+)").group(1)
        with _at_the_hold(sessions, url, dbs["resumed"], finished=1) as (proc, run):
            proc.kill()
        _release(url)
        args = ["replay", str(sessions), "--target", url, "--quiet"]
        assert CliRunner().invoke(cli, [*args, "--db", str(dbs["reference"])]).exit_code == 1
        assert _resume(dbs["resumed"]).exit_code == 1
    reference = _report(dbs["reference"])
    assert reference["learned_noise"]["settled"] == 13
    resumed = _report(dbs["resumed"], run)
    assert resumed["learned_noise"] == reference["learned_noise"]
    _same_as_reference(dbs["resumed"], run, reference)


@posix_signals
def test_ctrl_c_cuts_a_paced_wait_short_and_resume_keeps_the_pace(tmp_path: Path) -> None:
    """A paced run stopped while its session waits 20 s for its next request stops at
    once; `--resume` replays the session again with the pace the run recorded."""
    from tests.test_replay_pacing import T0, Server
    from tests.test_replay_pacing import _session as paced_session

    sessions, db = tmp_path / "s", tmp_path / "parity.db"
    paced_session(sessions, [("/p/1", T0), ("/p/2", T0 + 0.1), ("/p/3", T0 + 100)])
    with Server() as server:
        args = ("replay", str(sessions), "--target", server.url, "--db", str(db))
        with Proc(parity(*args, "--pace", "recorded", "--max-idle", "20s")) as proc:
            _until("two requests sent", lambda: len(server.arrivals) == 2)
            asked = time.monotonic()
            proc.popen.send_signal(signal.SIGINT)
            assert proc.popen.wait(10) == 130
            assert time.monotonic() - asked < 10  # not the 20 s wait
            assert "Traceback" not in proc.output()
        (run,) = _rows(db, NEWEST)[0]
        (meta,) = _rows(db, f"SELECT meta FROM runs WHERE id = '{run}'")[0]
        recorded = json.loads(meta)
        assert recorded["replay"]["pace"] == {"factor": 1.0, "max_idle": 20.0}
        assert recorded["pace"] == {"factor": 1.0, "max_idle": 20.0, "applied": True}
        # The resume must use the run's pace: a shorter cap keeps this test fast, and
        # shows the recorded options are what is applied (no --pace may be given).
        recorded["replay"]["pace"]["max_idle"] = 0.5
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE runs SET meta = ? WHERE id = ?", (json.dumps(recorded), run))
        conn.close()
        refused = _resume(db, run, "--pace", "asap")
        assert refused.exit_code == 2
        assert "drop --pace" in refused.output
        server.arrivals.clear()
        result = _resume(db, run)
        assert result.exit_code == 0, result.output
        assert "paced recorded, gaps capped at 0.5 s" in result.output
        at = server.at()
    assert list(at) == ["/p/1", "/p/2", "/p/3"]  # the session again from its start
    assert 0.03 <= at["/p/2"] < 0.4
    # On the schedule from the session's start: 0.1 s, then the 100 s gap capped at 0.5 s.
    assert 0.4 <= at["/p/3"] < 3  # (less the first request's own latency)
    assert _rows(db, f"SELECT count(*) FROM results WHERE run_id = '{run}'") == [(3,)]


def test_a_rotated_recording_killed_mid_session_is_resumed_with_every_exchange_once(
    backend: str, tmp_path: Path
) -> None:
    """A recording in parts (`parity record --rotate`): each session, all its parts, is
    the unit of a resume. The held session is killed in its second part; the resume
    replays all three parts from the start, and refuses while any part of the run's
    changed, disappeared or a new one appeared."""
    store = SessionStore(tmp_path / "sessions")
    held = _parts(store, [HELD[:2], HELD[2:4], HELD[4:]], "000-held")
    fast = [list(range(s * PER_SESSION + 1, (s + 1) * PER_SESSION + 1)) for s in range(4)]
    rotated = _parts(store, [fast[0][:3], fast[0][3:]], "001-fast")
    _parts(store, [fast[1][:1], fast[1][1:4], fast[1][4:]], "002-fast")
    for numbers in fast[2:]:
        _session(store, numbers)
    reference = _uninterrupted(store.root, tmp_path / "reference.db")
    db = tmp_path / "parity.db"
    with _at_the_hold(store.root, backend, db) as (proc, run):
        proc.kill()
    assert _rows(db, "SELECT DISTINCT session FROM results WHERE session NOT IN "
                 "(SELECT session FROM run_sessions)") == [("000-held",)]  # fmt: skip

    def refused(line: str) -> None:
        result = _resume(db)
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [f"parity: error: {line}"]

    # A new part of a session of the run (the recorder went on).
    extra = _parts(SessionStore(tmp_path / "later"), [[1]], "000-held")[0]
    new = extra.rename(held[0].with_name(extra.name.replace("part0001", "part0004")))
    refused(f"cannot resume run {run}: session 000-held has a new part {new} since the run started")
    new.unlink()
    # A part changed (then put back as it was, mtime and all).
    before, stat = rotated[1].read_bytes(), rotated[1].stat()
    rotated[1].write_bytes(before + b"\x00")
    result = _resume(db)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert f"session file {os.path.abspath(rotated[1])} changed since" in result.output
    rotated[1].write_bytes(before)
    os.utime(rotated[1], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # A part gone.
    away = held[1].rename(tmp_path / "away.parity")
    refused(f"cannot resume run {run}: session file {os.path.abspath(held[1])} is gone")
    away.rename(held[1])
    assert _finished_sessions(db) == FAST_SESSIONS  # nothing was touched

    _release(backend)
    before_counts = _get(backend + "/_count")
    result = _resume(db)
    assert result.exit_code == 1, result.output
    assert f"resuming unfinished run {run}: 4 of 5 sessions finished" in result.output
    _same_as_reference(db, run, reference)
    after = _get(backend + "/_count")
    sent_again = {k: after[k] - before_counts.get(k, 0) for k in after}
    assert {k: n for k, n in sent_again.items() if n} == {
        ("/hold/" if n == 102 else "/items/") + str(n): 1 for n in HELD
    }
