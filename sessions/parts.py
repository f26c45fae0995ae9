"""A session in parts: how a rotated recording is named, grouped and read as one.

`parity record --rotate 30m|90s|500MB` closes the session file when it reaches that age
or size (with its trailer, `continued: true`) and goes on in a new file of the same
session: the header carries the session's `id` and a `part` number, and the files are
named

    20261206-075444-3fa2c1.part0001.parity
    20261206-075444-3fa2c1.part0002.parity  ...

so they sort in order and read as one session at a glance. A session recorded without
rotation is one file, `ID.parity`, as always.

This module is the one home of that grouping: `group_sessions` turns files and
directories into `SessionParts` (one per session, its parts in order), and
`open_session` reads a session's parts as one stream of exchanges (one `Streams`
across them, so an event stream that spans a rotation is one exchange). A part that is
missing (a gap in the numbers, or a last part whose trailer says more followed) is
reported in `ReadResult.missing_parts`: what is there is read, a replay warns and the
gate fails the run, as for a torn file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from parity.sessions.crypto import KeySource
from parity.sessions.file import SUFFIX, ReadResult, SessionFileError, SessionReader
from parity.sessions.model import Exchange, Record, SessionHeader

_PART = re.compile(r"^(?P<id>.+)\.part(?P<part>\d{4,})$")
_SIZE = re.compile(r"^(\d+)\s*(b|kb|mb|gb|kib|mib|gib)$", re.IGNORECASE)
_AGE = re.compile(r"^(\d+)\s*(s|m|h)$", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "s": 1,
    "m": 60,
    "h": 3600,
}

MIN_SIZE = 64 * 1024
"""Smallest `--rotate` size: a part is at least a few records."""


def part_name(session_id: str, part: int) -> str:
    """The file name of a part: `ID.part0001.parity` (4 digits, more past 9999)."""
    return f"{session_id}.part{part:04d}{SUFFIX}"


def name_part(path: Path) -> tuple[str, int | None]:
    """The session id and part number a file's name says (None: a session in one file)."""
    stem = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem
    match = _PART.match(stem)
    if match is None:
        return stem, None
    return match.group("id"), int(match.group("part"))


@dataclass(frozen=True, slots=True)
class Rotation:
    """When the recorder starts a new part: at an age (seconds) or a size (bytes)."""

    seconds: float | None = None
    bytes: int | None = None

    def __str__(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:g}s"
        return f"{self.bytes} bytes"


def parse_rotation(text: str) -> Rotation:
    """`30m`, `90s`, `2h` (an age) or `500MB`, `200KB`, `1GiB` (a size); `ValueError`
    with the reason otherwise."""
    value = text.strip()
    if match := _AGE.match(value):
        seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
        if seconds < 1:
            raise ValueError(f"a rotation age must be at least 1s, not {text!r}")
        return Rotation(seconds=float(seconds))
    if match := _SIZE.match(value):
        size = int(match.group(1)) * _UNITS[match.group(2).lower()]
        if size < MIN_SIZE:
            raise ValueError(f"a rotation size must be at least 64KiB, not {text!r}")
        return Rotation(bytes=size)
    raise ValueError(f"{text!r} is not an age or a size (e.g. 30m, 90s, 2h, 500MB, 200KB)")


@dataclass(frozen=True, slots=True)
class SessionParts:
    """One session's files, in part order (one file for a session not rotated)."""

    id: str
    paths: tuple[Path, ...]
    numbers: tuple[int | None, ...] = ()

    @property
    def path(self) -> Path:
        """The first file (its header starts the session)."""
        return self.paths[0]

    @property
    def name(self) -> str:
        """How messages name it: the file's name, or the id and its parts."""
        if len(self.paths) == 1:
            return self.path.name
        return f"{self.id} ({len(self.paths)} parts)"

    def gaps(self) -> list[int]:
        """Part numbers missing before the last one present."""
        present = {n for n in self.numbers if n is not None}
        if not present:
            return []
        return [n for n in range(1, max(present)) if n not in present]


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix == SUFFIX and p.is_file())
        else:
            yield path


