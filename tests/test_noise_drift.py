"""Noise is learned from what differs by chance, never from state (issue 8, item 4).

Pure: `differ.noise.StateDrift` tells state drift (the candidate agreeing with the
baseline against the recording, counts that only grow, lists that only lengthen) from
chance (values that vary both ways, clock readings). End to end: a baseline that served
100 requests since the recording, replayed on real processes: its counter is not learned,
its random field is, the run says why, and `parity noise` shows both.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.differ import Difference
from parity.differ.model import DiffKind, Where
from parity.differ.noise import AGREES, FOLLOWS, GROWS, LENGTHENS, StateDrift, clock_like
from parity.sessions import SessionStore
from parity.triage import ResultsDB
from tests.factories import make_exchange
from tests.procs import Proc, python

pytestmark = pytest.mark.timeout(60)

ROUTE = "GET /stats"


def changed(path: str, expected: object, actual: object) -> Difference:
    return Difference(Where.BODY, path, DiffKind.CHANGED, expected, actual)


def test_a_count_the_baseline_always_has_higher_is_state_drift() -> None:
    drift = StateDrift()
    for n in range(1, 6):
        drift.observe(ROUTE, [changed("$.total", n, n + 100)])
    assert drift.excluded() == {(ROUTE, "body", "$.total"): GROWS}


def test_values_that_vary_both_ways_are_chance() -> None:
    drift = StateDrift()
    for expected, baseline in [(5, 7), (9, 3), (4, 6)]:
        drift.observe(ROUTE, [changed("$.took_ms", expected, baseline)])
    drift.observe(ROUTE, [changed("$.lucky", "3f9a1c2e", "0b7d44aa")])
    assert drift.excluded() == {}


def test_a_clock_reading_that_moved_on_is_chance_not_a_count() -> None:
    drift = StateDrift()
    for n in range(3):
        drift.observe(
            ROUTE,
            [changed("$.created", 1_764_000_000 + n, 1_764_086_400 + n)],
            [changed("$.created", 1_764_000_000 + n, 1_764_086_400 + n)],
        )
    assert clock_like(1_764_000_000, "1764086400") and not clock_like(3, 4)
    assert drift.excluded() == {}


def test_the_candidate_agreeing_with_the_baseline_against_the_recording_is_state() -> None:
    drift = StateDrift()
    for n in range(4):
        baseline = [changed("$.vaults[0].name", "Work", "Work (renamed)")]
        candidate = [changed("$.vaults[0].name", "Work", "Work (renamed)")] if n else []
        drift.observe(ROUTE, baseline, candidate)
    assert drift.excluded() == {(ROUTE, "body", "$.vaults[*].name"): AGREES}


def test_a_chance_agreement_now_and_then_is_still_chance() -> None:
    drift = StateDrift()
    for n in range(5):
        baseline = [changed("$.took_ms", 0.102, 0.2 + n)]
        candidate = [changed("$.took_ms", 0.102, 0.2 + n if n == 0 else 9.0)]
        drift.observe(ROUTE, baseline, candidate)
    assert drift.excluded() == {}


def test_a_list_that_only_lengthens_is_state_drift() -> None:
    drift = StateDrift()
    added = Difference(Where.BODY, "$.entries[3]", DiffKind.ADDED, None, {"id": 4})
    drift.observe(ROUTE, [added])
    drift.observe(ROUTE, [added, changed("$.page", 1, 1)])
    assert drift.excluded()[(ROUTE, "body", "$.entries[*]")] == LENGTHENS


def test_a_flag_that_flips_only_where_state_drifted_follows_the_drift() -> None:
    drift = StateDrift()
    drift.observe(ROUTE, [changed("$.total", 9, 10), changed("$.has_more", False, True)])
    drift.observe(ROUTE, [changed("$.total", 3, 5)])
    drift.observe("GET /other", [changed("$.cached", False, True)])  # no drift there
    assert drift.excluded() == {
        (ROUTE, "body", "$.has_more"): FOLLOWS,
        (ROUTE, "body", "$.total"): GROWS,
    }


# --- end to end -------------------------------------------------------------------------


def _backend(stack: ExitStack, visits: int, lucky_at: int = 0) -> str:
    proc = stack.enter_context(
        Proc(python("tests/drift_api.py", "--visits", str(visits), "--lucky-at", str(lucky_at)))
    )
    return proc.wait_for(r"DRIFT_LISTENING (\S+)").group(1)


def _recorded(root: Path, count: int) -> Path:
    """A session as a fresh backend answered it: visits 1..count, some lucky value."""
    with SessionStore(root).create(label="drift", upstream="http://127.0.0.1:5000") as writer:
        for seq in range(1, count + 1):
            body = json.dumps({"visits": seq, "lucky": f"{seq:08x}"}).encode()
            exchange = make_exchange(seq, path="/stats", body=body)
            exchange.request.method = "GET"
            exchange.request.body = b""
            assert exchange.response is not None
            exchange.response.headers = [(b"Content-Type", b"application/json; charset=utf-8")]
            writer.append(exchange)
    return root


def test_a_drifted_baseline_teaches_its_random_field_but_not_its_counter(tmp_path: Path) -> None:
    sessions = _recorded(tmp_path / "sessions", 8)
    db = tmp_path / "parity.db"
    with ExitStack() as stack:
        candidate = _backend(stack, 0)  # in the recorded state
        baseline = _backend(stack, 100)  # used since the recording, not reset
        result = CliRunner().invoke(
            cli,
            [
                "replay",
                str(sessions),
                "--target",
                candidate,
                "--baseline",
                baseline,
                "--db",
                str(db),
            ],
        )
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert (
        f"parity replay: baseline {baseline} has no reset hook: it must start in the recorded "
        'state (restart it fresh, or add reset = "CMD" under [targets.NAME] (with url = "...") '
        "in parity.toml), else state it changed since the recording is learned as noise"
    ) in lines
    assert (
        "parity replay: not learned as noise, state drift of the baseline: 1 spot "
        "(GET /stats body $.visits); `parity noise` says why"
    ) in lines

    learned = CliRunner().invoke(cli, ["noise", "--db", str(db), "--json"])
    rows = json.loads(learned.output)
    assert [(r["route"], r["path"]) for r in rows] == [(ROUTE, "$.lucky")]
    assert rows[0]["why"].startswith("disagreed in 8 of 8 exchanges, values vary: `")
    with ResultsDB(db, create=False) as results:
        (meta,) = [json.loads(r["meta"]) for r in results.query("SELECT meta FROM runs")]
    assert meta["noise_excluded"] == [
        {"route": ROUTE, "where": "body", "path": "$.visits", "reason": GROWS}
    ]
    shown = CliRunner().invoke(cli, ["noise", "--db", str(db)], env={"COLUMNS": "200"})
    assert "disagreed in 8 of 8 exchanges, values vary" in shown.output
    assert "state drift of the baseline" in shown.output
    assert f"  {ROUTE}  body $.visits: {GROWS}" in shown.output


def test_a_baseline_with_a_reset_hook_gets_no_warning(tmp_path: Path) -> None:
    sessions = _recorded(tmp_path / "sessions", 2)
    config = tmp_path / "parity.toml"
    with ExitStack() as stack:
        candidate = _backend(stack, 0)
        baseline = _backend(stack, 0)
        config.write_text(
            f'[targets.python]\nurl = "{baseline}"\nreset = "true"\n', encoding="utf-8"
        )
        result = CliRunner().invoke(
            cli,
            [
                "replay",
                str(sessions),
                "--target",
                candidate,
                "--baseline",
                "python",
                "--db",
                str(tmp_path / "parity.db"),
                "--config",
                str(config),
            ],
        )
    assert result.exit_code == 0, result.output
    assert "has no reset hook" not in result.stderr


def test_a_baseline_agreeing_with_the_recording_by_chance_is_judged_with_the_run(
    tmp_path: Path,
) -> None:
    """On the 3rd exchange the baseline's `lucky` equals the recording's, so that
    exchange alone shows no noise there; the run's other exchanges do, and the
    candidate's difference there is noise too: no mismatch, in an empty database."""
    sessions = _recorded(tmp_path / "sessions", 6)
    db = tmp_path / "parity.db"
    with ExitStack() as stack:
        candidate = _backend(stack, 0)
        baseline = _backend(stack, 0, lucky_at=3)
        result = CliRunner().invoke(
            cli,
            [
                "replay",
                str(sessions),
                "--target",
                candidate,
                "--baseline",
                baseline,
                "--db",
                str(db),
            ],
        )
    assert result.exit_code == 0, result.output
    assert "6 exchanges: 6 matched, 0 mismatched, 0 errors, 6 noise suppressed" in result.stderr
