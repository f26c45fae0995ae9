"""Reset hooks: a command that puts a backend back in its fixture state (e.g.
`curl -fsS -X POST {target}/_admin/reset`), run before each replayed session and before
each shrink attempt.

The command is the user's own (from parity.toml or `--reset`), so it runs through the
shell (`sh -c` on POSIX, `cmd /c` on Windows) with `{target}` replaced by the target's
URL, as written (not quoted). It runs off the event loop, with a timeout. Its output goes
to an anonymous temporary file (deleted as it is opened on POSIX), never to a pipe: a
command that leaves a server running in the background still returns, and nothing
plaintext stays behind. The command starts in a process group of its own (a new session
on POSIX, `CREATE_NEW_PROCESS_GROUP` on Windows), so on a timeout or an interrupt the
shell and everything it started are killed (`os.killpg` on POSIX, `taskkill /T /F` on
Windows), not the shell alone with its children left running.

A reset fails on a non-zero exit, on a timeout, or when the shell cannot start:
`ResetError`, whose message says which and carries the last line the command printed
(stderr first), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from typing import IO, Any

from parity.defaults import DEFAULT_RESET_TIMEOUT
from parity.exceptions import ParityError

PLACEHOLDER = "{target}"
_TAIL = 4096


class ResetError(ParityError):
    """A reset command failed: `reset failed: <program> exit 1: <its last line>`.
    `program` is the command's first word (never its arguments)."""

    def __init__(self, message: str, *, program: str | None = None) -> None:
        super().__init__(message)
        self.program = program


def command_for(command: str, target_url: str) -> str:
    """The command with every `{target}` replaced by the URL (nothing else is touched,
    so JSON braces in a command stay as they are)."""
    return command.replace(PLACEHOLDER, target_url.rstrip("/"))


def _program(command: str) -> str:
    """The command's first word, to name it in messages without its arguments (which
    may carry credentials)."""
    words = command.strip().split()
    return words[0] if words else "(empty command)"


def _last_line(file: IO[bytes]) -> str:
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(max(0, size - _TAIL))
    lines = [ln.strip() for ln in file.read().decode("utf-8", "replace").splitlines()]
    found = [ln for ln in lines if ln]
    return found[-1][:300] if found else ""


def _own_group() -> dict[str, Any]:
    """Popen arguments that start the command in a process group of its own."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the command and every process it started."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            return
        if sys.platform == "win32":
            subprocess.run(
                ["taskkill", "/T", "/F", "/PID", str(process.pid)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=False,
            )
    except (ProcessLookupError, PermissionError, OSError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(OSError):
        process.kill()  # the shell itself, if the tree kill missed it


def run_reset(command: str, target_url: str, timeout: float = DEFAULT_RESET_TIMEOUT) -> None:
    """Run one reset command for `target_url`, waiting at most `timeout` seconds.
    Raises `ResetError` when it fails (see the module doc)."""
    text = command_for(command, target_url)
    program = _program(text)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                text,
                shell=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                **_own_group(),
            )
        except OSError as exc:
            raise ResetError(
                f"reset failed: cannot run {program}: {exc.strerror}", program=program
            ) from None
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.wait()
            raise ResetError(
                f"reset failed: {program} timed out after {timeout:g} s", program=program
            ) from None
        except BaseException:  # interrupted: do not leave the command running
            _kill(process)
            process.wait()
            raise
        if code != 0:
            said = _last_line(err) or _last_line(out)
            detail = f": {said}" if said else ""
            raise ResetError(f"reset failed: {program} exit {code}{detail}", program=program)


async def reset_target(
    command: str, target_url: str, timeout: float = DEFAULT_RESET_TIMEOUT
) -> None:
    """`run_reset` on a worker thread, so the event loop keeps serving."""
    await asyncio.to_thread(run_reset, command, target_url, timeout)
