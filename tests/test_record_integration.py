"""`parity record` and the standalone addon as real processes on loopback ports."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from parity.sessions import SessionStore, read_session
from tests.procs import BIN, ROOT, Proc, parity, python

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def upstream():
    with Proc(python("tests/upstream.py")) as proc:
        yield proc.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)


def start_recorder(
    upstream: str, sessions: Path, *extra: str, cwd: Path | None = None
) -> tuple[Proc, str]:
    proc = Proc(
        parity(
            "record",
            "--upstream",
            upstream,
            "--listen",
            "127.0.0.1:0",
            "--sessions",
            str(sessions),
            *extra,
        ),
        cwd=cwd,
    )
    url = proc.wait_for(r"listening on (http://\S+)").group(1)
    proc.wait_for(r"recording to ")
    return proc, url


async def client_view(base: str) -> list[dict[str, Any]]:
    """Make a varied set of requests; return what the client saw, raw."""
    seen: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(auto_decompress=False) as http:

        async def call(method: str, path: str, **kw: Any) -> None:
            async with http.request(method, base + path, **kw) as resp:
                seen.append(
                    {
                        "path": path,
                        "status": resp.status,
                        "headers": list(resp.raw_headers),
                        "body": await resp.read(),
                    }
                )

        await call("GET", "/json?size=2048")
        await call("GET", "/json?size=1048576")
        await call("GET", "/gzip")
        await call("GET", "/dup")
        await call("POST", "/echo", data=os.urandom(3 * 1024 * 1024))
        await call("GET", "/sse")
        async with http.ws_connect(base + "/ws") as ws:
            await ws.send_str("hello")
            assert (await ws.receive()).data == "echo:hello"
            await ws.send_bytes(b"\x01\x02\x03")
            assert (await ws.receive()).data == b"\x03\x02\x01"
            await ws.send_str("END")
            await ws.receive()
    return seen


def test_record_is_byte_identical_and_sigterm_leaves_a_trailer(
    upstream: str, tmp_path: Path
) -> None:
    proc, url = start_recorder(upstream, tmp_path, "--label", "integration")
    with proc:
        seen = asyncio.run(client_view(url))
        assert proc.terminate() == 0
        assert "7 exchanges (0 errors)" in proc.output()

    header, exchanges, result = read_session(SessionStore(tmp_path).paths()[0])
    assert header.label == "integration" and header.upstream == upstream
    assert result.trailer is not None and result.trailer.exchanges == 7
    http_exchanges = [e for e in exchanges if e.request.path != "/ws"]
    assert [e.request.path for e in http_exchanges] == [s["path"] for s in seen]
    for exchange, client in zip(http_exchanges, seen, strict=True):
        assert exchange.response is not None
        assert exchange.response.status == client["status"]
        assert exchange.response.headers == client["headers"], client["path"]
        assert exchange.response.body == client["body"], client["path"]
    assert exchanges[4].request.body and len(exchanges[4].request.body) == 3 * 1024 * 1024

    sse = http_exchanges[5]
    assert [m.content for m in sse.messages][-1] == b"event: done\ndata: end\n\n"
    assert len(sse.messages) == 4
    (ws,) = [e for e in exchanges if e.request.path == "/ws"]
    assert [(m.kind, m.from_client, m.content) for m in ws.messages] == [
        ("text", True, b"hello"),
        ("text", False, b"echo:hello"),
        ("binary", True, b"\x01\x02\x03"),
        ("binary", False, b"\x03\x02\x01"),
        ("text", True, b"END"),
    ]


async def _hammer(base: str, stop_after: float, completed: list[bytes]) -> None:
    """Sequential requests until cancelled or `stop_after` seconds; bounded either way."""
    deadline = time.monotonic() + stop_after
    async with aiohttp.ClientSession() as http:
        for n in range(5000):
            if time.monotonic() > deadline:
                return
            try:
                async with http.get(f"{base}/json?size=4096&n={n}") as resp:
                    await resp.read()
            except aiohttp.ClientError:
                return
            completed.append(f"/json?size=4096&n={n}".encode())


def kill_9_mid_traffic(proc: Proc, url: str) -> list[bytes]:
    """Send requests through the recorder `proc` at `url` and `kill -9` it after 150
    answers, mid-traffic; the paths of the requests that were answered."""
    completed: list[bytes] = []

    async def scenario() -> None:
        task = asyncio.create_task(_hammer(url, 20, completed))
        while len(completed) < 150 and not task.done():
            await asyncio.sleep(0.01)
        os.kill(proc.popen.pid, signal.SIGKILL)
        await asyncio.wait_for(task, 20)

    with proc:
        asyncio.run(scenario())
        proc.popen.wait(10)
    return completed


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_mid_traffic_keeps_every_completed_exchange(upstream: str, tmp_path: Path) -> None:
    proc, url = start_recorder(upstream, tmp_path)
    completed = kill_9_mid_traffic(proc, url)

    _header, exchanges, result = read_session(SessionStore(tmp_path).paths()[0])
    assert result.trailer is None
    recorded = [e.request.path.encode() for e in exchanges]
    # Recorded before it was delivered: every answer the client got is on disk.
    assert recorded[: len(completed)] == completed
    assert len(recorded) >= len(completed) >= 150
    assert all(e.response is not None and e.response.status == 200 for e in exchanges)


def test_a_dead_upstream_is_recorded_as_an_error(tmp_path: Path) -> None:
    proc, url = start_recorder("http://127.0.0.1:9", tmp_path)  # discard port: nothing listens

    async def call() -> int:
        async with aiohttp.ClientSession() as http, http.get(url + "/api/health") as resp:
            return resp.status

    with proc:
        assert asyncio.run(call()) == 502
        assert proc.terminate() == 0
    (exchange,) = read_session(SessionStore(tmp_path).paths()[0])[1]
    assert exchange.error is not None
    assert exchange.request.path == "/api/health"


def test_a_client_that_gives_up_is_recorded_as_an_error(upstream: str, tmp_path: Path) -> None:
    proc, url = start_recorder(upstream, tmp_path)

    async def impatient() -> None:
        timeout = aiohttp.ClientTimeout(total=0.2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            with pytest.raises(asyncio.TimeoutError):
                async with http.get(url + "/slow?ms=1500") as resp:
                    await resp.read()
        await asyncio.sleep(2)  # the upstream answers after the client left

    with proc:
        asyncio.run(impatient())
        assert proc.terminate() == 0
    (exchange,) = read_session(SessionStore(tmp_path).paths()[0])[1]
    assert exchange.request.path == "/slow?ms=1500"
    assert exchange.error is not None and "disconnect" in exchange.error.message.lower()


def _mitmdump(upstream: str, sessions: Path, *options: str) -> list[str]:
    cmd = [str(BIN / "mitmdump"), "--mode", f"reverse:{upstream}", "--listen-host"]
    cmd += ["127.0.0.1", "--listen-port", "0", "-s", str(ROOT / "recorder" / "addon.py")]
    cmd += ["--set", f"parity_sessions={sessions}", "--set", f"parity_state={sessions.parent}"]
    for option in options:
        cmd += ["--set", option]
    return cmd


def _get_through(cmd: list[str], path: str) -> None:
    """Start mitmdump with the addon, GET `path` through it, stop it cleanly."""
    with Proc(cmd) as proc:
        port = proc.wait_for(r"listening at \S+:(\d+)").group(1)
        proc.wait_for(r"parity: recording to")

        async def call() -> bytes:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}{path}") as resp,
            ):
                return await resp.read()

        assert asyncio.run(call()) == b"ok"
        assert proc.terminate() == 0


def test_mitmdump_with_the_addon_script_records_alone(upstream: str, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    _get_through(_mitmdump(upstream, sessions, "parity_label=standalone"), "/dup")
    header, exchanges, result = read_session(SessionStore(sessions).paths()[0])
    assert header.label == "standalone"
    assert [e.request.path for e in exchanges] == ["/dup"]
    assert result.trailer is not None


def test_mitmdump_with_the_addon_script_encrypts_with_a_key_file(
    upstream: str, tmp_path: Path
) -> None:
    """`--set parity_encrypt=true` under plain mitmdump: the file holds no plaintext and
    reads back with the key; without a key the proxy stops with one line, exit 2."""
    from parity.sessions import KeySource, SessionKeyError

    key = tmp_path / "pilot.key"
    key.write_bytes(os.urandom(32))
    sessions = tmp_path / "sessions"
    options = ("parity_encrypt=true", f"parity_key_file={key}")
    _get_through(_mitmdump(upstream, sessions, *options), "/dup?note=CANARY-plain")
    (path,) = SessionStore(sessions).paths()
    raw = path.read_bytes()
    assert b"CANARY" not in raw and b"/dup" not in raw and b"mitmproxy" not in raw
    with pytest.raises(SessionKeyError):
        read_session(path)
    _, exchanges, result = read_session(path, KeySource(key_file=key))
    assert [e.request.path for e in exchanges] == ["/dup?note=CANARY-plain"]
    assert result.trailer is not None

    env = {"PARITY_PASSPHRASE": "", "PARITY_KEY_FILE": ""}
    with Proc(_mitmdump(upstream, tmp_path / "other", "parity_encrypt=true"), env=env) as proc:
        assert proc.popen.wait(timeout=30) == 2
        said = [line for line in proc.output().splitlines() if line.startswith("parity")]
    assert said == [
        "parity record: parity_encrypt needs a key: set PARITY_PASSPHRASE or "
        "PARITY_KEY_FILE, or --set parity_key_file=PATH; stopping so that no traffic "
        "passes unrecorded"
    ], proc.lines
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").iterdir())


def test_regular_proxy_mode_records_an_app_using_http_proxy(upstream: str, tmp_path: Path) -> None:
    proc = Proc(
        parity(
            "record", "--mode", "regular", "--listen", "127.0.0.1:0", "--sessions", str(tmp_path)
        )
    )
    proxy = proc.wait_for(r"listening on (http://\S+)").group(1)

    async def call() -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.get(upstream + "/dup", proxy=proxy) as resp,
        ):
            return resp.status

    with proc:
        assert asyncio.run(call()) == 200
        assert proc.terminate() == 0
    (exchange,) = read_session(SessionStore(tmp_path).paths()[0])[1]
    assert exchange.request.url == upstream + "/dup"


def test_port_in_use_is_one_line_and_exit_2(upstream: str, tmp_path: Path) -> None:
    port = upstream.rsplit(":", 1)[1]
    with Proc(
        parity(
            "record",
            "--upstream",
            upstream,
            "--listen",
            f"127.0.0.1:{port}",
            "--sessions",
            str(tmp_path),
        )
    ) as proc:
        assert proc.popen.wait(20) == 2
        out = proc.output().strip().splitlines()
    assert (
        len(out) == 1
        and out[0].startswith("parity: error: cannot record:")
        and "address already in use" in out[0]
    )
    assert SessionStore(tmp_path).paths() == []
