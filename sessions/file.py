"""The session file, v1: a stream of msgpack maps, written append-only.

    header      {"format": "parity-session", "version": 1, "id", ...}
    exchange*   {"kind": "exchange", "seq", "request", "response", ...}
    trailer?    {"kind": "trailer", "exchanges", "errors", "ended_at"}

Every record goes to the OS in one write as soon as its exchange completes, so a
recorder killed at any moment leaves a file whose complete records can all be read
back; the reader skips a torn tail and says how many bytes it skipped.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import msgpack

from parity.exceptions import ParityError
from parity.sessions.encode import segments, write_all
from parity.sessions.model import Exchange, Record, RecordError, SessionHeader, Trailer
from parity.sessions.private import create_private

FORMAT_NAME = "parity-session"
FORMAT_VERSION = 1
SUFFIX = ".parity"

# A header never needs more than this; a foreign file is rejected after reading at most this.
_HEADER_LIMIT = 1 << 20
# Largest single record the reader accepts (a body of ~2 GiB); msgpack's own default is 100 MiB,
# which a 100 MB journal upload would already exceed.
_RECORD_LIMIT = (1 << 31) - 1
_READ_SIZE = 1 << 20


class SessionFileError(ParityError):
    """A file cannot be read or written as a parity session; the message says why and where.
    `path` is the file (or the session directory) it is about."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def _options(limit: int) -> dict[str, Any]:
    """msgpack's options for `limit` bytes: strict text, and no header may declare more
    items or bytes than there are."""
    lengths = ("bin", "str", "array", "map", "ext")
    return {
        "raw": False,
        "unicode_errors": "strict",
        "strict_map_key": True,
        **{f"max_{kind}_len": limit for kind in lengths},
    }


_RELEASE_AFTER = 8 << 20
"""Bytes of one record past which the reader drops its msgpack buffer after it."""


def _header_unpacker(data: bytes) -> Any:
    """For the header: no msgpack header in it may declare more than the bytes read."""
    unpacker = msgpack.Unpacker(max_buffer_size=_HEADER_LIMIT, **_options(len(data)))
    unpacker.feed(data)
    return unpacker


class _Until:
    """The file as msgpack reads it, ending at `end` (the size at open: records a
    recorder appends later are read on a later open)."""

    def __init__(self, file: IO[bytes], end: int) -> None:
        self.file = file
        self.end = end

    def read(self, count: int) -> bytes:
        return self.file.read(max(0, min(count, self.end - self.file.tell())))


def _record_unpacker(file: IO[bytes], offset: int, size: int) -> Any:
    """Streams records from `offset`: no msgpack header may declare more items or
    bytes than there are from `offset` to `size`."""
    file.seek(offset)
    return msgpack.Unpacker(
        _Until(file, size),
        max_buffer_size=_RECORD_LIMIT,
        read_size=_READ_SIZE,
        **_options(size - offset),
    )


# msgpack's message for a header over a limit: "2147483647 exceeds max_array_len(112)".
_OVER_LIMIT = re.compile(r"^(\d+) exceeds max_(\w+)_len\((\d+)\)$")


def _over_limit(exc: ValueError, left: int) -> str | None:
    """What a header declared past the bytes left, from msgpack's ValueError; None for
    any other ValueError (text that is not UTF-8, a map key that is not text ...)."""
    match = _OVER_LIMIT.match(str(exc))
    if match is None:
        return None
    count, kind = match.group(1), match.group(2)
    unit = "items" if kind in ("array", "map") else "bytes"
    return f"{kind} of {count} {unit} declared, {left} bytes follow"


def _record_end(file: IO[bytes], offset: int, size: int) -> int | None:
    """Where the msgpack object at `offset` ends, found by skipping it (nothing is built
    or decoded); None if it does not end before `size` or is not msgpack."""
    unpacker = _record_unpacker(file, offset, size)
    try:
        unpacker.skip()
    except (ValueError, msgpack.UnpackException):
        return None
    return offset + int(unpacker.tell())


