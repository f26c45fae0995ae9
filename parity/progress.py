"""The progress bar of long commands (`parity replay`, `parity shrink`): on a terminal,
a rich bar on stderr with what is done of the total, the rate, the time left and the
counts a command adds (mismatches so far); nothing when stderr is not a terminal or
with `--quiet`.

A room reports counts through a plain callback (`replayer.RunCounts`); the bar takes
them at any rate and hands rich at most `UPDATES_PER_SECOND` updates (rich redraws on
its own thread at the same rate), so a fast replay pays one clock read per exchange.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

UPDATES_PER_SECOND = 10

Update = Callable[..., None]
"""`update(done, **fields)`: `done` of the total, and the named fields' values."""


def on_terminal() -> bool:
    """The bar is drawn on stderr: only when that is a terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


class ProgressBar:
    """`with ProgressBar(total, "replaying", fields={"mismatches": "{} mismatches"}) as
    update: update(done, mismatches=n)`; `update` does nothing without a terminal."""

    def __init__(
        self,
        total: int,
        description: str,
        *,
        quiet: bool = False,
        fields: dict[str, str] | None = None,
        unit: str = "exchanges",
    ) -> None:
        self.total = total
        self.description = description
        self.quiet = quiet
        self.fields = fields or {}
        self.unit = unit
        self.bar: Any = None
        self._task: Any = None
        self._next = 0.0

    def __enter__(self) -> Update:
        if self.quiet or not on_terminal():
            return _nothing
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        columns: list[Any] = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        columns += [
            TextColumn(text.replace("{}", f"{{task.fields[{name}]}}"))
            for name, text in self.fields.items()
        ]
        self.bar = Progress(
            *columns,
            console=Console(stderr=True),
            transient=True,
            refresh_per_second=UPDATES_PER_SECOND,
        )
        self.bar.start()
        self._task = self.bar.add_task(
            self.description, total=self.total, rate="", **dict.fromkeys(self.fields, 0)
        )
        return self.update

    def update(self, done: int, **fields: object) -> None:
        now = time.monotonic()
        if now < self._next and done < self.total:
            return
        self._next = now + 1 / UPDATES_PER_SECOND
        task = self.bar.tasks[0]
        speed = task.speed
        rate = f"{speed:,.0f}/s" if speed else ""
        self.bar.update(self._task, completed=done, rate=rate, **fields)

    def note(self, line: str) -> None:
        """A line printed above the bar (or plainly on stderr without one)."""
        if self.bar is not None:
            self.bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _nothing(done: int, **fields: object) -> None:
    return None
