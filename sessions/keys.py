"""The project key and the owner-only files of a project's `.parity/` directory.

`.parity/key` holds 32 random bytes, created on first need (written to a temporary name in
the same directory, then `os.replace`d, so a reader never sees half a key). HKDF-SHA256
derives one key per purpose from it (`purpose_key`): the HMAC key of redaction tokens
(`REDACT`) and the AES-GCM key of the secret store (`SECRETS`). `PARITY_PROJECT_KEY`
(64 hex digits) overrides the file: CI, or a second machine of the same team.

Owner-only, through `sessions.private` (0700 directories, 0600 files; on Windows an ACL
for the current user where icacls allows).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from parity.exceptions import ParityError
from parity.sessions.private import private_dir, write_private

KEY_ENV = "PARITY_PROJECT_KEY"
KEY_FILE = "key"
KEY_BYTES = 32
REDACT = b"parity redact v1"
SECRETS = b"parity secrets v1"


class ProjectKeyError(ParityError):
    """The project key cannot be read or made; `path` is the file (None: the variable)."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on `directory` (made owner-only when missing) while the block
    runs, with `fcntl.flock` on the directory itself (no lock file is left behind);
    none where there is no flock (Windows)."""
    private_dir(directory)
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def project_key(state: Path, *, create: bool = True) -> bytes | None:
    """The 32-byte project key: `$PARITY_PROJECT_KEY`, else `state/key` (made when
    missing and `create`; None when missing and not `create`)."""
    env = os.environ.get(KEY_ENV)
    if env is not None:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise ProjectKeyError(f"${KEY_ENV} must be {KEY_BYTES * 2} hex digits")
        return key
    path = state / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
        try:
            write_private(path, secrets.token_bytes(KEY_BYTES), replace=False)
            key = path.read_bytes()  # ours, or the one another process made first
        except OSError as exc:
            raise ProjectKeyError(
                f"cannot write the project key {path}: {exc.strerror or exc}", path=path
            ) from None
    except OSError as exc:
        raise ProjectKeyError(
            f"cannot read the project key {path}: {exc.strerror or exc}", path=path
        ) from None
    if len(key) != KEY_BYTES:
        raise ProjectKeyError(
            f"the project key {path} is not {KEY_BYTES} bytes (damaged? set ${KEY_ENV})",
            path=path,
        )
    return key


def purpose_key(key: bytes, purpose: bytes) -> bytes:
    """HKDF-SHA256 of the project key for one purpose (`REDACT`, `SECRETS`)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)
