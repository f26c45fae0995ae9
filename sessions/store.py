"""The session directory: where session files are created, found and summarized."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity.sessions.crypto import KeySource, SessionKeyError
from parity.sessions.file import SUFFIX, ReadResult, SessionFileError, SessionWriter
from parity.sessions.model import Exchange, SessionHeader
from parity.sessions.parts import (
    SessionParts,
    as_parts,
    group_sessions,
    name_part,
    open_session,
    part_name,
)
from parity.sessions.private import private_dir


def new_session_id(now: float | None = None) -> str:
    """A sortable, collision-safe id: UTC time of the start plus 6 random hex digits."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass(slots=True)
class SessionSummary:
    """What `parity sessions list/show` says about one file, read in one pass."""

    path: Path
    header: SessionHeader
    exchanges: int = 0
    errors: int = 0
    messages: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    last_at: float | None = None
    by_status: Counter[str] = field(default_factory=Counter)
    read: ReadResult = field(default_factory=ReadResult)
    encrypted: bool = False
    parts: tuple[Path, ...] = ()
    """The session's files in order (one unless it was recorded with `--rotate`)."""

    @property
    def complete(self) -> bool:
        """True when the recorder closed the file cleanly (it has a trailer)."""
        return self.read.trailer is not None

    @property
    def ended_at(self) -> float | None:
        return self.read.trailer.ended_at if self.read.trailer else self.last_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.header.id,
            "label": self.header.label,
            "path": str(self.path),
            "upstream": self.header.upstream,
            "started_at": self.header.started_at,
            "ended_at": self.ended_at,
            "complete": self.complete,
            "encrypted": self.encrypted,
            "exchanges": self.exchanges,
            "errors": self.errors,
            "messages": self.messages,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "by_status": dict(sorted(self.by_status.items())),
            "skipped_bytes": self.read.skipped_bytes,
            "skipped_reason": self.read.skipped_reason or None,
            "malformed_records": self.read.malformed_records,
            "parts": [str(p) for p in self.parts or (self.path,)],
            "missing_parts": self.read.missing_parts,
        }


Listed = SessionSummary | SessionFileError | SessionKeyError
"""An entry of a listing: a summary, or why the file cannot be read (`SessionKeyError`:
encrypted, and no key or the wrong one for it)."""


def listed_json(found: Listed) -> dict[str, Any]:
    """One entry of `sessions list --json`: a summary, an encrypted file without its key
    (`encrypted`, its error), or a file that cannot be read (its error)."""
    if isinstance(found, SessionSummary):
        return found.to_json()
    if isinstance(found, SessionKeyError) and found.path is not None:
        return {
            "id": name_part(found.path)[0],
            "path": str(found.path),
            "encrypted": True,
            "error": str(found),
        }
    return {"error": str(found)}


def summarize(session: Path | SessionParts, keys: KeySource | None = None) -> SessionSummary:
    """Count a session's exchanges, errors and bytes (all its parts) without keeping them
    in memory (an encrypted file with `keys`, default the installed key source)."""
    parts = as_parts(session)
    with open_session(parts, keys) as reader:
        summary = SessionSummary(
            path=parts.path, header=reader.header, encrypted=reader.encrypted, parts=parts.paths
        )
        for exchange in reader:
            summary.exchanges += 1
            summary.messages += len(exchange.messages)
            summary.request_bytes += len(exchange.request.body)
            summary.last_at = exchange.request.timestamp_start
            if exchange.response is not None:
                summary.response_bytes += len(exchange.response.body)
                summary.by_status[str(exchange.response.status)] += 1
            if exchange.error is not None:
                summary.errors += 1
                if exchange.response is None:
                    summary.by_status["error"] += 1
        summary.read = reader.result
    return summary


