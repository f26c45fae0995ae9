"""`parity shrink`: delta debugging over a mismatch's earlier requests.

The pure search (`replayer.shrink.ddmin`) on fake predicates, then the journal on real
processes: a pilot day recorded against the baseline, replayed against the candidate
with reset hooks from parity.toml, and mismatches late in the 68-request session shrunk
to the few requests they depend on (the login, the vault load, the creates)."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from parity.differ import Differ, Difference, DiffKind, Outcome, Verdict, Where, signature_of
from parity.replayer.shrink import ddmin, shape, shows_signature
from parity.sessions import read_session
from parity.shrink_cmd import shrink
from tests.journal import record_pilot as record_journal_pilot
from tests.journal import start_backend, targets_toml
from tests.procs import Proc, parity
from tests.pty_run import on_a_terminal

pytestmark = pytest.mark.timeout(120)


# -- ddmin on fake predicates -------------------------------------------------------------


def needs(*required: int) -> tuple[list[Sequence[int]], Any]:
    """A predicate passing when every required item is in the subset, and its calls."""
    calls: list[Sequence[int]] = []

    def test(subset: Sequence[int]) -> bool:
        calls.append(list(subset))
        return set(required) <= set(subset)

    return calls, test


def test_ddmin_finds_the_two_items_that_matter_among_fifty() -> None:
    calls, test = needs(3, 41)
    result = ddmin(list(range(50)), test)
    assert result.items == [3, 41]
    assert result.stopped is None and result.attempts == len(calls) < 60
    assert len({tuple(c) for c in calls}) == len(calls), "a subset was tested twice"
    assert all(c == sorted(c) for c in calls), "the recorded order is kept"


def test_ddmin_tries_the_empty_sequence_first() -> None:
    calls, test = needs()
    result = ddmin(list(range(30)), test)
    assert result.items == [] and result.attempts == 1 and calls == [[]]


def test_ddmin_keeps_everything_when_everything_matters() -> None:
    _, test = needs(0, 1, 2, 3, 4)
    assert ddmin(list(range(5)), test).items == [0, 1, 2, 3, 4]


def test_ddmin_on_nothing_and_on_one_item() -> None:
    assert ddmin([], needs(0)[1]).items == []
    assert ddmin(["a"], lambda s: "a" in s).items == ["a"]


@pytest.mark.parametrize("seed", range(25))
def test_ddmin_results_are_one_minimal(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randrange(1, 70)
    required = rng.sample(range(size), rng.randrange(0, min(size, 7) + 1))
    _, test = needs(*required)
    result = ddmin(list(range(size)), test, max_attempts=10_000)
    assert result.items == sorted(required)
    for n in range(len(result.items)):  # removing any one item loses the failure
        assert not test(result.items[:n] + result.items[n + 1 :])


def test_ddmin_stops_at_the_attempt_bound_with_a_sequence_that_still_passes() -> None:
    _, test = needs(5, 17)
    result = ddmin(list(range(60)), test, max_attempts=6)
    assert result.attempts == 6 and result.stopped == "6 attempts"
    assert test(result.items) and 2 < len(result.items) <= 30


def test_ddmin_stops_at_the_time_bound() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    _, test = needs(5, 17)
    result = ddmin(list(range(60)), test, max_seconds=4.5, clock=clock)
    assert result.stopped == "4.5 s" and test(result.items)


def test_ddmin_reports_every_attempt() -> None:
    seen: list[tuple[int, int, bool]] = []
    _, test = needs(7)
    result = ddmin(list(range(16)), test, report=lambda *a: seen.append(a))
    assert [n for n, _, _ in seen] == list(range(1, result.attempts + 1))
    assert seen[0] == (1, 0, False)


def test_a_flaky_predicate_still_gives_a_passing_result() -> None:
    rng = random.Random(7)
    result = ddmin(list(range(40)), lambda s: 11 in s and rng.random() < 0.7)
    assert 11 in result.items or result.items == []  # [] only if a flaky pass said so


# -- signatures with suspects -------------------------------------------------------------


def _diff(path: str, kind: DiffKind = DiffKind.CHANGED) -> Difference:
    return Difference(Where.BODY, path, kind, 1, 2)


def test_a_signature_counts_suspects_as_the_original_mismatch_did() -> None:
    route = "GET /api/vaults"
    real, learned = _diff("$.vaults[0].name"), _diff("$.vaults[3].entry_count")
    verdict = Verdict(Outcome.MISMATCHED, route, differences=[real], suspects=[learned])
    with_both = signature_of(route, [real, learned])
    alone = signature_of(route, [real])
    differ = Differ()
    both_shapes = {shape("changed", "body", d.path) for d in (real, learned)}
    assert shows_signature(differ, verdict, with_both, both_shapes)
    assert not shows_signature(differ, verdict, alone, both_shapes)
    assert shows_signature(differ, verdict, alone, {shape("changed", "body", "$.vaults[*].name")})
    assert shows_signature(differ, verdict, alone) and shows_signature(differ, verdict, with_both)
    assert not shows_signature(differ, Verdict(Outcome.ERROR, route, error="down"), alone)


# -- the journal, on real processes -------------------------------------------------------


def backend(stack: ExitStack, mode: str, fixes: str = "") -> str:
    return start_backend(stack, mode, [f for f in fixes.split(",") if f])


def record_pilot(sessions: Path) -> Path:
    """The pilot's day through `parity record` in front of a fresh baseline: its file."""
    # Recorded in the project of parity.toml (`write_config`): its key and secret store.
    (path,) = record_journal_pilot(sessions, project=sessions.parent).glob("*.parity")
    return path


