"""The recorded data: one `Exchange` per request/response that crossed the recorder.

Everything is kept as it was on the wire: headers are ordered lists of `(name, value)`
byte pairs (duplicates, case and order survive), bodies are raw bytes (still
content-encoded when the server compressed them). Decoding is the differ's job.

The `to_record`/`from_record` pairs map these classes to the msgpack maps of the
session file; `docs/session-format.md` describes those maps key by key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from parity.exceptions import ParityError

Headers = list[tuple[bytes, bytes]]
Record = dict[str, Any]


class RecordError(ParityError, ValueError):
    """A record in a session file does not have the shape of its kind (a malformed
    record; `SessionFileError` names the file and the offset)."""


def _encode_text(text: str) -> str | bytes:
    """Text that is not valid UTF-8 (kept with surrogateescape) is stored as bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def _decode_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    raise RecordError(f"{what} must be text, not {type(value).__name__}")


def _headers_to_record(headers: Headers) -> list[list[bytes]]:
    return [[name, value] for name, value in headers]


def _headers_from_record(value: Any) -> Headers:
    if not isinstance(value, list):
        raise RecordError("headers must be a list of [name, value] pairs")
    headers: Headers = []
    for pair in value:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not isinstance(pair[0], bytes)
            or not isinstance(pair[1], bytes)
        ):
            raise RecordError("each header must be a [name, value] pair of bytes")
        headers.append((pair[0], pair[1]))
    return headers


def _get(record: Record, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    try:
        value = record[key]
    except KeyError:
        raise RecordError(f"{what} has no {key!r}") from None
    # bool is an int to Python, never to the format.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise RecordError(f"{what}.{key} has the wrong type ({type(value).__name__})")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _int(record: Record, key: str, what: str, low: int, high: int | None = None) -> int:
    """An int field within [low, high]."""
    value: int = _get(record, key, int, what)
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise RecordError(f"{what}.{key} is {value}, not {bounds}")
    return value


def _time(record: Record, key: str, what: str, *, optional: bool = False) -> float | None:
    """A timestamp: a finite number (nil or absent when `optional`)."""
    if optional and record.get(key) is None:
        return None
    value = float(_get(record, key, (int, float), what))
    if not math.isfinite(value):
        raise RecordError(f"{what}.{key} is not a finite number")
    return value


def _timestamp(record: Record, key: str, what: str) -> float:
    value = _time(record, key, what)
    assert value is not None
    return value


def _client_from_record(value: Any) -> tuple[str, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], str)
        or not isinstance(value[1], int)
        or isinstance(value[1], bool)
        or not 0 <= value[1] <= 65535
    ):
        raise RecordError("exchange.client must be [host, port] (a str and an int 0..65535)")
    return value[0], value[1]