def group_sessions(paths: Iterable[Path]) -> list[SessionParts]:
    """Sessions from files and directories (a directory: its `*.parity`), the parts of
    one session (same directory, same id) grouped in part order; sessions in the order
    their first file came."""
    groups: dict[tuple[Path, str], dict[int | None, Path]] = {}
    for path in _files(paths):
        session_id, part = name_part(path)
        if part is None:
            # A session in one file is its own group, even beside parts of its id.
            groups.setdefault((path, session_id), {None: path})
            continue
        groups.setdefault((path.parent, session_id), {}).setdefault(part, path)
    found: list[SessionParts] = []
    for (_, session_id), parts in groups.items():
        numbers = sorted(parts, key=lambda n: -1 if n is None else n)
        found.append(SessionParts(session_id, tuple(parts[n] for n in numbers), tuple(numbers)))
    return found


def as_sessions(items: Iterable[Path | SessionParts]) -> list[SessionParts]:
    """`group_sessions` of the paths among `items` (files or directories), sessions
    already grouped kept as they are, in the order they came."""
    found: list[SessionParts] = []
    paths: list[Path] = []
    for item in [*items, None]:
        if isinstance(item, SessionParts) or item is None:
            found.extend(group_sessions(paths))
            paths = []
            if item is not None:
                found.append(item)
        else:
            paths.append(item)
    return found


def as_parts(session: Path | SessionParts) -> SessionParts:
    if isinstance(session, SessionParts):
        return session
    session_id, part = name_part(session)
    return SessionParts(session_id, (Path(session),), (part,))


class PartsReader:
    """Streams the exchanges of a session's parts in order, as `SessionReader` does one
    file's: `header` (the first part's), `encrypted`, iteration, and
    `result` after the iteration (the parts' counts summed, the last part's trailer,
    `missing_parts`; `opened`: each part's size and header, as read). A part that cannot be opened raises when it is reached."""

    def __init__(self, session: Path | SessionParts, keys: KeySource | None = None) -> None:
        self.parts = as_parts(session)
        self._keys = keys
        self._first = SessionReader(self.parts.path, keys)
        self.header: SessionHeader = self._first.header
        self.encrypted = self._first.encrypted
        self.path = self.parts.path
        self.result = ReadResult()
        self.opened: list[tuple[Path, int, SessionHeader]] = []
        """Each part read so far: its path, its size when opened and its header."""

    def _readers(self) -> Iterator[SessionReader]:
        streams = self._first.streams
        last = len(self.parts.paths) - 1
        self.opened = []
        for index, path in enumerate(self.parts.paths):
            reader = self._first if index == 0 else SessionReader(path, self._keys)
            with reader:
                self.opened.append((path, reader.size, reader.header))
                if reader.header.id != self.header.id:
                    raise SessionFileError(
                        f"{path} belongs to session {reader.header.id}, not {self.header.id}",
                        path=path,
                    )
                reader.streams = streams
                reader.last_part = index == last
                yield reader
                self._add(reader.result, index == last)

    def _add(self, part: ReadResult, last: bool) -> None:
        total = self.result
        total.skipped_bytes += part.skipped_bytes
        if part.skipped_reason and not total.skipped_reason:
            total.skipped_reason = part.skipped_reason
        total.unknown_records += part.unknown_records
        total.malformed_records += part.malformed_records
        total.first_malformed = total.first_malformed or part.first_malformed
        if last:
            total.trailer = part.trailer
            total.missing_parts = self.parts.gaps()
            numbers = [n for n in self.parts.numbers if n is not None]
            if part.trailer is not None and part.trailer.continued and numbers:
                total.missing_parts.append(max(numbers) + 1)

    def records(self) -> Iterator[Record]:
        self.result = ReadResult()
        for reader in self._readers():
            yield from reader.records()

    def __iter__(self) -> Iterator[Exchange]:
        self.result = ReadResult()
        for reader in self._readers():
            yield from reader

    def close(self) -> None:
        self._first.close()


def open_session(
    session: Path | SessionParts, keys: KeySource | None = None
) -> closing[PartsReader]:
    """A reader of a session's parts as one (a plain `Path`: that one file), for `with`."""
    return closing(PartsReader(session, keys))
