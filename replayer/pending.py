"""Results held for the end of a run, in bounded memory.

A verdict with suspects (differences at spots of learned noise), and with a baseline
every mismatch, waits for the end of the run (`Replayer._settle`). A soak's run holds
10^5 of them: in memory they grew with the run (each with its bodies and, with a
baseline, what its comparison again needs). `Pending` keeps the first `limit` in memory
and spills the rest, pickled in order, to a sealed scratch file
(`sessions.crypto.SealedScratch`: anonymous, so nothing is left whatever ends the
process, and encrypted under a key held in memory only), read back once, in the same order, to settle them:
the same results are decided the same way, only where they wait changes.

The file is the run's own scratch, written and read by this process only; nothing in it
outlives the run (a resumed run replays those sessions again: their results were never
stored).
"""

from __future__ import annotations

import functools
import io
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from parity.differ import Differ, Verdict
from parity.sessions.crypto import SealedScratch
from parity.triage import ExchangeResult

Redo = Callable[[Differ], Verdict]
"""A pending result's comparison again, under another differ (with a baseline)."""

SPILL_AFTER = 512
"""Results held in memory before the rest go to the spill file."""

SHARED = 32
"""Value maps written once and referred to by later results (the last this many)."""


def _shared_maps(redo: Redo | None) -> list[dict[Any, Any]]:
    """The value maps a comparison again carries: one session's results share them (the
    correlation's cached maps, `ValueMap.reverse`), and a long session's can be large,
    so the scratch file holds each once while it is in use, not once per result."""
    if not isinstance(redo, functools.partial):
        return []
    maps = [redo.keywords.get("actual_values"), *redo.keywords.get("baselines_values", [])]
    return [m for m in maps if isinstance(m, dict) and m]


class _Referring(pickle.Pickler):
    """Pickles one record, the shared maps in `shared` as references to them."""

    def __init__(self, file: IO[bytes], shared: Mapping[int, tuple[object, int]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def persistent_id(self, obj: object) -> object:
        if type(obj) is dict:
            found = self.shared.get(id(obj))
            if found is not None and found[0] is obj:
                return found[1]
        return None


class _Resolving(pickle.Unpickler):
    """Reads one record back, its references resolved from `shared`."""

    def __init__(self, file: IO[bytes], shared: Mapping[int, object]) -> None:
        super().__init__(file)
        self.shared = shared

    def persistent_load(self, pid: object) -> object:
        assert isinstance(pid, int)
        return self.shared[pid]


class _Writer:
    def __init__(self, file: SealedScratch) -> None:
        self.file = file
        self.shared: OrderedDict[int, tuple[object, int]] = OrderedDict()
        self.count = 0

    def entry(self, entry: tuple[ExchangeResult, Redo | None]) -> None:
        for shared in _shared_maps(entry[1]):
            found = self.shared.get(id(shared))
            if found is not None and found[0] is shared:
                continue
            self.file.append(pickle.dumps(("map", self.count, shared), pickle.HIGHEST_PROTOCOL))
            self.shared[id(shared)] = (shared, self.count)
            self.count += 1
            if len(self.shared) > SHARED:  # first in, first out: the reader does the same
                self.shared.popitem(last=False)
        record = io.BytesIO()
        _Referring(record, self.shared).dump(("entry", entry))
        self.file.append(record.getvalue())


class _Reader:
    def __init__(self, file: SealedScratch) -> None:
        self.file = file
        self.at = 0
        self.shared: OrderedDict[int, object] = OrderedDict()

    def entry(self) -> tuple[ExchangeResult, Redo | None]:
        while True:
            data, self.at = self.file.read_at(self.at)
            record = _Resolving(io.BytesIO(data), self.shared).load()  # this run's own scratch
            if record[0] == "entry":
                entry: tuple[ExchangeResult, Redo | None] = record[1]
                return entry
            _, n, shared = record
            self.shared[n] = shared
            if len(self.shared) > SHARED:
                self.shared.popitem(last=False)


class Pending:
    """An ordered, append-only list of (result, redo or None), `limit` of them in memory."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = max(1, SPILL_AFTER if limit is None else limit)
        self._memory: list[tuple[ExchangeResult, Redo | None]] = []
        self._file: SealedScratch | None = None
        self._writer: _Writer | None = None
        self._spilled = 0

    def append(self, result: ExchangeResult, redo: Redo | None = None) -> None:
        self._memory.append((result, redo))
        if len(self._memory) >= self.limit:
            self._spill()

    def _spill(self) -> None:
        if self._file is None or self._writer is None:
            self._file = SealedScratch("parity-pending-")
            self._writer = _Writer(self._file)
        for entry in self._memory:
            self._writer.entry(entry)
        self._spilled += len(self._memory)
        self._memory.clear()

    def __len__(self) -> int:
        return self._spilled + len(self._memory)

    def __bool__(self) -> bool:
        return len(self) > 0

    @property
    def in_memory(self) -> int:
        """How many are held in memory now (at most `limit`)."""
        return len(self._memory)

    def __iter__(self) -> Iterator[tuple[ExchangeResult, Redo | None]]:
        """Every entry in the order appended (the spilled ones read back one at a time)."""
        if self._file is not None and self._spilled:
            reader = _Reader(self._file)
            for _ in range(self._spilled):
                yield reader.entry()
        yield from list(self._memory)

    def clear(self) -> None:
        self._memory.clear()
        self._spilled = 0
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None