def _close_from_record(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError("exchange.websocket_close must be a map")
    code, reason, by_client = (
        value.get("code"),
        value.get("reason"),
        value.get("closed_by_client"),
    )
    if (
        (code is not None and (not isinstance(code, int) or isinstance(code, bool)))
        or (reason is not None and not isinstance(reason, str | bytes))
        or (by_client is not None and not isinstance(by_client, bool))
    ):
        raise RecordError("exchange.websocket_close has a field of the wrong type")
    return value


def header_value(headers: Headers, name: str) -> bytes | None:
    """The first value of header `name` (case-insensitive), or None."""
    wanted = name.lower().encode("latin-1")
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


@dataclass(slots=True)
class Request:
    method: str
    scheme: str
    host: str
    port: int
    path: str
    """Path and query as sent; bytes that are not UTF-8 survive as surrogate escapes."""
    http_version: str
    headers: Headers
    body: bytes
    timestamp_start: float
    timestamp_end: float | None = None

    @property
    def url(self) -> str:
        default = 443 if self.scheme == "https" else 80
        netloc = self.host if self.port == default else f"{self.host}:{self.port}"
        if ":" in self.host and not self.host.startswith("["):
            netloc = f"[{self.host}]" if self.port == default else f"[{self.host}]:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"

    def header(self, name: str) -> bytes | None:
        return header_value(self.headers, name)

    def to_record(self) -> Record:
        return {
            "method": self.method,
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "path": _encode_text(self.path),
            "http_version": self.http_version,
            "headers": _headers_to_record(self.headers),
            "body": self.body,
            "timestamp_start": self.timestamp_start,
            "timestamp_end": self.timestamp_end,
        }

    @classmethod
    def from_record(cls, record: Any) -> Request:
        if not isinstance(record, dict):
            raise RecordError("request must be a map")
        return cls(
            method=_get(record, "method", str, "request"),
            scheme=_get(record, "scheme", str, "request"),
            host=_get(record, "host", str, "request"),
            port=_int(record, "port", "request", 0, 65535),
            path=_decode_text(_get(record, "path", (str, bytes), "request"), "request.path"),
            http_version=_get(record, "http_version", str, "request"),
            headers=_headers_from_record(record.get("headers")),
            body=_get(record, "body", bytes, "request"),
            timestamp_start=_timestamp(record, "timestamp_start", "request"),
            timestamp_end=_time(record, "timestamp_end", "request", optional=True),
        )


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    http_version: str
    headers: Headers
    body: bytes
    timestamp_start: float
    timestamp_end: float | None = None

    def header(self, name: str) -> bytes | None:
        return header_value(self.headers, name)

    def to_record(self) -> Record:
        return {
            "status": self.status,
            "reason": self.reason,
            "http_version": self.http_version,
            "headers": _headers_to_record(self.headers),
            "body": self.body,
            "timestamp_start": self.timestamp_start,
            "timestamp_end": self.timestamp_end,
        }

    @classmethod
    def from_record(cls, record: Any) -> Response:
        if not isinstance(record, dict):
            raise RecordError("response must be a map")
        return cls(
            status=_int(record, "status", "response", 100, 999),
            reason=_decode_text(_get(record, "reason", (str, bytes), "response"), "reason"),
            http_version=_get(record, "http_version", str, "response"),
            headers=_headers_from_record(record.get("headers")),
            body=_get(record, "body", bytes, "response"),
            timestamp_start=_timestamp(record, "timestamp_start", "response"),
            timestamp_end=_time(record, "timestamp_end", "response", optional=True),
        )


@dataclass(slots=True)
class Message:
    """One WebSocket frame or one server-sent event that travelled on an exchange."""

    kind: str
    """`text` or `binary` (WebSocket), `sse` (one server-sent event, as raw bytes)."""
    from_client: bool
    content: bytes
    timestamp: float

    def to_record(self) -> Record:
        return {
            "kind": self.kind,
            "from_client": self.from_client,
            "content": self.content,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_record(cls, record: Any) -> Message:
        if not isinstance(record, dict):
            raise RecordError("message must be a map")
        return cls(
            kind=_get(record, "kind", str, "message"),
            from_client=_get(record, "from_client", bool, "message"),
            content=_get(record, "content", bytes, "message"),
            timestamp=_timestamp(record, "timestamp", "message"),
        )


@dataclass(slots=True)
class FlowError:
    """Why an exchange did not complete (upstream down, client gone, ...)."""

    message: str
    timestamp: float

    def to_record(self) -> Record:
        return {"message": self.message, "timestamp": self.timestamp}

    @classmethod
    def from_record(cls, record: Any) -> FlowError:
        if not isinstance(record, dict):
            raise RecordError("error must be a map")
        return cls(
            message=_get(record, "message", str, "error"),
            timestamp=_timestamp(record, "timestamp", "error"),
        )


@dataclass(slots=True)
class Exchange:
    """One request and what came of it: a response, an error, or both."""

    seq: int
    request: Request
    response: Response | None = None
    error: FlowError | None = None
    client: tuple[str, int] | None = None
    messages: list[Message] = field(default_factory=list)
    websocket_close: dict[str, Any] | None = None
    """`code`, `reason` and `closed_by_client` of a WebSocket that was closed."""
    flow_id: str = ""
    notes: list[str] = field(default_factory=list)
    """What the recorder says about this record, e.g. that redaction could not parse a
    body and applied its patterns only. Stored only when there are some."""

    @property
    def started_at(self) -> float:
        return self.request.timestamp_start

    @property
    def request_duration(self) -> float | None:
        end = self.request.timestamp_end
        return None if end is None else end - self.request.timestamp_start

    @property
    def response_duration(self) -> float | None:
        if self.response is None or self.response.timestamp_end is None:
            return None
        return self.response.timestamp_end - self.response.timestamp_start

    def summary(self) -> str:
        """One line: `seq METHOD path -> status` (or the error)."""
        if self.response is not None:
            outcome = str(self.response.status)
        elif self.error is not None:
            outcome = f"error: {self.error.message}"
        else:
            outcome = "no response"
        extra = f" ({len(self.messages)} messages)" if self.messages else ""
        return f"{self.seq} {self.request.method} {self.request.path} -> {outcome}{extra}"

    def to_record(self) -> Record:
        record = {
            "kind": "exchange",
            "seq": self.seq,
            "flow_id": self.flow_id,
            "client": list(self.client) if self.client else None,
            "request": self.request.to_record(),
            "response": self.response.to_record() if self.response else None,
            "error": self.error.to_record() if self.error else None,
            "messages": [m.to_record() for m in self.messages],
            "websocket_close": self.websocket_close,
        }
        if self.notes:
            record["notes"] = list(self.notes)
        return record

    @classmethod
    def from_record(cls, record: Record) -> Exchange:
        """Every field is checked (type and range); a `RecordError` says which one."""
        response = record.get("response")
        error = record.get("error")
        messages = record.get("messages")
        flow_id = record.get("flow_id")
        if messages is None:
            messages = []
        if not isinstance(messages, list):
            raise RecordError("messages must be a list")
        notes = record.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise RecordError("exchange.notes must be a list of strings")
        if flow_id is not None and not isinstance(flow_id, str):
            raise RecordError(f"exchange.flow_id has the wrong type ({type(flow_id).__name__})")
        return cls(
            seq=_int(record, "seq", "exchange", 0),
            flow_id=flow_id or "",
            client=_client_from_record(record.get("client")),
            request=Request.from_record(record.get("request")),
            response=Response.from_record(response) if response is not None else None,
            error=FlowError.from_record(error) if error is not None else None,
            messages=[Message.from_record(m) for m in messages],
            websocket_close=_close_from_record(record.get("websocket_close")),
            notes=notes,
        )


@dataclass(slots=True)
class SessionHeader:
    """The first record of a session file: who recorded what, when, from where."""

    id: str
    label: str
    started_at: float
    upstream: str | None
    recorder: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    part: int | None = None
    """The part number (1, 2, ...) of a session recorded with rotation; None for a
    session in one file (`sessions.parts`)."""

    def to_record(self) -> Record:
        record: Record = {
            "format": "parity-session",
            "version": self.version,
            "id": self.id,
            "label": self.label,
            "started_at": self.started_at,
            "upstream": self.upstream,
            "recorder": self.recorder,
            "meta": self.meta,
        }
        if self.part is not None:
            record["part"] = self.part
        return record

    @classmethod
    def from_record(cls, record: Record) -> SessionHeader:
        upstream = record.get("upstream")
        recorder = record.get("recorder")
        meta = record.get("meta")
        return cls(
            id=_get(record, "id", str, "header"),
            label=str(record.get("label") or ""),
            started_at=_timestamp(record, "started_at", "header"),
            upstream=upstream if isinstance(upstream, str) else None,
            recorder=recorder if isinstance(recorder, dict) else {},
            meta=meta if isinstance(meta, dict) else {},
            version=_int(record, "version", "header", 1),
            part=_int(record, "part", "header", 1) if record.get("part") is not None else None,
        )


@dataclass(slots=True)
class Trailer:
    """The last record of a cleanly closed session file."""

    exchanges: int
    errors: int
    ended_at: float
    continued: bool = False
    """The recorder rotated: the session goes on in the next part."""

    def to_record(self) -> Record:
        record: Record = {
            "kind": "trailer",
            "exchanges": self.exchanges,
            "errors": self.errors,
            "ended_at": self.ended_at,
        }
        if self.continued:
            record["continued"] = True
        return record

    @classmethod
    def from_record(cls, record: Record) -> Trailer:
        return cls(
            exchanges=_int(record, "exchanges", "trailer", 0),
            errors=_int(record, "errors", "trailer", 0),
            ended_at=_timestamp(record, "ended_at", "trailer"),
            continued=record.get("continued") is True,
        )
