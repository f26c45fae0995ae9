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

The other columns that hold exchange content (`mismatches.url`, `differences`, headers,
`sent`, ...; `results.url` and `error`; `noise` examples; `findings.transition`: the
list is in docs/results-db.md) are sealed under the same key, inline: `SEALED_VALUE` and
the base64 of a nonce and the AES-GCM ciphertext (`BodyKey.seal_text`). The nonce is an
HMAC of the text, so the same text seals to the same value and SQL's `=`, `GROUP BY` and
`DISTINCT` keep working on sealed columns (they reveal equal values, as a hash column
would; nothing more). `SealedText`, the row factory of the connection, opens them in
every row read, so readers see plain text; it asks for the key only when a row holds a
sealed value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import sqlite3
import zlib
from collections.abc import Callable
from pathlib import Path
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


SEALED_VALUE = "sealed:v1:"
"""How a sealed content column's value begins (`BodyKey.seal_text`)."""
_TEXT_AD = b"parity sealed text v1"
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
        key = keys.key(kdf, _file_of(conn))
        self._aead = AESGCM(key)
        self._mac = hmac.new(key, b"parity body ref v1", hashlib.sha256).digest()
        self._text_mac = hmac.new(key, b"parity sealed text v1", hashlib.sha256).digest()

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

    def seal_text(self, text: str) -> str:
        """`text` sealed for a column: `SEALED_VALUE` + base64(nonce + ciphertext), the
        nonce an HMAC of the text (deterministic: equal texts seal equal)."""
        data = text.encode("utf-8", "surrogatepass")
        nonce = hmac.new(self._text_mac, data, hashlib.sha256).digest()[:_NONCE]
        sealed = nonce + self._aead.encrypt(nonce, data, _TEXT_AD)
        return SEALED_VALUE + base64.b64encode(sealed).decode("ascii")

    def open_text(self, data: bytes) -> str | None:
        """The text `seal_text` sealed into `data` (its value's bytes after the base64,
        `sealed_bytes`); None when it does not authenticate."""
        try:
            plain = self._aead.decrypt(data[:_NONCE], data[_NONCE:], _TEXT_AD)
        except InvalidTag:
            return None
        return plain.decode("utf-8", "surrogatepass")


def _file_of(conn: sqlite3.Connection) -> Path | None:
    """The database file of `conn` (what a missing key's message names)."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file)
    return None


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


_WRONG_KEY = "wrong passphrase or key file for the stored bodies (they do not authenticate)"


_TAG = 16


def sealed_bytes(value: object) -> bytes | None:
    """The nonce and ciphertext of a value `BodyKey.seal_text` made (its prefix, then the
    base64 of a nonce and a tag at least: the empty text, or `/`, sealed too); None for
    any other value."""
    if not isinstance(value, str) or not value.startswith(SEALED_VALUE):
        return None
    try:
        data = base64.b64decode(value.removeprefix(SEALED_VALUE), validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if len(data) >= _NONCE + _TAG else None


class SealedText:
    """Seals content columns and opens them again: the row factory of a results
    database's connection once it holds encrypted data (`install`). The key comes from
    `keys` (default: the installed key source) when first needed: reading rows without
    a sealed value needs none."""

    def __init__(self, conn: sqlite3.Connection, keys: KeySource | None = None) -> None:
        self._conn = conn
        self._keys = keys
        self._key: BodyKey | None = None

    @classmethod
    def install(cls, conn: sqlite3.Connection, keys: KeySource | None = None) -> SealedText:
        """The connection's `SealedText`, made its row factory if it is not yet."""
        current = conn.row_factory
        if isinstance(current, SealedText):
            if keys is not None and current._keys is None:
                current._keys, current._key = keys, None
            return current
        sealed = cls(conn, keys)
        conn.row_factory = sealed
        return sealed

    @staticmethod
    def needed(conn: sqlite3.Connection) -> bool:
        """Whether the database has a bodies key, so may hold sealed values."""
        tables = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'body_keys'"
        ).fetchone()
        if tables is None:
            return False
        return conn.execute("SELECT 1 FROM body_keys WHERE name = 'bodies'").fetchone() is not None

    def key(self) -> BodyKey:
        if self._key is None:
            self._key = sealing_key(self._conn, self._keys)
        return self._key

    def opened(self, value: Any) -> Any:
        """`value` opened when it is sealed, else as it is."""
        data = sealed_bytes(value)
        if data is None:
            return value
        text = self.key().open_text(data)
        if text is None:
            raise TriageError(_WRONG_KEY)
        return text

    def __call__(self, cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> tuple[Any, ...]:
        for value in row:  # the common case (no sealed value) kept cheap: every row
            if value.__class__ is str and value.startswith(SEALED_VALUE):
                break
        else:
            return row
        return tuple(map(self.opened, row))


Sealer = Callable[[str], str]
"""Seals one column's text (`BodyKey.seal_text`)."""


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
        raise TriageError(_WRONG_KEY)
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