class SessionWriter:
    """Appends records to a new session file, created owner-only (0600).

    The file is opened with O_EXCL: an existing file is never reopened or rewritten.
    `OSError` from any write is raised as `SessionFileError`; the caller decides to stop.
    """

    def __init__(self, path: Path, header: SessionHeader) -> None:
        self.path = path
        self.exchanges = 0
        self.errors = 0
        self._packer = msgpack.Packer(use_bin_type=True)
        try:
            self._fd: int | None = create_private(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise SessionFileError(
                f"cannot create session file {path}: {exc.strerror}", path=path
            ) from exc
        self.write(self.encode(header.to_record()))

    def encode(self, record: Record) -> list[bytes]:
        """A record's bytes, in pieces (large bodies are not copied). Not thread-safe:
        encode on one thread; `write` may then run on another."""
        return segments(self._packer, record)

    def write(self, pieces: list[bytes]) -> None:
        """Append one encoded record; it is in the OS's hands when this returns."""
        if self._fd is None:
            raise SessionFileError(f"session file {self.path} is already closed", path=self.path)
        try:
            write_all(self._fd, pieces)
        except OSError as exc:
            raise SessionFileError(
                f"cannot write session file {self.path}: {exc}", path=self.path
            ) from exc

    def count(self, exchange: Exchange) -> None:
        """Count an exchange for the trailer (done when it is handed to `write`)."""
        self.exchanges += 1
        if exchange.error is not None:
            self.errors += 1

    def append(self, exchange: Exchange) -> None:
        """Encode, write and count one completed exchange."""
        self.write(self.encode(exchange.to_record()))
        self.count(exchange)

    def close(self, trailer: bool = True) -> None:
        """Write the trailer (on a clean stop), sync and close. Safe to call twice."""
        if self._fd is None:
            return
        try:
            if trailer:
                self.write(
                    self.encode(Trailer(self.exchanges, self.errors, time.time()).to_record())
                )
            os.fsync(self._fd)
        except OSError as exc:
            raise SessionFileError(
                f"cannot finish session file {self.path}: {exc}", path=self.path
            ) from exc
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(trailer=exc is None)


@dataclass(slots=True)
class ReadResult:
    """What the reader found after the last exchange: a trailer, or a tail it skipped."""

    trailer: Trailer | None = None
    skipped_bytes: int = 0
    skipped_reason: str = ""
    unknown_records: int = 0
    malformed_records: int = 0
    first_malformed: str = ""


class SessionReader:
    """Streams the exchanges of one session file in constant memory.

    Opening reads and checks the header only; a file that is not a parity session,
    or of a newer version, raises `SessionFileError`. Iterate for the exchanges; after
    the iteration, `result` says whether there was a trailer and what tail was skipped.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] = self.path.open("rb")
        except OSError as exc:
            raise SessionFileError(
                f"cannot open {self.path}: {exc.strerror}", path=self.path
            ) from exc
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            self.header, self._body_offset = self._read_header()
        except BaseException:
            self._file.close()
            raise
        self.result = ReadResult()

    def _not_a_session(self, why: str) -> SessionFileError:
        return SessionFileError(f"{self.path} is not a parity session file ({why})", path=self.path)

    def _read_header(self) -> tuple[SessionHeader, int]:
        head = self._file.read(_HEADER_LIMIT)
        if not head:
            raise self._not_a_session("it is empty")
        unpacker = _header_unpacker(head)
        try:
            record = unpacker.unpack()
        except msgpack.OutOfData:
            raise self._not_a_session("no complete header") from None
        except (ValueError, msgpack.UnpackException) as exc:
            raise self._not_a_session(f"unreadable header: {exc or type(exc).__name__}") from None
        if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
            raise self._not_a_session("no parity-session header")
        version = record.get("version")
        if not isinstance(version, int):
            raise self._not_a_session("header without a version")
        if version > FORMAT_VERSION:
            raise SessionFileError(
                f"{self.path} is a version {version} session file; this parity reads "
                f"version {FORMAT_VERSION} and older: upgrade parity to read it",
                path=self.path,
            )
        try:
            header = SessionHeader.from_record(record)
        except RecordError as exc:
            raise self._not_a_session(f"malformed header: {exc}") from None
        return header, int(unpacker.tell())

    def records(self) -> Iterator[Record]:
        """Every complete record after the header, as raw maps (trailer included).

        The records are streamed by one msgpack `Unpacker` whose limits are the bytes
        from its start to the end of the file (it is restarted when fewer than half of
        them are left): no header can make the reader reserve more than (twice) the
        bytes that follow it. A header that declares more ends the read, as a torn tail
        or corrupt record. A record that does not decode (text that is not UTF-8, a map
        key that is not text ...) but whose end msgpack can find is counted as
        malformed and the read goes on; bytes that are not msgpack end the read."""
        result = self.result = ReadResult()
        offset = start = self._body_offset
        unpacker = _record_unpacker(self._file, start, self.size)
        while offset < self.size:
            try:
                record = unpacker.unpack()
            except msgpack.OutOfData:
                result.skipped_reason = "torn tail (the recorder stopped mid-write)"
                break
            except ValueError as exc:
                over = _over_limit(exc, self.size - offset)
                end = None if over else _record_end(self._file, offset, self.size)
                if end is None:
                    result.skipped_reason = (
                        f"torn tail or corrupt record at byte {offset}: {over}"
                        if over
                        else f"corrupt record at byte {offset}: {exc or type(exc).__name__}"
                    )
                    break
                self._malformed(f"undecodable record: {exc}")
                offset = start = end
                unpacker = _record_unpacker(self._file, start, self.size)
                continue
            except msgpack.UnpackException as exc:
                result.skipped_reason = (
                    f"corrupt record at byte {offset}: {exc or type(exc).__name__}"
                )
                break
            if not isinstance(record, dict):
                result.skipped_reason = f"corrupt record at byte {offset}: not a map"
                break
            record_start, offset = offset, start + int(unpacker.tell())
            # A new Unpacker when fewer than half its bytes are left (tighter limits),
            # and after a large record: msgpack keeps a record's bytes in its buffer
            # until the next read, a second copy of a 100 MB body while it is replayed.
            if (
                2 * (self.size - offset) < self.size - start
                or offset - record_start > _RELEASE_AFTER
            ):
                start = offset
                unpacker = _record_unpacker(self._file, start, self.size)
            kind = record.get("kind")
            if kind == "trailer":
                try:
                    result.trailer = Trailer.from_record(record)
                except RecordError as exc:
                    result.skipped_reason = f"malformed trailer: {exc}"
            elif kind != "exchange":
                # A newer minor writer may add record kinds; a reader passes over them.
                result.unknown_records += 1
                continue
            yield record
        result.skipped_bytes = self.size - offset if result.skipped_reason else 0

    def exchange_records(self) -> Iterator[Record]:
        """The raw maps of the exchanges that are well formed (every field checked as
        `Exchange.from_record` checks it); the others are counted as malformed."""
        for record in self.records():
            if record.get("kind") != "exchange":
                continue
            try:
                Exchange.from_record(record)
            except RecordError as exc:
                self._malformed(str(exc))
                continue
            yield record

    def __iter__(self) -> Iterator[Exchange]:
        for record in self.records():
            if record.get("kind") != "exchange":
                continue
            try:
                exchange = Exchange.from_record(record)
            except RecordError as exc:
                # Keep going: one bad record must not cost the rest of a soak session.
                self._malformed(str(exc))
                continue
            yield exchange

    def _malformed(self, why: str) -> None:
        self.result.malformed_records += 1
        self.result.first_malformed = self.result.first_malformed or why

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SessionReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_session(path: Path) -> tuple[SessionHeader, list[Exchange], ReadResult]:
    """Read a whole session into memory; for small files and tests."""
    with SessionReader(path) as reader:
        exchanges = list(reader)
        return reader.header, exchanges, reader.result
