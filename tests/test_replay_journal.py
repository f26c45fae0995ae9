"""The demo flow on real processes: a pilot day recorded against the Python baseline,
replayed against the candidate port with a fresh baseline for noise. Every divergence in
examples/journal/DIVERGENCES.md is found, and nothing else: no mismatch from timestamps,
request ids, tokens, minted ids, ETags or ports. The two wire-only ones (`integral-float`,
`unicode-unescaped`) are serialization differences: differences with
`[serialization] gate = true`, outside the mismatches by default."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from examples.journal.divergences import DIVERGENCES
from tests.journal import record_pilot, start_backend
from tests.procs import Proc, parity

pytestmark = pytest.mark.timeout(180)

Diff = dict[str, Any]
Mismatch = dict[str, Any]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_pilot(tmp_path_factory.mktemp("sessions"))


WIRE_ONLY = {"integral-float", "unicode-unescaped"}
"""Divergences only the wire shows: serialization differences (DIVERGENCES.md)."""
GATE = "[serialization]\ngate = true\n"


def replay(
    sessions: Path, db: Path, fixes: list[str], baseline: bool = True, rules: str | None = None
) -> tuple[int, dict[str, Any]]:
    with ExitStack() as stack:
        candidate = start_backend(stack, "candidate", fixes)
        args = ["replay", str(sessions), "--target", candidate, "--db", str(db)]
        if baseline:
            args += ["--baseline", start_backend(stack, "baseline")]
        if rules is not None:
            path = db.with_name("rules.toml")
            path.write_text(rules, encoding="utf-8")
            args += ["--rules", str(path)]
        with Proc(parity(*args)) as run:
            code = run.popen.wait(120)
            output = run.output()
    assert code in (0, 1), output
    with Proc(parity("report", "--db", str(db), "--json")) as report:
        assert report.popen.wait(30) == 0
        return code, json.loads(report.output())


def _status(expected: int, actual: int) -> Callable[[Mismatch, Diff], bool]:
    """A status difference, or both sides rejecting differently (`error_changed`)."""

    def explains(m: Mismatch, d: Diff) -> bool:
        if d["where"] != "status":
            return False
        if d["kind"] == "error_changed":
            return (d["expected"]["status"], d["actual"]["status"]) == (expected, actual)
        return (d["expected"], d["actual"]) == (expected, actual)

    return explains


# One predicate per divergence: which reported differences it explains.
EXPLAINS: dict[str, Callable[[Mismatch, Diff], bool]] = {
    "missing-entry-status": lambda m, d: "/entries/{id}" in m["route"] and _status(404, 400)(m, d),
    "utc-z-suffix": lambda m, d: (
        "+00:00" in str(d["expected"]) and str(d["actual"]).rstrip(">").endswith("Z")
    ),
    "seven-fraction-digits": lambda m, d: (
        re.search(r"\b[06]f", str(d["expected"])) is not None and "7f" in str(d["actual"])
    ),
    # A serialization difference: the two spellings of one number.
    "integral-float": lambda m, d: (
        d["kind"] == "changed"
        and d["path"].endswith("mood_score")
        and re.fullmatch(r"\d+\.0", str(d["expected"])) is not None
        and d["actual"] == str(d["expected"])[:-2]
    ),
    "null-omitted": lambda m, d: d["kind"] == "removed" and d["expected"] is None,
    # Ties broken the other way: reordered results, and across a page boundary other items.
    "search-order": lambda m, d: (
        "/search" in m["route"]
        and (
            d["kind"] == "order_changed"
            or ("page=2" in m["url"] and re.match(r"\$\.results\[\d+\]$", d["path"]) is not None)
        )
    ),
    "problem-details": lambda m, d: (
        m["expected_status"] == 422
        and (
            _status(422, 400)(m, d)
            or (d["where"] == "header" and d["actual"] == "application/problem+json")
            or (d["where"] == "body" and d["kind"] in ("added", "removed"))
        )
    ),
    "content-type-charset": lambda m, d: (
        m["route"] == "GET /api/vaults"
        and d["where"] == "header"
        and (d["expected"], d["actual"]) == ("application/json; charset=utf-8", "application/json")
    ),
    "speech-failure-http-status": lambda m, d: (
        m["route"].startswith("POST /api/bridge") and m["actual_status"] == 502
    ),
    "pagination-off-by-one": lambda m, d: (
        m["route"] == "GET /api/vaults/{id}/entries"
        and re.search(r"[?&]page=[23]", m["url"]) is not None
        and d["path"].startswith("$.items[")
        and d["kind"] in ("added", "removed", "changed")
    ),
    "enum-casing": lambda m, d: (
        d["path"].endswith(".type")
        and isinstance(d["expected"], str)
        and d["actual"] == d["expected"].capitalize() != d["expected"]
    ),
    "unicode-unescaped": lambda m, d: (
        "\\u" in str(d["expected"]) and not str(d["actual"]).isascii()
    ),
    "checkbox-filter": lambda m, d: (
        "checkbox=" in m["url"]
        and (d["path"] == "$.total" or re.match(r"\$\.results\[\d+\]$", d["path"]) is not None)
    ),
    "sse-done-event": lambda m, d: (
        m["route"].startswith("POST /api/bridge")
        and d["kind"] == "removed"
        and "done" in str(d["expected"])
    ),
}


# Timing varies run to run; a single baseline sample can by chance equal the recording
# (rounded to 3 digits), so the baseline cannot always mark it as noise. `--repeat` and
# learned noise (the next issue) take care of it; here it is the one tolerated difference.
TIMING = {"$.took_ms"}


def test_every_divergence_has_a_predicate() -> None:
    assert set(EXPLAINS) == set(DIVERGENCES)


def _found(report: dict[str, Any]) -> set[str]:
    """The divergences the report's differences show; fails on any difference that no
    divergence explains."""
    found: set[str] = set()
    unexplained: list[str] = []
    for mismatch in report["mismatches"]:
        for diff in mismatch["differences"]:
            names = {name for name, explains in EXPLAINS.items() if explains(mismatch, diff)}
            found |= names
            if not names and diff["path"] not in TIMING:
                unexplained.append(f"{mismatch['method']} {mismatch['url']}: {diff}")
    assert not unexplained, "\n".join(unexplained)
    return found


def test_the_candidate_shows_every_divergence_and_nothing_else(
    recorded: Path, tmp_path: Path
) -> None:
    """With the serialization gate on, the wire-only divergences are differences too:
    all 14 are found."""
    code, report = replay(recorded, tmp_path / "parity.db", fixes=[], rules=GATE)
    assert code == 1
    totals = report["totals"]
    assert totals["errors"] == 0 and totals["mismatched"] > 0
    found = _found(report)
    assert found == set(DIVERGENCES), f"not found: {set(DIVERGENCES) - found}"
    assert len(report["signatures"]) <= totals["mismatched"]
    kinds = {kind for signature in report["signatures"] for kind in signature["kinds"]}
    assert {"error_changed", "order_changed"} <= kinds
    assert all(route["latency"]["actual_p50"] is not None for route in report["routes"])


def test_by_default_the_wire_only_divergences_are_not_mismatches(
    recorded: Path, tmp_path: Path
) -> None:
    """Default rules: every divergence a client can see is a difference; the wire-only
    ones are not (they are `Verdict.serialization`, shown apart)."""
    code, report = replay(recorded, tmp_path / "parity.db", fixes=[])
    assert code == 1 and report["totals"]["errors"] == 0
    found = _found(report)
    assert found == set(DIVERGENCES) - WIRE_ONLY, f"not found: {set(DIVERGENCES) - found}"
    # The wire-only ones are serialization findings, stored with their exchanges.
    categories = {f["category"] for f in report["findings"]}
    assert categories == {"difference", "serialization"}
    with sqlite3.connect(tmp_path / "parity.db") as con:
        rows = con.execute(
            "SELECT method, url, route, actual_status, serialization FROM mismatches"
        ).fetchall()
    wire: set[str] = set()
    for method, url, route, actual_status, serialization in rows:
        exchange = {"method": method, "url": url, "route": route, "actual_status": actual_status}
        for d in json.loads(serialization or "[]"):
            wire |= {name for name in WIRE_ONLY if EXPLAINS[name](exchange, d)}
    assert wire == WIRE_ONLY


def test_a_candidate_with_every_divergence_fixed_matches_completely(
    recorded: Path, tmp_path: Path
) -> None:
    code, report = replay(recorded, tmp_path / "parity.db", fixes=list(DIVERGENCES))
    paths = {d["path"] for m in report["mismatches"] for d in m["differences"]}
    assert paths <= TIMING, json.dumps(report["mismatches"], indent=1)[:3000]
    assert report["totals"]["errors"] == 0
    assert report["totals"]["exchanges"] >= 60
    assert code == (1 if report["mismatches"] else 0)


def test_a_fresh_baseline_as_target_matches_itself_without_noise_help(
    recorded: Path, tmp_path: Path
) -> None:
    """No baseline to learn noise from: only values that truly vary run to run may differ
    (the search's `took_ms` timing); ids, tokens, ETags, timestamps and ports never do."""
    code, report = replay(recorded, tmp_path / "parity.db", fixes=list(DIVERGENCES), baseline=False)
    paths = {d["path"] for m in report["mismatches"] for d in m["differences"]}
    assert paths <= TIMING, json.dumps(report["mismatches"], indent=1)[:3000]
    assert report["totals"]["errors"] == 0 and code in (0, 1)


def test_the_python_vs_csharp_profile_leaves_only_the_behaviour_divergences(
    recorded: Path, tmp_path: Path
) -> None:
    """With `[profiles] enable = ["python-vs-csharp"]`, every divergence DIVERGENCES.md
    marks serialization-only disappears and every behaviour divergence stays."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[profiles]\nenable = ["python-vs-csharp"]\n', encoding="utf-8")
    db = tmp_path / "parity.db"
    with ExitStack() as stack:
        candidate = start_backend(stack, "candidate")
        args = ["replay", str(recorded), "--target", candidate, "--db", str(db)]
        args += ["--baseline", start_backend(stack, "baseline"), "--rules", str(rules)]
        with Proc(parity(*args)) as run:
            code = run.popen.wait(120)
            output = run.output()
    assert code == 1, output
    with Proc(parity("report", "--db", str(db), "--json")) as shown:
        assert shown.popen.wait(30) == 0
        report = json.loads(shown.output())
    assert report["totals"]["errors"] == 0
    serialization = {n for n, d in DIVERGENCES.items() if d.kind == "serialization-only"}
    behaviour = set(DIVERGENCES) - serialization
    found: set[str] = set()
    leftover: list[str] = []
    for mismatch in report["mismatches"]:
        for diff in mismatch["differences"]:
            names = {name for name, explains in EXPLAINS.items() if explains(mismatch, diff)}
            found |= names
            if (not names and diff["path"] not in TIMING) or (names and names <= serialization):
                leftover.append(f"{mismatch['method']} {mismatch['url']}: {names} {diff}")
    assert not leftover, "\n".join(leftover)
    assert found >= behaviour, f"not found: {behaviour - found}"
    assert not found & serialization, found & serialization
