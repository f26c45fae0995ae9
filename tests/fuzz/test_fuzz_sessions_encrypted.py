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

from hypothesis import strategies as st

from parity.sessions import (
    Exchange,
    KeySource,
    SessionFileError,
    SessionKeyError,
    SessionReader,
    SessionStore,
)
from tests.fuzz.harness import given_target, memory_cap
from tests.fuzz.test_fuzz_sessions import (
    Recording,
    _records,
    mutated_keeps_every_record_before_the_damage,
    mutations_strategy,
    record_sample,
    truncated_keeps_every_complete_record,
)

_WORK = tempfile.TemporaryDirectory(prefix="parity-fuzz-encrypted-")


@functools.cache
def keys() -> KeySource:
    key_file = Path(_WORK.name) / "fuzz.key"
    key_file.write_bytes(os.urandom(32))
    return KeySource(key_file=key_file)


@functools.cache
def recording() -> Recording:
    """A real encrypted session file: (its bytes, the sealed header's end, each
    exchange frame's end, the exchanges written)."""
    return record_sample(SessionStore(Path(_WORK.name) / "store"), keys())


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


def _in_order(found: list[Exchange], written: tuple[Exchange, ...]) -> bool:
    """Whether `found` is `written` less some records, in order, none altered."""
    rest = iter(_records(written))
    return all(any(record == w for w in rest) for record in _records(found))


@given_target(st.data())
def test_encrypted_reader_truncated_returns_every_complete_frame(data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(recording()[0])), label="cut")
    truncated_keeps_every_complete_record(recording(), read_all, cut)


@given_target(mutations_strategy)
def test_encrypted_reader_mutated_keeps_every_frame_before_the_damage(
    mutations: list[tuple[int, int]],
) -> None:
    found = mutated_keeps_every_record_before_the_damage(recording(), read_all, mutations)
    assert _in_order(found, recording()[3])


@given_target(mutations_strategy)
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
