"""Nothing left behind (issue 11): after `parity record` (stopped normally and killed with
SIGKILL), `replay`, `report`, `gate`, `repro --send` and `shrink --save` on the journal
pilot, no temp file is left in the system temp dir (TMPDIR of every parity process is a
fresh directory), the working directory or the sessions directory; and every file and
directory parity created there is owner-only (0600 / 0700). Real processes on 127.0.0.1,
the flow of `make demo` run once for the module."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.journal import start_backend, targets_toml
from tests.procs import Proc, parity, python

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and SIGKILL"),
    pytest.mark.timeout(240),
]


@dataclass
class Flow:
    work: Path
    """The working directory of every parity process; parity.toml is the test's own."""
    tmp: Path
    """TMPDIR of every parity process."""
    outputs: dict[str, str]


def run(
    env: dict[str, str], work: Path, name: str, *args: str, codes: tuple[int, ...] = (0,)
) -> str:
    with Proc(parity(*args), cwd=work, env=env) as proc:
        code = proc.popen.wait(120)
        output = proc.output()
    assert code in codes, f"{name}: exit {code}\n{output}"
    return output


def record(stack: ExitStack, work: Path, env: dict[str, str], label: str) -> tuple[Proc, str]:
    backend = start_backend(stack, "baseline")
    recorder = stack.enter_context(
        Proc(
            parity("record", "--upstream", backend, "--listen", "127.0.0.1:0", "--label", label),
            cwd=work,
            env=env,
        )
    )
    proxy = recorder.wait_for(r"listening on (http://\S+)").group(1)
    recorder.wait_for("recording to")
    return recorder, proxy


def journal_flow(root: Path) -> Flow:
    work, tmp = root / "work", root / "tmp"
    work.mkdir()
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp)}
    outputs: dict[str, str] = {}
    with ExitStack() as stack:  # a pilot day, stopped normally
        recorder, proxy = record(stack, work, env, "pilot-ana")
        with Proc(python("examples/journal/pilot.py", proxy)) as pilot:
            assert pilot.popen.wait(90) == 0, pilot.output()
        assert recorder.terminate() == 0, recorder.output()
    with ExitStack() as stack:  # another, the recorder killed mid-traffic
        recorder, proxy = record(stack, work, env, "pilot-killed")
        with Proc(python("examples/journal/pilot.py", proxy)) as pilot:
            sessions = work / ".parity" / "sessions"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and pilot.popen.poll() is None:
                files = sorted(sessions.glob("*.parity"), key=lambda p: p.stat().st_mtime)
                if len(files) == 2 and files[-1].stat().st_size > 64 * 1024:
                    break
                time.sleep(0.05)
            os.kill(recorder.popen.pid, signal.SIGKILL)
            recorder.popen.wait(10)
            pilot.popen.wait(90)
    with ExitStack() as stack:
        candidate = start_backend(stack, "candidate")
        baseline = start_backend(stack, "baseline")
        (work / "parity.toml").write_text(
            targets_toml(python=baseline, csharp=candidate), encoding="utf-8"
        )
        outputs["replay"] = run(env, work, "replay", "replay", codes=(1,))
        report = json.loads(run(env, work, "report", "report", "--json"))
        mismatch = max(
            (m for m in report["mismatches"] if m["route"] == "GET /api/vaults"),
            key=lambda m: m["seq"],
        )
        outputs["gate"] = run(env, work, "gate", "gate", codes=(1,))
        outputs["repro"] = run(env, work, "repro", "repro", mismatch["id"], "--send", codes=(0, 1))
        outputs["shrink"] = run(
            env, work, "shrink", "shrink", mismatch["id"], "--save", "shrunk/", codes=(0, 1)
        )
    return Flow(work, tmp, outputs)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    yield journal_flow(tmp_path_factory.mktemp("leftovers"))


def created(flow: Flow) -> list[Path]:
    """Everything under the working directory but the test's own parity.toml."""
    return sorted(p for p in flow.work.rglob("*") if p.name != "parity.toml")


def test_the_flow_produced_what_it_should(flow: Flow) -> None:
    names = {str(p.relative_to(flow.work)) for p in created(flow)}
    assert {".parity", ".parity/sessions", ".parity/parity.db", "logs"} <= names
    assert "logs/parity_harness_results.json" in names
    assert len(list((flow.work / ".parity" / "sessions").glob("*.parity"))) == 2
    assert len(list((flow.work / "shrunk").glob("*.parity"))) == 1


def test_no_temp_file_is_left_in_tmp_the_working_or_the_sessions_directory(flow: Flow) -> None:
    assert list(flow.tmp.iterdir()) == []
    expected_suffixes = (".parity", ".db", ".db-wal", ".db-shm", ".json")
    strays = [
        str(p.relative_to(flow.work))
        for p in created(flow)
        if p.is_file() and not p.name.endswith(expected_suffixes)
    ]
    assert strays == []
    hidden = [p for p in created(flow) if p.name.startswith(".") and p.name != ".parity"]
    assert hidden == []


def test_every_file_parity_created_is_owner_only(flow: Flow) -> None:
    wrong = []
    for path in created(flow):
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong.append(f"{path.relative_to(flow.work)}: {oct(mode)}")
    assert wrong == []


def test_private_dirs_and_files_are_owner_only_and_leave_no_temp_on_failure(
    tmp_path: Path,
) -> None:
    from parity.sessions.private import private_dir, write_private

    os.chmod(tmp_path, 0o755)
    made = private_dir(tmp_path / "a" / "b" / "c")
    for directory in (tmp_path / "a", tmp_path / "a" / "b", made):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # not parity's: left as it was
    target = made / "artifact.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    write_private(target, b"new")
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(IsADirectoryError):
        write_private(made, b"cannot replace a directory by a file")
    assert [p.name for p in made.parent.iterdir()] == ["c"]  # its temp file is gone
    with pytest.raises(NotADirectoryError):
        private_dir(target)
