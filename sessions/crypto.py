"""Encryption at rest: session files sealed frame by frame with AES-256-GCM.

An encrypted session file is a plaintext envelope (a msgpack map: format, version,
cipher, the KDF's name, parameters and salt, the nonce prefix; nothing recorded) and
then one sealed frame per record, the session header first:

    frame = length (u32 BE) | CRC-32 of those 4 bytes (u32 BE) | AES-GCM ciphertext+tag

Frame `i` (the header is 0) is sealed under nonce = prefix (8 random bytes) | i (u32 BE)
with i (u64 BE) as associated data, so a frame moved, dropped or replaced does not
authenticate. The file key comes from a passphrase (scrypt, per-file salt) or a key
file (HKDF-SHA256 of its bytes, per-file salt); the key is never in the file.

A `KeySource` says where keys come from; the command line resolves one (options,
environment, parity.toml) and installs it with `use_keys`, and every `SessionReader`
and writer without one of its own uses it. This room never reads parity.toml.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from parity.exceptions import ParityError

ENCRYPTED_FORMAT = "parity-session-encrypted"
ENCRYPTED_VERSION = 1
CIPHER = "AES-256-GCM"
KDF_SCRYPT = "scrypt"
KDF_KEY_FILE = "key-file"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
"""scrypt's cost for new files (~32 MiB, ~0.1 s once per file and process)."""
_SCRYPT_MAX_MEMORY = 256 << 20
"""A header may not ask scrypt for more memory than this (128 * n * r bytes)."""
SALT_BYTES = 16
PREFIX_BYTES = 8
FRAME_HEAD = 8
"""Bytes before each frame's ciphertext: its length and the CRC-32 of the length."""
TAG_BYTES = 16
MIN_KEY_FILE = 16
_HKDF_INFO = b"parity session v1"


class SessionKeyError(ParityError):
    """No key, or the wrong key, for an encrypted file; `path` is the file (None: the
    key source itself, e.g. a key file that cannot be read). `missing` is True when no
    key was available at all (listings show such a file as `encrypted`)."""

    def __init__(self, message: str, *, path: Path | None = None, missing: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.missing = missing


@dataclass(frozen=True, slots=True)
class Kdf:
    """How a file's key is derived: `name` (scrypt or key-file), salt, scrypt's cost."""

    name: str
    salt: bytes
    n: int = 0
    r: int = 0
    p: int = 0

    def to_record(self) -> dict[str, Any]:
        if self.name == KDF_SCRYPT:
            return {"name": self.name, "salt": self.salt, "n": self.n, "r": self.r, "p": self.p}
        return {"name": self.name, "salt": self.salt}


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}"[:80])
    return value


def parse_envelope(record: dict[str, Any]) -> tuple[Kdf, bytes]:
    """The KDF and nonce prefix of an encrypted file's envelope; `ValueError` says what
    is wrong (the envelope is plaintext anyone may have written: its costs are bounded)."""
    version = record.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError("envelope without a version")
    if version > ENCRYPTED_VERSION:
        raise ValueError(f"encryption version {version} (this parity knows {ENCRYPTED_VERSION})")
    if record.get("cipher") != CIPHER:
        raise ValueError(f"unknown cipher {record.get('cipher')!r}"[:80])
    kdf, prefix = record.get("kdf"), record.get("nonce_prefix")
    if not isinstance(prefix, bytes) or len(prefix) != PREFIX_BYTES:
        raise ValueError("nonce prefix missing or not 8 bytes")
    if not isinstance(kdf, dict) or not isinstance(kdf.get("salt"), bytes):
        raise ValueError("KDF without a salt")
    salt, name = kdf["salt"], kdf.get("name")
    if not 8 <= len(salt) <= 64:
        raise ValueError("salt of the wrong size")
    if name == KDF_KEY_FILE:
        return Kdf(KDF_KEY_FILE, salt), prefix
    if name != KDF_SCRYPT:
        raise ValueError(f"unknown KDF {name!r}"[:80])
    n, r, p = _int(kdf.get("n")), _int(kdf.get("r")), _int(kdf.get("p"))
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    if 128 * n * r > _SCRYPT_MAX_MEMORY or n * r * p > (1 << 24):
        raise ValueError("scrypt parameters ask for too much memory or time")
    return Kdf(KDF_SCRYPT, salt, n, r, p), prefix


