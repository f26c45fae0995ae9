"""How fast results are stored: `python -m parity.triage.bench [N]` (default 100000).

Builds N exchange results first (5 % mismatched with ~2 KB bodies, 1 % errors, the rest
matched), then times only their storage: `ResultWriter.add` for each and the batches'
transactions, into a fresh database in a temporary directory.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from parity.differ.model import Difference, DiffKind, HttpResponse, Outcome, Verdict, Where
from parity.triage.model import ExchangeResult, RunInfo


def _results(n: int, mismatch_every: int, error_every: int) -> list[ExchangeResult]:
    body = b'{"id": 17, "title": "entry", "text": "' + b"x" * 2000 + b'"}'
    headers = [(b"Content-Type", b"application/json"), (b"Content-Length", b"2040")]
    request_headers = [(b"Host", b"127.0.0.1"), (b"Authorization", b"Bearer abc")]
    out = []
    for i in range(n):
        route = f"GET /api/route{i % 40}/{{id}}"
        if i % error_every == error_every - 1:
            verdict = Verdict(Outcome.ERROR, route, error="connection refused")
            actual = None
        elif i % mismatch_every == mismatch_every - 1:
            verdict = Verdict(
                Outcome.MISMATCHED,
                route,
                differences=[Difference(Where.BODY, "$.id", DiffKind.CHANGED, 17, 17.0)],
                signature=f"sig{i % 7}",
                rules_applied=["python-vs-csharp"],
            )
            actual = HttpResponse(200, headers, body.replace(b"17", b"17.0"))
        else:
            verdict = Verdict(Outcome.MATCHED, route)
            actual = HttpResponse(200, headers, body)
        out.append(
            ExchangeResult(
                session=f"s{i // 1000}",
                seq=i % 1000,
                method="GET",
                url=f"/api/route{i % 40}/{i}",
                route=route,
                verdict=verdict,
                request_headers=request_headers,
                expected=HttpResponse(200, headers, body),
                actual=actual,
                expected_ms=1.0 + (i * 7919 % 100) / 10,
                actual_ms=2.0 + (i * 104729 % 300) / 10,
            )
        )
    return out


def bench_store(
    n: int = 100_000,
    *,
    mismatch_every: int = 20,
    error_every: int = 100,
    path: Path | None = None,
) -> float:
    """Store `n` results into a fresh database; returns results stored per second.

    The database goes to a temporary directory and is removed, unless `path` names a
    file to keep (e.g. to time `parity report` on it afterwards)."""
    if path is not None:
        return _store(Path(path), n, mismatch_every, error_every)
    with tempfile.TemporaryDirectory() as tmp:
        return _store(Path(tmp) / "bench.db", n, mismatch_every, error_every)


def _store(path: Path, n: int, mismatch_every: int, error_every: int) -> float:
    from parity.triage.db import ResultsDB

    results = _results(n, mismatch_every, error_every)
    db = ResultsDB(path)
    try:
        run_id = db.start_run(RunInfo(target="http://bench", sessions=[], started_at=0.0))
        start = time.perf_counter()
        with db.writer(run_id) as writer:
            for result in results:
                writer.add(result)
        elapsed = time.perf_counter() - start
        db.finish_run(run_id, finished_at=elapsed)
    finally:
        db.close()
    return n / elapsed


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 100_000
    rate = bench_store(n)
    print(f"triage: stored {n} results at {rate:,.0f} rows/s (goal: 50,000)")


if __name__ == "__main__":
    main(sys.argv[1:])
