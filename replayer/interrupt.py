"""Ctrl-C and SIGTERM during a replay run: stop cleanly, then faster.

The first signal asks the run to stop: no session starts and no exchange is sent any
more; the requests in flight finish (each is under `--timeout`), results are stored,
the run is marked interrupted; a session waiting on a paced schedule stops waiting
(`Interrupt.sleep`). A second one cancels what is in flight: each such
exchange is stored as an `error` saying it was interrupted. Later ones are ignored until
the results are written (SQLite commits whole batches either way).

Handlers are installed with `signal.signal` for the duration of `Interrupt.installed()`
(on the main thread only; SIGTERM where the platform has it), the previous ones put
back after, and asyncio's own Ctrl-C handling is left out: `asyncio.run` installs its
handler only over Python's default one. On Windows a console Ctrl-C arrives as SIGINT
too; SIGTERM there is TerminateProcess, which no handler sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

INTERRUPTED = "interrupted: the run was stopped (Ctrl-C) before the answer came"
"""The error of an exchange in flight when a second Ctrl-C aborted the run."""


class Interrupt:
    """What the signals asked for, for the replay loop to read (`requested`)."""

    def __init__(self, on_stop: Callable[[], None] | None = None) -> None:
        self.on_stop = on_stop
        """Called on the run's event loop when the first signal came (to say so)."""
        self.count = 0
        self.signal_name: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._woken: asyncio.Event | None = None

    @property
    def requested(self) -> bool:
        """A signal came: start nothing new."""
        return self.count > 0

    @property
    def aborted(self) -> bool:
        """A second signal came: what is in flight is cancelled."""
        return self.count > 1

    def stop(self, name: str = "SIGINT") -> None:
        """What a signal does (also callable directly, as tests and callers may)."""
        self.count += 1
        self.signal_name = self.signal_name or name
        loop, task = self._loop, self._task
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            if self.count == 2 and task is not None:
                loop.call_soon_threadsafe(task.cancel)
            elif self.count == 1:
                if self._woken is not None:
                    loop.call_soon_threadsafe(self._woken.set)
                if self.on_stop is not None:
                    loop.call_soon_threadsafe(self.on_stop)

    def attach(self, task: asyncio.Task[Any]) -> None:
        """The task a second signal cancels (the run's main task), on its loop."""
        self._loop, self._task = task.get_loop(), task
        self._woken = asyncio.Event()
        if self.count > 0:
            self._woken.set()
        if self.count > 1:
            task.cancel()

    def detach(self) -> None:
        self._loop = self._task = None
        self._woken = None

    async def sleep(self, delay: float) -> None:
        """`asyncio.sleep(delay)` that a stop request cuts short (a paced wait)."""
        woken = self._woken
        if woken is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await woken.wait()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupt]:
        """SIGINT and SIGTERM call `stop` while inside (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop(signal.Signals(signum).name)

        for name in ("SIGINT", "SIGTERM"):
            number = getattr(signal, name, None)
            if number is None:
                continue
            try:
                previous[number] = signal.signal(number, handler)
            except (OSError, ValueError):  # not settable here
                continue
        try:
            yield self
        finally:
            for number, old in previous.items():
                with contextlib.suppress(OSError, ValueError, TypeError):
                    signal.signal(number, old)
