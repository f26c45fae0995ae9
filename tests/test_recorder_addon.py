"""The recorder addon driven through mitmproxy's own test harness (taddons, tflow)."""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.flow import Error
from mitmproxy.test import taddons, tflow
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from parity.recorder import Recorder, StreamTap, upstream_of
from parity.sessions import SessionStore, read_session

ADDON_SCRIPT = Path(__file__).resolve().parent.parent / "recorder" / "addon.py"


def _only_session(root: Path) -> Path:
    paths = SessionStore(root).paths()
    assert len(paths) == 1
    return paths[0]


@pytest.fixture
def recorder(tmp_path: Path):
    rec = Recorder()
    with taddons.context(rec) as tctx:
        tctx.configure(
            rec,
            parity_sessions=str(tmp_path),
            parity_label="unit",
            parity_state=str(tmp_path / ".parity"),
            mode=["reverse:http://127.0.0.1:5000"],
        )
        rec.running()
        yield rec


def test_a_response_is_written_with_everything_on_the_wire(
    recorder: Recorder, tmp_path: Path
) -> None:
    flow = tflow.tflow(resp=True)
    flow.request.headers.add("X-Dup", "1")
    flow.request.headers.add("x-dup", "2")
    flow.response.headers["Content-Encoding"] = "gzip"
    flow.response.raw_content = b"\x1f\x8b not really gzip \xff"
    recorder.requestheaders(flow)
    asyncio.run(recorder.response(flow))
    asyncio.run(recorder.done())

    header, exchanges, result = read_session(_only_session(tmp_path))
    assert header.label == "unit" and header.upstream == "http://127.0.0.1:5000"
    assert result.trailer is not None and result.trailer.exchanges == 1
    (exchange,) = exchanges
    assert exchange.request.headers == list(flow.request.headers.fields)
    assert exchange.request.headers[-2:] == [(b"X-Dup", b"1"), (b"x-dup", b"2")]
    assert exchange.response is not None
    assert exchange.response.body == b"\x1f\x8b not really gzip \xff"  # raw, not decoded
    assert exchange.response.headers == list(flow.response.headers.fields)
    assert exchange.flow_id == flow.id and exchange.seq == 1


def test_an_error_is_recorded_as_such_and_only_once(recorder: Recorder, tmp_path: Path) -> None:
    down = tflow.tflow(err=True)
    recorder.requestheaders(down)
    asyncio.run(recorder.error(down))
    gone = tflow.tflow(resp=True)
    recorder.requestheaders(gone)
    asyncio.run(recorder.response(gone))
    gone.error = Error("client disconnected")
    asyncio.run(recorder.error(gone))  # after its response was recorded: not a second exchange
    asyncio.run(recorder.done())

    _, exchanges, result = read_session(_only_session(tmp_path))
    assert [e.seq for e in exchanges] == [1, 2]
    assert exchanges[0].response is None
    assert exchanges[0].error is not None and exchanges[0].error.message == down.error.msg
    assert result.trailer is not None and result.trailer.errors == 1


def test_a_websocket_is_written_when_it_ends_with_its_messages(
    recorder: Recorder, tmp_path: Path
) -> None:
    flow = tflow.twebsocketflow()
    flow.websocket.messages = [
        WebSocketMessage(Opcode.TEXT, True, b"hello", 1.0),
        WebSocketMessage(Opcode.BINARY, False, b"\x00\x01", 2.0),
    ]
    recorder.requestheaders(flow)
    asyncio.run(recorder.response(flow))
    assert not SessionStore(tmp_path).paths()[0].stat().st_size > 400  # header only so far
    asyncio.run(recorder.websocket_end(flow))
    asyncio.run(recorder.done())

    (exchange,) = read_session(_only_session(tmp_path))[1]
    assert [(m.kind, m.from_client, m.content) for m in exchange.messages] == [
        ("text", True, b"hello"),
        ("binary", False, b"\x00\x01"),
    ]
    assert exchange.websocket_close is not None
    assert exchange.response is not None and exchange.response.status == 101


def test_server_sent_events_are_streamed_and_captured(recorder: Recorder, tmp_path: Path) -> None:
    flow = tflow.tflow(resp=True)
    flow.response.headers["content-type"] = "text/event-stream"
    recorder.requestheaders(flow)
    recorder.responseheaders(flow)
    tap = flow.response.stream
    assert isinstance(tap, StreamTap)
    chunks = [b"data: one\n", b"\ndata: tw", b"o\r\n\r\nevent: done\ndata: x"]
    assert [tap(c) for c in chunks] == chunks  # passed through unchanged
    assert tap(b"") == b""
    flow.response.data.content = None  # what a streamed response looks like in the hook
    asyncio.run(recorder.response(flow))
    asyncio.run(recorder.done())

    (exchange,) = read_session(_only_session(tmp_path))[1]
    assert exchange.response is not None
    assert exchange.response.body == b"".join(chunks)
    assert [m.content for m in exchange.messages] == [
        b"data: one\n\n",
        b"data: two\r\n\r\n",
        b"event: done\ndata: x",
    ]


