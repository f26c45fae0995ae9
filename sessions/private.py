"""Owner-only files and directories: the one home of how parity creates what it stores.

Everything parity writes (session files, `.parity/` and its files, the results database,
the gate artifact, exports, shrunk sessions) holds users' traffic or what protects it, so
on POSIX it is created 0600 (files) and 0700 (directories), never widened afterwards, and
never written to a temp file outside its own directory.

    private_dir(path)                # mkdir -p, each directory it creates 0700
    fd = create_private(path)        # O_EXCL, 0600: never an existing file
    write_private(path, data)        # whole file, 0600, atomically (same-dir temp + replace)

On Windows there is no chmod: a directory parity creates gets its inherited ACL replaced
by one granting the current user alone (`icacls DIR /inheritance:r /grant:r USER:(OI)(CI)F`,
one call per new directory; files created in it inherit that). If icacls is missing or
fails, nothing else happens and the README says what to set by hand.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import subprocess
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
_BINARY = getattr(os, "O_BINARY", 0)


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents, each owner-only; an existing directory is
    left as it is (its owner chose its mode). Raises OSError."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile
        _restrict_windows(directory)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(path))
    return path


def create_private(path: Path, flags: int = os.O_WRONLY) -> int:
    """Open a new file at `path` (O_CREAT | O_EXCL: never an existing one), owner-only;
    its descriptor. Raises OSError (FileExistsError when it exists)."""
    return os.open(path, flags | os.O_CREAT | os.O_EXCL | _BINARY, FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` as the whole of `path`, owner-only and atomically: a reader sees the
    old file or the new one. The temp file is a hidden name in the same directory, created
    owner-only, removed on any failure. Raises OSError."""
    path = Path(path)
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = create_private(temp)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _restrict_windows(directory: Path) -> None:
    """On Windows, the current user alone on a directory parity just created (see the
    module doc); best effort, silent. Nothing on POSIX (the mode did it)."""
    if os.name != "nt":
        return
    user = os.environ.get("USERNAME")
    if not user:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["icacls", str(directory), "/inheritance:r", "/grant:r", f"{user}:(OI)(CI)F"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