class SessionStore:
    """A directory of `ID.parity` files.

    The directory is created owner-only (0700) because sessions hold users' journal
    text and credentials.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def create(
        self,
        label: str = "",
        upstream: str | None = None,
        recorder: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
        encrypt: KeySource | None = None,
        started_at: float | None = None,
        *,
        part: int | None = None,
        session_id: str | None = None,
    ) -> SessionWriter:
        """Start a new session file and return its writer (the header is already written);
        encrypted with the key from `encrypt` when given. `started_at` (default now) is
        the header's start and the id's time (an imported session's first request). With
        `part`, a part of a rotated session (`ID.part0001.parity`), of session
        `session_id` (default: a new id)."""
        try:
            private_dir(self.root)
        except OSError as exc:
            raise SessionFileError(
                f"cannot create session directory {self.root}: {exc}", path=self.root
            ) from exc
        if not self.root.is_dir():
            raise SessionFileError(
                f"session directory {self.root} is not a directory", path=self.root
            )
        header = _new_header(label, upstream, recorder, meta, started_at)
        if session_id is not None:
            header.id = session_id
        name = f"{header.id}{SUFFIX}"
        if part is not None:
            header.part, name = part, part_name(header.id, part)
        return SessionWriter(self.root / name, header, encrypt=encrypt)

    def paths(self) -> list[Path]:
        """Session files, oldest first (ids sort by start time)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.suffix == SUFFIX and p.is_file())

    def sessions(self) -> list[SessionParts]:
        """The sessions, each with its parts in order (`sessions.parts`), oldest first."""
        if not self.root.is_dir():
            return []
        return group_sessions([self.root])

    def find(self, ref: str) -> SessionParts:
        """A session from a path (that file), a full id, or a unique id prefix (all its
        parts)."""
        as_path = Path(ref)
        if as_path.suffix == SUFFIX and as_path.is_file():
            return as_parts(as_path)
        found = self.sessions()
        matches = [s for s in found if s.id == ref or s.path.stem == ref]
        if not matches:
            matches = [s for s in found if s.id.startswith(ref)]
        if not matches:
            raise SessionFileError(f"no session {ref!r} in {self.root}", path=self.root)
        if len(matches) > 1:
            names = ", ".join(s.path.stem for s in matches[:5])
            raise SessionFileError(f"session {ref!r} is ambiguous: {names}")
        return matches[0]

    def resolve(self, ref: str) -> Path:
        """The first file of the session `ref` names (`find`)."""
        return self.find(ref).path

    def summaries(self, keys: KeySource | None = None) -> list[Listed]:
        """A summary per file, oldest first; a file that cannot be read gives its error
        instead (listed last), an encrypted one without its key a `SessionKeyError`."""
        found: list[Listed] = []
        for session in self.sessions():
            try:
                found.append(summarize(session, keys))
            except (SessionFileError, SessionKeyError) as exc:
                found.append(exc)
        return sorted(
            found,
            key=lambda s: (0, s.header.started_at) if isinstance(s, SessionSummary) else (1, 0.0),
        )


def save_session(
    where: str,
    exchanges: Iterable[Exchange],
    *,
    label: str = "",
    upstream: str | None = None,
    recorder: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
    encrypt: KeySource | None = None,
) -> Path:
    """Write `exchanges` (seq numbers kept) as a new session file, owner-only: at `where`
    (a new file, never an existing one), or in a directory (an existing one, or a path
    ending with a separator) under a new id; encrypted with the key from `encrypt` when
    given. Returns the file; any failure is a `SessionFileError`."""
    path = Path(where)
    try:
        if path.is_dir() or where.endswith(("/", os.sep)):
            writer = SessionStore(path).create(
                label=label, upstream=upstream, recorder=recorder, meta=meta, encrypt=encrypt
            )
        else:
            private_dir(path.parent)
            header = _new_header(label, upstream, recorder, meta)
            writer = SessionWriter(path, header, encrypt=encrypt)
        with writer:
            for exchange in exchanges:
                writer.append(exchange)
    except OSError as exc:
        raise SessionFileError(str(exc)) from exc
    return writer.path


def _new_header(
    label: str,
    upstream: str | None,
    recorder: dict[str, str] | None,
    meta: dict[str, Any] | None,
    started_at: float | None = None,
) -> SessionHeader:
    now = time.time() if started_at is None else started_at
    return SessionHeader(
        id=new_session_id(now),
        label=label,
        started_at=now,
        upstream=upstream,
        recorder=recorder or {},
        meta=meta or {},
    )
