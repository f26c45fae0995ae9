"""A reset command that times out is killed with everything it started (issue 13): the
shell runs in a process group of its own, and the whole group goes."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from parity.replayer import ResetError, run_reset

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups"),
]


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for a parent to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): it exists
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_timed_out_reset_leaves_no_child_alive(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    command = f"sh -c 'sleep 30 & echo $! > {shlex.quote(str(pidfile))}; wait'"
    started = time.monotonic()
    with pytest.raises(ResetError, match=r"timed out after 0.5 s"):
        run_reset(command, "http://h", timeout=0.5)
    assert time.monotonic() - started < 5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), f"the reset's child {child} outlived it"