PASSPHRASE_ENV = "PARITY_PASSPHRASE"
KEY_FILE_ENV = "PARITY_KEY_FILE"
"""Where a passphrase and a key file come from without a command line (CI, `mitmdump -s`)."""


class KeySource:
    """Where keys come from: a passphrase (or a way to ask for one, used only when a file
    needs it) and/or a key file. Derived file keys are cached, so a file opened twice
    (replay reads each file twice) costs one scrypt. For writing, a key file wins."""

    def __init__(
        self,
        passphrase: str | None = None,
        key_file: Path | None = None,
        prompt: Callable[[], str] | None = None,
    ) -> None:
        self._passphrase = passphrase
        self.key_file = Path(key_file) if key_file is not None else None
        self._prompt = prompt
        self._material: bytes | None = None
        self._keys: dict[Kdf, bytes] = {}

    @property
    def can_write(self) -> bool:
        return self.key_file is not None or self._passphrase is not None or bool(self._prompt)

    def new_kdf(self) -> Kdf:
        """The KDF of a new file: a fresh salt under the key file, else the passphrase."""
        salt = os.urandom(SALT_BYTES)
        if self.key_file is not None:
            return Kdf(KDF_KEY_FILE, salt)
        if self.can_write:
            return Kdf(KDF_SCRYPT, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        raise SessionKeyError(
            "encryption needs a passphrase (PARITY_PASSPHRASE, or a terminal to type it) "
            "or a key file (--key-file, PARITY_KEY_FILE, [record] key_file)",
            missing=True,
        )

    def key(self, kdf: Kdf, path: Path | None = None) -> bytes:
        """The 32-byte key of a file with this KDF; `SessionKeyError` when there is no
        passphrase or key file for it."""
        cached = self._keys.get(kdf)
        if cached is not None:
            return cached
        if kdf.name == KDF_KEY_FILE:
            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=kdf.salt, info=_HKDF_INFO)
            key = hkdf.derive(self._key_material(path))
        else:
            secret = self._secret(path)
            key = Scrypt(salt=kdf.salt, length=32, n=kdf.n, r=kdf.r, p=kdf.p).derive(secret)
        self._keys[kdf] = key
        return key

    def _secret(self, path: Path | None) -> bytes:
        if self._passphrase is None and self._prompt is not None:
            self._passphrase = self._prompt()
            self._prompt = None
        if self._passphrase is None:
            raise SessionKeyError(
                f"{path or 'the file'} is encrypted with a passphrase: set PARITY_PASSPHRASE "
                "(or run on a terminal to type it)",
                path=path,
                missing=True,
            )
        return self._passphrase.encode("utf-8", "surrogateescape")

    def _key_material(self, path: Path | None) -> bytes:
        if self._material is not None:
            return self._material
        if self.key_file is None:
            raise SessionKeyError(
                f"{path or 'the file'} is encrypted with a key file: pass --key-file or set "
                "PARITY_KEY_FILE",
                path=path,
                missing=True,
            )
        try:
            material = self.key_file.read_bytes()
        except OSError as exc:
            raise SessionKeyError(
                f"cannot read key file {self.key_file}: {exc.strerror or exc}"
            ) from None
        if len(material.strip()) < MIN_KEY_FILE:
            raise SessionKeyError(
                f"key file {self.key_file} holds {len(material.strip())} bytes; it needs at "
                f"least {MIN_KEY_FILE} (e.g. head -c 32 /dev/urandom > {self.key_file})"
            )
        self._material = material.strip()
        return self._material


def ready_to_write(source: KeySource, sessions_dir: Path) -> None:
    """Check a key source before the first encrypted file of `sessions_dir` is created: a
    key file inside the directory it protects is refused, and an unreadable or short key
    file says so now rather than at the first exchange. `SessionKeyError` when not."""
    if source.key_file is not None:
        if source.key_file.resolve().is_relative_to(sessions_dir.resolve()):
            raise SessionKeyError(
                f"key file {source.key_file} is inside the session directory "
                f"{sessions_dir}: keep the key away from the data it protects"
            )
        source.key(source.new_kdf())
    elif not source.can_write:
        source.new_kdf()  # raises, naming what would do


