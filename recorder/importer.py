"""`parity import`: HAR 1.2 files and mitmproxy flow files as parity sessions.

Read with mitmproxy's own readers: `mitmproxy.io.FlowReader` for flow files (`mitmdump
-w`), and for HAR its loader `mitmproxy.io.har.request_to_flow` (what `mitmdump -r
file.har` uses) per entry, after the JSON is parsed here for what that loader leaves
out (pages, `pageref`, entries without an answer, timings). Each flow becomes an
`Exchange` by the recorder's own `capture` (the one home of flow -> Exchange), is
redacted as at record time, and written to a new session file:

- one session per file, its exchanges in the order of their start times (`seq`
  renumbered in that order): state a recording carries from one request to the next
  (a login's cookie or token, on a browser's next connection or page) stays in the
  session. `split="page"` makes one session per HAR page (`pageref`),
  `split="connection"` one per client connection of a flow file (`client_conn.id`),
  sessions in the order of their start times: each is replayed after the reset hook,
  so only where sessions are independent;
- a HAR holds the decoded body (`content.text`, or base64 with `encoding`); mitmproxy's
  loader encodes it again with the response's Content-Encoding, so a compressed body's
  bytes are not the wire's. The session header's `meta["imported"]` says so, with what
  else a HAR cannot hold (see docs/session-format.md).

A file that is not one of these, torn or malformed, is an `ImportFileError` naming the file,
and nothing of it is written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import mitmproxy.version
from mitmproxy import exceptions, http
from mitmproxy import flow as mitmflow
from mitmproxy.io import FlowReader
from mitmproxy.io.har import request_to_flow
from mitmproxy.websocket import WebSocketData, WebSocketMessage
from wsproto.frame_protocol import Opcode

from parity.exceptions import ParityError
from parity.recorder.addon import _parity_version
from parity.recorder.capture import capture
from parity.recorder.redaction import Redaction
from parity.sessions import Exchange, FlowError, KeySource, SessionStore
from parity.sessions.file import FORMAT_NAME

HAR = "har"
FLOWS = "mitmproxy-flows"

SPLITS = {"page": HAR, "connection": FLOWS}
"""`--split` values and the kind of file each applies to."""

HAR_CANNOT_HOLD = [
    "exact body bytes: a HAR keeps the decoded body, encoded again here with its Content-Encoding",
    "header order and duplicates only as the tool that wrote the HAR kept them",
    "timings in milliseconds",
    "HTTP/2 pseudo-headers (dropped)",
    "WebSocket close codes and reasons",
    "request bodies as text (postData)",
]


class ImportFileError(ParityError):
    """A file cannot be imported: not HAR or a mitmproxy flow file, torn or malformed."""


@dataclass(slots=True)
class Group:
    """The exchanges of one session to be."""

    key: str | None
    exchanges: list[Exchange] = field(default_factory=list)
    title: str = ""

    @property
    def started(self) -> float:
        return min(e.request.timestamp_start for e in self.exchanges)


@dataclass(slots=True)
class Source:
    """One file read: its kind, creator, sessions to be and what was left out."""

    path: Path
    kind: str
    creator: str
    groups: list[Group]
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sha256: str = ""

    @property
    def exchanges(self) -> int:
        return sum(len(g.exchanges) for g in self.groups)


def read_source(path: Path, *, split: str | None = None) -> Source:
    """Read one file whole (nothing written yet): one session, or one per HAR page
    (`split="page"`) or per client connection of a flow file (`split="connection"`)."""
    try:
        with path.open("rb") as file:
            head = file.read(64)
            file.seek(0)
            if head.startswith(b"\xef\xbb\xbf"):
                head = head[3:]
            stripped = head.lstrip()
            if not stripped:
                raise ImportFileError(f"{path}: empty file")
            if _is_session(head):
                raise ImportFileError(f"{path}: already a parity session file (replay it as it is)")
            if path.suffix == ".zhar":  # savehar's zlib-compressed HAR
                source = _read_har(path, _inflated(path, file.read()))
            elif stripped.startswith((b"{", b"[")) or path.suffix.lower() == ".har":
                source = _read_har(path, file.read())
            else:
                source = _read_flows(path, file)
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    source.sha256 = file_digest(path)
    if split is not None and SPLITS[split] != source.kind:
        what = "a HAR file" if SPLITS[split] == HAR else "a mitmproxy flow file"
        raise ImportFileError(f"{path}: --split {split} needs {what}")
    if split is None and len(source.groups) > 1:
        merged = Group(None, [e for g in source.groups for e in g.exchanges])
        source.groups = [merged]
    for group in source.groups:
        group.exchanges.sort(key=lambda e: e.request.timestamp_start)
        for seq, exchange in enumerate(group.exchanges, 1):
            exchange.seq = seq
    source.groups = [g for g in source.groups if g.exchanges]
    source.groups.sort(key=lambda g: g.started)
    return source


def file_digest(path: Path) -> str:
    """SHA-256 of a file, hex: an imported session's header keeps its source's, so
    `parity replay FILE.har` imports a file once."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


