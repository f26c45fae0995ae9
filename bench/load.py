"""A closed-loop HTTP load generator: a fixed number of keep-alive connections, each
sending the next request as soon as the previous response has been read in full.

Every run is bounded twice, by a request count and by a duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp


@dataclass
class LoadResult:
    url: str
    concurrency: int
    requests: int
    errors: int
    elapsed_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    first_error: str = ""
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latencies_ms"]
        return data


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


async def run_load(
    url: str,
    *,
    concurrency: int = 8,
    duration: float = 10.0,
    max_requests: int = 1_000_000,
    expect_length: int | None = None,
    max_errors: int = 50,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
) -> LoadResult:
    """Load `url` until `duration` seconds have passed or `max_requests` have completed.

    A response that is not a 200, or whose body is not `expect_length` bytes, counts as
    an error; after `max_errors` errors the run stops early. `progress(n)` is called
    every `progress_every` completed requests (e.g. to sample a process's memory).
    """
    latencies: list[float] = []
    errors = 0
    first_error = ""
    started = 0
    done = 0
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False, use_dns_cache=True)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:
        begin = time.perf_counter()
        deadline = begin + duration

        async def worker() -> None:
            nonlocal errors, first_error, started, done
            while started < max_requests and errors < max_errors:
                if time.perf_counter() >= deadline:
                    return
                started += 1
                t0 = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        body = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    errors += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"
                    await asyncio.sleep(0.01)
                    continue
                elapsed = time.perf_counter() - t0
                if status != 200 or (expect_length is not None and len(body) != expect_length):
                    errors += 1
                    first_error = first_error or f"status {status}, {len(body)} bytes"
                    continue
                latencies.append(elapsed * 1000)
                done += 1
                if progress is not None and done % progress_every == 0:
                    progress(done)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed_s = time.perf_counter() - begin
    ordered = sorted(latencies)
    return LoadResult(
        url=url,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        elapsed_s=elapsed_s,
        rps=len(latencies) / elapsed_s if elapsed_s > 0 else 0.0,
        p50_ms=percentile(ordered, 50),
        p90_ms=percentile(ordered, 90),
        p99_ms=percentile(ordered, 99),
        max_ms=ordered[-1] if ordered else 0.0,
        first_error=first_error,
        latencies_ms=latencies,
    )
