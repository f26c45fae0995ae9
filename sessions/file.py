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


def _unpacker(file: IO[bytes] | None = None, max_buffer_size: int = _RECORD_LIMIT) -> Any:
    return msgpack.Unpacker(
        file,
        raw=False,
        unicode_errors="strict",
        strict_map_key=True,
        max_buffer_size=max_buffer_size,
        read_size=min(_READ_SIZE, max_buffer_size),
    )


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
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        try:
            self._fd: int | None = os.open(path, flags, 0o600)
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
        unpacker = _unpacker(max_buffer_size=_HEADER_LIMIT)
        unpacker.feed(head)
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
        """Every complete record after the header, as raw maps (trailer included)."""
        self._file.seek(self._body_offset)
        unpacker = _unpacker(self._file)
        offset = self._body_offset
        result = self.result = ReadResult()
        while True:
            try:
                record = unpacker.unpack()
            except msgpack.OutOfData:
                if offset < self.size:
                    result.skipped_reason = "torn tail (the recorder stopped mid-write)"
                break
            except (ValueError, msgpack.UnpackException) as exc:
                result.skipped_reason = f"corrupt record at byte {offset}: {exc}"
                break
            if not isinstance(record, dict):
                result.skipped_reason = f"corrupt record at byte {offset}: not a map"
                break
            offset = self._body_offset + int(unpacker.tell())
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

    def __iter__(self) -> Iterator[Exchange]:
        for record in self.records():
            if record.get("kind") != "exchange":
                continue
            try:
                exchange = Exchange.from_record(record)
            except RecordError as exc:
                # Keep going: one bad record must not cost the rest of a soak session.
                self.result.malformed_records += 1
                self.result.first_malformed = self.result.first_malformed or str(exc)
                continue
            yield exchange

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
