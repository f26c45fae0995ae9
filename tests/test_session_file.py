"""The session file format: round trip, owner-only files, torn tails, foreign files."""

from __future__ import annotations

import os
import stat
import sys
from os.path import commonpath
from pathlib import Path

import msgpack
import pytest

from parity.sessions import (
    SessionFileError,
    SessionHeader,
    SessionReader,
    SessionStore,
    SessionWriter,
    read_session,
)
from tests.factories import make_exchange

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def _header(**kw: object) -> SessionHeader:
    values: dict[str, object] = {
        "id": "s1",
        "label": "pilot",
        "started_at": 1.0,
        "upstream": "http://x",
    }
    values.update(kw)
    return SessionHeader(**values)  # type: ignore[arg-type]


def _write(path: Path, n: int, trailer: bool = True) -> list[int]:
    """Write n exchanges; return the file size after the header and after each record."""
    sizes = []
    writer = SessionWriter(path, _header())
    sizes.append(path.stat().st_size)
    for seq in range(1, n + 1):
        writer.append(make_exchange(seq, error="upstream down" if seq == 2 else None))
        sizes.append(path.stat().st_size)
    writer.close(trailer=trailer)
    return sizes


def test_round_trip_keeps_everything_as_on_the_wire(tmp_path: Path) -> None:
    path = tmp_path / "s.parity"
    writer = SessionWriter(path, _header())
    originals = [
        make_exchange(i, path="/p/caf\udcc3x?q=1" if i == 1 else "/a") for i in range(1, 5)
    ]
    for exchange in originals:
        writer.append(exchange)
    writer.close()

    header, exchanges, result = read_session(path)
    assert header.label == "pilot" and header.version == 1
    assert exchanges == originals
    # Duplicates, case and order of headers survive.
    assert exchanges[0].request.headers[1:3] == [(b"Cookie", b"a=1"), (b"cookie", b"b=2")]
    assert result.trailer is not None and result.trailer.exchanges == 4
    assert result.skipped_bytes == 0


@posix_only
def test_files_and_directories_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        writer = SessionStore(tmp_path / "sessions").create(label="x")
        writer.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(writer.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "sessions").stat().st_mode) == 0o700


def test_an_existing_file_is_never_reopened(tmp_path: Path) -> None:
    path = tmp_path / "s.parity"
    _write(path, 1)
    before = path.read_bytes()
    with pytest.raises(SessionFileError, match="cannot create session file"):
        SessionWriter(path, _header())
    assert path.read_bytes() == before


def test_every_cut_point_reads_back_every_complete_record(tmp_path: Path) -> None:
    full = tmp_path / "full.parity"
    sizes = _write(full, 3, trailer=False)
    data = full.read_bytes()
    cut_file = tmp_path / "cut.parity"
    for cut in range(sizes[0], len(data) + 1):
        cut_file.write_bytes(data[:cut])
        with SessionReader(cut_file) as reader:
            exchanges = list(reader)
        complete = sum(1 for end in sizes[1:] if end <= cut)
        assert [e.seq for e in exchanges] == list(range(1, complete + 1)), cut
        assert reader.result.skipped_bytes == cut - sizes[complete], cut
        assert reader.result.trailer is None


def test_torn_tail_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.parity"
    sizes = _write(path, 3, trailer=False)
    with path.open("r+b") as f:
        f.truncate(sizes[3] - 7)
    _, exchanges, result = read_session(path)
    assert len(exchanges) == 2
    assert result.skipped_bytes == sizes[3] - 7 - sizes[2]
    assert "torn tail" in result.skipped_reason


def test_garbage_in_the_middle_keeps_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "s.parity"
    sizes = _write(path, 3)
    data = bytearray(path.read_bytes())
    data[sizes[1]] = 0xC1  # a byte msgpack never uses
    path.write_bytes(bytes(data))
    _, exchanges, result = read_session(path)
    assert [e.seq for e in exchanges] == [1]
    assert result.skipped_reason.startswith(f"corrupt record at byte {sizes[1]}")
    assert result.skipped_bytes == len(data) - sizes[1]


