"""The processes of an accuracy run: servers and recorders in the background with their
output in log files, every wait bounded, every stop idempotent and escalating to a kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

READY_TIMEOUT = 90.0


class SetupError(Exception):
    """A pair could not be installed, started, recorded or replayed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parity_argv(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "parity"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "parity", *args]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PARITY_CONFIG"}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


class Process:
    """A background process whose output goes to a log file; stop() is idempotent."""

    def __init__(self, name: str, argv: list[str], log: Path, cwd: Path, env: dict[str, str]):
        self.name, self.log = name, log
        self.out = log.open("wb")
        try:
            self.popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=self.out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            self.out.close()
            raise SetupError(f"cannot start {name}: {exc}") from exc

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 5) -> str:
        return " | ".join(self.text().strip().splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.popen.poll() is None:
            try:  # the whole group: a server may run behind a launcher (npm, node, sh)
                os.killpg(self.popen.pid, sig)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)
            except ProcessLookupError:
                pass
        self.out.close()
        return self.popen.returncode


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Loopback readiness checks never go through an HTTP proxy from the environment."""


def wait_ready(proc: Process, url: str, timeout: float = READY_TIMEOUT) -> None:
    """GET-poll `url` until it answers below 500, the process exits, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise SetupError(f"{proc.name} exited ({proc.popen.returncode}): {proc.tail()}")
        try:
            with _DIRECT.open(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SetupError(f"{proc.name} not ready at {url} within {timeout:.0f}s: {proc.tail()}")


def wait_line(proc: Process, marker: str, timeout: float = READY_TIMEOUT) -> str:
    """The first output line containing `marker`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in proc.text().splitlines():
            if marker in line:
                return line
        if proc.popen.poll() is not None:
            raise SetupError(f"{proc.name} exited ({proc.popen.returncode}): {proc.tail()}")
        time.sleep(0.1)
    raise SetupError(f"{proc.name} printed no {marker!r} within {timeout:.0f}s: {proc.tail()}")
