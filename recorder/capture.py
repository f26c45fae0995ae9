"""Turning a finished mitmproxy flow into an `Exchange`, exactly as it crossed the wire."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from mitmproxy import http
from mitmproxy.websocket import WebSocketData, WebSocketMessage

from parity.sessions import Exchange, FlowError, Message, Request, Response

_SSE_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


MAX_CHUNK_EVENTS = 256
"""A stream's events are written in chunks of at most this many events ..."""
MAX_CHUNK_BYTES = 64 * 1024
"""... or about this many bytes (the event that crosses it is the chunk's last) ..."""
FLUSH_SECONDS = 1.0
"""... or this long after the chunk's first event arrived, whichever comes first."""


class StreamTap:
    """A `flow.request.stream`/`flow.response.stream` callable that passes every chunk
    through unchanged and keeps a copy, so streamed bodies (server-sent events, bodies
    over `stream_large_bodies`) are recorded as well as delivered.

    For `text/event-stream` (`sse=True`) it splits the stream into events, each stamped
    with the time its last byte arrived, and keeps no copy of the body (it is the
    events, byte for byte). With `on_chunk`, the events are handed over in chunks
    (`take`) as they arrive, when `MAX_CHUNK_EVENTS` or `MAX_CHUNK_BYTES` is reached or
    `FLUSH_SECONDS` after the chunk began, so a stream that never ends holds at most
    one chunk here.
    """

    __slots__ = (
        "_bytes",
        "_pending",
        "_pending_at",
        "_timer",
        "chunks",
        "closed",
        "events",
        "flushed",
        "on_chunk",
        "sse",
    )

    def __init__(
        self, sse: bool = False, on_chunk: Callable[[StreamTap], None] | None = None
    ) -> None:
        self.sse = sse
        self.chunks: list[bytes] = []
        self.events: list[Message] = []
        self.on_chunk = on_chunk
        self.flushed = 0
        """Events already handed over by `take`."""
        self.closed = False
        self._bytes = 0
        self._pending = b""
        self._pending_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, data: bytes) -> bytes:
        if data:
            if self.sse:
                self._split_events(data, time.time())
            else:
                self.chunks.append(data)
        return data

    def _split_events(self, data: bytes, now: float) -> None:
        buffer = self._pending + data
        start = 0
        for match in _SSE_EVENT_END.finditer(buffer):
            self.events.append(Message("sse", False, buffer[start : match.end()], now))
            self._bytes += match.end() - start
            start = match.end()
            if self.on_chunk is not None and (
                len(self.events) >= MAX_CHUNK_EVENTS or self._bytes >= MAX_CHUNK_BYTES
            ):
                self.on_chunk(self)
        self._pending = buffer[start:]
        self._pending_at = now
        if self.events and self.on_chunk is not None and self._timer is None:
            self._start_timer()

    def _start_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not on an event loop (a test calling the tap): chunks by size only
        self._timer = loop.call_later(FLUSH_SECONDS, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if self.events and not self.closed and self.on_chunk is not None:
            self.on_chunk(self)

    def take(self) -> list[Message]:
        """The complete events not handed over yet (the next chunk)."""
        events, self.events, self._bytes = self.events, [], 0
        self.flushed += len(events)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return events

    def close(self) -> None:
        """The exchange is being written: no chunk after this."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def body(self) -> bytes:
        if self.sse:
            # A stream never chunked is written whole (its body is its events); one that
            # was has its body put back together by the reader (`sessions.streams`).
            return b"".join(m.content for m in self.messages()) if not self.flushed else b""
        return b"".join(self.chunks)

    def messages(self) -> list[Message]:
        """The complete events not handed over, then an unterminated last one if the
        stream ended mid-event."""
        if self._pending:
            return [*self.events, Message("sse", False, self._pending, self._pending_at)]
        return list(self.events)


class SocketChunks:
    """A WebSocket's messages handed over in chunks as they arrive, under the limits of
    `StreamTap`'s chunks (`MAX_CHUNK_EVENTS`, `MAX_CHUNK_BYTES`, `FLUSH_SECONDS`), so a
    socket open for hours holds at most one chunk in the recorder.

    mitmproxy keeps every message of a flow in `flow.websocket.messages` and forwards the
    newest after the `websocket_message` hook, so `arrived` (called from that hook) hands
    over the messages before the newest; the timer hands over all of them.
    `on_chunk(chunks, n)` is to write the first `n` (-1: all) and remove them from the
    flow (`take`)."""

    __slots__ = ("_bytes", "_timer", "closed", "flushed", "on_chunk")

    def __init__(self, on_chunk: Callable[[SocketChunks, int], None]) -> None:
        self.on_chunk = on_chunk
        self.flushed = 0
        """Messages already handed over."""
        self.closed = False
        self._bytes = 0
        """Bytes of the messages not handed over (the newest included)."""
        self._timer: asyncio.TimerHandle | None = None

    def arrived(self, ws: WebSocketData) -> None:
        """A message was appended to `ws.messages` (the newest is still to be forwarded)."""
        if self.closed or not ws.messages:
            return
        before = self._bytes
        self._bytes += len(ws.messages[-1].content)
        waiting = len(ws.messages) - 1
        if waiting and (waiting >= MAX_CHUNK_EVENTS or before >= MAX_CHUNK_BYTES):
            self.on_chunk(self, waiting)
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not on an event loop (a test): chunks by size only
            self._timer = loop.call_later(FLUSH_SECONDS, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if not self.closed:
            self.on_chunk(self, -1)

    def take(self, ws: WebSocketData, count: int) -> list[Message]:
        """The first `count` messages (-1: all), removed from the flow."""
        count = len(ws.messages) if count < 0 else min(count, len(ws.messages))
        messages = _websocket_messages_of(ws.messages[:count])
        del ws.messages[:count]
        self.flushed += count
        self._bytes = sum(len(m.content) for m in ws.messages)
        self._stop_timer()
        return messages

    def close(self) -> None:
        """The exchange is being written: no chunk after this."""
        self.closed = True
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _body(message: http.Message, tap: StreamTap | None) -> bytes:
    if isinstance(tap, StreamTap):
        return tap.body
    return message.raw_content or b""


def capture_request(request: http.Request) -> Request:
    tap = request.stream if isinstance(request.stream, StreamTap) else None
    return Request(
        method=request.method,
        scheme=request.scheme,
        host=request.host,
        port=request.port,
        path=request.path,
        http_version=request.http_version,
        headers=list(request.headers.fields),
        body=_body(request, tap),
        timestamp_start=request.timestamp_start,
        timestamp_end=request.timestamp_end,
    )


def capture_response(response: http.Response) -> Response:
    tap = response.stream if isinstance(response.stream, StreamTap) else None
    return Response(
        status=response.status_code,
        reason=response.reason,
        http_version=response.http_version,
        headers=list(response.headers.fields),
        body=_body(response, tap),
        timestamp_start=response.timestamp_start,
        timestamp_end=response.timestamp_end,
    )


def _websocket_messages(ws: WebSocketData) -> list[Message]:
    return _websocket_messages_of(ws.messages)


def _websocket_messages_of(messages: list[WebSocketMessage]) -> list[Message]:
    return [
        Message("text" if m.is_text else "binary", m.from_client, m.content, m.timestamp)
        for m in messages
    ]


SSE_TIMES = "parity_sse_times"
"""`flow.metadata` key of an exported flow: its events' timestamps (`recorder.flows`)."""


def _sse_events(flow: http.HTTPFlow) -> list[Message]:
    """A flow read from a file (not streamed through the recorder): a `text/event-stream`
    body split into its events as `StreamTap` splits them, stamped with the times the
    export kept, else the response's start."""
    response = flow.response
    assert response is not None
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    body = response.raw_content or b""
    if kind != "text/event-stream" or not body:
        return []
    parts: list[bytes] = []
    start = 0
    for match in _SSE_EVENT_END.finditer(body):
        parts.append(body[start : match.end()])
        start = match.end()
    if start < len(body):
        parts.append(body[start:])
    times = flow.metadata.get(SSE_TIMES)
    if not isinstance(times, list) or len(times) != len(parts):
        times = [response.timestamp_start] * len(parts)
    return [Message("sse", False, part, float(at)) for part, at in zip(parts, times, strict=True)]


def capture(flow: http.HTTPFlow, seq: int) -> Exchange:
    """The `Exchange` for a flow that has ended (response, error or closed WebSocket)."""
    response = capture_response(flow.response) if flow.response is not None else None
    messages: list[Message] = []
    close = None
    if flow.websocket is not None:
        messages = _websocket_messages(flow.websocket)
        close = {
            "code": flow.websocket.close_code,
            "reason": flow.websocket.close_reason,
            "closed_by_client": flow.websocket.closed_by_client,
        }
    elif flow.response is not None and isinstance(flow.response.stream, StreamTap):
        messages = flow.response.stream.messages()
    elif flow.response is not None:
        messages = _sse_events(flow)
    peer = flow.client_conn.peername
    return Exchange(
        seq=seq,
        flow_id=flow.id,
        client=(str(peer[0]), int(peer[1])) if peer else None,
        request=capture_request(flow.request),
        response=response,
        error=FlowError(flow.error.msg, flow.error.timestamp) if flow.error else None,
        messages=messages,
        websocket_close=close,
    )
