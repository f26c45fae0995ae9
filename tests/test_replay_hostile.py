"""`parity replay` against targets that misbehave on purpose (hung sockets, silent
WebSockets, stalled event streams, answers that trip the differ): every wait is under
`--timeout`, one exchange's failure is that exchange's `error` verdict, and the run
finishes with everything stored, exit 1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from parity.differ import Differ, HttpRequest, Outcome, Rules, Verdict
from parity.replayer import ReplaySettings, Target, replay_sequence
from parity.sessions import Exchange, Message, SessionStore
from parity.triage import ExchangeResult
from tests.factories import make_exchange
from tests.live import serve
from tests.procs import Proc, parity, python

pytestmark = pytest.mark.timeout(60)


def _get(seq: int, path: str, body: bytes = b'{"ok": true}') -> Exchange:
    exchange = make_exchange(seq, path=path, body=body)
    exchange.request.method = "GET"
    exchange.request.body = b""
    exchange.messages = []
    assert exchange.response is not None
    exchange.response.headers = [(b"Content-Type", b"application/json; charset=utf-8")]
    return exchange


def _websocket(seq: int) -> Exchange:
    exchange = _get(seq, "/ws", b"")
    assert exchange.response is not None
    exchange.response.status = 101
    exchange.response.headers = [(b"Upgrade", b"websocket")]
    exchange.messages = [Message("text", True, b"hi", 1.0), Message("text", False, b"yo", 1.1)]
    exchange.websocket_close = {"code": 1000, "reason": "", "closed_by_client": True}
    return exchange


def _events(seq: int) -> Exchange:
    exchange = _get(seq, "/events", b"data: first\n\ndata: second\n\n")
    assert exchange.response is not None
    exchange.response.headers = [(b"Content-Type", b"text/event-stream")]
    return exchange


def _session(root: Path, exchanges: list[Exchange]) -> Path:
    with SessionStore(root).create(label="t", upstream="http://127.0.0.1:5000") as writer:
        for exchange in exchanges:
            writer.append(exchange)
    return root


def _replay(
    backend: str, exchanges: list[Exchange], tmp: Path, *extra: str
) -> tuple[str, dict[str, str | None], float]:
    """The real CLI replaying `exchanges` against `tests/hostile_backend.py backend`,
    bounded, exit 1: the backend's URL, what was stored (`_stored`), seconds taken."""
    sessions = _session(tmp / "s", exchanges)
    db = tmp / "parity.db"
    with Proc(python("tests/hostile_backend.py", backend)) as server:
        url = server.wait_for(r"HOSTILE_LISTENING (\S+)").group(1)
        started = time.monotonic()
        done = subprocess.run(
            parity("replay", str(sessions), "--target", url, "--db", str(db), "-q", *extra),
            capture_output=True,
            text=True,
            timeout=30,
        )
        took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    return url, _stored(db), took


