"""triage: the results database (runs, results, mismatches, signatures, learned noise)
and its rendering.

    from parity.triage import ResultsDB, ExchangeResult, RunInfo

    db = ResultsDB(path)                    # 0600 file, WAL, schema migrated
    run_id = db.start_run(RunInfo(target=..., sessions=[...], started_at=time.time()))
    with db.writer(run_id) as w:            # one transaction per batch of 1000
        w.add(ExchangeResult(...))
    db.finish_run(run_id)

Of the other rooms it imports only `differ`: its result types (`differ.model`), the
learned-noise types (`differ.noise`) and pure helpers to read stored bodies for `parity
show` (`differ.content`, `differ.jsonpath`, …). URLs come masked from the caller; headers
and bodies shown for reading are masked here (`triage.masking`). Reading:
`triage.queries` (plain dicts, the `--json` shapes), `triage.sentences` (differences as
sentences with raw values) and `triage.render` (rich). Learned noise: `triage.noise`.
Findings (schema v4): stored by the writer and grouped across routes at `finish_run`
(`triage.findings`), read by `triage.finding_queries`, compared run to run by
`triage.compare.finding_changes`. Verdicts on findings: `triage.verdicts`; run to run
(fixed, new, regressed): `triage.compare`; the gate and its artifact: `triage.gate` (`docs/gate.md`); the
interactive walk of `parity triage`: `triage.walk`. The tables are documented in
`docs/results-db.md`.
"""

from pathlib import Path

from parity.triage.db import ResultsDB, ResultWriter, open_results
from parity.triage.errors import Ambiguous, NoDatabase, NotFound, NotResultsDB, TriageError
from parity.triage.model import ExchangeResult, RunInfo


def bench_store(n: int = 100_000, *, path: Path | None = None) -> float:
    """Store `n` fabricated results into a fresh database (kept at `path` if given);
    results per second."""
    from parity.triage.bench import bench_store as run

    return run(n, path=path)


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
