"""The session file, v1: a stream of msgpack maps, written append-only.

    header      {"format": "parity-session", "version": 1, "id", ...}
    exchange*   {"kind": "exchange", "seq", "request", "response", ...}
    trailer?    {"kind": "trailer", "exchanges", "errors", "ended_at"}

Every record goes to the OS in one write as soon as its exchange completes, so a
recorder killed at any moment leaves a file whose complete records can all be read
back; the reader skips a torn tail and says how many bytes it skipped.

An encrypted file (`sessions.crypto`) is a plaintext envelope, then the same records
each sealed in one frame; the reader opens the frames and checks the records as it
checks a plain file's.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import msgpack

from parity.exceptions import ParityError
from parity.sessions.crypto import (
    ENCRYPTED_FORMAT,
    FRAME_HEAD,
    FrameCipher,
    KeySource,
    SessionKeyError,
    frame_length,
    installed_keys,
    new_envelope,
    parse_envelope,
)
from parity.sessions.encode import segments, write_all
from parity.sessions.model import Exchange, Record, RecordError, SessionHeader, Trailer
from parity.sessions.private import create_private
from parity.sessions.streams import EVENTS, Streams

_T = TypeVar("_T")

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
    With `encrypt` (a key source), the file is encrypted: an envelope, then every record
    sealed in its own frame (`sessions.crypto`).
    """

    def __init__(
        self, path: Path, header: SessionHeader, *, encrypt: KeySource | None = None
    ) -> None:
        self.path = path
        self.exchanges = 0
        self.errors = 0
        self._packer = msgpack.Packer(use_bin_type=True)
        envelope: list[bytes] = []
        self._cipher: FrameCipher | None = None
        if encrypt is not None:
            # Derived before the file exists: a key that cannot be had leaves no file.
            fields, self._cipher = new_envelope(encrypt)
            envelope = [self._packer.pack(fields)]
        try:
            self._fd: int | None = create_private(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise SessionFileError(
                f"cannot create session file {path}: {exc.strerror}", path=path
            ) from exc
        first = self.encode(header.to_record())
        self._write(first if self._cipher is None else envelope + self._cipher.seal(first))

    @property
    def encrypted(self) -> bool:
        return self._cipher is not None

    def encode(self, record: Record) -> list[bytes]:
        """A record's bytes, in pieces (large bodies are not copied). Not thread-safe:
        encode on one thread; `write` may then run on another."""
        return segments(self._packer, record)

    def write(self, pieces: list[bytes]) -> None:
        """Append one encoded record (sealed first in an encrypted file: one call at a
        time, in file order); it is in the OS's hands when this returns."""
        self._write(pieces if self._cipher is None else self._cipher.seal(pieces))

    def _write(self, pieces: list[bytes]) -> None:
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

    def close(self, trailer: bool = True, *, continued: bool = False) -> None:
        """Write the trailer (on a clean stop; `continued` when the session goes on in a
        next part), sync and close. Safe to call twice."""
        if self._fd is None:
            return
        try:
            if trailer:
                end = Trailer(self.exchanges, self.errors, time.time(), continued)
                self.write(self.encode(end.to_record()))
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
    missing_parts: list[int] = field(default_factory=list)
    """Parts of a rotated session that are not there (`sessions.parts`)."""


class SessionReader:
    """Streams the exchanges of one session file in constant memory.

    Opening reads and checks the header only; a file that is not a parity session,
    or of a newer version, raises `SessionFileError`. Iterate for the exchanges; after
    the iteration, `result` says whether there was a trailer and what tail was skipped.
    An encrypted file is opened with `keys` (default: the installed key source,
    `sessions.crypto.use_keys`); without a key for it, or with the wrong one, opening
    raises `SessionKeyError`.
    """

    def __init__(self, path: Path, keys: KeySource | None = None) -> None:
        self.path = Path(path)
        self._keys = keys
        self._cipher: FrameCipher | None = None
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
        self.streams = Streams()
        """The open event streams (shared by the parts of one session, `sessions.parts`)."""
        self.last_part = True
        """Whether streams without their end are closed at this file's end."""

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
        offset = int(unpacker.tell())
        if isinstance(record, dict) and record.get("format") == ENCRYPTED_FORMAT:
            record, offset = self._open_envelope(record, offset)
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
        return header, offset

    @property
    def encrypted(self) -> bool:
        return self._cipher is not None

    def _open_envelope(self, envelope: dict[str, Any], offset: int) -> tuple[Any, int]:
        """The sealed session header of an encrypted file (frame 0, after the envelope
        that ends at `offset`) and where the records start."""
        try:
            kdf, prefix = parse_envelope(envelope)
        except ValueError as exc:
            raise self._not_a_session(f"unusable encryption header: {exc}") from None
        keys = self._keys if self._keys is not None else installed_keys()
        if keys is None:
            raise SessionKeyError(
                f"{self.path} is encrypted: give its key (PARITY_PASSPHRASE, or --key-file / "
                "PARITY_KEY_FILE)",
                path=self.path,
                missing=True,
            )
        self._cipher = FrameCipher(keys.key(kdf, self.path), prefix)
        frame = self._frame(offset)
        if not isinstance(frame, bytes):
            raise self._not_a_session("no complete header")
        plain = self._cipher.open(0, frame)
        if plain is None:
            raise SessionKeyError(
                f"wrong passphrase or key file for {self.path} (its header does not authenticate)",
                path=self.path,
            )
        try:
            record = msgpack.unpackb(plain, **_options(len(plain)))
        except (ValueError, msgpack.UnpackException) as exc:
            raise self._not_a_session(f"unreadable header: {exc}") from None
        return record, offset + FRAME_HEAD + len(frame)

    def _frame(self, offset: int) -> bytes | str:
        """The sealed bytes of the frame at `offset`, or why there is none."""
        self._file.seek(offset)
        head = self._file.read(FRAME_HEAD)
        if len(head) < FRAME_HEAD:
            return "torn tail (the recorder stopped mid-write)"
        length = frame_length(head)
        if length is None:
            return f"corrupt frame length at byte {offset}: reading stopped there"
        if length > self.size - offset - FRAME_HEAD:
            return "torn tail (the recorder stopped mid-write)"
        return self._file.read(length)

    def records(self) -> Iterator[Record]:
        """Every complete record after the header, as raw maps (trailer included), from
        the plain stream or the sealed frames: both checked alike from here on."""
        result = self.result = ReadResult()
        streams = self.streams
        source = self._sealed() if self._cipher is not None else self._plain()
        while True:
            try:
                record = next(source)
            except StopIteration as stop:
                end = int(stop.value)
                break
            kind = record.get("kind")
            if kind == "trailer":
                try:
                    result.trailer = Trailer.from_record(record)
                except RecordError as exc:
                    result.skipped_reason = f"malformed trailer: {exc}"
            elif kind == EVENTS:
                # A stream's events as they arrived: put back into its exchange.
                self._stream(streams.events, record)
                continue
            elif kind == "exchange":
                found = self._stream(streams.exchange, record)
                if found is None:
                    continue
                record = found
            else:
                # A newer minor writer may add record kinds; a reader passes over them.
                result.unknown_records += 1
                continue
            yield record
        result.skipped_bytes = self.size - end if result.skipped_reason else 0
        if self.last_part:
            yield from streams.unfinished()
            self._stream_problems()

    def _stream(self, take: Callable[[Record], _T], record: Record) -> _T | None:
        """`take(record)` of the session's `Streams`; a malformed record counted."""
        try:
            found = take(record)
        except RecordError as exc:
            self._malformed(str(exc))
            return None
        self._stream_problems()
        return found

    def _stream_problems(self) -> None:
        for problem in self.streams.problems:
            self._malformed(problem)
        self.streams.problems.clear()

    def _sealed(self) -> Generator[Record, None, int]:
        """The records of an encrypted file, one frame each; returns where reading
        stopped. A frame that does not authenticate (a flipped byte) or does not decode
        is counted as malformed and the next frame is read: its length says where it
        ends. A length that fails its CRC ends the read there."""
        assert self._cipher is not None
        result, offset, index = self.result, self._body_offset, 1
        while offset < self.size:
            frame = self._frame(offset)
            if isinstance(frame, str):
                result.skipped_reason = frame
                break
            at, offset, index = offset, offset + FRAME_HEAD + len(frame), index + 1
            plain = self._cipher.open(index - 1, frame)
            del frame  # one record's bytes alive at a time: 2x a large body, not 3x
            if plain is None:
                self._malformed(
                    f"record {index - 1} at byte {at} does not authenticate (damaged or altered)"
                )
                continue
            try:
                record = msgpack.unpackb(plain, **_options(len(plain)))
            except (ValueError, msgpack.UnpackException) as exc:
                self._malformed(f"undecodable record: {exc}")
                continue
            finally:
                del plain
            if not isinstance(record, dict):
                self._malformed(f"record {index - 1} at byte {at} is not a map")
                continue
            yield record
        return offset

    def _plain(self) -> Generator[Record, None, int]:
        """The records of a plain file; returns where reading stopped.

        The records are streamed by one msgpack `Unpacker` whose limits are the bytes
        from its start to the end of the file (it is restarted when fewer than half of
        them are left): no header can make the reader reserve more than (twice) the
        bytes that follow it. A header that declares more ends the read, as a torn tail
        or corrupt record. A record that does not decode (text that is not UTF-8, a map
        key that is not text ...) but whose end msgpack can find is counted as
        malformed and the read goes on; bytes that are not msgpack end the read."""
        result = self.result
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
            yield record
        return offset

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


def is_encrypted(path: Path) -> bool:
    """Whether `path` starts with an encrypted session's envelope (no key needed)."""
    try:
        with Path(path).open("rb") as file:
            head = file.read(_HEADER_LIMIT)
        record = _header_unpacker(head).unpack()
    except (OSError, ValueError, msgpack.UnpackException, msgpack.OutOfData):
        return False
    return isinstance(record, dict) and record.get("format") == ENCRYPTED_FORMAT


def read_session(
    path: Path, keys: KeySource | None = None
) -> tuple[SessionHeader, list[Exchange], ReadResult]:
    """Read a whole session into memory; for small files and tests."""
    with SessionReader(path, keys) as reader:
        exchanges = list(reader)
        return reader.header, exchanges, reader.result
