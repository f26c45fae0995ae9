"""Fuzzing the content decoders: random bytes under random Content-Type, charset and
Content-Encoding headers. `decode_body` never raises and never returns more than its cap."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hypothesis import strategies as st

from parity.differ import content
from parity.differ.content import decode_body
from tests.fuzz.harness import given_target, memory_cap
from tests.fuzz.strategies import (
    NON_TEXT_CHARSETS,
    TEXT_CHARSETS,
    bodies,
    compress,
    content_types,
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
