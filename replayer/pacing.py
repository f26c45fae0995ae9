"""Pacing a replay like the recording: when each session starts and when each of its
requests is sent, as offsets in seconds from the run's start (pure: no clock, no I/O;
the engine sleeps until `run start + offset` on the event loop's monotonic clock).

- `asap` (`Pace()`, the default): no waiting at all (the replay as it always was).
- `recorded` (factor 1) and `xN` (factor N): the recorded gap between two request
  starts of a session becomes `gap / N`, capped at `max_idle` (after the division). The
  gaps between the sessions' first requests are treated the same way, so sessions keep
  their relative start offsets (B recorded 40 s after A starts 4 s after it at x10).
- Offsets are cumulative from the recorded timestamps, never from when the previous
  request actually finished: a slow answer delays the next request, and the ones after
  it catch up with the schedule (no drift).
- The recorder writes an exchange when its response ends, so in a session with
  overlapping requests a record can start a little before the one written ahead of it.
  Such a request is sent right after the previous one (gap 0). A step back of more than
  `OVERLAP` seconds (a clock stepped back), or a start time that is zero, negative or not
  a number, makes the timestamps unusable: the whole run replays asap, with one warning
  (`TimingCheck`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OVERLAP = 30.0
"""Seconds a request recorded after another may have started before it (overlapping
requests of one session); a step back of more is a clock that jumped."""


@dataclass(frozen=True, slots=True)
class Pace:
    factor: float | None = None
    """None: asap; else the recorded gaps are divided by it (1: as recorded)."""
    max_idle: float | None = None
    """The longest wait between two starts, after the division (None: no cap)."""

    @property
    def asap(self) -> bool:
        return self.factor is None

    def gap(self, recorded: float) -> float:
        """How long to wait for a recorded gap (negative: overlapping requests, 0)."""
        if self.factor is None or recorded <= 0:
            return 0.0
        wait = recorded / self.factor
        return wait if self.max_idle is None else min(wait, self.max_idle)

    def describe(self) -> str:
        if self.factor is None:
            return "asap"
        speed = "recorded" if self.factor == 1 else f"x{self.factor:g}"
        return speed + (
            f", gaps capped at {self.max_idle:g} s" if self.max_idle is not None else ""
        )


def session_offsets(starts: Sequence[float], pace: Pace) -> list[float]:
    """Each session's start offset from the run's start (same order as `starts`, the
    recorded start of each session's first request): the earliest at 0, the others after
    the gaps between consecutive starts, each paced by `pace.gap`."""
    if pace.asap or not starts:
        return [0.0] * len(starts)
    order = sorted(range(len(starts)), key=lambda i: starts[i])
    offsets = [0.0] * len(starts)
    previous, at = starts[order[0]], 0.0
    for i in order:
        at += pace.gap(starts[i] - previous)
        offsets[i] = at
        previous = starts[i]
    return offsets


class RequestSchedule:
    """The offsets of one session's requests from the session's start, fed their
    recorded start times in the order they are sent (`next`)."""

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self._latest: float | None = None
        self._at = 0.0

    def next(self, started: float) -> float:
        """The offset for a request recorded as starting at `started`."""
        if self._latest is None:
            self._latest = started
            return 0.0
        self._at += self.pace.gap(started - self._latest)
        self._latest = max(self._latest, started)
        return self._at


def request_offsets(starts: Iterable[float], pace: Pace) -> list[float]:
    """`RequestSchedule` over a whole session (for tests and tools)."""
    schedule = RequestSchedule(pace)
    return [schedule.next(s) for s in starts]


class TimingCheck:
    """Whether one session's recorded start times can pace a replay, fed in file order
    (`add`): `problem` is None, or why not (a zero or missing time, a clock going back)."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.problem: str | None = None
        self._latest = 0.0
        self._seen = 0

    def add(self, started: object) -> None:
        self._seen += 1
        if self.problem is not None:
            return
        if (
            isinstance(started, bool)
            or not isinstance(started, int | float)
            or not math.isfinite(started)
            or started <= 0
        ):
            self.problem = f"request {self._seen} has no usable start time ({started!r})"
            return
        if self.first is None:
            self.first = self._latest = float(started)
            return
        if started < self._latest - OVERLAP:
            back = self._latest - started
            self.problem = f"request {self._seen} starts {back:.0f} s before an earlier one"
            return
        self._latest = max(self._latest, float(started))
