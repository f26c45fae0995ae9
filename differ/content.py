"""Body decoding: undo the Content-Encoding chain, then read the bytes by Content-Type.

`decode_body(headers, body)` never raises: whatever cannot be decoded is kept as it is
(raw bytes or text) and the reason goes into `Body.notes`.
"""

from __future__ import annotations

import base64
import codecs
import datetime
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import parse_qsl

import orjson

from parity.differ.xmltree import parse_xml
from parity.exceptions import ParityError

Kind = Literal["empty", "json", "form", "msgpack", "sse", "ndjson", "xml", "text", "binary"]
STRUCTURED: frozenset[str] = frozenset({"json", "form", "msgpack", "sse", "ndjson", "xml"})
"""Kinds whose `value` is a parsed tree (dicts, lists, scalars), compared structurally."""

MAX_DECODED = 512 * 2**20
"""Decompression stops here: a small gzip bomb must not take the replay down."""

_TEXT_TYPES = re.compile(
    r"text/.*|.*[/+]xml|application/(x-)?(javascript|ecmascript)|application/(x-)?yaml"
    r"|application/graphql|application/x-sh"
)
_JSON_TYPES = re.compile(r"application/json|.*\+json|text/json|application/x-json")
_JSONISH_TYPES = re.compile(r"[\w.+-]+/[\w.+-]*json[\w.+-]*")
"""Any other type that names JSON (`application/x-amz-json-1.1`, `application/json-patch`),
tried after the NDJSON types."""
_NDJSON_TYPES = re.compile(r"application/(x-)?ndjson|application/jsonl(ines)?|application/json-seq")
_XML_TYPES = re.compile(r"application/xml|text/xml|[\w.+-]+/[\w.+-]+\+xml")
"""XML read as a tree (see `differ.xmltree`); HTML is not XML and stays text."""
_MSGPACK_TYPES = re.compile(r"application/(x-)?msgpack|application/vnd\.msgpack")


class DecodeError(ParityError):
    """One step of decoding failed; the message goes into `Body.notes`."""


@dataclass(frozen=True, slots=True)
class Body:
    """A decoded body. `value` is the parsed tree for STRUCTURED kinds, the text (str) for
    "text", the bytes for "binary" and None for "empty"."""

    kind: Kind
    data: bytes
    """The body after Content-Encoding was undone (the raw body if that failed)."""
    value: object
    media_type: str
    notes: tuple[str, ...] = ()
    decoded: bool = True
    """False if some Content-Encoding could not be undone (then `data` is still encoded)."""
    charset: str | None = None

    def describe(self) -> str:
        """`<N bytes of TYPE>`, for binary bodies and previews."""
        return f"<{len(self.data)} bytes of {self.media_type or 'unknown type'}>"


def header_values(headers: Iterable[tuple[bytes, bytes]], name: str) -> list[str]:
    """Every value of header `name` (case-insensitive), as latin-1 text, in order."""
    wanted = name.lower().encode("latin-1")
    return [v.decode("latin-1").strip() for k, v in headers if k.lower() == wanted]


def media_type_of(header: str) -> tuple[str, dict[str, str]]:
    """`application/json; charset=UTF-8` -> (`application/json`, {"charset": "UTF-8"})."""
    main, *params = header.split(";")
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), parsed


# --- Content-Encoding --------------------------------------------------------------------


def _zlib_stream(data: bytes, wbits: int) -> bytes:
    """Decompress every member (gzip allows several), bounded by MAX_DECODED."""
    out: list[bytes] = []
    total = 0
    while data:
        stream = zlib.decompressobj(wbits=wbits)
        chunk = stream.decompress(data, MAX_DECODED - total + 1)
        total += len(chunk)
        if stream.unconsumed_tail or total > MAX_DECODED:
            raise DecodeError(f"decoded body exceeds {MAX_DECODED} bytes")
        if not stream.eof:
            raise DecodeError("truncated stream")
        out.append(chunk)
        data = stream.unused_data
        if not data.strip(b"\x00"):  # some servers pad after the last member
            break
    return b"".join(out)


def _gunzip(data: bytes) -> bytes:
    return _zlib_stream(data, 31)


def _inflate(data: bytes) -> bytes:
    # "deflate" is zlib-wrapped by the RFC, but some servers send raw deflate.
    try:
        return _zlib_stream(data, 15)
    except zlib.error:
        return _zlib_stream(data, -15)


def _unbrotli(data: bytes) -> bytes:
    import brotli  # lazily: most bodies are not br

    out = brotli.decompress(data)
    assert isinstance(out, bytes)
    return out


def _unzstd(data: bytes) -> bytes:
    import zstandard  # lazily: most bodies are not zstd

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    out = reader.read(MAX_DECODED + 1)
    if len(out) > MAX_DECODED:
        raise DecodeError(f"decoded body exceeds {MAX_DECODED} bytes")
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _inflate,
    "br": _unbrotli,
    "zstd": _unzstd,
}


def decode_content_encoding(data: bytes, encodings: list[str]) -> tuple[bytes, list[str], bool]:
    """Undo the Content-Encoding values (applied left to right, so undone right to left).

    Returns (bytes, notes, fully_decoded); on the first failure the bytes are the raw body.
    """
    names = [n.strip().lower() for value in encodings for n in value.split(",") if n.strip()]
    notes: list[str] = []
    current = data
    for name in reversed(names):
        if name == "identity" or not current:
            continue
        decoder = _DECODERS.get(name)
        if decoder is None:
            return data, [f"undecodable:{name}:unknown encoding"], False
        try:
            current = decoder(current)
        except Exception as exc:  # any codec failure means "compare the raw bytes"
            return data, [f"undecodable:{name}:{exc}".splitlines()[0][:200]], False
        notes.append(f"decoded:{name}")
    return current, notes, True


