"""Run to run: what a fix fixed, what it broke, what recurs.

Definitions (also in `docs/results-db.md` and `docs/gate.md`). Runs are ordered by when
they started. A run's *series* is every finished run over the same set of session ids.
P(R) is the set of findings that at least one mismatch of run R shows (a finding that B
shows only on exchanges depending on an ambiguous id is not new or regressed). Comparing
run A with a later run B:

- **fixed**: in P(A), not in P(B).
- **new**: in P(B), not in P(A), and never fixed before (below).
- **regressed**: in P(B), not in P(A), and fixed before: it was in some earlier run of
  B's series (or A) and absent from a run after that one, A included. `fixed_in` names
  the run in which it last disappeared.
- **recurring** (`still_open` in JSON): in P(A) and P(B), with no verdict or the verdict `bug`.
- **accepted**: in P(A) and P(B), marked `expected` or `noise`.

Verdicts (`triage.verdicts`) are the finding's, whatever the run: a fixed, new or
regressed finding carries its verdict too. Nothing here is stored: states are worked
out from the stored mismatches on every call, so they never go stale and any two runs
compare the same way whatever was run in between. Only mismatches show findings;
errors (the target did not answer) are counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parity.triage.errors import NotFound, TriageError
from parity.triage.finding_queries import example, finding_json, finding_routes, first_links, title
from parity.triage.queries import find_run, parity_percent, run_json, totals_json
from parity.triage.text import loads
from parity.triage.verdicts import finding_verdicts, is_open

if TYPE_CHECKING:
    from parity.triage.db import ResultsDB

STATES = ("new", "regressed", "recurring", "fixed")
"""A finding's state in run B against run A: `recurring` is in both."""
CATEGORIES = ("fixed", "new", "regressed", "still_open", "accepted")
"""What `parity compare` lists, in this order in its JSON."""


@dataclass(frozen=True, slots=True)
class RunKey:
    """What ordering and grouping runs needs to know of one."""

    id: str
    order: tuple[float, int]
    sessions: frozenset[str]
    finished: bool


@dataclass(slots=True)
class Change:
    """One finding between run A and run B."""

    id: str
    state: str
    count_a: int
    count_b: int
    fixed_in: str | None = None
    verdict: dict[str, Any] | None = None

    @property
    def category(self) -> str:
        if self.state != "recurring":
            return self.state
        return "still_open" if self.open else "accepted"

    @property
    def open(self) -> bool:
        return is_open(self.verdict["verdict"] if self.verdict else None)


def run_keys(rdb: ResultsDB) -> dict[str, RunKey]:
    """Every run, chronologically (by start, then by insertion)."""
    rows = rdb.query(
        "SELECT rowid AS n, id, sessions, started_at, finished_at FROM runs "
        "ORDER BY started_at, rowid"
    )
    return {
        row["id"]: RunKey(
            id=row["id"],
            order=(float(row["started_at"]), int(row["n"])),
            sessions=_sessions(row),
            finished=row["finished_at"] is not None,
        )
        for row in rows
    }


def previous_run(keys: dict[str, RunKey], run_id: str) -> str | None:
    """The latest finished run that started before `run_id`, over the same sessions."""
    run = keys[run_id]
    earlier = [
        k
        for k in keys.values()
        if k.id != run_id and k.finished and k.sessions == run.sessions and k.order < run.order
    ]
    return max(earlier, key=lambda k: k.order).id if earlier else None


