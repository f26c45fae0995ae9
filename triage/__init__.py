"""triage: the results database (runs, results, mismatches, signatures) and its rendering.

    from triage import ResultsDB, ExchangeResult, RunInfo

    db = ResultsDB(path)                    # 0600 file, WAL, schema migrated
    run_id = db.start_run(RunInfo(target=..., sessions=[...], started_at=time.time()))
    with db.writer(run_id) as w:            # one transaction per batch of 1000
        w.add(ExchangeResult(...))
    db.finish_run(run_id)

Imports only `differ.model` of the other rooms. URLs come masked from the caller;
headers and bodies shown for reading are masked here (`triage.masking`). Reading:
`triage.queries` (plain dicts, the `--json` shapes) and `triage.render` (rich).
The tables are documented in `docs/results-db.md`.
"""

from triage.db import ResultsDB, ResultWriter, open_results
from triage.errors import Ambiguous, NoDatabase, NotFound, NotResultsDB, TriageError
from triage.model import ExchangeResult, RunInfo


def bench_store(n: int = 100_000) -> float:
    """Store `n` fabricated results into a fresh database; results per second."""
    from triage.bench import bench_store as run

    return run(n)


__all__ = [
    "Ambiguous",
    "ExchangeResult",
    "NoDatabase",
    "NotFound",
    "NotResultsDB",
    "ResultWriter",
    "ResultsDB",
    "RunInfo",
    "TriageError",
    "bench_store",
    "open_results",
]
