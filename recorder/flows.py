"""An `Exchange` as a mitmproxy flow again: the inverse of `recorder.capture` (flow ->
Exchange, its one home), for `parity export` (mitmproxy's `FlowWriter` and its HAR
writer `SaveHar` take flows, so parity writes neither format itself)."""

from __future__ import annotations

import uuid

from mitmproxy import connection, http
from mitmproxy import flow as mitmflow
from mitmproxy.websocket import WebSocketData, WebSocketMessage
from wsproto.frame_protocol import Opcode

from parity.recorder.capture import SSE_TIMES
from parity.sessions import Exchange, Request, Response


def session_client(exchange: Exchange | None, started: float) -> connection.Client:
    """One client connection for the flows of one session: mitmproxy's `client_conn.id`
    is how `parity import --split connection` tells a flow file's sessions apart."""
    peer = exchange.client if exchange is not None else None
    return connection.Client(
        peername=peer or ("127.0.0.1", 0),
        sockname=("127.0.0.1", 0),
        timestamp_start=started,
    )


def _request(request: Request) -> http.Request:
    path = request.path
    return http.Request(
        host=request.host,
        port=request.port,
        method=request.method.encode("utf-8", "surrogateescape"),
        scheme=request.scheme.encode("ascii", "replace"),
        authority=b"",
        path=path.encode("utf-8", "surrogateescape"),
        http_version=request.http_version.encode("ascii", "replace"),
        headers=http.Headers(request.headers),
        content=request.body,
        trailers=None,
        timestamp_start=request.timestamp_start,
        timestamp_end=request.timestamp_end,
    )


def _response(response: Response) -> http.Response:
    return http.Response(
        http_version=response.http_version.encode("ascii", "replace"),
        status_code=response.status,
        reason=response.reason.encode("utf-8", "surrogateescape"),
        headers=http.Headers(response.headers),
        content=response.body,
        trailers=None,
        timestamp_start=response.timestamp_start,
        timestamp_end=response.timestamp_end,
    )


def to_flow(
    exchange: Exchange, client: connection.Client, *, response: Response | None = None
) -> http.HTTPFlow:
    """The exchange as an `HTTPFlow` from `client` (its response, or `response` instead:
    a mismatch's actual answer). Server-sent events stay in the body, as on the wire,
    their times in `flow.metadata` (`capture` splits the body into them again)."""
    request = exchange.request
    server = connection.Server(address=(request.host, request.port))
    flow = http.HTTPFlow(client, server)
    if _is_uuid(exchange.flow_id):
        flow.id = exchange.flow_id
    flow.request = _request(request)
    answer = response if response is not None else exchange.response
    if answer is not None:
        flow.response = _response(answer)
    events = [m.timestamp for m in exchange.messages if m.kind == "sse"]
    if events and response is None:
        flow.metadata[SSE_TIMES] = events
    if exchange.error is not None and response is None:
        flow.error = mitmflow.Error(exchange.error.message, exchange.error.timestamp)
    if exchange.websocket_close is not None:
        ws = WebSocketData()
        ws.messages = [
            WebSocketMessage(
                Opcode.TEXT if m.kind == "text" else Opcode.BINARY,
                m.from_client,
                m.content,
                m.timestamp,
            )
            for m in exchange.messages
            if m.kind in ("text", "binary")
        ]
        close = exchange.websocket_close
        ws.close_code = close.get("code")
        reason = close.get("reason")
        ws.close_reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
        ws.closed_by_client = close.get("closed_by_client")
        flow.websocket = ws
    return flow


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
