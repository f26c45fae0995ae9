"""Fuzzing the content decoders: random bytes under random Content-Type, charset and
Content-Encoding headers. `decode_body` never raises and never returns more than its cap."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from hypothesis import strategies as st

from parity.differ import content, sharedjson
from parity.differ.content import decode_body
from tests.fuzz.harness import given_target, memory_cap
from tests.fuzz.strategies import (
    NON_TEXT_CHARSETS,
    TEXT_CHARSETS,
    bodies,
    compress,
    content_types,
    json_values,
)

_KINDS = {"empty", "json", "form", "msgpack", "sse", "ndjson", "xml", "text", "binary"}


def check_decoded(headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    with memory_cap():
        decoded = decode_body(headers, body)
    assert decoded.kind in _KINDS
    assert len(decoded.data) <= content.MAX_DECODED
    if decoded.kind == "text":
        assert isinstance(decoded.value, str)
    if decoded.kind == "binary":
        assert isinstance(decoded.value, bytes)


@given_target(bodies(TEXT_CHARSETS))
def test_decode_body_never_raises(case: tuple[list[tuple[bytes, bytes]], bytes]) -> None:
    check_decoded(*case)


@given_target(bodies(TEXT_CHARSETS + NON_TEXT_CHARSETS))
def test_decode_body_never_raises_any_charset(
    case: tuple[list[tuple[bytes, bytes]], bytes],
) -> None:
    check_decoded(*case)


@given_target(st.binary(max_size=256), content_types(TEXT_CHARSETS), st.binary(max_size=40))
def test_decode_body_raw_headers(body: bytes, media: str, encoding: bytes) -> None:
    """Header values as arbitrary bytes (latin-1 on the wire)."""
    check_decoded(
        [(b"Content-Type", media.encode("utf-8", "replace")), (b"content-encoding", encoding)], body
    )


@contextlib.contextmanager
def small_cap(limit: int) -> Iterator[None]:
    saved = content.MAX_DECODED
    content.MAX_DECODED = limit
    try:
        yield
    finally:
        content.MAX_DECODED = saved


@given_target(
    st.sampled_from(("gzip", "deflate", "br", "zstd")),
    st.one_of(st.integers(1, 1 << 16), st.integers((1 << 16) + 1, 1 << 18)),
    st.binary(min_size=1, max_size=8),
)
def test_decoded_size_is_capped(encoding: str, size: int, unit: bytes) -> None:
    """A body that decodes past the cap (a small bomb, with the cap lowered to 64 KiB)
    is kept encoded, never returned whole."""
    body = compress((unit * (size // len(unit) + 1))[:size], encoding)
    headers = [(b"Content-Type", b"application/json"), (b"Content-Encoding", encoding.encode())]
    with small_cap(1 << 16):
        check_decoded(headers, body)


_TRICKY = [b"NaN", b"Infinity", b"1e400", b"-1E+999", b"18446744073709551616", b"-9223372036854775809",
           b'"\\ud800"', b'"a":1,"a":2', b"\xff", b"\xed\xa0\x80", b"\t", b"[" * 40, b"-0", b"1.0"]  # fmt: skip


@st.composite
def _json_texts(draw: st.DrawFn) -> bytes:
    """JSON as json.dumps writes it, sometimes with a tricky token spliced in."""
    data = json.dumps(draw(json_values()), ensure_ascii=draw(st.booleans())).encode()
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(_TRICKY)) + data[at:]
    return data


@given_target(_json_texts(), json_values())
def test_a_shared_parse_reads_as_orjson_does(data: bytes, other: object) -> None:
    """`parse_sharing` gives parse_json's very tree (types, key order, values) or None;
    it shares strings with the tree it is given."""
    saved = sharedjson.SHORTEST
    sharedjson.SHORTEST = 1  # share every string, so that sharing is exercised
    try:
        for like in (other, content.parse_json(data) if _parses(data) else other):
            tree = sharedjson.parse_sharing(data, [like, "x"])
            if tree is not None:
                assert repr(tree) == repr(content.parse_json(data))
    finally:
        sharedjson.SHORTEST = saved


def _parses(data: bytes) -> bool:
    try:
        content.parse_json(data)
    except (ValueError, RecursionError):
        return False
    return True