_installed: KeySource | None = None


def use_keys(source: KeySource | None) -> None:
    """Install the key source every reader and writer without one of its own uses (the
    command line does this once per command)."""
    global _installed
    _installed = source


def installed_keys() -> KeySource | None:
    return _installed


def _frame_head(length: int) -> bytes:
    size = struct.pack(">I", length)
    return size + struct.pack(">I", zlib.crc32(size))


def frame_length(head: bytes) -> int | None:
    """A frame's ciphertext length from its 8-byte head; None when the CRC does not match."""
    size, check = head[:4], struct.unpack(">I", head[4:8])[0]
    return None if zlib.crc32(size) != check else int(struct.unpack(">I", size)[0])


class FrameCipher:
    """Seals (writer) or opens (reader) the frames of one file, under its key."""

    def __init__(self, key: bytes, prefix: bytes) -> None:
        self._aead = AESGCM(key)
        self._prefix = prefix
        self.index = 0
        """The next frame's index (writer)."""

    def _nonce(self, index: int) -> bytes:
        if index >= 1 << 32:
            raise OverflowError("more than 2^32 frames in one session file")
        return self._prefix + struct.pack(">I", index)

    def seal(self, pieces: list[bytes]) -> list[bytes]:
        """The next frame, as [head, ciphertext]: one record's pieces sealed whole."""
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        index, self.index = self.index, self.index + 1
        sealed = self._aead.encrypt(self._nonce(index), data, struct.pack(">Q", index))
        return [_frame_head(len(sealed)), sealed]

    def open(self, index: int, sealed: bytes) -> bytes | None:
        """Frame `index`'s plaintext; None when it does not authenticate."""
        if len(sealed) < TAG_BYTES:
            return None
        try:
            return self._aead.decrypt(self._nonce(index), sealed, struct.pack(">Q", index))
        except InvalidTag:
            return None


def new_envelope(source: KeySource) -> tuple[dict[str, Any], FrameCipher]:
    """The plaintext envelope of a new encrypted file and the cipher that seals its frames."""
    kdf = source.new_kdf()
    prefix = os.urandom(PREFIX_BYTES)
    envelope = {
        "format": ENCRYPTED_FORMAT,
        "version": ENCRYPTED_VERSION,
        "cipher": CIPHER,
        "kdf": kdf.to_record(),
        "nonce_prefix": prefix,
    }
    return envelope, FrameCipher(source.key(kdf), prefix)


class SealedScratch:
    """A process's own scratch file for what it spills from memory (results held for the
    end of a run, correlation seeds): anonymous (`tempfile.TemporaryFile`: no name on
    POSIX, deleted on close on Windows, so a crash leaves nothing behind) and every record
    sealed with AES-GCM under a key that exists only in this process's memory, so what a
    run spills is never plaintext on disk, not even in freed blocks. Records are read back
    by the position `append` gave (`read_at`, which also gives the next one's)."""

    _HEAD = struct.Struct(">IQ")  # sealed length, record index (the nonce)

    def __init__(self, prefix: str) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix=prefix)  # noqa: SIM115 - close()
        self._aead = AESGCM(os.urandom(32))
        self._count = 0

    @staticmethod
    def _nonce(index: int) -> bytes:
        return struct.pack(">Q", index) + bytes(4)

    def append(self, data: bytes) -> int:
        """Seal and append one record; its position."""
        self._file.seek(0, os.SEEK_END)
        at = self._file.tell()
        index, self._count = self._count, self._count + 1
        sealed = self._aead.encrypt(self._nonce(index), data, None)
        self._file.write(self._HEAD.pack(len(sealed), index) + sealed)
        return at

    def read_at(self, at: int) -> tuple[bytes, int]:
        """The record at `at`, and the position of the next."""
        self._file.seek(at)
        length, index = self._HEAD.unpack(self._file.read(self._HEAD.size))
        sealed = self._file.read(length)
        return self._aead.decrypt(self._nonce(index), sealed, None), at + self._HEAD.size + length

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()