ZHAR_LIMIT = 1 << 30
"""The most a `.zhar` may inflate to (a zlib bomb stops there)."""


def _inflated(path: Path, data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, ZHAR_LIMIT)
    except zlib.error as exc:
        raise ImportFileError(f"{path}: not a zlib-compressed HAR ({exc})") from None
    if inflater.unconsumed_tail:
        raise ImportFileError(f"{path}: inflates to more than {ZHAR_LIMIT >> 20} MiB")
    return out


def _is_session(head: bytes) -> bool:
    return FORMAT_NAME.encode() in head[:64]


# -- mitmproxy flow files ------------------------------------------------------------------


def _read_flows(path: Path, file: Any) -> Source:
    groups: dict[str, Group] = {}
    skipped: dict[str, int] = {}
    count = 0
    try:
        for flow in FlowReader(file).stream():
            count += 1
            if not isinstance(flow, http.HTTPFlow):
                kind = type(flow).__name__
                skipped[kind] = skipped.get(kind, 0) + 1
                continue
            if flow.response is None and flow.error is None:
                flow.error = mitmflow.Error("no response in the flow file", _start(flow))
            key = flow.client_conn.id
            groups.setdefault(key, Group(key)).exchanges.append(capture(flow, 0))
    except exceptions.FlowReadException as exc:
        if not count:
            _json_not_flows(path)
        where = f"after {count} flows" if count else "at its start"
        raise ImportFileError(
            f"{path}: not a mitmproxy flow file, or torn or corrupt {where} ({exc})"
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ImportFileError(f"{path}: flow {count + 1} is malformed ({exc})") from None
    if not groups and not skipped:
        raise ImportFileError(f"{path}: no flows in it")
    return Source(
        path, FLOWS, f"mitmproxy {mitmproxy.version.VERSION}", list(groups.values()), skipped
    )


def _json_not_flows(path: Path) -> None:
    """A file that is JSON (a HAR gone wrong, not a flow file) gets the HAR's message."""
    try:
        data = path.read_bytes()
        json.loads(data.decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return
    _read_har(path, data)


def _start(flow: http.HTTPFlow) -> float:
    return float(flow.request.timestamp_start or flow.timestamp_created)


# -- HAR -----------------------------------------------------------------------------------


def _read_har(path: Path, data: bytes) -> Source:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ImportFileError(f"{path}: not valid JSON, so not a HAR file ({exc})") from None
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(log, dict) or not isinstance(entries, list):
        shape = (
            "not a HAR file" if isinstance(doc, dict) else f"{_json_kind(doc)}, not a HAR object"
        )
        raise ImportFileError(f"{path}: {shape} (no log.entries)")
    creator: dict[str, Any] = _object(log.get("creator"))
    made_by = f"{creator.get('name', '?')} {creator.get('version', '')}".strip()
    titles = {
        str(p.get("id")): str(p.get("title") or p.get("id"))
        for p in log.get("pages") or []
        if isinstance(p, dict) and p.get("id") is not None
    }
    groups: dict[str | None, Group] = {}
    pseudo = 0
    no_body = 0
    hosts = 0
    for index, entry in enumerate(entries, 1):
        try:
            exchange, dropped, bodiless, host = _har_exchange(entry)
        except ImportFileError as exc:
            raise ImportFileError(f"{path}: entry {index}: {exc}") from None
        except (exceptions.OptionsError, ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ImportFileError(f"{path}: entry {index} is malformed ({problem})") from None
        pseudo += dropped
        no_body += bodiless
        hosts += host
        pageref = entry.get("pageref")
        key = str(pageref) if pageref is not None else None
        group = groups.setdefault(key, Group(key, title=titles.get(key or "", key or "")))
        group.exchanges.append(exchange)
    notes = list(HAR_CANNOT_HOLD)
    if pseudo:
        notes[3] = f"HTTP/2 pseudo-headers ({pseudo} dropped)"
    if hosts:
        requests = f"{hosts} request{'' if hosts == 1 else 's'}"
        notes.append(f"Host from the HTTP/2 :authority pseudo-header ({requests})")
    if no_body:
        notes.append(f"{no_body} responses without their body in the file")
    return Source(path, HAR, made_by, list(groups.values()), notes=notes)


def _json_kind(value: Any) -> str:
    """What a JSON document is, for a message: `a JSON array`, `a JSON number`."""
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool) or value is None:
        return "a JSON literal"
    return "a JSON number"


def _har_exchange(entry: Any) -> tuple[Exchange, int, int, int]:
    """One HAR entry as an Exchange; how many pseudo-headers it dropped; 1 when its
    response body is not in the file; 1 when its Host is the `:authority` pseudo-header
    (a HAR of HTTP/2 traffic has no Host header)."""
    if not isinstance(entry, dict):
        raise ImportFileError("not an object")
    request, response = entry.get("request"), entry.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise ImportFileError("no request or response object")
    if not isinstance(entry.get("startedDateTime"), str):
        raise ImportFileError("no startedDateTime")
    dropped = 0
    fixed_request = dict(request, headers=_no_pseudo(request.get("headers") or []))
    fixed_response = dict(response, headers=_no_pseudo(response.get("headers") or []))
    dropped = len(request.get("headers") or []) - len(fixed_request["headers"])
    dropped += len(response.get("headers") or []) - len(fixed_response["headers"])
    authority = _header_value(request.get("headers") or [], ":authority")
    host = int(bool(authority) and _header_value(fixed_request["headers"], "host") is None)
    if host:
        fixed_request["headers"] = [{"name": "Host", "value": authority}, *fixed_request["headers"]]
    fixed_request.setdefault("httpVersion", "HTTP/1.1")
    fixed_response.setdefault("httpVersion", "HTTP/1.1")
    post = request.get("postData")
    raw_post: bytes | None = None
    if isinstance(post, dict):
        text = post.get("text")
        if text is None:  # HAR allows params instead of text
            params = [(p.get("name", ""), p.get("value", "")) for p in post.get("params") or []]
            text = urlencode(params)
        if post.get("encoding") == "base64":
            raw_post = _b64(text, "postData.text")
            text = ""
        fixed_request["postData"] = dict(post, text=text)
    status = response.get("status")
    answered = isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 999
    content: dict[str, Any] = _object(response.get("content"))
    bodiless = int(answered and "text" not in content and bool(content.get("size")))
    if content.get("encoding") == "base64":
        _b64(content.get("text", ""), "content.text")  # mitmproxy's loader decodes it
    fixed_response["content"] = content
    if not answered:
        fixed_response["status"] = 200  # mitmproxy's loader needs one; the answer is dropped
    total = entry.get("time")
    time_ms = float(total) if isinstance(total, (int, float)) and total >= 0 else 0.0
    flow = request_to_flow(
        dict(entry, request=fixed_request, response=fixed_response, time=time_ms)
    )
    if raw_post is not None:
        flow.request.raw_content = raw_post
    if (
        not flow.request.raw_content
        and _header_value(fixed_request["headers"], "content-length") is None
    ):
        flow.request.headers.pop("content-length", None)  # mitmproxy's loader adds one
    websocket = _websocket(entry.get("_webSocketMessages"))
    if websocket is not None:
        flow.websocket = websocket
    _timings(flow, entry, time_ms)
    flow.client_conn.peername = None  # type: ignore[assignment]  # a HAR does not say
    exchange = capture(flow, 0)
    if not answered:
        why = response.get("_error") or entry.get("_error") or f"status {status!r}"
        exchange.response = None
        exchange.error = FlowError(f"no response in the HAR ({why})", flow.request.timestamp_start)
    return exchange, dropped, bodiless, host


def _header_value(headers: Iterable[Any], name: str) -> str | None:
    """The first value of header `name` (any case) in a HAR header list, else None."""
    for header in headers:
        key, value = (
            (header.get("name"), header.get("value")) if isinstance(header, dict) else header
        )
        if isinstance(key, str) and key.lower() == name:
            return str(value) if value is not None else ""
    return None


_WS_OPCODES = {1: Opcode.TEXT, 2: Opcode.BINARY}


def _websocket(messages: Any) -> WebSocketData | None:
    """`_webSocketMessages` as Chromium and mitmproxy write them (`type` send/receive,
    `time` in seconds, `opcode` 1 text or 2 binary in base64, `data`); other opcodes
    (control frames) are left out. None when the entry has none."""
    if not isinstance(messages, list):
        return None
    ws = WebSocketData()
    for index, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            raise ImportFileError(f"_webSocketMessages[{index}] is not an object")
        opcode = _WS_OPCODES.get(message.get("opcode"))  # type: ignore[arg-type]
        if opcode is None:
            continue
        data = message.get("data", "")
        if not isinstance(data, str):
            raise ImportFileError(f"_webSocketMessages[{index}].data is not text")
        content = data.encode("utf-8") if opcode is Opcode.TEXT else _b64(data, "data")
        at = message.get("time")
        when = float(at) if isinstance(at, (int, float)) and math.isfinite(at) else 0.0
        ws.messages.append(WebSocketMessage(opcode, message.get("type") == "send", content, when))
    return ws


def _object(value: Any) -> dict[str, Any]:
    """A JSON object of the file, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def _no_pseudo(headers: Iterable[Any]) -> list[Any]:
    out = []
    for header in headers:
        name = header.get("name") if isinstance(header, dict) else header[0]
        if not isinstance(name, str):
            raise ImportFileError("a header without a name")
        if not name.startswith(":"):
            out.append(header)
    return out


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ImportFileError(f"{what} is not text")
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise ImportFileError(f"{what} is not valid base64") from None


def _timings(flow: http.HTTPFlow, entry: dict[str, Any], total_ms: float) -> None:
    """Request end and response start from the entry's timings (ms; -1 is unknown)."""
    start = flow.request.timestamp_start
    timings: dict[str, Any] = _object(entry.get("timings"))

    def ms(name: str) -> float:
        value = timings.get(name)
        if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            return float(value)
        return 0.0

    before = ms("blocked") + ms("dns") + ms("connect") + ms("send")
    flow.request.timestamp_end = start + before / 1000
    if flow.response is not None:
        flow.response.timestamp_start = flow.request.timestamp_end + ms("wait") / 1000
        flow.response.timestamp_end = max(start + total_ms / 1000, flow.response.timestamp_start)


# -- writing -------------------------------------------------------------------------------


@dataclass(slots=True)
class ImportSettings:
    sessions: Path
    label: str = ""
    redaction: Redaction | None = None
    encrypt: KeySource | None = None


def write_sessions(
    source: Source,
    settings: ImportSettings,
    progress: Callable[[int], None] = lambda done: None,
    done_before: int = 0,
) -> list[Path]:
    """Write the sessions of `source`; their paths. `progress(done)` after each exchange."""
    store = SessionStore(settings.sessions)
    written: list[Path] = []
    done = done_before
    for group in source.groups:
        meta: dict[str, Any] = {"imported": _imported_note(source, group)}
        if settings.redaction is not None:
            meta["redaction"] = settings.redaction.header_note()
        writer = store.create(
            label=settings.label or source.path.stem,
            upstream=_upstream(group.exchanges),
            recorder={
                "parity": _parity_version(),
                "mitmproxy": mitmproxy.version.VERSION,
                "python": sys.version.split()[0],
            },
            meta=meta,
            encrypt=settings.encrypt,
            started_at=group.started,
        )
        with writer:
            for exchange in group.exchanges:
                if settings.redaction is not None:
                    exchange = settings.redaction.apply(exchange, writer.path.stem)
                writer.append(exchange)
                done += 1
                progress(done)
        written.append(writer.path)
    return written


def _imported_note(source: Source, group: Group) -> dict[str, Any]:
    note: dict[str, Any] = {
        "from": source.path.name,
        "sha256": source.sha256,
        "format": source.kind,
        "creator": source.creator,
        "exchanges": len(group.exchanges),
    }
    if source.kind == HAR:
        if group.key is not None:
            note["page"] = group.key
            note["title"] = group.title
        note["cannot_hold"] = source.notes
    elif group.key is not None and len(source.groups) > 1:
        note["client_conn"] = group.key
    if source.skipped:
        note["skipped"] = dict(source.skipped)
    return note


def _upstream(exchanges: list[Exchange]) -> str | None:
    """The origin every request went to, when they all went to one."""
    origins = {
        f"{e.request.scheme}://{e.request.host}:{e.request.port}"
        if e.request.port not in (80, 443)
        else f"{e.request.scheme}://{e.request.host}"
        for e in exchanges
    }
    return origins.pop() if len(origins) == 1 else None
