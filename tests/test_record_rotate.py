"""Recording a long soak: `parity record --rotate` writes one session in parts that
every reader takes as one, and server-sent event streams are written as they arrive
(real `parity record` processes, real backends on loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest

from parity.sessions import KeySource, SessionReader, group_sessions, open_session
from tests.procs import Proc, parity, python
from tests.test_record_integration import start_recorder

pytestmark = pytest.mark.timeout(120)

HAS_PROC = Path("/proc/self/status").exists()


@pytest.fixture
def upstream() -> Iterator[str]:
    with Proc(python("tests/upstream.py")) as proc:
        yield proc.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)


@pytest.fixture
def sse_upstream() -> Iterator[str]:
    with Proc(python("tests/sse_upstream.py")) as proc:
        yield proc.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)


def recorder(upstream: str, sessions: Path, *extra: str) -> tuple[Proc, str]:
    """`parity record` in its own project directory (the key and the secret store)."""
    project = sessions.parent
    project.mkdir(parents=True, exist_ok=True)
    return start_recorder(upstream, sessions, *extra, cwd=project)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(parity(*args), cwd=cwd, capture_output=True, text=True, timeout=60)


async def _get_all(bases: list[str], paths: list[str], concurrency: int = 1) -> None:
    """Each path through every recorder in `bases`, `concurrency` at a time."""
    async with aiohttp.ClientSession() as http:
        queue = list(reversed(paths))

        async def worker() -> None:
            while queue:
                path = queue.pop()
                for base in bases:
                    async with http.get(base + path) as resp:
                        assert resp.status == 200
                        await resp.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def _raw(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as file:
        return list(msgpack.Unpacker(file, raw=False))


def test_rotation_by_size_writes_every_exchange_once_in_parts_read_as_one_session(
    upstream: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "project" / "sessions"
    proc, url = recorder(upstream, sessions, "--rotate", "200KB")
    paths = [f"/json?size=4096&n={n}" for n in range(300)]
    with proc:
        asyncio.run(_get_all([url], paths, concurrency=4))
        assert proc.terminate() == 0
        out = proc.output()
    assert "300 exchanges (0 errors)" in out and "continuing in" in out

    files = sorted(sessions.iterdir())
    assert len(files) >= 4  # ~1.5 MB in parts of 200 KB
    session_id = files[0].name.split(".")[0]
    assert [f.name for f in files] == [
        f"{session_id}.part{n:04d}.parity" for n in range(1, len(files) + 1)
    ]
    for number, file in enumerate(files, 1):
        records = _raw(file)
        assert records[0]["id"] == session_id and records[0]["part"] == number
        trailer = records[-1]
        assert trailer["kind"] == "trailer"
        assert trailer.get("continued", False) is (number < len(files))
        assert file.stat().st_size < 200_000 + 20_000  # the record that crossed the size

    # Every exchange exactly once across the parts, and the parts read as one session.
    (parts,) = group_sessions([sessions])
    with open_session(parts) as reader:
        exchanges = list(reader)
        assert reader.result.missing_parts == [] and reader.result.trailer is not None
    assert sorted(e.seq for e in exchanges) == list(range(1, 301))
    assert sorted(e.request.path for e in exchanges) == sorted(paths)

    listed = json.loads(
        cli("sessions", "list", "--sessions", str(sessions), "--json", cwd=tmp_path).stdout
    )
    assert len(listed) == 1
    assert listed[0]["exchanges"] == 300 and listed[0]["parts"] == [str(f) for f in files]
    table = cli("sessions", "list", "--sessions", str(sessions), cwd=tmp_path).stdout
    assert f"({len(files)} parts)" in table.replace("\n", "")
    shown = cli("sessions", "show", session_id, "--sessions", str(sessions), "--json", cwd=tmp_path)
    assert json.loads(shown.stdout)["exchanges_total"] == 300

    # The parts given one by one, out of order: still one session, in order.
    given = [str(f) for f in reversed(files)]
    db = tmp_path / "given.db"
    replay = cli("replay", *given, "--target", upstream, "--db", str(db), cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert "1 session, 300 exchanges" in replay.stderr and "warning" not in replay.stderr
    with sqlite3.connect(db) as conn:
        (sessions_in_run,) = conn.execute("SELECT count(DISTINCT session) FROM results").fetchone()
    assert sessions_in_run == 1

    # The soak report reads the parts as one session too.
    soak = cli("soak", str(sessions), "--json", cwd=tmp_path)
    assert soak.returncode in (0, 1), soak.stderr
    (read,) = json.loads(soak.stdout)["sessions"]
    assert read["exchanges"] == 300 and read["parts"] == len(files)

    # A missing middle part: one warning, the rest replayed, the gate fails the run.
    files[1].unlink()
    db = tmp_path / "results.db"
    replay = cli("replay", str(sessions), "--target", upstream, "--db", str(db), cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    warnings = [line for line in replay.stderr.splitlines() if "part 2 missing" in line]
    assert len(warnings) == 1 and "incomplete" in warnings[0]
    gate = cli("gate", "--db", str(db), cwd=tmp_path)
    assert gate.returncode == 1 and "torn or partly corrupt" in gate.stdout + gate.stderr


def _results(db: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT seq, route, outcome FROM results ORDER BY seq").fetchall()
    return [(int(seq), str(route), str(outcome)) for seq, route, outcome in rows]


def test_rotation_by_age_replays_as_the_same_traffic_unrotated(
    upstream: str, tmp_path: Path
) -> None:
    rotated, plain = tmp_path / "a" / "sessions", tmp_path / "b" / "sessions"
    first, url_a = recorder(upstream, rotated, "--rotate", "2s")
    second, url_b = recorder(upstream, plain)
    with first, second:

        async def traffic() -> None:
            for n in range(5):
                await _get_all([url_a, url_b], [f"/json?size=2048&n={n}&k={i}" for i in range(20)])
                await asyncio.sleep(0.6)
            deadline = time.monotonic() + 10  # idle: the part still closes on time
            while len(list(rotated.iterdir())) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await _get_all([url_a, url_b], ["/dup"])

        asyncio.run(traffic())
        assert first.terminate() == 0 and second.terminate() == 0
    files = sorted(rotated.iterdir())
    assert len(files) >= 3 and len(list(plain.iterdir())) == 1
    assert all(_raw(f)[-1]["exchanges"] > 0 for f in files)  # never an empty part

    runs = []
    for where in (rotated, plain):
        db = where.parent / "results.db"
        replay = cli("replay", str(where), "--target", upstream, "--db", str(db), cwd=tmp_path)
        assert replay.returncode == 0, replay.stderr
        assert "101 exchanges: 101 matched" in replay.stderr
        runs.append(_results(db))
    assert runs[0] == runs[1] and len(runs[0]) == 101


def test_rotation_with_encryption_seals_each_part_under_its_own_envelope(
    upstream: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "session.key"
    key_file.parent.mkdir()
    key_file.write_bytes(os.urandom(32))
    sessions = tmp_path / "project" / "sessions"
    proc, url = recorder(
        upstream, sessions, "--rotate", "100KB", "--encrypt", "--key-file", str(key_file)
    )
    with proc:
        asyncio.run(_get_all([url], [f"/json?size=4096&n={n}" for n in range(60)]))
        assert proc.terminate() == 0
    files = sorted(sessions.iterdir())
    assert len(files) >= 2
    envelopes = [_raw_envelope(f) for f in files]
    assert all(e["format"] == "parity-session-encrypted" for e in envelopes)
    assert len({e["kdf"]["salt"] for e in envelopes}) == len(files)
    (parts,) = group_sessions([sessions])
    with open_session(parts, KeySource(key_file=key_file)) as reader:
        assert reader.encrypted
        assert [e.seq for e in reader] == list(range(1, 61))
        assert reader.result.trailer is not None and not reader.result.trailer.continued


def _raw_envelope(path: Path) -> dict[str, Any]:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(path.read_bytes()[:4096])
    envelope: dict[str, Any] = unpacker.unpack()
    return envelope


@pytest.mark.parametrize("value", ["0", "5x", "10KB"])
def test_a_bad_rotate_value_is_one_line_and_exit_2(value: str, tmp_path: Path) -> None:
    done = cli("record", "--upstream", "http://127.0.0.1:9", "--rotate", value, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("parity: error: --rotate:")


def test_a_bad_rotate_in_parity_toml_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "parity.toml").write_text('[record]\nrotate = "5x"\n')
    done = cli("record", "--upstream", "http://127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "[record] rotate must be an age or a size" in done.stderr


def _rss(pid: int) -> int:
    """Resident memory of a process, in bytes (/proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def _read_events(url: str, events: int, at: dict[int, Any], hook: Any = None) -> bytes:
    """Read `events` events of a held-open stream; `hook(count)` when counts are crossed."""
    seen = bytearray()
    count = 0
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        async for chunk in resp.content.iter_any():
            seen += chunk
            count = seen.count(b"\n\n")
            for mark in [m for m in at if at[m] is None and count >= m]:
                at[mark] = hook(count) if hook else count
            if count >= events:
                break
    return bytes(seen)


@pytest.mark.skipif(not HAS_PROC, reason="measures RSS through /proc")
def test_an_sse_stream_of_100000_events_is_recorded_in_flat_memory_and_read_back_whole(
    sse_upstream: str, tmp_path: Path
) -> None:
    from tests.sse_upstream import SECRET, event

    sessions = tmp_path / "project" / "sessions"
    proc, url = recorder(sse_upstream, sessions)
    total = 100_000
    with proc:
        pid = proc.popen.pid
        marks: dict[int, Any] = {10_000: None, 50_000: None, total: None}
        seen = asyncio.run(
            _read_events(
                f"{url}/stream?n={total}&batch=200&hold=1", total, marks, lambda _: _rss(pid)
            )
        )
        assert proc.terminate() == 0
    growth = marks[total] - marks[10_000]
    # Held in memory until the end (the tap before chunks), the 90,000 events after the
    # first 10,000 cost 11-12 MB of RSS here; written in chunks, under 0.5 MB.
    assert growth < 4 * 1024 * 1024, f"recorder RSS grew {growth / 2**20:.1f} MB"

    expected = b"".join(event(k) for k in range(total))
    assert seen == expected  # the client got the stream unchanged
    (parts,) = group_sessions([sessions])
    with open_session(parts) as reader:
        (exchange,) = list(reader)
        assert reader.result.malformed_records == 0
    assert len(exchange.messages) == total
    assert exchange.response is not None
    body = exchange.response.body
    assert body == b"".join(m.content for m in exchange.messages)
    assert SECRET.encode() not in body and body.count(b"PARITY_REDACTED_") == total // 1000
    assert body.replace(b"PARITY_REDACTED_", b"")[:20] == expected[:20]
    tokens = {m.content for m in exchange.messages if b"PARITY_REDACTED_" in m.content}
    assert len({t.split(b"PARITY_REDACTED_")[1][:20] for t in tokens}) == 1  # one token
    _assert_chunked(parts.path, total)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_mid_stream_keeps_the_events_already_written(
    sse_upstream: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "project" / "sessions"
    proc, url = recorder(sse_upstream, sessions, "--no-redact")
    with proc:

        async def scenario() -> None:
            at: dict[int, Any] = {}
            reading = asyncio.create_task(
                _read_events(f"{url}/stream?n=5000&batch=100&hold=1", 10**9, at)
            )
            await _kill_when_written(proc, sessions, 5000)
            with contextlib.suppress(aiohttp.ClientError):
                await asyncio.wait_for(reading, 20)

        asyncio.run(scenario())
        proc.popen.wait(10)
    (path,) = sessions.iterdir()
    with SessionReader(path) as reader:
        (exchange,) = list(reader)
        assert reader.result.trailer is None
    assert len(exchange.messages) == 5000
    assert exchange.error is not None and "before the stream ended" in exchange.error.message
    assert exchange.request.path.startswith("/stream") and exchange.response is not None
    assert exchange.response.body == b"".join(m.content for m in exchange.messages)


def _assert_chunked(path: Path, events: int) -> None:
    """Written in chunks: the events records, then the exchange that ends it."""
    kinds = [r.get("kind") for r in _raw(path)[1:]]
    assert kinds.count("events") >= events // 256 and kinds[-2:] == ["exchange", "trailer"]


async def _kill_when_written(proc: Proc, sessions: Path, count: int) -> None:
    """`kill -9` the recorder once `count` events are in its chunks (the last chunk is
    written a second after it began), or after 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        path = next(iter(sessions.iterdir()), None)
        if path is not None and _events_on_disk(path) == count:
            break
    os.kill(proc.popen.pid, signal.SIGKILL)


def _events_on_disk(path: Path) -> int:
    try:
        records = _raw(path)
    except Exception:
        return 0  # a record being written: look again
    return sum(len(r["messages"]) for r in records if r.get("kind") == "events")


def _report(db: Path, project: Path) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    shown = cli("report", "--db", str(db), "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    report["totals"].pop("noise_suppressed", None)  # may vary by an observation per run
    mismatches = sorted(
        (m["seq"], m["route"], m["signature"], json.dumps(m["differences"], sort_keys=True))
        for m in report["mismatches"]
    )
    return report["totals"], mismatches


def test_a_rotated_pilot_replays_with_the_verdicts_of_the_same_pilot_in_one_file(
    tmp_path: Path,
) -> None:
    """The journal pilot (logins, minted ids and tokens used parts later: one correlation
    state across the parts) recorded in parts of 64 KiB, and the same exchanges in one
    file: the same verdicts, finding for finding."""
    from contextlib import ExitStack

    from parity.sessions import SessionWriter
    from tests.journal import record_pilot, start_backend

    project = tmp_path / "project"
    project.mkdir()
    rotated = record_pilot(project / "rotated", project, "--rotate", "64KiB")
    (parts,) = group_sessions([rotated])
    assert len(parts.paths) >= 3, parts
    (project / "one").mkdir()
    with open_session(parts) as reader:
        header = reader.header
        header.part = None
        with SessionWriter(project / "one" / f"{header.id}.parity", header) as one:
            for exchange in reader:
                one.append(exchange)
    rules = project / "rules.toml"  # a timing that differs between any two runs
    rules.write_text('[[ignore]]\nroute = "GET /api/vaults/*/search"\npaths = ["$.took_ms"]\n')
    results = []
    for sessions in (rotated, project / "one"):
        with ExitStack() as stack:  # fresh backends for each run: the same start state
            candidate = start_backend(stack, "candidate")
            db = sessions.parent / f"{sessions.name}.db"
            run = cli(
                "replay", str(sessions), "--target", candidate, "--db", str(db), "--quiet",
                "--rules", str(rules), cwd=project,
            )  # fmt: skip
            assert run.returncode == 1, run.stderr
            assert "warning" not in run.stderr, run.stderr
            results.append(_report(db, project))
    assert results[0] == results[1]
    assert results[0][0]["mismatched"] > 0

    # repro finds a mismatch of the last part and the exchanges before it in all parts.
    with sqlite3.connect(rotated.parent / "rotated.db") as conn:
        mismatch, seq = conn.execute(
            "SELECT id, seq FROM mismatches ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    with open_session(parts) as reader:
        order = [e.seq for e in reader]
    repro = cli("repro", mismatch, "--db", str(rotated.parent / "rotated.db"),
                "--sessions", str(rotated), cwd=project)  # fmt: skip
    assert repro.returncode == 0, repro.stderr
    assert f"seq {seq}" in repro.stdout
    assert f"minted by the {order.index(seq)} earlier requests" in repro.stdout


def test_the_addon_alone_under_mitmdump_rotates_with_parity_rotate(
    upstream: str, tmp_path: Path
) -> None:
    from tests.procs import BIN, ROOT

    cmd = [
        str(BIN / "mitmdump"),
        "--mode", f"reverse:{upstream}",
        "--listen-host", "127.0.0.1",
        "--listen-port", "0",
        "-s", str(ROOT / "recorder" / "addon.py"),
        "--set", f"parity_sessions={tmp_path / 's'}",
        "--set", f"parity_state={tmp_path / '.parity'}",
        "--set", "parity_rotate=64KiB",
    ]  # fmt: skip
    with Proc(cmd) as proc:
        port = proc.wait_for(r"listening at \S+:(\d+)").group(1)
        proc.wait_for(r"parity: recording to")
        paths = [f"/json?size=8192&n={n}" for n in range(40)]
        asyncio.run(_get_all([f"http://127.0.0.1:{port}"], paths))
        assert proc.terminate() == 0
    (parts,) = group_sessions([tmp_path / "s"])
    assert len(parts.paths) >= 3
    with open_session(parts) as reader:
        assert [e.request.path for e in reader] == paths

    bad = [*cmd[:-1], "parity_rotate=5x"]
    with Proc(bad) as proc:
        assert proc.popen.wait(20) != 0
        assert "parity_rotate: '5x' is not an age or a size" in proc.output()


async def _talk(url: str, rounds: int, batch: int, at: dict[int, Any], hook: Any = None) -> int:
    """`rounds` x `batch` text messages over one WebSocket, every echo read before the
    next batch; `hook(messages)` when the counts in `at` are crossed. Messages seen."""
    seen = 0
    timeout = aiohttp.ClientTimeout(total=90)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.ws_connect(url) as ws:
        for r in range(rounds):
            for k in range(batch):
                await ws.send_str(f"m{r * batch + k}")
            for k in range(batch):
                reply = await ws.receive_str()
                assert reply == f"echo:m{r * batch + k}"
            seen += 2 * batch
            for mark in [m for m in at if at[m] is None and seen >= m]:
                at[mark] = hook(seen) if hook else seen
        await ws.send_bytes(b"\x00\x01tail")
        assert await ws.receive_bytes() == b"liat\x01\x00"
        await ws.send_str("END")
        await ws.receive()
    return seen + 2


@pytest.mark.skipif(not HAS_PROC, reason="measures RSS through /proc")
def test_a_websocket_of_60000_messages_is_recorded_in_flat_memory_and_read_back_whole(
    upstream: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "project" / "sessions"
    proc, url = recorder(upstream, sessions)
    rounds, batch = 150, 200
    with proc:
        pid = proc.popen.pid
        marks: dict[int, Any] = {10_000: None, 2 * rounds * batch: None}
        ws_url = url.replace("http", "ws") + "/ws"
        seen = asyncio.run(_talk(ws_url, rounds, batch, marks, lambda _: _rss(pid)))
        rss = {m: _rss(pid) if v is None else v for m, v in marks.items()}
        assert proc.terminate() == 0
    growth = rss[2 * rounds * batch] - rss[10_000]
    # Held by mitmproxy until the socket closes, the 50,000 messages after the first
    # 10,000 cost ~13 MB of RSS here; written in chunks and dropped from the flow, < 1 MB.
    assert growth < 4 * 1024 * 1024, f"recorder RSS grew {growth / 2**20:.1f} MB"

    (parts,) = group_sessions([sessions])
    with open_session(parts) as reader:
        (exchange,) = list(reader)
        assert reader.result.malformed_records == 0
    assert len(exchange.messages) == seen + 1  # and the END that closes it
    # In the order they crossed the proxy: each side's messages in the order sent.
    sent = [(m.kind, m.content) for m in exchange.messages if m.from_client]
    echoed = [(m.kind, m.content) for m in exchange.messages if not m.from_client]
    numbers = range(rounds * batch)
    assert sent == [
        *(("text", f"m{n}".encode()) for n in numbers),
        ("binary", b"\x00\x01tail"),
        ("text", b"END"),
    ]
    assert echoed == [
        *(("text", f"echo:m{n}".encode()) for n in numbers),
        ("binary", b"liat\x01\x00"),
    ]
    assert exchange.response is not None and exchange.response.status == 101
    assert exchange.response.body == b"" and exchange.websocket_close is not None
    stamps = [m.timestamp for m in exchange.messages]
    assert stamps == sorted(stamps)
    _assert_chunked(parts.path, seen)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_mid_websocket_keeps_the_messages_already_written(
    upstream: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "project" / "sessions"
    proc, url = recorder(upstream, sessions, "--no-redact")
    with proc:

        async def scenario() -> None:
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                ws = await http.ws_connect(url.replace("http", "ws") + "/ws")
                for n in range(600):
                    await ws.send_str(f"m{n}")
                    assert await ws.receive_str() == f"echo:m{n}"
                await _kill_when_written(proc, sessions, 1200)
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    await ws.close()

        asyncio.run(scenario())
        proc.popen.wait(10)
    (path,) = sessions.iterdir()
    with SessionReader(path) as reader:
        (exchange,) = list(reader)
        assert reader.result.trailer is None
    assert len(exchange.messages) == 1200
    assert [m.content for m in exchange.messages[:4]] == [b"m0", b"echo:m0", b"m1", b"echo:m1"]
    assert exchange.error is not None and "before the stream ended" in exchange.error.message
    assert exchange.response is not None and exchange.response.status == 101
    assert exchange.response.body == b""


def test_a_websocket_open_across_rotations_reads_back_as_one_exchange(
    upstream: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "project" / "sessions"
    proc, url = recorder(upstream, sessions, "--rotate", "64KiB")
    with proc:
        seen = asyncio.run(_talk(url.replace("http", "ws") + "/ws", 30, 100, {}))
        assert proc.terminate() == 0
    (parts,) = group_sessions([sessions])
    assert len(parts.paths) >= 2  # chunks went to more than one part
    with open_session(parts) as reader:
        (exchange,) = list(reader)
        assert reader.result.malformed_records == 0 and reader.result.missing_parts == []
    assert len(exchange.messages) == seen + 1
    sent = [m.content for m in exchange.messages if m.from_client and m.kind == "text"]
    assert sent == [f"m{n}".encode() for n in range(3000)] + [b"END"]
    assert exchange.response is not None and exchange.response.body == b""
