"""A run's correlation seeds, off the heap until their session replays.

The run's one scan gathers, per session, the values its requests carry
(`correlate.request_values`: correlation replaces only these). Held in memory for the
whole run they grew with its exchanges (a soak of 10^6 requests, each with an id in its
path, held millions of them). `SeedStore` writes each session's set, pickled, to a
sealed scratch file (`sessions.crypto.SealedScratch`: anonymous, encrypted under a key
held in memory only) as the scan finishes the session; the
replay reads it back when that session starts, and drops it when the session ends.
The file is this process's own scratch: nothing in it outlives the run.
"""

from __future__ import annotations

import pickle
import threading

from parity.replayer.correlate import Scalar
from parity.sessions.crypto import SealedScratch


class SeedStore:
    """Append-only sets of seeds, each read back by the position `put` returned."""

    def __init__(self) -> None:
        self._file: SealedScratch | None = None
        self._lock = threading.Lock()

    def put(self, wanted: set[Scalar]) -> int:
        with self._lock:
            if self._file is None:
                self._file = SealedScratch("parity-seeds-")
            return self._file.append(pickle.dumps(wanted, protocol=pickle.HIGHEST_PROTOCOL))

    def get(self, at: int) -> set[Scalar]:
        with self._lock:
            assert self._file is not None
            wanted: set[Scalar] = pickle.loads(self._file.read_at(at)[0])  # our own scratch
            return wanted

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
