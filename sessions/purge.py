"""`parity purge --sessions`: delete the session files older than a cutoff, with what
was left beside them.

A session file's time is the later of its recorded start (`started_at` in its header)
and its last write (mtime); a file without a readable header (torn at birth, or not
readable without its key) has its mtime alone. So a file still being written, whatever
its start, is never purged. The parts of a rotated session (`ID.part0001.parity`, ...)
go together, by the time of the newest. With each purged `ID.parity` go the files named after it
that parity or a crash left in the directory (`ID.*`, `.ID.*.tmp`), and hidden temp
files (`.*.tmp`) last written before the cutoff. Nothing else in the directory is
touched, nothing is overwritten: files are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity.sessions.crypto import SessionKeyError
from parity.sessions.file import SUFFIX, SessionFileError, SessionReader
from parity.sessions.parts import group_sessions


@dataclass(slots=True)
class PurgedFile:
    path: Path
    size: int
    at: float
    """The file's time (see the module doc)."""


@dataclass(slots=True)
class SessionPurge:
    """What `purge_sessions` removed (or, with `dry_run`, would remove)."""

    root: Path
    sessions: list[PurgedFile] = field(default_factory=list)
    leftovers: list[PurgedFile] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """One line per file that could not be deleted."""
    dry_run: bool = False

    @property
    def bytes(self) -> int:
        return sum(f.size for f in (*self.sessions, *self.leftovers))

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "sessions": [str(f.path) for f in self.sessions],
            "leftovers": [str(f.path) for f in self.leftovers],
            "bytes": self.bytes,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }


def session_time(path: Path) -> float:
    """The later of the header's `started_at` and the mtime (see the module doc)."""
    mtime = path.stat().st_mtime
    try:
        with SessionReader(path) as reader:
            return max(reader.header.started_at, mtime)
    except (SessionFileError, SessionKeyError):  # unreadable, or encrypted without its key
        return mtime


def _stem(name: str) -> str:
    """`ID` of `ID.parity`, `ID.parity.part`, `.ID.parity.1a2b.tmp`."""
    return name.lstrip(".").split(".", 1)[0]


def purge_sessions(root: Path, cutoff: float, *, dry_run: bool = False) -> SessionPurge:
    """Delete the session files of `root` older than `cutoff` (epoch seconds) and their
    leftovers (see the module doc). A missing directory has nothing to purge."""
    root = Path(root)
    report = SessionPurge(root=root, dry_run=dry_run)
    if not root.is_dir():
        return report
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.is_symlink())
    purged: set[str] = set()
    visible = [p for p in files if p.suffix == SUFFIX and not p.name.startswith(".")]
    for session in group_sessions(visible):
        # A rotated session goes whole or not at all: its time is its newest part's.
        try:
            found = [(p, session_time(p), p.stat().st_size) for p in session.paths]
        except OSError:
            continue  # gone meanwhile
        at = max(t for _, t, _ in found)
        if at < cutoff:
            report.sessions.extend(PurgedFile(path, size, at) for path, _, size in found)
            purged.add(session.id)
    for path in files:
        if path.suffix == SUFFIX and not path.name.startswith("."):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        hidden_temp = path.name.startswith(".") and path.name.endswith(".tmp")
        if _stem(path.name) in purged or (hidden_temp and stat.st_mtime < cutoff):
            report.leftovers.append(PurgedFile(path, stat.st_size, stat.st_mtime))
    if not dry_run:
        report.sessions = [f for f in report.sessions if _delete(f, report.failed)]
        report.leftovers = [f for f in report.leftovers if _delete(f, report.failed)]
    return report


def _delete(found: PurgedFile, failed: list[str]) -> bool:
    try:
        found.path.unlink(missing_ok=True)
    except OSError as exc:
        failed.append(f"cannot delete {found.path}: {exc.strerror or exc}")
        return False
    return True
