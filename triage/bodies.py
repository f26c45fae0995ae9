"""Large bodies of mismatches, stored once: content-addressed, compressed (schema v5).

A body of at most `INLINE_MAX` bytes stays in its `mismatches` column (`request_body`,
`expected_body`, `actual_body`). A larger one goes to the `bodies` table, keyed by the
SHA-256 of its bytes and compressed (zstd since schema v5's second release: 20x faster
than zlib at level 6 for as small a result; rows written as zlib still read), and the row keeps the key in the matching
`*_body_ref` column (its body column NULL): the same 100 MB answer on every exchange of
a route, or the recording's body on every run, is stored once. Readers call
`with_bodies` on a row before reading its bodies.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from typing import Any

import zstandard

INLINE_MAX = 64 * 1024
"""Bytes: bodies up to this size stay in their row."""
LEVEL = 3
"""zstd's compression level (its default: ~400 MB/s here, about zlib -6's ratio)."""
BODY_COLUMNS = ("request_body", "expected_body", "actual_body")
INSERT_BODY = (
    "INSERT INTO bodies (hash, size, encoding, data) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(hash) DO NOTHING"
)


def body_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def packed(body: bytes) -> tuple[str, bytes]:
    """(encoding, data) to store: zstd, or the bytes themselves when they do not shrink."""
    data = zstandard.ZstdCompressor(level=LEVEL).compress(body)
    if len(data) >= len(body):
        return "identity", body
    return "zstd", data


def unpacked(encoding: str, data: bytes) -> bytes:
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompress(data)
    if encoding == "zlib":  # written before zstd
        return zlib.decompress(data)
    return bytes(data)


def body_of(conn: sqlite3.Connection, row: dict[str, Any], column: str) -> bytes | None:
    """The body of `row`'s `column` (`expected_body`, ...), inline or from `bodies`."""
    body: bytes | None = row.get(column)
    ref = row.get(column + "_ref")
    if body is not None or ref is None:
        return body
    found = conn.execute("SELECT encoding, data FROM bodies WHERE hash = ?", [ref]).fetchone()
    return None if found is None else unpacked(found[0], found[1])


def with_bodies(conn: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
    """`row` (a `mismatches` row, or part of one) with each body that lives in `bodies`
    read back into its column; rows without refs (small bodies, files before v5) as
    they are."""
    for column in BODY_COLUMNS:
        if column in row or column + "_ref" in row:
            row[column] = body_of(conn, row, column)
    return row
