"""Fuzzing the session reader: random bytes, truncations and byte mutations of a real
recording. Whatever the bytes, opening raises nothing but `SessionFileError`, reading
raises nothing at all, and every complete record before the damage comes back intact."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import assume
from hypothesis import strategies as st

from parity.sessions import (
    Exchange,
    KeySource,
    SessionFileError,
    SessionReader,
    SessionStore,
    summarize,
)
from tests.factories import make_exchange
from tests.fuzz.harness import given_target, memory_cap

_WORK = tempfile.TemporaryDirectory(prefix="parity-fuzz-sessions-")

Recording = tuple[bytes, int, tuple[int, ...], tuple[Exchange, ...]]
Read = Callable[[bytes], list[Exchange] | None]


@functools.cache
def recording() -> tuple[bytes, int, tuple[int, ...], tuple[Exchange, ...]]:
    """A real session file: (its bytes, the header's end, each exchange record's end,
    the exchanges written)."""
    return record_sample(SessionStore(Path(_WORK.name) / "store"))


def record_sample(store: SessionStore, encrypt: KeySource | None = None) -> Recording:
    """Five varied exchanges and a trailer written to a new file of `store` (encrypted
    with `encrypt`): its bytes, the header's end, each record's end, the exchanges."""
    writer = store.create(label="fuzz", upstream="http://x", encrypt=encrypt)
    header_end = os.path.getsize(writer.path)
    exchanges = (
        make_exchange(1),
        make_exchange(2, body=b'{"text": "caf\xc3\xa9", "n": [1, 2.5, null]}'),
        make_exchange(3, path="/api/ws"),  # with a WebSocket message
        make_exchange(4, error="connection reset"),
        make_exchange(5, status=404, body=b"\x00" * 300),
    )
    ends = []
    for exchange in exchanges:
        writer.append(exchange)
        ends.append(os.path.getsize(writer.path))
    writer.close()  # with a trailer
    return writer.path.read_bytes(), header_end, tuple(ends), exchanges


def _file(data: bytes) -> Path:
    path = Path(_WORK.name) / "case.parity"
    path.write_bytes(data)
    return path


def read_all(data: bytes) -> list[Exchange] | None:
    """Every exchange the reader returns for `data` (None: not a session file), checking
    that it raises nothing else, and that summarizing agrees."""
    path = _file(data)
    with memory_cap():
        try:
            reader = SessionReader(path)
        except SessionFileError:
            return None
        with reader:
            exchanges = list(reader)
            result = reader.result
        summary = summarize(path)
    assert summary.exchanges == len(exchanges)
    assert 0 <= result.skipped_bytes <= len(data)
    return exchanges


def _records(exchanges: list[Exchange] | tuple[Exchange, ...]) -> list[object]:
    return [e.to_record() for e in exchanges]


@given_target(st.binary(max_size=4096))
def test_reader_random_bytes(data: bytes) -> None:
    read_all(data)


@given_target(st.binary(max_size=2048))
def test_reader_header_then_random_bytes(tail: bytes) -> None:
    data, header_end, _ends, _exchanges = recording()
    read_all(data[:header_end] + tail)


def truncated_keeps_every_complete_record(recorded: Recording, read: Read, cut: int) -> None:
    """The property of a file cut at `cut` (shared with the encrypted reader's target):
    not a session before the header's end, else exactly the records complete by then."""
    whole, header_end, ends, exchanges = recorded
    found = read(whole[:cut])
    if cut < header_end:
        assert found is None
        return
    assert found is not None
    complete = sum(1 for end in ends if end <= cut)
    assert _records(found) == _records(exchanges[:complete])


def mutated_keeps_every_record_before_the_damage(
    recorded: Recording, read: Read, mutations: list[tuple[int, int]]
) -> list[Exchange]:
    """The property of a file with `mutations` after its header (shared with the
    encrypted reader's target): every record before the first changed byte reads back."""
    whole, header_end, ends, exchanges = recorded
    data = bytearray(whole)
    for at, byte in mutations:
        data[header_end + at % (len(whole) - header_end)] = byte
    changed = [i for i, (a, b) in enumerate(zip(whole, data, strict=True)) if a != b]
    assume(changed)
    found = read(bytes(data))
    assert found is not None  # the header is intact
    intact = sum(1 for end in ends if end <= changed[0])
    assert _records(found[:intact]) == _records(exchanges[:intact])
    return found


@given_target(st.data())
def test_reader_truncated_returns_every_complete_record(data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(recording()[0])), label="cut")
    truncated_keeps_every_complete_record(recording(), read_all, cut)


mutations_strategy = st.lists(
    st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), min_size=1, max_size=8
)


@given_target(mutations_strategy)
def test_reader_mutated_keeps_every_record_before_the_damage(
    mutations: list[tuple[int, int]],
) -> None:
    mutated_keeps_every_record_before_the_damage(recording(), read_all, mutations)


@given_target(mutations_strategy)
def test_reader_mutated_header_is_an_error_or_a_session(mutations: list[tuple[int, int]]) -> None:
    whole, header_end, _ends, _exchanges = recording()
    data = bytearray(whole[:header_end])
    for at, byte in mutations:
        data[at % header_end] = byte
    read_all(bytes(data))