def test_large_streamed_bodies_are_kept(recorder: Recorder, tmp_path: Path) -> None:
    flow = tflow.tflow(resp=True)
    flow.request.stream = True
    flow.response.stream = True
    recorder.requestheaders(flow)
    recorder.responseheaders(flow)
    assert isinstance(flow.request.stream, StreamTap)
    assert isinstance(flow.response.stream, StreamTap)
    flow.request.stream(b"up" * 10)
    flow.response.stream(b"down" * 10)
    asyncio.run(recorder.response(flow))
    asyncio.run(recorder.done())
    (exchange,) = read_session(_only_session(tmp_path))[1]
    assert exchange.request.body == b"up" * 10
    assert exchange.response is not None and exchange.response.body == b"down" * 10


def test_flows_in_flight_at_shutdown_are_kept(recorder: Recorder, tmp_path: Path) -> None:
    hanging = tflow.tflow()
    recorder.requestheaders(hanging)
    asyncio.run(recorder.done())
    (exchange,) = read_session(_only_session(tmp_path))[1]
    assert exchange.response is None
    assert exchange.error is not None
    assert "recorder stopped" in exchange.error.message


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to fail writes")
def test_a_write_failure_stops_the_proxy_and_kills_the_flow(recorder: Recorder, capsys) -> None:
    assert recorder.writer is not None
    flow = tflow.tflow(resp=True)
    recorder.requestheaders(flow)
    real_fd = recorder.writer._fd
    recorder.writer._fd = os.open("/dev/full", os.O_WRONLY)  # every write now fails: ENOSPC
    try:
        with pytest.raises(SystemExit) as info:
            asyncio.run(recorder.response(flow))
    finally:
        os.close(recorder.writer._fd)
        recorder.writer._fd = real_fd
    assert info.value.code == 2
    assert (
        flow.error is not None and flow.error.msg == "Connection killed."
    )  # the client gets nothing
    assert "stopping so that no traffic passes unrecorded" in capsys.readouterr().err


def test_sessions_option_must_be_a_directory(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    rec = Recorder()
    with (
        taddons.context(rec) as tctx,
        pytest.raises(exceptions.OptionsError, match="not a directory"),
    ):
        tctx.configure(rec, parity_sessions=str(a_file))


def test_upstream_is_read_from_the_reverse_mode() -> None:
    assert upstream_of(["reverse:http://127.0.0.1:5000@8080"]) == "http://127.0.0.1:5000"
    assert upstream_of(["regular"]) is None


def test_the_addon_script_loads_in_mitmproxy(tmp_path: Path) -> None:
    """`mitmdump -s recorder/addon.py` must keep working: load it as mitmproxy does."""
    with taddons.context() as tctx:
        module = tctx.script(str(ADDON_SCRIPT))
        (recorder,) = module.addons
        assert type(recorder).__name__ == "Recorder"
        tctx.configure(recorder, parity_sessions=str(tmp_path))
        recorder.running()
        flow = tflow.tflow(resp=True)
        recorder.requestheaders(flow)
        asyncio.run(recorder.response(flow))
        asyncio.run(recorder.done())
    assert len(read_session(_only_session(tmp_path))[1]) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_session_file_is_owner_only(recorder: Recorder) -> None:
    assert recorder.writer is not None
    assert recorder.writer.path.stat().st_mode & 0o077 == 0


def test_large_records_go_through_the_writer_thread_in_completion_order(
    recorder: Recorder, tmp_path: Path
) -> None:
    big, small = tflow.tflow(resp=True), tflow.tflow(resp=True)
    big.response.raw_content = os.urandom(1 << 20)
    small.response.raw_content = b"{}"
    for flow in (big, small):
        recorder.requestheaders(flow)

    async def both() -> None:
        # The small one completes while the large one is still being written: it queues
        # behind it instead of overtaking it in the file.
        await asyncio.gather(recorder.response(big), recorder.response(small))
        await recorder.done()

    asyncio.run(both())
    exchanges = read_session(_only_session(tmp_path))[1]
    assert [e.seq for e in exchanges] == [1, 2]
    assert exchanges[0].response is not None
    assert exchanges[0].response.body == big.response.raw_content


def test_a_large_upload_is_recorded_redacted_by_default(recorder: Recorder, tmp_path: Path) -> None:
    entry = b'{"id":1,"title":"Winter station light","text":"Draft light path friend river."}'
    pad = b",".join([entry] * 30_000)
    body = b'{"entries":[' + pad + b'],"vault":{"key_id":7,"session":"CANARY-vault-0042"}}'
    flow = tflow.tflow(resp=True)
    flow.request.method = "POST"
    flow.request.headers["Content-Type"] = "application/json"
    flow.request.headers["Content-Encoding"] = "gzip"
    flow.request.content = body  # mitmproxy gzips it on the wire
    recorder.requestheaders(flow)
    asyncio.run(recorder.response(flow))
    asyncio.run(recorder.done())
    path = _only_session(tmp_path)
    (exchange,) = read_session(path)[1]
    assert b"CANARY" not in path.read_bytes() and not exchange.notes
    recorded = gzip.decompress(exchange.request.body)
    assert len(recorded) > 2 * 1024 * 1024 and b"CANARY" not in recorded
    assert recorded.startswith(b'{"entries":[' + pad + b'],"vault":{"key_id":7,"session":"PARITY_')
