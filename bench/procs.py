"""Starting, watching and stopping the benchmark's subprocesses (upstream and proxies)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

_LISTENING = re.compile(r"listening on http://([^\s:]+|\[[^\]]+\]):(\d+)")


class BenchError(Exception):
    """A process did not start or misbehaved; the message says which and shows its output."""


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self, limit: int = 2000) -> str:
        text = ""
        for path in (self.stdout, self.stderr):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return text[-limit:]


def tool(name: str) -> list[str]:
    """The venv's console script `name` (mitmdump, parity), next to this Python."""
    path = BIN / name
    if path.exists():
        return [str(path)]
    if name == "parity":
        return [sys.executable, "-m", "parity.cli"]
    raise BenchError(f"{name} not found next to {sys.executable}; run `make install`")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(name: str, argv: list[str], workdir: Path, cwd: Path | None = None) -> Proc:
    """Start `argv` (output to WORKDIR/NAME.out and .err), in `cwd` (default: the repo)."""
    stdout = workdir / f"{name}.out"
    stderr = workdir / f"{name}.err"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        popen = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd or ROOT, env=env
        )
    return Proc(name, popen, stdout, stderr)


def wait_for_line(proc: Proc, timeout: float = 30.0) -> int:
    """Wait for `listening on http://HOST:PORT` on the process's stdout; return the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTENING.search(proc.stdout.read_text(errors="replace"))
        if match:
            proc.port = int(match.group(2))
            return proc.port
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.output()}")
        time.sleep(0.05)
    raise BenchError(f"{proc.name} did not print its port within {timeout:.0f} s:\n{proc.output()}")


def wait_for_port(proc: Proc, port: int, timeout: float = 30.0) -> int:
    """Wait until 127.0.0.1:port accepts connections (and the process is still alive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                proc.port = port
                return port
        except OSError:
            time.sleep(0.05)
    raise BenchError(
        f"{proc.name} did not listen on port {port} within {timeout:.0f} s:\n{proc.output()}"
    )


def stop(proc: Proc, timeout: float = 30.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout` seconds; the exit code (None if it was killed)."""
    if proc.popen.poll() is not None:
        return proc.popen.returncode
    proc.popen.send_signal(signal.SIGTERM)
    try:
        return proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.popen.kill()
        proc.popen.wait(timeout=10)
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MB (Linux /proc; None elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None
