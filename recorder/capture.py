"""Turning a finished mitmproxy flow into an `Exchange`, exactly as it crossed the wire."""

from __future__ import annotations

import re
import time

from mitmproxy import http
from mitmproxy.websocket import WebSocketData

from parity.sessions import Exchange, FlowError, Message, Request, Response

_SSE_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class StreamTap:
    """A `flow.request.stream`/`flow.response.stream` callable that passes every chunk
    through unchanged and keeps a copy, so streamed bodies (server-sent events, bodies
    over `stream_large_bodies`) are recorded as well as delivered.

    For `text/event-stream` it also splits the stream into events, each stamped with the
    time its last byte arrived.
    """

    __slots__ = ("_pending", "_pending_at", "chunks", "events", "sse")

    def __init__(self, sse: bool = False) -> None:
        self.sse = sse
        self.chunks: list[bytes] = []
        self.events: list[Message] = []
        self._pending = b""
        self._pending_at = 0.0

    def __call__(self, data: bytes) -> bytes:
        if data:
            self.chunks.append(data)
            if self.sse:
                self._split_events(data, time.time())
        return data

    def _split_events(self, data: bytes, now: float) -> None:
        buffer = self._pending + data
        start = 0
        for match in _SSE_EVENT_END.finditer(buffer):
            self.events.append(Message("sse", False, buffer[start : match.end()], now))
            start = match.end()
        self._pending = buffer[start:]
        self._pending_at = now

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def messages(self) -> list[Message]:
        """The complete events, then an unterminated last one if the stream ended mid-event."""
        if self._pending:
            return [*self.events, Message("sse", False, self._pending, self._pending_at)]
        return list(self.events)


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
    return [
        Message(
            "text" if m.is_text else "binary",
            m.from_client,
            m.content,
            m.timestamp,
        )
        for m in ws.messages
    ]


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
