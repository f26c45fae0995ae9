"""Fuzz targets (see tests/fuzz/harness.py): the count of inputs tried, per target."""

from __future__ import annotations

from typing import Any

from tests.fuzz.harness import PROFILE, TALLIES, budget_seconds


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tried = {name: t for name, t in TALLIES.items() if t.batches}
    if not tried:
        return
    budget = f", budget {budget_seconds():g} s per target" if PROFILE == "fuzz" else ""
    terminalreporter.section(f"fuzz: inputs tried (profile {PROFILE}{budget})")
    for name, t in sorted(tried.items()):
        state = "FAILED" if t.failed else "no failure"
        terminalreporter.write_line(
            f"{name}: {t.inputs} inputs in {t.seconds:.0f} s ({t.batches} batches), {state}"
        )
    terminalreporter.write_line(f"total: {sum(t.inputs for t in tried.values())} inputs")