def _stored(db: Path) -> dict[str, str | None]:
    """url -> error (None for a difference) of every exchange not matched, and `total`:
    how many were stored; the run is finished."""
    done = subprocess.run(
        parity("report", "--db", str(db), "--json"), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    errors = {m["url"]: m["error"] for m in report["mismatches"]}
    assert report["run"]["finished_at"] is not None
    return {"total": str(report["totals"]["exchanges"]), **errors}


def test_a_target_that_accepts_and_never_answers_times_out_per_exchange(tmp_path: Path) -> None:
    exchanges = [_get(1, "/a"), _websocket(2), _get(3, "/b")]
    _, stored, took = _replay("silent", exchanges, tmp_path, "--timeout", "0.5")
    assert took < 10
    assert stored.pop("total") == "3"
    assert set(stored) == {"/a", "/ws", "/b"}
    assert all("timed out" in (error or "") for error in stored.values()), stored
    assert "timed out waiting for the WebSocket handshake" in (stored["/ws"] or "")


def test_a_websocket_that_never_sends_a_frame_and_a_stalled_event_stream_time_out(
    tmp_path: Path,
) -> None:
    exchanges = [_get(1, "/a"), _websocket(2), _events(3), _get(4, "/b")]
    url, stored, took = _replay("app", exchanges, tmp_path, "--timeout", "0.5")
    assert took < 10
    assert stored.pop("total") == "4"  # /a and /b matched, the others errors
    assert stored == {
        "/ws": f"target {url}: timed out waiting for a WebSocket frame",
        "/events": f"target {url}: timed out",
    }


def test_an_answer_in_a_charset_that_is_not_text_never_aborts_the_run(tmp_path: Path) -> None:
    exchange = _get(2, "/hex", b"cafe")  # the target answers caf\xe9: not equal bytes
    assert exchange.response is not None
    exchange.response.headers = [(b"Content-Type", b"text/plain; charset=hex")]
    _, stored, _ = _replay("app", [_get(1, "/a"), exchange, _get(3, "/b")], tmp_path)
    assert stored.pop("total") == "3"
    assert list(stored) == ["/hex"]  # an error verdict or a difference, and only there


# -- the differ raising on one exchange (a fake differ: pure logic, in process) ---------


def _raising_on(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    compare = Differ.compare

    def hostile(self: Differ, request: HttpRequest, *args: Any, **kwargs: Any) -> Verdict:
        if request.path == path:
            raise ValueError("no codec for this body")
        return compare(self, request, *args, **kwargs)

    monkeypatch.setattr(Differ, "compare", hostile)


async def _replay_three(debug: bool, monkeypatch: pytest.MonkeyPatch) -> list[ExchangeResult]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    runner, base = await serve(app)
    if debug:
        monkeypatch.setenv("PARITY_DEBUG", "1")
    else:
        monkeypatch.delenv("PARITY_DEBUG", raising=False)
    try:
        return await replay_sequence(
            [_get(1, "/a"), _get(2, "/b"), _get(3, "/c")],
            session="s",
            upstream="http://127.0.0.1:5000",
            settings=ReplaySettings(Target(base), timeout=5),
            differ=Differ(Rules()),
        )
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("debug", [False, True])
def test_the_differ_raising_on_one_exchange_is_that_exchanges_error_verdict(
    debug: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raising_on("/b", monkeypatch)
    results = asyncio.run(_replay_three(debug, monkeypatch))
    assert [r.url for r in results] == ["/a", "/b", "/c"]
    assert [r.verdict.outcome for r in results] == [
        Outcome.MATCHED,
        Outcome.ERROR,
        Outcome.MATCHED,
    ]
    failed = results[1]
    assert (
        failed.verdict.error == "internal error in the differ: ValueError: no codec for this body"
    )
    assert failed.actual is not None and failed.actual.status == 200  # the answer is kept
    stderr = capsys.readouterr().err
    assert ("Traceback" in stderr and "no codec for this body" in stderr) is debug


def test_correlation_or_the_result_raising_names_its_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each stage of judging an exchange names itself in the error verdict: correlation
    (learning the answer's values), the replayer (building the result of a mismatch);
    the exchange before them matches."""
    import dataclasses

    import parity.replayer.engine as engine
    from parity.replayer.correlate import ValueMap

    learn, compare = ValueMap.learn, Differ.compare

    def hostile_learn(self: ValueMap, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("path") == "/b":
            raise KeyError("minted")
        learn(self, *args, **kwargs)

    def mismatched(self: Differ, request: HttpRequest, *args: Any, **kwargs: Any) -> Verdict:
        verdict = compare(self, request, *args, **kwargs)
        if request.path == "/c":
            return dataclasses.replace(verdict, outcome=Outcome.MISMATCHED)
        return verdict

    def hostile_sent_record(*args: Any) -> None:
        raise RuntimeError("what was sent")

    monkeypatch.setattr(ValueMap, "learn", hostile_learn)
    monkeypatch.setattr(Differ, "compare", mismatched)
    monkeypatch.setattr(engine, "sent_record", hostile_sent_record)
    results = asyncio.run(_replay_three(False, monkeypatch))
    by_url = {r.url: r for r in results}
    assert by_url["/a"].verdict.outcome is Outcome.MATCHED
    assert by_url["/b"].verdict.error == "internal error in correlation: KeyError: 'minted'"
    assert (
        by_url["/c"].verdict.error == "internal error in the replayer: RuntimeError: what was sent"
    )


def test_a_failure_outside_any_exchange_stops_that_session_not_the_run(tmp_path: Path) -> None:
    """The reset hook deletes one session file after the run has read it: that session
    stops (one line, the gate fails the run), every other exchange is stored, exit 1."""
    import sys

    root = tmp_path / "s"
    _session(root, [_get(1, "/a"), _get(2, "/b")])
    _session(root, [_get(1, "/c"), _get(2, "/d")])
    doomed = sorted(root.glob("*.parity"))[1]
    reset = f'"{sys.executable}" -c "import pathlib; pathlib.Path(r\'{doomed}\').unlink(missing_ok=True)"'
    db = tmp_path / "parity.db"
    with Proc(python("tests/hostile_backend.py", "app")) as server:
        url = server.wait_for(r"HOSTILE_LISTENING (\S+)").group(1)
        done = subprocess.run(
            parity("replay", str(root), "--target", url, "--db", str(db), "--reset", reset),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1, done.stderr
    assert f"session file {doomed.name} stopped part-way" in done.stderr
    assert "Traceback" not in done.stderr
    stored = _stored(db)
    assert stored.pop("total") == "2" and stored == {}  # /a and /b of the other file, matched
    gate = subprocess.run(
        parity("gate", "--db", str(db), "--out", str(tmp_path / "gate.json")),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert gate.returncode == 1, gate.stdout + gate.stderr
    reasons = json.loads((tmp_path / "gate.json").read_text())["reasons"]
    assert any(f"1 session stopped part-way ({doomed.name})" in r for r in reasons), reasons
