"""Fuzzing the encrypted session reader: truncations and byte mutations of a real
encrypted recording. Opening raises nothing but the reader's own errors
(`SessionFileError`, `SessionKeyError`), reading raises nothing at all, every frame
before the damage comes back intact, and nothing comes back that was not written there:
a damaged frame does not authenticate, so it is counted, never returned altered."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

from hypothesis import assume
from hypothesis import strategies as st

from parity.sessions import (
    Exchange,
    KeySource,
    SessionFileError,
    SessionKeyError,
    SessionReader,
    SessionStore,
)
from tests.factories import make_exchange
from tests.fuzz.harness import given_target, memory_cap

_WORK = tempfile.TemporaryDirectory(prefix="parity-fuzz-encrypted-")


@functools.cache
def keys() -> KeySource:
    key_file = Path(_WORK.name) / "fuzz.key"
    key_file.write_bytes(os.urandom(32))
    return KeySource(key_file=key_file)


@functools.cache
def recording() -> tuple[bytes, int, tuple[int, ...], tuple[Exchange, ...]]:
    """A real encrypted session file: (its bytes, the sealed header's end, each
    exchange frame's end, the exchanges written)."""
    store = SessionStore(Path(_WORK.name) / "store")
    writer = store.create(label="fuzz", upstream="http://x", encrypt=keys())
    header_end = os.path.getsize(writer.path)
    exchanges = (
        make_exchange(1),
        make_exchange(2, body=b'{"text": "caf\xc3\xa9", "n": [1, 2.5, null]}'),
        make_exchange(3, path="/api/ws"),
        make_exchange(4, error="connection reset"),
        make_exchange(5, status=404, body=b"\x00" * 300),
    )
    ends = []
    for exchange in exchanges:
        writer.append(exchange)
        ends.append(os.path.getsize(writer.path))
    writer.close()
    return writer.path.read_bytes(), header_end, tuple(ends), exchanges


def read_all(data: bytes) -> list[Exchange] | None:
    """Every exchange the reader returns for `data` (None: it cannot be opened), checking
    that it raises nothing else."""
    path = Path(_WORK.name) / "case.parity"
    path.write_bytes(data)
    with memory_cap():
        try:
            reader = SessionReader(path, keys())
        except (SessionFileError, SessionKeyError):
            return None
        with reader:
            exchanges = list(reader)
            result = reader.result
    assert 0 <= result.skipped_bytes <= len(data)
    return exchanges


def _records(exchanges: list[Exchange] | tuple[Exchange, ...]) -> list[object]:
    return [e.to_record() for e in exchanges]


def _in_order(found: list[Exchange], written: tuple[Exchange, ...]) -> bool:
    """Whether `found` is `written` less some records, in order, none altered."""
    rest = iter(_records(written))
    return all(any(record == w for w in rest) for record in _records(found))


@given_target(st.data())
def test_encrypted_reader_truncated_returns_every_complete_frame(data: st.DataObject) -> None:
    whole, header_end, ends, exchanges = recording()
    cut = data.draw(st.integers(0, len(whole)), label="cut")
    found = read_all(whole[:cut])
    if cut < header_end:
        assert found is None
        return
    assert found is not None
    complete = sum(1 for end in ends if end <= cut)
    assert _records(found) == _records(exchanges[:complete])


_mutations = st.lists(
    st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), min_size=1, max_size=8
)


@given_target(_mutations)
def test_encrypted_reader_mutated_keeps_every_frame_before_the_damage(
    mutations: list[tuple[int, int]],
) -> None:
    whole, header_end, ends, exchanges = recording()
    data = bytearray(whole)
    for at, byte in mutations:
        data[header_end + at % (len(whole) - header_end)] = byte
    changed = [i for i, (a, b) in enumerate(zip(whole, data, strict=True)) if a != b]
    assume(changed)
    found = read_all(bytes(data))
    assert found is not None  # the envelope and the sealed header are intact
    intact = sum(1 for end in ends if end <= changed[0])
    assert _records(found[:intact]) == _records(exchanges[:intact])
    assert _in_order(found, exchanges)


@given_target(_mutations)
def test_encrypted_reader_mutated_header_is_an_error_or_the_session(
    mutations: list[tuple[int, int]],
) -> None:
    whole, header_end, _ends, exchanges = recording()
    data = bytearray(whole)
    for at, byte in mutations:
        data[at % header_end] = byte
    found = read_all(bytes(data))
    if found is not None:
        assert _in_order(found, exchanges)
