"""Run to run on real processes: the pilot day recorded once against the Python backend,
then replayed against the candidate port three times into one results database —
with every divergence, with one fixed (`JOURNAL_FIX`), and with it back again.

`compare` shows exactly that divergence's signature as fixed, then as regressed; a
signature marked `expected` leaves the gate's open list; the gate's exit codes and
artifacts are checked, and every artifact validates against docs/gate.md's schema.

The divergence switched off is `speech-failure-http-status`: its one exchange (the
`speech.speak` bridge call) differs in nothing else, so its signature is its own.
The search's `took_ms` timing is ignored by a rules file: a single baseline sample can
by chance equal the recording, which would make that route's signatures come and go."""

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


def speech_signatures(db: Path, run_id: str) -> set[str]:
    """The signatures of the exchanges the divergence under test explains: the
    `speech.speak` bridge call, to which the candidate answers 502."""
    report = json.loads(run("report", run_id, "--db", str(db), "--json"))
    return {
        m["signature"]
        for m in report["mismatches"]
        if m["route"].startswith("POST /api/bridge") and m["actual_status"] == 502
    }


def test_a_fix_shows_as_fixed_a_mark_leaves_the_gate_and_a_relapse_regresses(
    recorded: Path, tmp_path: Path
) -> None:
    db = tmp_path / "parity.db"
    rules = tmp_path / "rules.toml"
    rules.write_text('[[ignore]]\nname = "timing"\npaths = ["$.took_ms"]\n', encoding="utf-8")
    out = tmp_path / "logs" / "parity_harness_results.json"

    # Run 1: every divergence. The gate fails; nothing to compare with yet.
    first = replay(recorded, db, rules)
    (speech,) = speech_signatures(db, first)  # exactly one signature, its own
    before = gate(db, out, code=1)
    assert before["run"]["id"] == first and before["previous_run"] is None
    assert speech in ids(before["open"])
    assert {s["state"] for s in before["open"]} == {"new"}
    assert before["fixed"] == [] and before["regressed"] == []

    # Run 2: the candidate fixed the speech bridge's status. Exactly that one is fixed.
    second = replay(recorded, db, rules, fixes=(FIXED,))
    compared = json.loads(run("compare", "--db", str(db), "--json"))
    assert (compared["a"]["id"], compared["b"]["id"]) == (first, second)
    assert compared["same_sessions"] is True
    assert ids(compared["fixed"]) == [speech]
    assert compared["fixed"][0]["count_a"] == 1 and compared["fixed"][0]["count_b"] == 0
    assert compared["new"] == [] and compared["regressed"] == [] and compared["accepted"] == []
    assert compared["counts"]["fixed"] == 1
    assert compared["counts"]["still_open"] == len(before["open"]) - 1
    table = run("compare", "--db", str(db))
    assert "1 fixed, 0 new, 0 regressed" in table and speech in table

    # Mark another signature `expected` (by a prefix): it leaves the gate's open list.
    still_open = [s for s in compared["still_open"] if s["route"] == "GET /api/vaults"]
    accepted = still_open[0]["id"]
    marked = run(
        "mark", accepted[:6], "--as", "expected", "--note", "charset: accepted", "--db", str(db)
    )
    assert f"{accepted} GET /api/vaults marked expected" in marked
    after = gate(db, out, code=1)
    assert after["run"]["id"] == second and after["previous_run"]["id"] == first
    assert accepted not in ids(after["open"]) and speech not in ids(after["open"])
    assert ids(after["accepted"]) == [accepted]
    assert after["accepted"][0]["verdict"] == "expected"
    assert after["accepted"][0]["note"] == "charset: accepted"
    assert ids(after["fixed"]) == [speech]
    assert after["totals"]["open"] == len(before["open"]) - 2
    assert after["totals"]["fixed"] == 1 and after["totals"]["regressed"] == 0

    # Run 3: the fix is lost. The speech signature is back: regressed, fixed in run 2.
    third = replay(recorded, db, rules)
    compared = json.loads(run("compare", "--db", str(db), "--json"))
    assert (compared["a"]["id"], compared["b"]["id"]) == (second, third)
    assert ids(compared["regressed"]) == [speech]
    assert compared["regressed"][0]["fixed_in"] == second
    assert compared["fixed"] == [] and compared["new"] == []
    assert ids(compared["accepted"]) == [accepted]
    relapse = gate(db, out, code=1)
    assert ids(relapse["regressed"]) == [speech]
    assert relapse["regressed"][0]["fixed_in"] == second
    regressed_open = [s for s in relapse["open"] if s["id"] == speech]
    assert regressed_open and regressed_open[0]["state"] == "regressed"

    # The threshold: with as many open signatures allowed as there are, the gate passes.
    allowed = str(relapse["totals"]["open"])
    passed = gate(db, out, "--max-open", allowed, code=0)
    assert passed["reasons"] == [] and passed["thresholds"]["max_open"] == int(allowed)

    # Compare any two runs: run 1 against run 3 have the same signatures.
    same = json.loads(run("compare", first, third, "--db", str(db), "--json"))
    assert same["fixed"] == same["new"] == same["regressed"] == []
