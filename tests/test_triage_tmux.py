"""`parity triage` in a real terminal: tmux runs it in a detached 200x50 pane on its own
server socket; the test types keys with send-keys and reads the screen with capture-pane.

Needs tmux (`apt-get install tmux` on Debian/Ubuntu); skipped without it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parity.triage import ResultsDB
from tests.procs import BIN, ROOT
from tests.test_triage_verdicts import fid, make_run

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Pane:
    """One tmux session on a private server (`-L`), so a user's tmux is never touched."""

    def __init__(self, command: str) -> None:
        self.socket = f"parity-test-{os.getpid()}-{time.monotonic_ns()}"
        self.socket_path = ""
        try:
            self.tmux(
                "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "200", "-y", "50", command
            )
            self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()
        except BaseException:
            self.close()
            raise

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", "t")

    def keys(self, *keys: str, literal: bool = True) -> None:
        self.tmux("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        """The screen, once it shows every one of `texts`."""
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(text in shown for text in texts):
                return shown
            time.sleep(0.1)
        missing = [text for text in texts if text not in shown]
        raise AssertionError(f"not on screen within {timeout}s: {missing}\n{shown}")

    def close(self) -> None:
        """Kill the server, and remove its socket (tmux leaves it behind)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)


@pytest.fixture
def pane_for(tmp_path: Path) -> Iterator[type[Pane]]:
    opened: list[Pane] = []

    class Tracked(Pane):
        def __init__(self, command: str) -> None:
            super().__init__(command)
            opened.append(self)

    try:
        yield Tracked
    finally:
        for pane in opened:
            pane.close()


def triage_command(db: Path, *args: str) -> str:
    parity = shlex.join([str(BIN / "parity"), "triage", "--db", str(db), *args])
    # Keep the pane open after parity exits, showing its exit code.
    return f"cd {shlex.quote(str(ROOT))} && {parity}; echo PARITY-EXIT=$?; sleep 60"


def test_triage_in_a_terminal_marks_notes_skips_and_goes_back(
    tmp_path: Path, pane_for: type[Pane]
) -> None:
    db_path = tmp_path / "parity.db"
    with ResultsDB(db_path) as db:
        run = make_run(db, {"aaaa0001": 1, "bbbb0002": 3, "cccc0003": 2}, at=1000.0)
        make_run(db, {"dddd0004": 1}, at=500.0)  # another run: not walked
    pane = pane_for(triage_command(db_path))

    # Wait for every line asserted on: the header is drawn before the body.
    pane.wait_for(
        f"parity triage  run {run}  1/3",
        f"finding {fid('bbbb0002')}: 3 exchanges in this run",
        "finding    $.value_bbbb0002 changed (number)",
        "verdict    none yet",
        "What differs",
        "`$.value_bbbb0002`: `2` where the recording had `1`",
        "b bug · e expected · n noise · t note · s skip · p previous",
    )

    pane.keys("t")
    pane.wait_for("Note:")
    pane.keys("timezone drift")
    pane.keys("Enter", literal=False)
    pane.wait_for("note (saved with the verdict): timezone drift", "1/3")

    pane.keys("b")
    pane.wait_for(
        "2/3",
        f"finding {fid('cccc0003')}: 2 exchanges in this run",
        f"✓ {fid('bbbb0002')} marked bug",
    )

    pane.keys("p")  # back: the verdict just given is shown
    pane.wait_for("1/3", "verdict    bug (timezone drift)")

    pane.keys("s")
    pane.wait_for("2/3", f"finding {fid('cccc0003')}")
    pane.keys("x")
    pane.wait_for("press b, e, n, t, s, p, v or q", "2/3")
    pane.keys("e")
    pane.wait_for("3/3", f"finding {fid('aaaa0001')}: 1 exchange in this run")
    pane.keys("n")
    pane.wait_for(
        "PARITY-EXIT=0",
        "parity triage: walked all 3: marked 3 (1 bug, 1 expected, 1 noise), 0 skipped, 1 note",
    )

    with ResultsDB(db_path, create=False) as db:
        judged = {ident: (row["verdict"], row["note"]) for ident, row in db.verdicts().items()}
        assert judged == {
            fid("bbbb0002"): ("bug", "timezone drift"),
            fid("cccc0003"): ("expected", ""),
            fid("aaaa0001"): ("noise", ""),
        }
        assert all(row["run_id"] == run for row in db.verdicts().values())


def test_triage_quits_on_q_and_on_ctrl_c_keeping_what_was_marked(
    tmp_path: Path, pane_for: type[Pane]
) -> None:
    db_path = tmp_path / "parity.db"
    with ResultsDB(db_path) as db:
        make_run(db, {"aaaa0001": 2, "bbbb0002": 1}, at=1000.0)
    pane = pane_for(triage_command(db_path))
    pane.wait_for("1/2", f"finding {fid('aaaa0001')}")
    pane.keys("b")
    pane.wait_for("2/2")
    pane.keys("q")
    pane.wait_for("PARITY-EXIT=0", "parity triage: stopped at 2/2: marked 1 (1 bug), 0 skipped")

    again = pane_for(triage_command(db_path, "--all"))
    again.wait_for("1/2", "verdict    bug")
    again.keys("C-c", literal=False)
    again.wait_for("PARITY-EXIT=0", "parity triage: stopped at 1/2: marked 0, 0 skipped")
    with ResultsDB(db_path, create=False) as db:
        judged = {ident: row["verdict"] for ident, row in db.verdicts().items()}
        assert judged == {fid("aaaa0001"): "bug"}
