"""The fuzz targets' harness: hypothesis profiles, a wall-clock budget and a count of the
inputs each target tried.

`make test` runs every target briefly and reproducibly (profile `ci`: a fixed number of
examples, derandomized, no example database, no deadline). `make fuzz` selects profile
`fuzz` (`HYPOTHESIS_PROFILE=fuzz`): each target runs random batches until
`FUZZ_SECONDS` (default 600) have passed, and the terminal summary says how many inputs
each one tried.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": _QUIET,
}
settings.register_profile(
    "ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), derandomize=True, **_COMMON
)
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("FUZZ_BATCH", "250")), derandomize=False, **_COMMON
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
FUZZING = PROFILE == "fuzz"


@dataclass(slots=True)
class Tally:
    inputs: int = 0
    batches: int = 0
    seconds: float = 0.0
    failed: bool = False


TALLIES: dict[str, Tally] = {}


def budget_seconds() -> float:
    return float(os.environ.get("FUZZ_SECONDS", "600"))


def target(test: Callable[..., Any]) -> Callable[[], None]:
    """Mark a `@given` test as a fuzz target: counted, and under profile `fuzz` repeated
    in fresh random batches until its time budget is spent (the first failure stops it)."""
    name = test.__name__
    tally = TALLIES.setdefault(name, Tally())
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]

    @functools.wraps(inner)
    def counted(*args: Any, **kwargs: Any) -> Any:
        tally.inputs += 1
        return inner(*args, **kwargs)

    test.hypothesis.inner_test = counted  # type: ignore[attr-defined]

    @pytest.mark.fuzz
    @functools.wraps(test, updated=())  # no __dict__: pytest must not see @given's test
    def run() -> None:
        started = time.monotonic()
        stop = started + budget_seconds()
        try:
            while True:
                tally.batches += 1
                test()
                if not FUZZING or time.monotonic() >= stop:
                    break
        except BaseException:
            tally.failed = True
            raise
        finally:
            tally.seconds += time.monotonic() - started

    del run.__wrapped__  # pytest collects `run` itself: a test without arguments
    return run


def given_target(*strategies: Any) -> Callable[[Callable[..., Any]], Callable[[], None]]:
    """`@given(*strategies)` and `target`, in one decorator."""

    def decorate(test: Callable[..., Any]) -> Callable[[], None]:
        return target(given(*strategies)(test))

    return decorate


@contextlib.contextmanager
def memory_cap(extra: int = 1 << 30) -> Iterator[None]:
    """Let the code inside map at most `extra` more bytes (RLIMIT_AS, where there is one),
    so a bug that asks for gigabytes fails fast with MemoryError instead of taking the
    machine."""
    try:
        import resource
    except ImportError:  # not POSIX
        yield
        return
    try:
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # no /proc (macOS): no cap
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