def write_config(root: Path, candidate: str, baseline: str, fixed: str) -> Path:
    config = root / "parity.toml"
    config.write_text(
        '[paths]\nsessions = "sessions"\ndb = "parity.db"\n\n'
        + targets_toml(python=baseline, csharp=candidate, fixed=fixed),
        encoding="utf-8",
    )
    return config


@dataclass
class Journal:
    root: Path
    config: Path
    session: Path
    candidate: str
    fixed: str
    report: dict[str, Any]

    def mismatch(self, **where: Any) -> dict[str, Any]:
        """The last mismatch of the report with these fields."""
        found = [m for m in self.report["mismatches"] if all(m[k] == v for k, v in where.items())]
        assert found, where
        return max(found, key=lambda m: m["seq"])

    def shrink(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(shrink, [*args, "--config", str(self.config)])
        return result.exit_code, result.stdout, result.stderr


def journal_setup(root: Path) -> Iterator[Journal]:
    """A recorded pilot day, running candidate / baseline / fixed-candidate backends, and
    a replay run of the day against the candidate (with reset hooks from parity.toml)."""
    from examples.journal.divergences import DIVERGENCES

    session = record_pilot(root / "sessions")
    with ExitStack() as stack:
        candidate = backend(stack, "candidate")
        baseline = backend(stack, "baseline")
        fixed = backend(stack, "candidate", ",".join(DIVERGENCES))
        config = write_config(root, candidate, baseline, fixed)
        with Proc(parity("replay", "--config", str(config)), cwd=root) as run:
            assert run.popen.wait(60) == 1, run.output()
            assert "sessions replay one at a time" in run.output()
        with Proc(parity("report", "--db", str(root / "parity.db"), "--json")) as shown:
            assert shown.popen.wait(30) == 0
            report = json.loads(shown.output())
        assert report["totals"]["errors"] == 0
        yield Journal(root, config, session, candidate, fixed, report)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    yield from journal_setup(tmp_path_factory.mktemp("journal"))


def _requests(journal: Journal) -> dict[int, tuple[str, str, int | None]]:
    """seq -> (method, path, recorded status) of the recorded session."""
    _, exchanges, _ = read_session(journal.session)
    return {
        e.seq: (e.request.method, e.request.path, e.response.status if e.response else None)
        for e in exchanges
    }


def test_a_late_mismatch_shrinks_to_the_login_the_vault_load_and_the_creates(
    journal: Journal,
) -> None:
    """The vault list at the end of the tab switching counts the entries the day created
    60 requests earlier: it needs the login, the vault load (the creates need it) and
    each create that succeeded; nothing else of the 51 requests before it."""
    requests = _requests(journal)
    assert len(requests) >= 60
    late = journal.mismatch(route="GET /api/vaults", expected_status=200)
    saved = journal.root / "shrunk"
    code, out, err = journal.shrink(late["id"], "--save", f"{saved}/", "--json")
    assert code == 0, err
    shrunk = json.loads(out)
    print(err.splitlines()[-2:], file=sys.stderr)  # the figures, for the record
    kept = [(k["seq"], *requests[k["seq"]]) for k in shrunk["kept"]]
    assert shrunk["earlier"] >= 50 and shrunk["minimal"]
    assert len(kept) <= 8, kept
    logins = [seq for seq, method, path, status in kept if path == "/api/login"]
    assert [requests[s][2] for s in logins] == [200], kept  # the real login, not the typo
    assert any(path.endswith("/load") and status == 200 for _, _, path, status in kept), kept
    creates = {
        seq
        for seq, (method, path, status) in requests.items()
        if method == "POST" and path.endswith("/entries") and status == 201 and seq < late["seq"]
    }
    assert creates and creates <= {seq for seq, *_ in kept}, kept
    assert all(method == "POST" for _, method, _, _ in kept), kept
    assert shrunk["attempts"] <= 200 and shrunk["seconds"] < 40
    assert "parity shrink: attempt 1: 0 requests: does not reproduce" in err

    # The saved session replays to the same signature on its own.
    (file,) = saved.glob("*.parity")
    assert file.stat().st_mode & 0o777 == 0o600
    header, exchanges, _ = read_session(file)
    assert header.meta["shrunk_from"] == journal.session.stem
    assert header.meta["mismatch"] == late["id"]
    assert [e.seq for e in exchanges] == [k["seq"] for k in shrunk["kept"]] + [late["seq"]]
    db = journal.root / "shrunk.db"
    args = ["replay", str(file), "--no-baseline", "--db", str(db), "--config", str(journal.config)]
    with Proc(parity(*args), cwd=journal.root) as run:
        assert run.popen.wait(60) == 1, run.output()
    with Proc(parity("report", "--db", str(db), "--json")) as shown:
        assert shown.popen.wait(30) == 0
        again = json.loads(shown.output())
    (replayed,) = [m for m in again["mismatches"] if m["seq"] == late["seq"]]
    assert replayed["signature"] == late["signature"]


def test_a_missing_entry_is_missing_whether_deleted_or_never_created(journal: Journal) -> None:
    """`missing-entry-status` (404 -> 400) on the scratch entry read after its delete:
    an entry that never existed is as missing as a deleted one, so the shrink keeps only
    what the read itself needs, the login and the vault load."""
    requests = _requests(journal)
    gone = journal.mismatch(
        route="GET /api/vaults/{id}/entries/{id}", expected_status=404, actual_status=400
    )
    code, out, err = journal.shrink(gone["id"], "--json")
    assert code == 0, err
    kept = [requests[k["seq"]] for k in json.loads(out)["kept"]]
    assert [(m, p.rsplit("/", 1)[-1], s) for m, p, s in kept] == [
        ("POST", "login", 200),
        ("POST", "load", 200),
    ]


def test_a_save_needs_its_create_and_its_edit(journal: Journal) -> None:
    requests = _requests(journal)
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    code, out, err = journal.shrink(save["id"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(
        f"mismatch {save['id']} (POST /api/vaults/{{id}}/entries/{{id}}/save)"
    )
    kept = [requests[int(line.split()[0])] for line in lines[1:-1]]
    # The edit, or the stale edit after it (which then comes first, and succeeds).
    assert [(m, s) for m, _, s in kept[:3]] == [("POST", 200), ("POST", 200), ("POST", 201)], out
    assert len(kept) == 4 and kept[3][0] == "PUT" and kept[3][2] in (200, 412), out
    assert lines[-1].endswith("<- the mismatch")


def test_the_attempt_bound_keeps_the_smallest_sequence_so_far(journal: Journal) -> None:
    late = journal.mismatch(route="GET /api/vaults", expected_status=200)
    code, out, err = journal.shrink(late["id"], "--max-attempts", "6", "--json")
    assert code == 0, err
    shrunk = json.loads(out)
    assert shrunk["attempts"] == 6 and shrunk["stopped"] == "--max-attempts 6"
    assert not shrunk["minimal"] and 6 <= len(shrunk["kept"]) < shrunk["earlier"]
    assert "(stopped by --max-attempts 6: maybe not minimal)" in err


def test_a_fixed_target_does_not_reproduce_and_shrink_says_so(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    code, out, err = journal.shrink(save["id"], "--target", "fixed")
    assert code == 1 and out == ""
    assert "does not reproduce" in err and "Traceback" not in err


def test_shrink_needs_a_reset_hook(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    code, _, err = journal.shrink(save["id"], "--target", journal.candidate, "--reset", "")
    assert code == 2
    assert "shrink needs a reset hook" in err and len(err.splitlines()) == 1


def test_a_failing_reset_stops_the_shrink_in_one_line(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    boom = f"{sys.executable} -c \"import sys; sys.stderr.write('vault fixtures missing'); sys.exit(4)\""
    code, _, err = journal.shrink(save["id"], "--reset", boom)
    assert code == 2
    assert "reset failed" in err and "exit 4: vault fixtures missing" in err
    assert "Traceback" not in err


def test_an_unknown_mismatch_is_one_line(journal: Journal) -> None:
    code, _, err = journal.shrink("nothing-like-this")
    assert code == 2 and "no mismatch or finding" in err and len(err.splitlines()) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_a_terminal_shows_the_attempts_above_a_bar(journal: Journal) -> None:
    late = journal.mismatch(route="GET /api/vaults", expected_status=200)
    args = parity("shrink", late["id"], "--max-attempts", "6", "--config", str(journal.config))
    code, terminal, out = on_a_terminal(args)
    assert code == 0, terminal
    assert "shrinking" in terminal and "attempts" in terminal and "reproduced" in terminal
    assert "parity shrink: attempt 1: 0 requests: does not reproduce" in terminal
    assert "(stopped by --max-attempts 6: maybe not minimal)" in terminal
    assert "<- the mismatch" in out


def test_quiet_shrink_prints_nothing_but_the_result(journal: Journal) -> None:
    late = journal.mismatch(route="GET /api/vaults", expected_status=200)
    code, out, err = journal.shrink(late["id"], "--max-attempts", "6", "-q")
    assert code == 0, err
    assert "attempt 1:" not in err and "shrinking" not in err and "earlier requests" not in err
    assert len(err.splitlines()) == 1
    assert "(stopped by --max-attempts 6: maybe not minimal)" in err
    assert out.splitlines()[-1].endswith("<- the mismatch")
