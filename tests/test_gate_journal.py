"""Run to run on real processes: the pilot day recorded once against the Python backend,
then replayed against the candidate port three times into one results database —
with every divergence, with one fixed (`JOURNAL_FIX`), and with it back again.

`compare` shows exactly that divergence's findings as fixed, then as regressed; a
finding marked `expected` leaves the gate's open list; the gate's exit codes and
artifacts are checked, and every artifact validates against docs/gate.md's schema.

The divergence switched off is `speech-failure-http-status`: its one exchange (the
`speech.speak` bridge call) differs in nothing else, so its findings are its own.
The search's `took_ms` timing is ignored by a rules file: a single baseline sample can
by chance equal the recording, which would make that route's findings come and go."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.journal import record_pilot, start_backend
from tests.procs import Proc, parity
from tests.test_gate import validate_artifact

pytestmark = pytest.mark.timeout(120)

FIXED = "speech-failure-http-status"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_pilot(tmp_path_factory.mktemp("sessions"))


def run(*args: str, codes: tuple[int, ...] = (0,), timeout: float = 60) -> str:
    """A `parity` command as a real process: its output, once its exit code is checked."""
    with Proc(parity(*args)) as proc:
        code = proc.popen.wait(timeout)
        output = proc.output()
    assert code in codes, f"parity {' '.join(args)} exited {code}:\n{output}"
    return output


def replay(sessions: Path, db: Path, rules: Path, fixes: tuple[str, ...] = ()) -> str:
    """Replay against the candidate (with `fixes` switched off) and a live baseline; the
    run's id."""
    with ExitStack() as stack:
        candidate = start_backend(stack, "candidate", fixes)
        baseline = start_backend(stack, "baseline")
        run(
            "replay",
            str(sessions),
            "--target",
            candidate,
            "--baseline",
            baseline,
            "--rules",
            str(rules),
            "--db",
            str(db),
            codes=(1,),  # the other divergences are still there
            timeout=120,
        )
    report = json.loads(run("report", "--db", str(db), "--json"))
    assert report["totals"]["errors"] == 0
    return str(report["run"]["id"])


def gate(db: Path, out: Path, *args: str, code: int) -> dict[str, Any]:
    run("gate", "--db", str(db), "--out", str(out), *args, codes=(code,))
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    validate_artifact(data)
    assert data["exit_code"] == code and data["passed"] is (code == 0)
    return data


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def speech_findings(db: Path, run_id: str) -> set[str]:
    """The findings only the exchanges the divergence under test explains show: the
    `speech.speak` bridge call, to which the candidate answers 502."""
    report = json.loads(run("report", run_id, "--db", str(db), "--json"))
    speech: set[str] = set()
    others: set[str] = set()
    for m in report["mismatches"]:
        explained = m["route"].startswith("POST /api/bridge") and m["actual_status"] == 502
        (speech if explained else others).update(m["findings"])
    return speech - others


def test_a_fix_shows_as_fixed_a_mark_leaves_the_gate_and_a_relapse_regresses(
    recorded: Path, tmp_path: Path
) -> None:
    db = tmp_path / "parity.db"
    rules = tmp_path / "rules.toml"
    rules.write_text('[[ignore]]\nname = "timing"\npaths = ["$.took_ms"]\n', encoding="utf-8")
    out = tmp_path / "logs" / "parity_harness_results.json"

    # Run 1: every divergence. The gate fails; nothing to compare with yet.
    first = replay(recorded, db, rules)
    speech = speech_findings(db, first)  # its own (its status change, and what follows)
    assert speech and all(f.startswith("F") for f in speech)
    n = len(speech)
    before = gate(db, out, code=1)
    assert before["run"]["id"] == first and before["previous_run"] is None
    assert speech <= set(ids(before["open"]))
    assert {s["state"] for s in before["open"]} == {"new"}
    assert before["fixed"] == [] and before["regressed"] == []

    # Run 2: the candidate fixed the speech bridge's status. Exactly those are fixed.
    second = replay(recorded, db, rules, fixes=(FIXED,))
    compared = json.loads(run("compare", "--db", str(db), "--json"))
    assert (compared["a"]["id"], compared["b"]["id"]) == (first, second)
    assert compared["same_sessions"] is True
    assert set(ids(compared["fixed"])) == speech
    assert {(f["count_a"], f["count_b"]) for f in compared["fixed"]} == {(1, 0)}
    assert compared["new"] == [] and compared["regressed"] == [] and compared["accepted"] == []
    assert compared["counts"]["fixed"] == n
    # compare lists serialization findings too; the gate keeps them apart (not gated).
    wire_only = len(before["serialization"])
    assert compared["counts"]["still_open"] == len(before["open"]) + wire_only - n
    table = run("compare", "--db", str(db))
    assert f"{n} fixed, 0 new, 0 regressed" in table and all(f in table for f in speech)

    # Mark another finding `expected` (by a prefix): it leaves the gate's open list.
    still_open = [
        s
        for s in compared["still_open"]
        if s["route"] == "GET /api/vaults" and s["category"] == "difference"
    ]
    accepted = still_open[0]["id"]
    marked = run(
        "mark", accepted[:6], "--as", "expected", "--note", "charset: accepted", "--db", str(db)
    )
    assert f"{accepted} GET /api/vaults: " in marked and " marked expected: " in marked
    after = gate(db, out, code=1)
    assert after["run"]["id"] == second and after["previous_run"]["id"] == first
    assert accepted not in ids(after["open"]) and not speech & set(ids(after["open"]))
    assert ids(after["accepted"]) == [accepted]
    assert after["accepted"][0]["verdict"] == "expected"
    assert after["accepted"][0]["note"] == "charset: accepted"
    assert set(ids(after["fixed"])) == speech
    assert after["totals"]["open"] == len(before["open"]) - n - 1
    assert after["totals"]["fixed"] == n and after["totals"]["regressed"] == 0

    # Run 3: the fix is lost. The speech finding is back: regressed, fixed in run 2.
    third = replay(recorded, db, rules)
    compared = json.loads(run("compare", "--db", str(db), "--json"))
    assert (compared["a"]["id"], compared["b"]["id"]) == (second, third)
    assert set(ids(compared["regressed"])) == speech
    assert {f["fixed_in"] for f in compared["regressed"]} == {second}
    assert compared["fixed"] == [] and compared["new"] == []
    assert ids(compared["accepted"]) == [accepted]
    relapse = gate(db, out, code=1)
    assert set(ids(relapse["regressed"])) == speech
    assert {f["fixed_in"] for f in relapse["regressed"]} == {second}
    regressed_open = [s for s in relapse["open"] if s["id"] in speech]
    assert {s["state"] for s in regressed_open} == {"regressed"} and len(regressed_open) == n

    # The threshold: with as many open findings allowed as there are, the gate passes.
    allowed = str(relapse["totals"]["open"])
    passed = gate(db, out, "--max-open", allowed, code=0)
    assert passed["reasons"] == [] and passed["thresholds"]["max_open"] == int(allowed)

    # Compare any two runs: run 1 against run 3 have the same findings.
    same = json.loads(run("compare", first, third, "--db", str(db), "--json"))
    assert same["fixed"] == same["new"] == same["regressed"] == []
