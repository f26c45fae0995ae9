"""Hypothesis strategies shared by the fuzz targets: hostile headers and bodies."""

from __future__ import annotations

import gzip
import json
import zlib

import brotli
import zstandard
from hypothesis import strategies as st

MEDIA_TYPES = (
    "application/json",
    "application/problem+json",
    "application/x-amz-json-1.1",
    "application/x-ndjson",
    "application/xml",
    "text/xml",
    "application/atom+xml",
    "text/html",
    "text/plain",
    "text/event-stream",
    "application/x-www-form-urlencoded",
    "application/msgpack",
    "application/octet-stream",
    "image/png",
    "",
    "garbage",
    ";;;",
)
TEXT_CHARSETS = (
    "utf-8",
    "UTF-8",
    "latin-1",
    "iso-8859-1",
    "utf-16",
    "utf-16-le",
    "cp1252",
    "ascii",
    "shift_jis",
    "utf-32",
    "nonsense",
    "",
    "utf8mb4",
)
NON_TEXT_CHARSETS = ("hex", "base64", "zlib", "rot13", "idna", "bz2", "uu", "quopri")
ENCODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd", "identity", "compress", "bogus")


def compress(data: bytes, name: str) -> bytes:
    if name in ("gzip", "x-gzip"):
        return gzip.compress(data, mtime=0)
    if name == "deflate":
        return zlib.compress(data)
    if name == "br":
        return bytes(brotli.compress(data))
    if name == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def content_types(charsets: tuple[str, ...]) -> st.SearchStrategy[str]:
    """`type; charset=...` with odd spacing, case and extra parameters."""
    charset = st.one_of(st.none(), st.sampled_from(charsets), st.text(max_size=12))
    extra = st.sampled_from(("", "; boundary=x", "; q=0.5", ';charset="utf-8"', "; a"))
    return st.builds(
        lambda media, cs, more, upper: (
            (media.upper() if upper else media) + ("" if cs is None else f"; charset={cs}") + more
        ),
        st.sampled_from(MEDIA_TYPES) | st.text(max_size=20),
        charset,
        extra,
        st.booleans(),
    )


def encoding_chains() -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(ENCODINGS), max_size=3)


@st.composite
def bodies(
    draw: st.DrawFn, charsets: tuple[str, ...] = TEXT_CHARSETS
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(headers, body): random or JSON-ish bytes, really encoded by a random chain or not,
    under random Content-Type and Content-Encoding headers."""
    raw = draw(
        st.one_of(
            st.binary(max_size=512),
            st.builds(lambda v: json.dumps(v).encode(), json_values()),
            st.builds(
                lambda t, cs: t.encode("utf-16" if cs else "utf-8"),
                st.text(max_size=100),
                st.booleans(),
            ),
        )
    )
    chain = draw(encoding_chains())
    body = raw
    if draw(st.booleans()):  # really encoded (else: the header lies)
        for name in chain:
            body = compress(body, name)
    if draw(st.booleans()) and body:
        cut = draw(st.integers(0, len(body)))
        body = body[:cut]  # half-written
    headers = [(b"Content-Type", draw(content_types(charsets)).encode("utf-8", "surrogateescape"))]
    if chain:
        headers.append((b"Content-Encoding", ", ".join(chain).encode()))
    return headers, body


def json_values(max_leaves: int = 20) -> st.SearchStrategy[object]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.text(max_size=10), children, max_size=5),
        ),
        max_leaves=max_leaves,
    )
