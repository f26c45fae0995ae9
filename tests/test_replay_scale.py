"""Scale without surprises (issue 12): what a replay run holds does not grow with its
exchanges. A synthetic recording replayed against real servers on 127.0.0.1 (a
candidate and a baseline that differ from the recording by the clock, the candidate by
a few counts and names too): the results held for the end of the run stay under the
spill limit in memory, the rest wait in a scratch file, and the findings are those of a
run that held them all in memory."""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parity.differ import Rules
from parity.replayer import pending as pending_module
from parity.replayer import run as run_module
from parity.replayer.engine import Replayer, RunCounts
from parity.replayer.pending import Pending
from parity.replayer.run import ReplayRun, RunPlan, replay_settings
from parity.sessions import Exchange, Request, Response, SessionStore
from tests.procs import Proc, python
from tests.scale_backend import item

pytestmark = pytest.mark.timeout(120)

SESSIONS, PER_SESSION = 12, 100


def _record(root: Path) -> Path:
    store = SessionStore(root)
    for s in range(SESSIONS):
        with store.create(label="scale", upstream="http://127.0.0.1:5000") as writer:
            for seq in range(1, PER_SESSION + 1):
                n = s * PER_SESSION + seq
                at = 1_700_000_000.0 + n
                request = Request(
                    method="GET",
                    scheme="http",
                    host="127.0.0.1",
                    port=5000,
                    path=f"/api/items/{n}?q={s}",
                    http_version="HTTP/1.1",
                    headers=[(b"Host", b"127.0.0.1:5000"), (b"Accept", b"application/json")],
                    body=b"",
                    timestamp_start=at,
                    timestamp_end=at + 0.001,
                )
                response = Response(
                    status=200,
                    reason="OK",
                    http_version="HTTP/1.1",
                    headers=[(b"Content-Type", b"application/json")],
                    body=item(n, 1_600_000_000_000 + n),
                    timestamp_start=at + 0.002,
                    timestamp_end=at + 0.003,
                )
                writer.append(
                    Exchange(
                        seq=seq,
                        request=request,
                        response=response,
                        error=None,
                        client=("127.0.0.1", 40000),
                        messages=[],
                        flow_id=f"f{n}",
                    )
                )
    return store.root


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with (
        Proc(python("tests/scale_backend.py", "--candidate")) as candidate,
        Proc(python("tests/scale_backend.py")) as baseline,
    ):
        yield (
            candidate.wait_for(r"SCALE_LISTENING (\S+)").group(1),
            baseline.wait_for(r"SCALE_LISTENING (\S+)").group(1),
        )