def test_a_malformed_record_is_passed_over_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "s.parity"
    writer = SessionWriter(path, _header())
    writer.append(make_exchange(1))
    writer.write(writer.encode({"kind": "exchange", "seq": "two", "request": {}}))
    writer.write(writer.encode({"kind": "annotation", "note": "from a newer writer"}))
    writer.append(make_exchange(3))
    writer.close()
    _, exchanges, result = read_session(path)
    assert [e.seq for e in exchanges] == [1, 3]
    assert result.malformed_records == 1
    assert result.unknown_records == 1


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "it is empty"),
        (b'{"format": "parity-session"}', "no parity-session header"),
        (b"GET / HTTP/1.1\r\n\r\n", "no parity-session header"),
        (msgpack.packb({"format": "har", "version": 1}), "no parity-session header"),
        (msgpack.packb([1, 2, 3]), "no parity-session header"),
        (b"\xdf\xff\xff\xff\xff", "unreadable header: 4294967295 exceeds max_map_len"),
        (b"\x82\xa6format", "no complete header"),
        (b"\xc1\x00\x00", "unreadable header"),
        (msgpack.packb({"format": "parity-session"}), "header without a version"),
        (
            msgpack.packb({"format": "parity-session", "version": 1, "id": 3}),
            "malformed header",
        ),
    ],
)
def test_foreign_files_are_one_clear_error(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "foreign.parity"
    path.write_bytes(content)
    with pytest.raises(SessionFileError) as info:
        SessionReader(path)
    assert str(info.value).startswith(f"{path} is not a parity session file ({why}")


def test_a_newer_version_says_to_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "new.parity"
    path.write_bytes(msgpack.packb({**_header().to_record(), "version": 2}))
    with pytest.raises(
        SessionFileError, match="version 2 session file; this parity reads version 1"
    ):
        SessionReader(path)


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError, match="cannot open"):
        SessionReader(tmp_path / "nope.parity")


def test_a_100_mb_body_is_recorded_as_it_is(tmp_path: Path) -> None:
    body = os.urandom(1024) * (100 * 1024)
    path = tmp_path / "big.parity"
    with SessionWriter(path, _header()) as writer:
        writer.append(make_exchange(1, body=body))
    _, exchanges, result = read_session(path)
    assert exchanges[0].response is not None
    assert exchanges[0].response.body == body
    assert result.trailer is not None


def test_store_resolves_ids_prefixes_and_paths(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    first = store.create(label="a")
    first.close()
    second = store.create(label="b")
    second.close()
    assert store.paths() == sorted([first.path, second.path])
    assert store.resolve(first.path.stem) == first.path
    assert store.resolve(str(second.path)) == second.path
    with pytest.raises(SessionFileError, match="no session 'zzz'"):
        store.resolve("zzz")
    common = commonpath([first.path.stem, second.path.stem])
    with pytest.raises(SessionFileError, match="ambiguous"):
        store.resolve(common)


def test_large_bodies_are_written_as_packb_would_without_copies(tmp_path: Path) -> None:
    from parity.sessions.encode import LARGE, segments

    packer = msgpack.Packer(use_bin_type=True)
    for size in (0, 10, LARGE - 1, LARGE, 70_000, 1 << 20):
        record = make_exchange(2, body=os.urandom(size)).to_record()
        record["request"]["body"] = b"u" * size
        pieces = segments(packer, record)
        assert b"".join(pieces) == msgpack.packb(record, use_bin_type=True), size
        if size >= LARGE:
            assert any(p is record["response"]["body"] for p in pieces), (
                "the body itself, not a copy"
            )


def _with_record(tmp_path: Path, raw: bytes) -> Path:
    """A session file: exchange 1, `raw` (one record as bytes), exchange 3, a trailer."""
    path = tmp_path / "s.parity"
    writer = SessionWriter(path, _header())
    writer.append(make_exchange(1))
    writer.write([raw])
    writer.append(make_exchange(3))
    writer.close()
    return path


def _exchange_record(**changes: object) -> dict[str, object]:
    record = make_exchange(2).to_record()
    for dotted, value in changes.items():
        where: dict[str, object] = record
        *parents, key = dotted.split("__")
        for parent in parents:
            where = where[parent]  # type: ignore[assignment]
        where[key] = value
    return record


@pytest.mark.parametrize(
    "changes",
    [
        {"client": ["h"]},
        {"client": ["h", "80"]},
        {"client": ["h", 70000]},
        {"client": [1, 2]},
        {"client": "h:1"},
        {"seq": True},
        {"seq": -1},
        {"flow_id": 7},
        {"request__port": 65536},
        {"request__port": 1.5},
        {"request__timestamp_start": "now"},
        {"request__timestamp_end": "later"},
        {"request__timestamp_start": float("nan")},
        {"request__headers": [[b"a"]]},
        {"request__headers": [["a", "b"]]},
        {"request__headers": {"a": "b"}},
        {"response__status": 42},
        {"response__status": 1000},
        {"response__status": "200"},
        {"response__headers": [[b"a", b"b", b"c"]]},
        {"response__timestamp_end": [1]},
        {"messages": [{"kind": "text", "from_client": 1, "content": b"", "timestamp": 1}]},
        {"messages": "none"},
        {"websocket_close": [1000]},
        {"websocket_close": {"code": "1000"}},
        {"error": {"message": "x", "timestamp": None}},
    ],
)
def test_every_field_is_checked_and_a_bad_record_is_passed_over(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    raw = msgpack.packb(_exchange_record(**changes), use_bin_type=True)
    path = _with_record(tmp_path, raw)
    _, exchanges, result = read_session(path)
    assert [e.seq for e in exchanges] == [1, 3]
    assert result.malformed_records == 1 and result.first_malformed
    assert result.skipped_bytes == 0 and result.trailer is not None
    summary = SessionStore(tmp_path).summaries()[0]
    assert not isinstance(summary, SessionFileError)
    assert summary.exchanges == 2 and summary.read.malformed_records == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"\x81\xa3bad\xa3\xff\xfe\xfd",  # text that is not UTF-8
        msgpack.packb({1: 2}),  # a map key that is not text
        msgpack.packb({"kind": "exchange", "t": msgpack.ExtType(5, b"xx")}),
    ],
)
def test_a_record_that_does_not_decode_is_passed_over(tmp_path: Path, raw: bytes) -> None:
    path = _with_record(tmp_path, raw)
    _, exchanges, result = read_session(path)
    assert [e.seq for e in exchanges] == [1, 3]
    assert result.malformed_records == 1
    assert result.skipped_bytes == 0