# --- Content-Type ------------------------------------------------------------------------


def text_of(data: bytes, charset: str | None) -> str:
    """Bytes as text in `charset` (utf-8 if absent or unknown); bad bytes become U+FFFD."""
    encoding = "utf-8"
    if charset:
        try:
            encoding = codecs.lookup(charset).name
        except LookupError:
            encoding = "utf-8"
    if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return data.decode(encoding, errors="replace")


def parse_json(data: bytes, charset: str | None = None, *, exact: bool = False) -> object:
    """Parse JSON. orjson reads integers beyond 64 bits as floats; `exact=True` uses the
    slower json module, which keeps them (see `is_lossy_float`). Raises ValueError."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if charset and codecs.lookup(charset).name != "utf-8":
        return json.loads(data.decode(charset))
    return json.loads(data) if exact else orjson.loads(data)


def is_lossy_float(value: float) -> bool:
    """True for a float that may be an integer literal orjson could not hold exactly."""
    return abs(value) >= 2.0**63 and value.is_integer()


def has_lossy_float(tree: object) -> bool:
    """True if some float in `tree` passes `is_lossy_float` (an iterative walk)."""
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            if is_lossy_float(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def reparse_exact(body: Body) -> Body:
    """`body` (kind "json") parsed again with exact integers."""
    return replace(body, value=parse_json(body.data, body.charset, exact=True))


def _sse_events(text: str) -> list[dict[str, object]]:
    """Server-Sent Events as a list of `{"event"?, "id"?, "retry"?, "data"}`, data parsed as
    JSON when it is JSON. Comments (`: ping`) are dropped."""
    events: list[dict[str, object]] = []
    for block in re.split(r"\r\n\r\n|\n\n|\r\r", text):
        event: dict[str, object] = {}
        data: list[str] = []
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name in ("event", "id", "retry"):
                event[name] = value
        if not data and not event:
            continue
        joined = "\n".join(data)
        try:
            event["data"] = orjson.loads(joined) if joined.lstrip()[:1] in ("{", "[") else joined
        except orjson.JSONDecodeError:
            event["data"] = joined
        events.append(event)
    return events


def _ndjson(text: str) -> list[object]:
    lines = (line.strip().strip("\x1e") for line in text.splitlines())  # RS: json-seq
    return [json.loads(line) for line in lines if line]


def _msgpack(data: bytes) -> object:
    import msgpack  # lazily: most bodies are not msgpack

    return _jsonish(msgpack.unpackb(data, raw=False, strict_map_key=False, timestamp=3))


def _jsonish(value: object) -> object:
    """msgpack values as JSON-like ones: keys become strings, bytes `base64:...`, timestamps
    ISO-8601 (so the timestamp placeholder applies)."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonish(v) for v in value]
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)  # msgpack ExtType and the like


def _looks_like_json(data: bytes) -> bool:
    start = data.lstrip()[:1]
    return start in (b"{", b"[")


def _looks_like_xml(data: bytes) -> bool:
    return data.lstrip()[:5] == b"<?xml"


def _parse(kind: Kind, data: bytes, charset: str | None) -> object:
    if kind == "json":
        return parse_json(data, charset)
    if kind == "xml":
        return parse_xml(data, charset)
    if kind == "msgpack":
        return _msgpack(data)
    text = text_of(data, charset)
    if kind == "form":
        return parse_qsl(text, keep_blank_values=True)
    if kind == "sse":
        return _sse_events(text)
    if kind == "ndjson":
        return _ndjson(text)
    return text


def classify(media_type: str, data: bytes) -> Kind:
    """The kind a body is read as, from its media type (sniffing JSON, and XML that starts
    with `<?xml`, when the type is missing or text/plain)."""
    if not data:
        return "empty"
    if _JSON_TYPES.fullmatch(media_type):
        return "json"
    if _NDJSON_TYPES.fullmatch(media_type):
        return "ndjson"
    if _JSONISH_TYPES.fullmatch(media_type):
        return "json"
    if media_type == "text/event-stream":
        return "sse"
    if media_type == "application/x-www-form-urlencoded":
        return "form"
    if _MSGPACK_TYPES.fullmatch(media_type):
        return "msgpack"
    if _XML_TYPES.fullmatch(media_type):
        return "xml"
    if media_type in ("", "text/plain") and _looks_like_json(data):
        return "json"
    if media_type in ("", "text/plain") and _looks_like_xml(data):
        return "xml"
    if _TEXT_TYPES.fullmatch(media_type):
        return "text"
    if not media_type:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "binary"
        return "text"
    return "binary"


def decode_body(headers: Iterable[tuple[bytes, bytes]], body: bytes) -> Body:
    """Decode `body` as its headers describe it. Never raises."""
    header_list = list(headers)
    data, notes, decoded = decode_content_encoding(
        body, header_values(header_list, "content-encoding")
    )
    types = header_values(header_list, "content-type")
    media_type, params = media_type_of(types[0] if types else "")
    charset = params.get("charset")
    kind = classify(media_type, data) if decoded else ("empty" if not data else "binary")
    if kind in ("empty", "binary"):
        return Body(kind, data, data or None, media_type, tuple(notes), decoded, charset)
    try:
        value = _parse(kind, data, charset)
    except Exception as exc:  # any parse failure: fall back to text (msgpack: bytes)
        notes.append(f"unparsable:{kind}:{type(exc).__name__}")
        if kind == "msgpack":
            return Body("binary", data, data, media_type, tuple(notes), decoded, charset)
        kind = "text"
        value = text_of(data, charset)
    return Body(kind, data, value, media_type, tuple(notes), decoded, charset)
