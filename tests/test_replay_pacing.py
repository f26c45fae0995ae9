"""`parity replay --pace asap|recorded|xN --max-idle D`: the schedule (pure), and the real
CLI against a real aiohttp server on 127.0.0.1 that notes when each request arrived;
the progress bar on a pseudo-terminal, and nothing but the summary without one."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner

from parity.cli import cli
from parity.pace import parse_duration, parse_pace
from parity.replayer.pacing import Pace, TimingCheck, request_offsets, session_offsets
from parity.sessions import Exchange, Request, Response, SessionStore
from tests.live import serve
from tests.procs import BIN, ROOT
from tests.pty_run import on_a_terminal

pytestmark = pytest.mark.timeout(60)

T0 = 1_700_000_000.0

# -- the schedule, pure -------------------------------------------------------------------


def test_paces_and_durations_read_from_text() -> None:
    assert parse_pace("asap") is None
    assert parse_pace("recorded") == 1.0
    assert parse_pace("x10") == 10.0 and parse_pace("X0.5") == 0.5
    for bad in ("fast", "x", "x0", "x-2", "xnan", "xinf", "10", "x 10", "x1e9"):
        with pytest.raises(ValueError, match=r"asap, recorded or xN|xN needs N"):
            parse_pace(bad)
    assert parse_duration("5s") == 5.0 and parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120.0 and parse_duration("1h") == 3600.0
    assert parse_duration("1.5") == 1.5 and parse_duration(3) == 3.0
    for bad in ("5x", "", "-1s", "s", "nan", "25h", True):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)  # type: ignore[arg-type]


def test_asap_never_waits() -> None:
    assert request_offsets([T0, T0 + 5, T0 + 600], Pace()) == [0.0, 0.0, 0.0]
    assert session_offsets([T0 + 40, T0], Pace()) == [0.0, 0.0]


def test_recorded_gaps_scaled_and_capped_after_scaling() -> None:
    starts = [T0, T0 + 1, T0 + 3, T0 + 603, T0 + 604]
    assert request_offsets(starts, Pace(1.0)) == pytest.approx([0, 1, 3, 603, 604])
    assert request_offsets(starts, Pace(10.0)) == pytest.approx([0, 0.1, 0.3, 60.3, 60.4])
    # --max-idle caps the gap as it is after x10 (60 s -> 5 s; 0.1 s stays 0.1 s)
    assert request_offsets(starts, Pace(10.0, 5.0)) == pytest.approx([0, 0.1, 0.3, 5.3, 5.4])
    assert request_offsets(starts, Pace(0.5, 4.0)) == pytest.approx([0, 2, 6, 10, 12])


def test_offsets_are_cumulative_from_the_recording_so_nothing_drifts() -> None:
    # 10,000 gaps of 0.1 s at x10: the last is at exactly 100 s of recording / 10.
    starts = [T0 + n * 0.1 for n in range(10_001)]
    assert request_offsets(starts, Pace(10.0))[-1] == pytest.approx(100.0, abs=1e-6)


def test_overlapping_requests_recorded_out_of_start_order_go_right_after() -> None:
    # Written when their responses ended: the third started before the second.
    starts = [T0, T0 + 2, T0 + 1.5, T0 + 3]
    assert request_offsets(starts, Pace(1.0)) == pytest.approx([0, 2, 2, 3])


def test_sessions_keep_their_relative_start_offsets() -> None:
    starts = [T0 + 40, T0, T0 + 20]
    assert session_offsets(starts, Pace(1.0)) == pytest.approx([40, 0, 20])
    assert session_offsets(starts, Pace(10.0)) == pytest.approx([4, 0, 2])
    assert session_offsets(starts, Pace(10.0, 1.5)) == pytest.approx([3, 0, 1.5])


def test_timestamps_that_cannot_pace_a_replay() -> None:
    def problem(*starts: object) -> str | None:
        check = TimingCheck()
        for started in starts:
            check.add(started)
        return check.problem

    assert problem(T0, T0 + 1, T0 + 0.5) is None  # an overlap
    assert problem() is None
    assert "no usable start time" in str(problem(T0, 0.0))
    assert "no usable start time" in str(problem(None))
    assert "starts 100 s before an earlier one" in str(problem(T0 + 100, T0))


# -- the real CLI against a real server ---------------------------------------------------


class Server:
    """An aiohttp app on 127.0.0.1 (its own thread and loop) noting each request's path
    and arrival (monotonic). `/bad/...` answers what the recording did not."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, float]] = []
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrivals.append((request.path, time.monotonic()))
        ok = b"false" if request.path.startswith("/bad") else b"true"
        return web.Response(body=b'{"ok": ' + ok + b"}", content_type="application/json")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner, self.url = self._loop.run_until_complete(serve(app))
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> Server:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def at(self) -> dict[str, float]:
        """Each path's arrival in seconds after the first request arrived."""
        first = self.arrivals[0][1]
        return {path: when - first for path, when in self.arrivals}


