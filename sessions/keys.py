"""The project key and the owner-only files of a project's `.parity/` directory.

`.parity/key` holds 32 random bytes, created on first need (written to a temporary name in
the same directory, then `os.replace`d, so a reader never sees half a key). HKDF-SHA256
derives one key per purpose from it (`purpose_key`): the HMAC key of redaction tokens
(`REDACT`) and the AES-GCM key of the secret store (`SECRETS`). `PARITY_PROJECT_KEY`
(64 hex digits) overrides the file: CI, or a second machine of the same team.

Owner-only: the directory is made 0o700 and the files 0o600 (POSIX); on Windows no mode
is set (the README says which ACLs to set).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from parity.exceptions import ParityError

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


def private_dir(path: Path) -> Path:
    """`path` as an owner-only directory (made with its parents when missing)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        with contextlib.suppress(OSError):
            path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write `data` to `path` owner-only and atomically: a temporary name in the same
    directory (0o600 from its creation), flushed to disk, then `os.replace`. With
    `replace=False` an existing file is kept (False is returned): two processes making
    the same file at once both end up with the one that was first."""
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, path)
            return True
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        finally:
            temp.unlink()
        return True
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (made owner-only) while the block runs: where the
    platform has `fcntl.flock`, else none (Windows)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl
        except ImportError:  # Windows
            yield
            return
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