def pick_runs(rdb: ResultsDB, refs: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs A and B (A the older) from 0, 1 or 2 references.

    None: the latest finished run and the finished run before it over the same sessions.
    One: that run and the finished run before it over the same sessions. Two: those two,
    in chronological order whatever the order given."""
    keys = run_keys(rdb)
    if len(refs) > 2:
        raise TriageError("compare takes at most two runs")
    if len(refs) == 2:
        first, second = find_run(rdb, refs[0]), find_run(rdb, refs[1])
        if first["id"] == second["id"]:
            raise TriageError(f"both references name run {first['id']}: give two runs")
        if keys[first["id"]].order > keys[second["id"]].order:
            first, second = second, first
        return first, second
    if refs:
        latest = find_run(rdb, refs[0])
    else:
        finished = [k for k in keys.values() if k.finished]
        if not finished:
            raise NotFound(
                f"no finished runs in {rdb.path}: run `parity replay` first", path=rdb.path
            )
        latest = find_run(rdb, max(finished, key=lambda k: k.order).id)
    before = previous_run(keys, latest["id"])
    if before is None:
        raise NotFound(
            f"run {latest['id']} is the first finished run over its sessions: nothing to "
            "compare it with yet (`parity runs` lists the runs; give two to compare any pair)"
        )
    return find_run(rdb, before), latest


def finding_presence(
    rdb: ResultsDB, run_ids: Iterable[str], *, clear_only: bool = True
) -> dict[str, dict[str, int]]:
    """Per run: its findings and how many exchanges show each there. With `clear_only`,
    exchanges that depend on an ambiguous id (`mismatches.ambiguous_ids`) are left out:
    a finding only they show is neither new nor regressed."""
    found: dict[str, dict[str, int]] = {}
    ids = list(dict.fromkeys(run_ids))
    for run_id in ids:
        found[run_id] = {}
    clear = " AND m.ambiguous_ids = '[]'" if clear_only else ""
    for chunk in _chunks(ids, 500):
        marks = ", ".join("?" * len(chunk))
        for run_id, finding, count in rdb.db.conn.execute(
            f"SELECT l.run_id, l.finding, count(*) FROM finding_links l "
            f"JOIN mismatches m ON m.id = l.mismatch_id WHERE l.run_id IN ({marks}){clear} "
            "GROUP BY l.run_id, l.finding",
            chunk,
        ):
            found[run_id][finding] = count
    return found


def finding_changes(rdb: ResultsDB, a_id: str | None, b_id: str) -> list[Change]:
    """Every finding of run A or run B with its state in B against A (A None: no run to
    compare with; every finding of B is new), with the verdicts on findings. A must have
    started before B. A finding that B
    shows only on exchanges depending on an ambiguous id is `recurring` if A had it,
    else left out (not new, not regressed)."""
    keys = run_keys(rdb)
    history = _history(keys, a_id, b_id)
    seen = finding_presence(rdb, [*history, b_id])
    in_b_any = finding_presence(rdb, [b_id], clear_only=False)[b_id]
    return _states(seen, history, a_id, b_id, finding_verdicts(rdb), in_b_any)


def _history(keys: dict[str, RunKey], a_id: str | None, b_id: str) -> list[str]:
    b = keys[b_id]
    history = [
        k.id
        for k in keys.values()
        if k.finished and k.sessions == b.sessions and k.order < b.order and k.id != a_id
    ]
    if a_id is not None:
        history.append(a_id)
    history.sort(key=lambda ident: keys[ident].order)
    return history


def _states(
    seen: dict[str, dict[str, int]],
    history: list[str],
    a_id: str | None,
    b_id: str,
    judged: dict[str, dict[str, Any]],
    in_b_any: dict[str, int],
) -> list[Change]:
    fixed_in = _fixed_in(history, seen)
    in_a = seen[a_id] if a_id is not None else {}
    in_b = seen[b_id]
    result: list[Change] = []
    for ident in sorted(in_a.keys() | in_b.keys()):
        count_a, count_b = in_a.get(ident, 0), in_b.get(ident, 0)
        when: str | None = None
        if count_a and not count_b and in_b_any.get(ident):
            count_b = in_b_any[ident]  # still there, on ambiguous exchanges only
        if count_a and count_b:
            state = "recurring"
        elif count_a:
            state = "fixed"
        elif ident in fixed_in:
            state, when = "regressed", fixed_in[ident]
        else:
            state = "new"
        result.append(Change(ident, state, count_a, count_b, when, judged.get(ident)))
    return result


def _fixed_in(history: list[str], seen: dict[str, dict[str, int]]) -> dict[str, str]:
    """For each finding that appeared in `history` (chronological) and later
    disappeared: the run in which it last disappeared. A finding present in the last
    run of `history` is not in the result."""
    present: set[str] = set()
    fixed: dict[str, str] = {}
    for run_id in history:
        now = set(seen[run_id])
        for ident in present - now:
            fixed[ident] = run_id
        for ident in now:
            fixed.pop(ident, None)
        present = now
    return fixed


def sort_key(change: Change) -> tuple[int, str]:
    """Most mismatches first (in B; in A for a fixed one), then by id."""
    return (-(change.count_b or change.count_a), change.id)


def finding_rows(rdb: ResultsDB, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Rows of `findings`, by id."""
    rows: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(dict.fromkeys(ids)), 500):
        marks = ", ".join("?" * len(chunk))
        for row in rdb.query(f"SELECT * FROM findings WHERE id IN ({marks})", chunk):
            rows[row["id"]] = row
    return rows


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- `parity compare` ---------------------------------------------------------------------


def _run_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **run_json(row),
        "totals": totals_json(row),
        "parity": parity_percent(row["matched"], row["exchanges"]),
    }


def build_compare(rdb: ResultsDB, refs: tuple[str, ...] = ()) -> dict[str, Any]:
    """What `parity compare [RUN_A] [RUN_B] --json` prints; see `docs/results-db.md`."""
    a, b = pick_runs(rdb, refs)
    found = finding_changes(rdb, a["id"], b["id"])
    rows = finding_rows(rdb, (c.id for c in found))
    examples = {"a": first_links(rdb, a["id"]), "b": first_links(rdb, b["id"])}
    routes = {"a": finding_routes(rdb, a["id"]), "b": finding_routes(rdb, b["id"])}
    listed: dict[str, list[dict[str, Any]]] = {name: [] for name in CATEGORIES}
    for change in sorted(found, key=sort_key):
        row = rows[change.id]
        side = "a" if change.state == "fixed" else "b"
        first = examples[side].get(change.id)
        verdict = change.verdict
        listed[change.category].append(
            {
                **finding_json(row),
                "routes": routes[side].get(change.id, []),
                "title": title(row),
                "state": change.state,
                "count_a": change.count_a,
                "count_b": change.count_b,
                "verdict": verdict["verdict"] if verdict else None,
                "note": verdict["note"] if verdict else None,
                "fixed_in": change.fixed_in,
                "example": None
                if first is None
                else {**example(rdb, first, row), "run": a["id"] if side == "a" else b["id"]},
            }
        )
    return {
        "a": _run_summary(a),
        "b": _run_summary(b),
        "same_sessions": _sessions(a) == _sessions(b),
        "counts": {name: len(items) for name, items in listed.items()},
        **listed,
    }


def _sessions(row: dict[str, Any]) -> frozenset[str]:
    return frozenset(loads(row["sessions"], []) or [])