def _exchange(seq: int, path: str, started: float) -> Exchange:
    headers = [(b"Host", b"127.0.0.1:5000")]
    return Exchange(
        seq=seq,
        request=Request("GET", "http", "127.0.0.1", 5000, path, "HTTP/1.1", headers, b"", started),
        response=Response(
            200,
            "OK",
            "HTTP/1.1",
            [(b"Content-Type", b"application/json")],
            b'{"ok": true}',
            started + 0.01,
            started + 0.02,
        ),
    )


def _session(root: Path, requests: list[tuple[str, float]]) -> None:
    with SessionStore(root).create(label="paced", upstream="http://127.0.0.1:5000") as writer:
        for seq, (path, started) in enumerate(requests, 1):
            writer.append(_exchange(seq, path, started))


def _args(sessions: Path, url: str, *args: str) -> list[str]:
    db = str(sessions.parent / "p.db")
    return [str(BIN / "parity"), "replay", str(sessions), "--target", url, "--db", db, *args]


def _replay(sessions: Path, url: str, *args: str, env: dict[str, str] | None = None) -> str:
    """The real CLI in a process; its stderr and stdout (exit 0 or 1)."""
    done = subprocess.run(
        _args(sessions, url, *args),
        capture_output=True,
        text=True,
        timeout=40,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stderr + done.stdout


def _pace_meta(sessions: Path) -> object:
    with sqlite3.connect(sessions.parent / "p.db") as db:
        (meta,) = db.execute("SELECT meta FROM runs").fetchone()
    return json.loads(meta or "{}").get("pace")


def test_x10_takes_a_tenth_of_the_span_with_the_long_idle_capped(tmp_path: Path) -> None:
    sessions = tmp_path / "s"
    # Session A: 3 s of requests, a 10-minute idle, two more; B starts 2 s after A.
    _session(
        sessions,
        [
            ("/a/1", T0),
            ("/a/2", T0 + 1),
            ("/a/3", T0 + 2),
            ("/a/4", T0 + 3),
            ("/a/5", T0 + 603),
            ("/a/6", T0 + 604),
        ],
    )
    _session(sessions, [("/b/1", T0 + 2), ("/b/2", T0 + 2.5), ("/b/3", T0 + 3)])
    with Server() as server:
        out = _replay(sessions, server.url, "--pace", "x10", "--max-idle", "200ms")
    assert "paced x10, gaps capped at 0.2 s" in out
    assert "9 exchanges: 9 matched" in out
    at = server.at()
    order = [path for path, _ in server.arrivals]
    assert [p for p in order if p.startswith("/a")] == [f"/a/{n}" for n in range(1, 7)]
    assert [p for p in order if p.startswith("/b")] == ["/b/1", "/b/2", "/b/3"]
    # Schedule: A at 0, .1, .2, .3, .5 (600 s / 10 capped at .2), .6; B at .2, .25, .3.
    assert order[0] == "/a/1"
    assert 0.2 <= at["/a/4"] <= 0.55  # the recorded 3 s span at x10: 0.3 s
    assert 0.5 <= at["/a/6"] <= 0.85
    assert 0.12 <= at["/b/1"] <= 0.45  # B keeps its offset: 2 s / 10 after A
    assert 0.03 <= at["/b/3"] - at["/b/1"] <= 0.35
    assert _pace_meta(sessions) == {"factor": 10.0, "max_idle": 0.2, "applied": True}


def test_recorded_pace_keeps_the_gaps_and_asap_does_not(tmp_path: Path) -> None:
    sessions = tmp_path / "s"
    _session(sessions, [("/r/1", T0), ("/r/2", T0 + 0.4), ("/r/3", T0 + 1.0)])
    with Server() as server:
        _replay(sessions, server.url, "--pace", "recorded")
        recorded = server.at()
        server.arrivals.clear()
        _replay(sessions, server.url)
        asap = server.at()
    assert 0.35 <= recorded["/r/2"] <= 0.65 and 0.95 <= recorded["/r/3"] <= 1.3
    assert asap["/r/3"] < 0.3


def test_a_session_waiting_for_its_next_request_gives_its_slot_back(tmp_path: Path) -> None:
    sessions = tmp_path / "s"
    _session(sessions, [("/a/1", T0), ("/a/2", T0 + 5)])
    _session(sessions, [("/b/1", T0 + 1), ("/b/2", T0 + 1.5)])
    with Server() as server:
        _replay(sessions, server.url, "--pace", "x5", "--concurrency", "1")
    order = [path for path, _ in server.arrivals]
    assert order == ["/a/1", "/b/1", "/b/2", "/a/2"]  # B ran while A was idle


def test_timestamps_going_back_replay_asap_with_one_warning(tmp_path: Path) -> None:
    sessions = tmp_path / "s"
    _session(sessions, [("/w/1", T0 + 100), ("/w/2", T0), ("/w/3", T0 + 101)])
    with Server() as server:
        out = _replay(sessions, server.url, "--pace", "recorded")
        at = server.at()
    warnings = [line for line in out.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "starts 100 s before an earlier one" in warnings[0]
    assert "replaying asap" in warnings[0]
    assert at["/w/3"] < 0.5 and "3 exchanges: 3 matched" in out
    assert _pace_meta(sessions) == {"factor": 1.0, "max_idle": None, "applied": False}


@pytest.mark.parametrize(
    ("args", "toml", "says"),
    [
        (["--pace", "fast"], "", "parity: error: --pace must be asap, recorded or xN"),
        (["--pace", "x0"], "", "parity: error: --pace xN needs N from 0.001 to 1000"),
        (["--pace", "x2", "--max-idle", "5x"], "", "parity: error: --max-idle must be a duration"),
        (["--max-idle", "5s"], "", "parity: error: --max-idle needs --pace recorded or xN"),
        ([], '[replay]\npace = "x0"\n', "[replay] pace xN needs N"),
        ([], "[replay]\nmax_idle = []\n", "[replay] max_idle must be a duration"),
    ],
)
def test_bad_pacing_values_are_one_line_exit_2(
    tmp_path: Path, args: list[str], toml: str, says: str
) -> None:
    sessions = tmp_path / "s"
    _session(sessions, [("/a", T0)])
    config = tmp_path / "parity.toml"
    config.write_text(toml)
    result = CliRunner().invoke(
        cli,
        ["replay", str(sessions), "--target", "http://127.0.0.1:9", "--config", str(config), *args],
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.output


def test_parity_toml_sets_the_pace(tmp_path: Path) -> None:
    sessions = tmp_path / "s"
    _session(sessions, [("/t/1", T0), ("/t/2", T0 + 3), ("/t/3", T0 + 30)])
    config = tmp_path / "parity.toml"
    config.write_text('[replay]\npace = "x10"\nmax_idle = 0.3\n')
    with Server() as server:
        out = _replay(sessions, server.url, "--config", str(config))
        at = server.at()
    assert "paced x10, gaps capped at 0.3 s" in out
    assert 0.2 <= at["/t/2"] <= 0.5 and 0.45 <= at["/t/3"] <= 0.9


# -- progress -----------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("quiet", [False, True])
def test_a_terminal_shows_the_bar_with_the_mismatches(tmp_path: Path, quiet: bool) -> None:
    sessions = tmp_path / "s"
    _session(sessions, [(f"/{'bad' if n % 3 == 0 else 'ok'}/{n}", T0 + n) for n in range(12)])
    with Server() as server:
        args = _args(sessions, server.url, "--pace", "x20", *(["-q"] if quiet else []))
        code, shown, out = on_a_terminal(args, cwd=ROOT)
    assert code == 1, shown
    assert "12 exchanges: 8 matched, 4 mismatched" in shown
    assert ("replaying" in shown) is not quiet
    assert ("4 mismatched" in shown.split("12 exchanges:")[0]) is not quiet
    assert ("ETA" in shown) is not quiet
    assert out.strip()  # the run id


def test_without_a_terminal_only_the_summary(tmp_path: Path) -> None:
    sessions = tmp_path / "s"
    _session(sessions, [(f"/{'bad' if n % 3 == 0 else 'ok'}/{n}", T0 + n) for n in range(6)])
    with Server() as server:
        out = _replay(sessions, server.url, "--pace", "x20")
    assert "replaying" not in out and "ETA" not in out and "\x1b[" not in out
    assert "6 exchanges: 4 matched, 2 mismatched" in out