def test_a_hostile_array_header_is_rejected_fast_without_reserving_memory(
    tmp_path: Path,
) -> None:
    import resource
    import time

    # A record whose `messages` array declares 2**31 - 1 elements: 5 bytes of header.
    good = msgpack.packb(_exchange_record(), use_bin_type=True)
    hostile = good[: good.index(b"\xa8messages") + 9] + b"\xdd\x7f\xff\xff\xff"
    path = _with_record(tmp_path, hostile + b"\x00" * 100)
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, exchanges, result = read_session(path)
    elapsed = time.perf_counter() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert elapsed < 1.0
    assert grown_kib < 64 * 1024  # not the ~16 GiB the header asks for
    assert [e.seq for e in exchanges] == [1]
    assert result.skipped_reason.startswith("torn tail or corrupt record at byte")
    assert "array of 2147483647 items declared" in result.skipped_reason
    assert result.skipped_bytes > 0


def test_a_hostile_header_is_rejected_by_msgpack_limits_too(tmp_path: Path) -> None:
    path = tmp_path / "s.parity"
    header = msgpack.packb(_header().to_record(), use_bin_type=True)
    path.write_bytes(header[:-1] + b"\xdd\x7f\xff\xff\xff")
    with pytest.raises(SessionFileError, match="not a parity session file"):
        SessionReader(path)


def test_a_negative_header_version_is_not_a_session(tmp_path: Path) -> None:
    path = tmp_path / "s.parity"
    path.write_bytes(msgpack.packb({**_header().to_record(), "version": -5}))
    with pytest.raises(SessionFileError, match=r"malformed header: header.version is -5"):
        SessionReader(path)


def test_records_appended_after_open_are_read_on_the_next_open(tmp_path: Path) -> None:
    # The recorder appends while `parity sessions list` reads: the reader stops at the
    # size it opened, whatever the limits of the bytes written since.
    path = tmp_path / "s.parity"
    writer = SessionWriter(path, _header())
    writer.append(make_exchange(1))
    with SessionReader(path) as reader:
        writer.append(make_exchange(2, body=b"x" * 100_000))
        assert [e.seq for e in reader] == [1]
        assert reader.result.skipped_bytes == 0 and not reader.result.skipped_reason
    writer.close()
    _, exchanges, result = read_session(path)
    assert [e.seq for e in exchanges] == [1, 2] and result.trailer is not None


def test_a_hostile_header_late_in_a_long_file_is_bounded_by_the_bytes_after_it(
    tmp_path: Path,
) -> None:
    # The limits follow the read (halved as the file is consumed): an array header near
    # the end that declares more items than the bytes left is a corrupt tail at once.
    path = tmp_path / "s.parity"
    writer = SessionWriter(path, _header())
    for seq in range(1, 41):
        writer.append(make_exchange(seq, body=b"x" * 10_000))
    writer.write([b"\x81\xa8messages\xdd\x00\x00\x40\x00" + b"\x00" * 100])
    writer.close(trailer=False)
    _, exchanges, result = read_session(path)
    assert len(exchanges) == 40
    assert "array of 16384 items declared, 115 bytes follow" in result.skipped_reason
