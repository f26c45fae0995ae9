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


def _header_unpacker(data: bytes) -> Any:
    """For the header: no msgpack header in it may declare more than the bytes read."""
    unpacker = msgpack.Unpacker(max_buffer_size=_HEADER_LIMIT, **_options(len(data)))
    unpacker.feed(data)
    return unpacker


def _decode(data: bytes | memoryview) -> Any:
    """One measured record; every msgpack limit is the record's own size."""
    return msgpack.unpackb(data, **_options(len(data)))


class _Unmeasurable(Exception):
    """The record at an offset has no measurable end: the file ends inside it (a torn
    tail), it declares more than the bytes left, or a byte is not msgpack."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.detail = detail

    def reason(self, offset: int) -> str:
        if self.kind == "torn":
            return "torn tail (the recorder stopped mid-write)"
        if self.kind == "overlong":
            return f"torn tail or corrupt record at byte {offset}: {self.detail}"
        return f"corrupt record at byte {offset}: {self.detail}"


class _Window:
    """A read-ahead window on the file: `need` makes sure bytes at an offset are in
    memory (reading at most `_READ_SIZE` past them), `slice` gives a record's bytes."""

    def __init__(self, file: IO[bytes], size: int) -> None:
        self.file = file
        self.size = size
        self.data = b""
        self.base = 0

    def load(self, offset: int, count: int) -> None:
        self.file.seek(offset)
        self.data = self.file.read(max(count, _READ_SIZE))
        self.base = offset

    def slice(self, start: int, end: int) -> bytes | memoryview:
        if start >= self.base and end <= self.base + len(self.data):
            return memoryview(self.data)[start - self.base : end - self.base]
        self.file.seek(start)
        data = self.file.read(end - start)
        if len(data) != end - start:
            raise _Unmeasurable("torn")
        return data


# What follows each lead byte that is not a fix-sized one: (kind, length bytes, extra)
# with kind 0 a scalar of `extra` bytes, 1 a payload (bin/str/ext: its length, then
# `extra` + length bytes), 2 an array, 3 a map (a count of elements, or of pairs).
_LEAD: dict[int, tuple[int, int, int]] = {
    0xC0: (0, 0, 0), 0xC2: (0, 0, 0), 0xC3: (0, 0, 0),
    0xC4: (1, 1, 0), 0xC5: (1, 2, 0), 0xC6: (1, 4, 0),
    0xC7: (1, 1, 1), 0xC8: (1, 2, 1), 0xC9: (1, 4, 1),
    0xCA: (0, 0, 4), 0xCB: (0, 0, 8),
    0xCC: (0, 0, 1), 0xCD: (0, 0, 2), 0xCE: (0, 0, 4), 0xCF: (0, 0, 8),
    0xD0: (0, 0, 1), 0xD1: (0, 0, 2), 0xD2: (0, 0, 4), 0xD3: (0, 0, 8),
    0xD4: (0, 0, 2), 0xD5: (0, 0, 3), 0xD6: (0, 0, 5), 0xD7: (0, 0, 9), 0xD8: (0, 0, 17),
    0xD9: (1, 1, 0), 0xDA: (1, 2, 0), 0xDB: (1, 4, 0),
    0xDC: (2, 2, 0), 0xDD: (2, 4, 0),
    0xDE: (3, 2, 0), 0xDF: (3, 4, 0),
}  # fmt: skip
_MAP_LEADS = frozenset([*range(0x80, 0x90), 0xDE, 0xDF])


def _measure(window: _Window, start: int, size: int) -> int:
    """The end offset of the msgpack object at `start`, found by walking its headers
    (payloads are stepped over, nothing is built). Raises `_Unmeasurable`."""
    pos = start
    todo = 1
    data, base = window.data, window.base
    while todo:
        if pos + 9 > base + len(data) and base + len(data) < size:
            window.load(pos, 9)
            data, base = window.data, window.base
        i = pos - base
        if i < 0:
            window.load(pos, 9)
            data, base = window.data, window.base
            i = 0
        if i >= len(data):
            raise _Unmeasurable("torn")
        lead = data[i]
        if pos == start and lead not in _MAP_LEADS:
            raise _Unmeasurable("corrupt", "not a map")
        todo -= 1
        if lead < 0x80 or lead >= 0xE0:
            pos += 1
            continue
        if lead < 0x90:
            todo += 2 * (lead & 0x0F)
            pos += 1
        elif lead < 0xA0:
            todo += lead & 0x0F
            pos += 1
        elif lead < 0xC0:
            pos += 1 + (lead & 0x1F)
        else:
            spec = _LEAD.get(lead)
            if spec is None:
                raise _Unmeasurable("corrupt", f"byte 0x{lead:02x} is not msgpack")
            kind, width, extra = spec
            if i + 1 + width > len(data):
                raise _Unmeasurable("torn")
            count = int.from_bytes(data[i + 1 : i + 1 + width], "big") if width else 0
            pos += 1 + width
            if kind == 0:
                pos += extra
            elif kind == 1:
                pos += extra + count
            else:
                todo += count * (2 if kind == 3 else 1)
                if todo > size - pos:
                    what = "map" if kind == 3 else "array"
                    raise _Unmeasurable(
                        "overlong",
                        f"{what} of {count} items declared, {size - pos} bytes follow",
                    )
        if pos > size:
            raise _Unmeasurable("torn")
    if pos - start > _RECORD_LIMIT:
        raise _Unmeasurable("corrupt", f"a record of {pos - start} bytes (at most 2 GiB)")
    return pos


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

        The file has no framing, so each record is first measured (`_measure`: its
        extent, walking msgpack headers without building anything) and then decoded
        with msgpack's limits set to its own size: no header can make the reader
        reserve more than the bytes that follow. A measured record that does not
        decode (invalid UTF-8, a non-text map key ...) is counted as malformed and the
        read goes on; bytes that cannot be measured end the read."""
        result = self.result = ReadResult()
        window = _Window(self._file, self.size)
        offset = self._body_offset
        while offset < self.size:
            try:
                end = _measure(window, offset, self.size)
            except _Unmeasurable as exc:
                result.skipped_reason = exc.reason(offset)
                break
            try:
                record = _decode(window.slice(offset, end))
            except (ValueError, msgpack.UnpackException) as exc:
                offset = end
                self._malformed(f"undecodable record: {exc or type(exc).__name__}")
                continue
            offset = end
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
