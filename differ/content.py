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

from parity.differ.charsets import decode_text, text_encoding
from parity.differ.sharedjson import SHARE_FROM, parse_sharing
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
    too_large: int = 0
    """Bytes decoded when decoding stopped at MAX_DECODED (0: it did not); then `data` is
    the raw body, and the body is not compared (`too_large_text`)."""

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


class TooLarge(DecodeError):
    """Decoding stopped at the cap: the body is not compared (see `too_large_text`)."""

    def __init__(self, decoded: int) -> None:
        super().__init__(f"decoded body exceeds {MAX_DECODED} bytes")
        self.decoded = decoded


def too_large_text(decoded: int) -> str:
    """What a difference says of a body whose decoding stopped at the cap."""
    return f"body too large to compare ({decoded // 2**20} MB decoded)"


def _zlib_stream(data: bytes, wbits: int) -> bytes:
    """Decompress every member (gzip allows several), bounded by MAX_DECODED."""
    out: list[bytes] = []
    total = 0
    while data:
        stream = zlib.decompressobj(wbits=wbits)
        chunk = stream.decompress(data, MAX_DECODED - total + 1)
        total += len(chunk)
        if stream.unconsumed_tail or total > MAX_DECODED:
            raise TooLarge(total)
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


_BROTLI_RATIO = 2**22
"""More output than one byte of brotli input can make: a meta-block holds at most 16 MiB
and needs about ten bytes of header and prefix codes, so under 2 MiB per byte (the
reference encoder makes 0.65 MiB per byte of zeros)."""
_BROTLI_PIECE = 2**16


