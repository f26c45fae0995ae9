"""Two identical replays agree (issue 8, item 4): the same recorded sessions replayed
twice against fresh processes of the same candidate, with a fresh baseline, into one
results database give the same differences on every exchange, and `parity compare`
between the two runs has nothing new, fixed or regressed.

On the journal pilot and on the two third-party-style APIs (tests/apis). The first run
learns from its baseline and the second also uses what the first learned: the verdicts
must not depend on that, nor on timing (the test APIs' clocks run a day or more ahead of
the recording, see `tests.test_real_apis._apis`), list order or chance agreements.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.journal import record_pilot, start_backend
from tests.procs import Proc, parity
from tests.test_real_apis import DAY, _apis, _record

pytestmark = pytest.mark.timeout(240)

Start = Callable[[ExitStack], tuple[str, list[str]]]


def _replay(sessions: Path, db: Path, start: Start) -> str:
    """One replay against fresh processes; the run id."""
    with ExitStack() as stack:
        target, baselines = start(stack)
        args = ["replay", str(sessions), "--target", target, "--db", str(db)]
        for url in baselines:
            args += ["--baseline", url]
        with Proc(parity(*args)) as run:
            code = run.popen.wait(120)
            output = run.output()
    assert code in (0, 1), output
    return output.strip().splitlines()[-1]


def _differences(db: Path, run_id: str) -> dict[tuple[str, int], list[str]]:
    """(session, seq) -> the stored differences of that exchange, as sorted JSON."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT session, seq, differences FROM mismatches WHERE run_id = ?", [run_id]
        ).fetchall()
    return {
        (session, seq): sorted(json.dumps(d, sort_keys=True) for d in json.loads(found or "[]"))
        for session, seq, found in rows
    }


def _assert_identical(sessions: Path, db: Path, start: Start) -> None:
    first = _replay(sessions, db, start)
    second = _replay(sessions, db, start)
    a, b = _differences(db, first), _differences(db, second)
    assert a, "the candidate differs: the runs must have mismatches to compare"
    changed = {
        key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)
    }
    assert not changed, json.dumps({f"{k[0]}#{k[1]}": v for k, v in changed.items()}, indent=1)
    with Proc(parity("compare", first, second, "--db", str(db), "--json")) as compare:
        code = compare.popen.wait(30)
        output = compare.output()
    assert code == 0, output
    report = json.loads(output)
    assert (report["new"], report["fixed"], report["regressed"]) == ([], [], []), output
    # What the two runs share are findings (ids `F` + 10 hex), each shown by both.
    same = report["still_open"] + report["accepted"]
    assert same and all(f["id"].startswith("F") and len(f["id"]) == 11 for f in same), output
    assert all(f["count_a"] == f["count_b"] for f in same), output


def test_two_replays_of_the_journal_pilot_agree(tmp_path: Path) -> None:
    sessions = record_pilot(tmp_path / "sessions")

    def start(stack: ExitStack) -> tuple[str, list[str]]:
        return start_backend(stack, "candidate"), [start_backend(stack, "baseline")]

    _assert_identical(sessions, tmp_path / "parity.db", start)


@pytest.mark.parametrize(("api", "baselines"), [("store_api", 1), ("tags_api", 2)])
def test_two_replays_of_a_third_party_style_api_agree(
    tmp_path: Path, api: str, baselines: int
) -> None:
    sessions = _record(tmp_path / "sessions", api, api.replace("_api", "_client"))

    def start(stack: ExitStack) -> tuple[str, list[str]]:
        urls = _apis(stack, api, "port", *["reference"] * baselines, clock=DAY)
        return urls[0], urls[1:]

    _assert_identical(sessions, tmp_path / "parity.db", start)
