"""Findings on real processes: the pilot day recorded once against the Python backend,
replayed twice against the same candidate into one results database. Identical runs give
identical findings, so comparing them shows nothing new, fixed or regressed."""

from __future__ import annotations

from pathlib import Path

import pytest

from parity.triage import ResultsDB
from parity.triage.compare import finding_changes
from tests.journal import record_pilot
from tests.test_gate_journal import replay

pytestmark = pytest.mark.timeout(240)


def test_two_identical_runs_have_the_same_findings(tmp_path: Path) -> None:
    sessions = record_pilot(tmp_path / "sessions")
    rules = tmp_path / "rules.toml"
    rules.write_text('[[ignore]]\nname = "timing"\npaths = ["$.took_ms"]\n', encoding="utf-8")
    db_path = tmp_path / "parity.db"
    first = replay(sessions, db_path, rules)
    second = replay(sessions, db_path, rules)
    with ResultsDB(db_path, create=False) as db:
        found = finding_changes(db, first, second)
        assert found, "the candidate's divergences are findings"
        assert {c.state for c in found} == {"recurring"}
        assert all(c.count_a == c.count_b for c in found)
