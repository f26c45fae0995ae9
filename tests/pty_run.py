"""A command run with its stderr on a pseudo-terminal (POSIX only): what a user at a
terminal sees of it, e.g. a progress bar."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


def on_a_terminal(
    args: Sequence[str], *, cwd: Path | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """Run `args` with stderr on a pseudo-terminal 160 columns wide and stdout on a pipe:
    the exit code, what the terminal showed, and stdout."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(follower)
    shown = bytearray()
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        proc.stdout.close()
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(10)
    return code, shown.decode("utf-8", "replace"), out
