"""Results held for the end of a run, in bounded memory.

A verdict with suspects (differences at spots of learned noise), and with a baseline
every mismatch, waits for the end of the run (`Replayer._settle`). A soak's run holds
10^5 of them: in memory they grew with the run (each with its bodies and, with a
baseline, what its comparison again needs). `Pending` keeps the first `limit` in memory
and spills the rest, pickled in order, to an anonymous temporary file (deleted when
closed, whatever ends the process), read back once, in the same order, to settle them:
the same results are decided the same way, only where they wait changes.

The file is the run's own scratch, written and read by this process only; nothing in it
outlives the run (a resumed run replays those sessions again: their results were never
stored).
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from parity.differ import Differ, Verdict
from parity.triage import ExchangeResult

Redo = Callable[[Differ], Verdict]
"""A pending result's comparison again, under another differ (with a baseline)."""

SPILL_AFTER = 512
"""Results held in memory before the rest go to the spill file."""


class Pending:
    """An ordered, append-only list of (result, redo or None), `limit` of them in memory."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = max(1, SPILL_AFTER if limit is None else limit)
        self._memory: list[tuple[ExchangeResult, Redo | None]] = []
        self._file: IO[bytes] | None = None
        self._spilled = 0

    def append(self, result: ExchangeResult, redo: Redo | None = None) -> None:
        self._memory.append((result, redo))
        if len(self._memory) >= self.limit:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="parity-pending-")  # noqa: SIM115 - closed in clear()
        for entry in self._memory:
            pickle.dump(entry, self._file, protocol=pickle.HIGHEST_PROTOCOL)
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
            self._file.flush()
            end = self._file.tell()
            self._file.seek(0)
            for _ in range(self._spilled):
                yield pickle.load(self._file)  # this run's own scratch file
            self._file.seek(end)
        yield from list(self._memory)

    def clear(self) -> None:
        self._memory.clear()
        self._spilled = 0
        if self._file is not None:
            self._file.close()
            self._file = None
