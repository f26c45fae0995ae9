"""Shrinking a failing sequence: delta debugging (Zeller and Hildebrandt's ddmin).

`ddmin(items, test)` looks for a small subsequence of `items` (order kept) for which
`test` still holds ("the mismatch still reproduces"), assuming it holds for all of
`items`. It is pure: `test` does the I/O (for `parity shrink`: reset the target, replay
the subsequence and then the mismatching request, compare the signature).

The algorithm, on n items, starting with 2 chunks:
  1. the empty sequence first (a mismatch that needs no earlier request at all);
  2. split the current sequence into `chunks` parts; if one part alone passes, keep it
     and go back to 2 chunks;
  3. else if the sequence without one part passes, keep that complement and go on with
     one chunk fewer (at least 2);
  4. else double the chunks (at most one item each); when every chunk is one item and
     nothing passed, the result is 1-minimal: removing any single item loses the failure.
Outcomes are cached per subsequence, so no subsequence is tested twice. The search is
bounded by `max_attempts` and `max_seconds`; when a bound stops it, the result is the
smallest sequence found so far that passed (every step keeps one that did), and
`ShrinkResult.stopped` says which bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from parity.differ import Differ, Difference, Outcome, Verdict, Where, signature_of
from parity.differ.jsonpath import template_path
from parity.differ.signature import templated

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 200
DEFAULT_MAX_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class ShrinkResult(Generic[T]):
    items: list[T]
    """The smallest subsequence found for which the test held (order kept)."""
    attempts: int
    """Tests run (cached repeats not counted)."""
    seconds: float
    stopped: str | None = None
    """None when the result is 1-minimal; else the bound that stopped the search."""


Test = Callable[[Sequence[T]], bool]
Report = Callable[[int, int, bool], None]
"""Called after each attempt with (attempt number, subsequence size, passed)."""


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _split(indices: list[int], parts: int) -> list[list[int]]:
    """`indices` cut into `parts` contiguous chunks of nearly equal size."""
    size, extra = divmod(len(indices), parts)
    chunks: list[list[int]] = []
    start = 0
    for n in range(parts):
        stop = start + size + (1 if n < extra else 0)
        chunks.append(indices[start:stop])
        start = stop
    return [c for c in chunks if c]


def ddmin(
    items: Sequence[T],
    test: Test[T],
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    report: Report | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ShrinkResult[T]:
    """A small subsequence of `items` for which `test` holds (see the module doc).
    `test(items)` itself is not called: the caller has established it."""
    started = clock()
    cache: dict[tuple[int, ...], bool] = {tuple(range(len(items))): True}
    attempts = 0

    def passes(indices: list[int]) -> bool:
        nonlocal attempts
        key = tuple(indices)
        if key in cache:
            return cache[key]
        if attempts >= max_attempts:
            raise _Stop(f"{max_attempts} attempts")
        if clock() - started >= max_seconds:
            raise _Stop(f"{max_seconds:g} s")
        attempts += 1
        outcome = bool(test([items[i] for i in indices]))
        cache[key] = outcome
        if report is not None:
            report(attempts, len(indices), outcome)
        return outcome

    current = list(range(len(items)))
    stopped: str | None = None
    try:
        if current and passes([]):
            current = []
        chunks = 2
        while len(current) >= 2:
            parts = _split(current, min(chunks, len(current)))
            reduced = False
            for part in parts:
                if passes(part):
                    current, chunks, reduced = part, 2, True
                    break
            if not reduced and len(parts) > 2:
                for part in parts:
                    dropped = set(part)
                    complement = [i for i in current if i not in dropped]
                    if passes(complement):
                        current, chunks, reduced = complement, max(len(parts) - 1, 2), True
                        break
            if not reduced:
                if len(parts) >= len(current):
                    break  # 1-minimal
                chunks = min(len(current), len(parts) * 2)
    except _Stop as stop:
        stopped = stop.reason
    return ShrinkResult(
        items=[items[i] for i in current],
        attempts=attempts,
        seconds=clock() - started,
        stopped=stopped,
    )


Shape = tuple[str, str, str]
"""(kind, where, templated path): what a signature is made of."""


def shape(kind: str, where: str, path: str) -> Shape:
    """The shape of a difference given as text (e.g. read back from the results
    database), templated as `differ.signature` does."""
    return (kind, where, template_path(path) if where == Where.BODY.value else path)


def shows_signature(
    differ: Differ, verdict: Verdict, signature: str, expected: Collection[Shape] | None = None
) -> bool:
    """True when `verdict` is a mismatch with `signature`.

    Differences at spots of learned noise (`suspects` of a verdict not settled) are
    decided like the original mismatch was: with `expected` (the shapes of its
    differences), a suspect counts when the original had that shape; without it, either
    way (a run decides them over all its exchanges, a single replay cannot). What the
    differences then are is the differ's to say (`Differ.with_confirmed`)."""
    if verdict.outcome is Outcome.ERROR:
        return False
    candidates = [list(verdict.differences)]
    if verdict.suspects:
        if expected is None:
            candidates.append(differ.with_confirmed(verdict, verdict.suspects))
        else:
            wanted = set(expected)
            confirmed = [d for d in verdict.suspects if _shape_of(d) in wanted]
            candidates = [differ.with_confirmed(verdict, confirmed)]
    return any(c and signature_of(verdict.route, c) == signature for c in candidates)


def _shape_of(difference: Difference) -> Shape:
    return (difference.kind.value, difference.where.value, templated(difference))