def _unbrotli(data: bytes) -> bytes:
    """Brotli, streamed: brotli 1.1's `Decompressor.process` has no output limit, so the
    input goes in pieces of at most (what the cap leaves) / `_BROTLI_RATIO` bytes, and
    decoding stops as soon as the output passes the cap. One call's output is then at
    most what the cap leaves plus one meta-block (16 MiB: a copy command whose bits came
    in an earlier piece), so decoding never runs far past the cap: a 1.6 KB body that
    decodes to 1 GiB stops at 520 MiB."""
    import brotli  # lazily: most bodies are not br

    decompressor = brotli.Decompressor()
    out: list[bytes] = []
    total = 0
    at = 0
    while at < len(data):
        piece = max(1, min(_BROTLI_PIECE, (MAX_DECODED - total) // _BROTLI_RATIO))
        chunk = decompressor.process(data[at : at + piece])
        at += piece
        total += len(chunk)
        if total > MAX_DECODED:
            raise TooLarge(total)
        out.append(chunk)
    if not decompressor.is_finished():
        raise DecodeError("truncated stream")
    return b"".join(out)


def _unzstd(data: bytes) -> bytes:
    import zstandard  # lazily: most bodies are not zstd

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    out = reader.read(MAX_DECODED + 1)
    if len(out) > MAX_DECODED:
        raise TooLarge(len(out))
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _inflate,
    "br": _unbrotli,
    "zstd": _unzstd,
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """What `decode_content_encoding` made of a body."""

    data: bytes
    """The decoded bytes, or the raw body if some encoding could not be undone."""
    notes: list[str]
    ok: bool
    too_large: int = 0
    """Bytes decoded when decoding stopped at MAX_DECODED (0: it did not)."""


def undo_encodings(data: bytes, encodings: list[str]) -> Decoded:
    """Undo the Content-Encoding values (applied left to right, so undone right to left),
    every step under the one cap MAX_DECODED. Never raises."""
    names = [n.strip().lower() for value in encodings for n in value.split(",") if n.strip()]
    notes: list[str] = []
    current = data
    for name in reversed(names):
        if name == "identity" or not current:
            continue
        decoder = _DECODERS.get(name)
        if decoder is None:
            return Decoded(data, [f"undecodable:{name}:unknown encoding"], False)
        try:
            current = decoder(current)
        except TooLarge as exc:
            return Decoded(data, [f"too-large:{name}:{exc}"], False, exc.decoded)
        except Exception as exc:  # any codec failure means "compare the raw bytes"
            return Decoded(data, [f"undecodable:{name}:{exc}".splitlines()[0][:200]], False)
        notes.append(f"decoded:{name}")
    return Decoded(current, notes, True)


def decode_content_encoding(data: bytes, encodings: list[str]) -> tuple[bytes, list[str], bool]:
    """`undo_encodings` as (bytes, notes, fully_decoded); on the first failure the bytes
    are the raw body."""
    decoded = undo_encodings(data, encodings)
    return decoded.data, decoded.notes, decoded.ok


# --- Content-Type ------------------------------------------------------------------------


def text_and_check(data: bytes, charset: str | None) -> tuple[str, bool]:
    """(bytes as text in `charset`, True if every byte was valid there). UTF-8 if the
    charset is absent, unknown or not a character set (`differ.charsets`); an invalid
    byte becomes a lone surrogate of its own, never U+FFFD. Never raises."""
    encoding = text_encoding(charset) or "utf-8"
    if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return decode_text(data, encoding)


def text_of(data: bytes, charset: str | None) -> str:
    """Bytes as text in `charset` (see `text_and_check`). Never raises."""
    return text_and_check(data, charset)[0]


INVALID_BYTES = "invalid-bytes:kept"
"""The note of a body with bytes not valid in its charset (each kept as its own
character, see `differ.charsets`)."""


def _text_noted(data: bytes, charset: str | None, notes: list[str]) -> str:
    text, valid = text_and_check(data, charset)
    if not valid and INVALID_BYTES not in notes:
        notes.append(INVALID_BYTES)
    return text


def parse_json(
    data: bytes,
    charset: str | None = None,
    *,
    exact: bool = False,
    notes: list[str] | None = None,
    like: object = None,
) -> object:
    """Parse JSON. orjson reads integers beyond 64 bits as floats; `exact=True` uses the
    slower json module, which keeps them (see `is_lossy_float`). Bytes that are not valid
    in the charset (UTF-8 by default) are kept as lone surrogates, so a changed byte is a
    changed string (noted in `notes` as `invalid-bytes:kept`). A large body shares its
    long strings with `like`, the tree it will be compared with (`differ.sharedjson`).
    Raises ValueError."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    encoding = text_encoding(charset) or "utf-8"
    if like is not None and not exact and encoding == "utf-8" and len(data) >= SHARE_FROM:
        shared = parse_sharing(data, like)
        if shared is not None:
            return shared
    if encoding != "utf-8":
        text, valid = decode_text(data, encoding)
        if not valid and notes is not None:
            notes.append(INVALID_BYTES)
        return json.loads(text)
    try:
        return json.loads(data) if exact else orjson.loads(data)
    except ValueError as exc:
        text, valid = decode_text(data, "utf-8")
        if valid and "surrogate" not in str(exc):
            raise
        if not valid and notes is not None:
            notes.append(INVALID_BYTES)
        # Invalid UTF-8, or an escaped lone surrogate orjson refuses: the json module
        # reads the text with each bad byte kept as its own lone surrogate.
        return json.loads(text)


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


def _parse(kind: Kind, data: bytes, charset: str | None, notes: list[str], like: object) -> object:
    if kind == "json":
        return parse_json(data, charset, notes=notes, like=like)
    if kind == "xml":
        return parse_xml(data, charset)
    if kind == "msgpack":
        return _msgpack(data)
    text = _text_noted(data, charset, notes)
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


def decode_body(headers: Iterable[tuple[bytes, bytes]], body: bytes, like: object = None) -> Body:
    """Decode `body` as its headers describe it; a large JSON body shares its long strings
    with `like`, the parsed body it will be compared with. Never raises."""
    header_list = list(headers)
    undone = undo_encodings(body, header_values(header_list, "content-encoding"))
    data, notes, decoded = undone.data, undone.notes, undone.ok
    types = header_values(header_list, "content-type")
    media_type, params = media_type_of(types[0] if types else "")
    charset = params.get("charset")
    kind = classify(media_type, data) if decoded else ("empty" if not data else "binary")
    if kind in ("empty", "binary"):
        return Body(
            kind, data, data or None, media_type, tuple(notes), decoded, charset, undone.too_large
        )
    if charset and text_encoding(charset) is None:
        notes.append(f"charset-unknown:{charset[:40]}")
    try:
        value = _parse(kind, data, charset, notes, like)
    except Exception as exc:  # any parse failure: fall back to text (msgpack: bytes)
        notes.append(f"unparsable:{kind}:{type(exc).__name__}")
        if kind == "msgpack":
            return Body("binary", data, data, media_type, tuple(notes), decoded, charset)
        kind = "text"
        value = _text_noted(data, charset, notes)
    return Body(kind, data, value, media_type, tuple(notes), decoded, charset)