class _Watch:
    """The run's replayer, and what it held at a few points of the run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.replayer: Replayer | None = None
        self.held: dict[int, dict[str, int]] = {}
        self.most_in_memory = 0
        watch = self

        class Watched(Replayer):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                watch.replayer = self

        real_append = Pending.append

        def append(pending: Pending, *args: Any) -> None:
            real_append(pending, *args)
            watch.most_in_memory = max(watch.most_in_memory, pending.in_memory)

        monkeypatch.setattr(run_module, "Replayer", Watched)
        monkeypatch.setattr(Pending, "append", append)

    def progress(self, counts: RunCounts) -> None:
        if counts.done % 300 == 0 and self.replayer is not None:
            observed = self.replayer.observations
            self.held[counts.done] = {
                "pending in memory": self.replayer._pending.in_memory,
                "noise spots": len(observed.disagreements) + len(observed.examples),
                "drift sets": sum(len(s.together) for s in observed.drift.spots.values()),
                "routes": len(self.replayer._route_exchanges),
            }


def _replay(
    sessions: Path, db: Path, target: str, baseline: str | None, watch: _Watch | None = None
) -> str:
    settings = replay_settings(target, [(baseline, None)] if baseline else [], concurrency=4)
    run = ReplayRun.start(RunPlan(files=[sessions], settings=settings, rules=Rules(), db=db))
    outcome = run.replay(watch.progress if watch else None)
    assert outcome.totals.exchanges == SESSIONS * PER_SESSION
    return outcome.run_id


def _results(db: Path, run_id: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT session, seq, outcome, signature FROM results WHERE run_id = ?"
            " ORDER BY session, seq",
            [run_id],
        ).fetchall()


def _noise(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            'SELECT route, "where", path, disagreements, kinds FROM noise ORDER BY 1, 2, 3'
        ).fetchall()


def test_a_long_run_holds_what_waits_for_its_end_in_bounded_memory_and_decides_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: tuple[str, str]
) -> None:
    target, baseline = servers
    sessions = _record(tmp_path / "sessions")
    spilled, held = tmp_path / "spilled.db", tmp_path / "held.db"

    # A baseline run: every mismatch waits for the end (compared again under the run's
    # own noise); with a limit of 40 in memory, the rest go to the scratch file.
    monkeypatch.setattr(pending_module, "SPILL_AFTER", 40)
    watch = _Watch(monkeypatch)
    spilled_run = _replay(sessions, spilled, target, baseline, watch)
    assert watch.most_in_memory <= 40
    first, last = watch.held[300], watch.held[max(watch.held)]
    assert max(watch.held) >= 1200
    assert last["pending in memory"] <= 40
    # learned noise is counted per spot, not per exchange: nothing more at the end
    for name in ("noise spots", "drift sets", "routes"):
        assert last[name] <= first[name] + 4, (name, watch.held)
    monkeypatch.undo()

    monkeypatch.setattr(pending_module, "SPILL_AFTER", 10**9)
    held_run = _replay(sessions, held, target, baseline)
    monkeypatch.undo()
    results = _results(spilled, spilled_run)
    assert results == _results(held, held_run)
    assert {r[2] for r in results} == {"matched", "mismatched"}
    assert _noise(spilled) == _noise(held)

    # A run without a baseline on what was learned: the suspects wait (spilled or not)
    # and settle the same.
    with sqlite3.connect(spilled) as source, sqlite3.connect(tmp_path / "again.db") as copy:
        source.backup(copy)  # the WAL's pages too
    monkeypatch.setattr(pending_module, "SPILL_AFTER", 40)
    suspects_spilled = _replay(sessions, spilled, target, None)
    monkeypatch.setattr(pending_module, "SPILL_AFTER", 10**9)
    suspects_held = _replay(sessions, tmp_path / "again.db", target, None)
    results = _results(spilled, suspects_spilled)
    assert results == _results(tmp_path / "again.db", suspects_held)
    mismatched = [r for r in results if r[2] == "mismatched"]
    assert 0 < len(mismatched) < len(results) // 5  # the clock settled as noise


def test_pending_results_come_back_in_order_from_memory_and_the_scratch_file() -> None:
    pending = Pending(limit=3)
    entries = [object() for _ in range(8)]
    for n in range(8):
        pending.append(n, None)  # type: ignore[arg-type]
        assert pending.in_memory < 3
    assert len(pending) == 8
    assert [n for n, _ in pending] == list(range(8))
    assert [n for n, _ in pending] == list(range(8))  # read again
    pending.append(8, None)  # type: ignore[arg-type]
    assert [n for n, _ in pending] == list(range(9))
    pending.clear()
    assert not pending and list(pending) == [] and entries


def _redo(differ: object, **maps: object) -> object:
    return maps


def test_a_value_map_shared_by_a_sessions_results_is_spilled_once_while_in_use() -> None:
    values = {f"minted-{n}": f"recorded-{n}" for n in range(2000)}
    reverse = {f"live-{n}": n for n in range(2000)}

    def spill(share: bool) -> tuple[Pending, int]:
        pending = Pending(limit=2)
        for n in range(20):
            actual = values if share else dict(values)
            redo = functools.partial(_redo, actual_values=actual, baselines_values=[reverse])
            pending.append(n, redo)  # type: ignore[arg-type]
        assert pending._file is not None
        return pending, pending._file.size

    shared, size = spill(share=True)
    copies, copied = spill(share=False)
    assert size * 5 < copied
    for p in (shared, copies):
        back = [(n, redo(None)) for n, redo in p]  # type: ignore[misc]
        assert [n for n, _ in back] == list(range(20))
        assert all(m == {"actual_values": values, "baselines_values": [reverse]} for _, m in back)


def test_what_a_run_spills_is_sealed_and_nameless() -> None:
    """The scratch file holds no plaintext and has no name in any directory."""
    from parity.sessions.crypto import SealedScratch

    scratch = SealedScratch("parity-test-")
    secret = b"CANARY journal entry text " * 100
    first = scratch.append(secret)
    second = scratch.append(b"second")
    raw = scratch._file
    if sys.platform != "win32":  # no path: unlinked (or O_TMPFILE) from the start
        assert isinstance(raw.name, int)
    raw.seek(0)
    assert b"CANARY" not in raw.read()
    assert scratch.read_at(first) == (secret, second)
    assert scratch.read_at(second)[0] == b"second"
    scratch.close()
