"""Large bodies of mismatches, stored once: content-addressed, compressed (schema v5).

A body of at most `INLINE_MAX` bytes stays in its `mismatches` column (`request_body`,
`expected_body`, `actual_body`). A larger one goes to the `bodies` table, keyed by the
SHA-256 of its bytes and compressed (zstd since schema v6: 20x faster than zlib at
level 6 for as small a result; rows written as zlib still read), and the row keeps the
key in the matching `*_body_ref` column (its body column NULL): the same 100 MB answer on every exchange of
a route, or the recording's body on every run, is stored once. Readers call
`with_bodies` on a row before reading its bodies.

When the project encrypts (`[record] encrypt`, or an encrypted session replayed), every
body goes to `bodies`, small ones too, sealed with AES-GCM under a key from the
command's key source (`sessions.crypto`; the KDF and salt in `body_keys`) and keyed by
an HMAC of its bytes rather than their SHA-256 (a plain hash would confirm a guessed
body). `parity show` opens them with the same key source.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import zlib
from typing import Any

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parity.sessions.crypto import Kdf, KeySource, SessionKeyError, installed_keys
from parity.triage.errors import TriageError

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


SEALED = "+aes-gcm"
"""Suffix of the encoding of an encrypted body (`zstd+aes-gcm`)."""
_NONCE = 12


class BodyKey:
    """The key that seals and opens a database's bodies, derived once from `keys` under
    the KDF in `body_keys` (written there, with a fresh salt, on first use)."""

    def __init__(self, conn: sqlite3.Connection, keys: KeySource) -> None:
        row = conn.execute("SELECT kdf FROM body_keys WHERE name = 'bodies'").fetchone()
        if row is None:
            kdf = keys.new_kdf()
            stored = {**kdf.to_record(), "salt": kdf.salt.hex()}
            conn.execute(
                "INSERT INTO body_keys (name, kdf) VALUES ('bodies', ?)", [json.dumps(stored)]
            )
        else:
            stored = json.loads(row[0])
            kdf = Kdf(
                stored["name"], bytes.fromhex(stored["salt"]),
                stored.get("n", 0), stored.get("r", 0), stored.get("p", 0),
            )  # fmt: skip
        key = keys.key(kdf)
        self._aead = AESGCM(key)
        self._mac = hmac.new(key, b"parity body ref v1", hashlib.sha256).digest()

    def ref(self, body: bytes) -> str:
        return "h" + hmac.new(self._mac, body, hashlib.sha256).hexdigest()

    def seal(self, ref: str, body: bytes) -> tuple[str, bytes]:
        encoding, data = packed(body)
        nonce = os.urandom(_NONCE)
        return encoding + SEALED, nonce + self._aead.encrypt(nonce, data, ref.encode())

    def open(self, ref: str, encoding: str, data: bytes) -> bytes | None:
        try:
            plain = self._aead.decrypt(data[:_NONCE], data[_NONCE:], ref.encode())
        except InvalidTag:
            return None
        return unpacked(encoding.removesuffix(SEALED), plain)


def sealing_key(conn: sqlite3.Connection, keys: KeySource | None = None) -> BodyKey:
    """The database's body key from `keys` (default: the installed key source); a
    `TriageError` saying what to give when there is none or it is wrong."""
    keys = keys if keys is not None else installed_keys()
    if keys is None:
        raise TriageError(
            "stored bodies are encrypted: give the key (PARITY_PASSPHRASE, or --key-file / "
            "PARITY_KEY_FILE)"
        )
    try:
        return BodyKey(conn, keys)
    except SessionKeyError as exc:
        raise TriageError(f"stored bodies are encrypted: {exc}") from None


def body_of(conn: sqlite3.Connection, row: dict[str, Any], column: str) -> bytes | None:
    """The body of `row`'s `column` (`expected_body`, ...), inline or from `bodies`
    (opened with the installed key source when it is encrypted)."""
    body: bytes | None = row.get(column)
    ref = row.get(column + "_ref")
    if body is not None or ref is None:
        return body
    found = conn.execute("SELECT encoding, data FROM bodies WHERE hash = ?", [ref]).fetchone()
    if found is None:
        return None
    if not found[0].endswith(SEALED):
        return unpacked(found[0], found[1])
    opened = sealing_key(conn).open(ref, found[0], found[1])
    if opened is None:
        raise TriageError(
            "wrong passphrase or key file for the stored bodies (they do not authenticate)"
        )
    return opened


SEALED_TEXT = "sealed:"
"""How a rendered-body column (`expected_rendered`) of an encrypted project begins: the
rest is the key of the encrypted text in `bodies`."""


def rendered_text(conn: sqlite3.Connection, value: str | None) -> str | None:
    """A rendered-body column's text, opened from `bodies` when it was encrypted."""
    if value is None or not value.startswith(SEALED_TEXT):
        return value
    text = body_of(conn, {"x_ref": value.removeprefix(SEALED_TEXT)}, "x")
    return None if text is None else text.decode("utf-8", "surrogatepass")


def with_bodies(conn: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
    """`row` (a `mismatches` row, or part of one) with each body that lives in `bodies`
    read back into its column; rows without refs (small bodies, files before v5) as
    they are."""
    for column in BODY_COLUMNS:
        if column in row or column + "_ref" in row:
            row[column] = body_of(conn, row, column)
    return row
