"""Starting and stopping real processes (the demo, the tests), every wait bounded."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Proc:
    """A subprocess whose output lines are collected by a thread, so waits never block."""

    def __init__(
        self, args: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.args = list(args)
        self.popen = subprocess.Popen(
            self.args,
            cwd=cwd or ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first output line matching `pattern`; fails with the output so far."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        while (left := deadline - time.monotonic()) > 0:
            try:
                received = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if received is None:
                raise AssertionError(
                    f"{self.args[:3]} exited ({self.popen.wait()}) before {pattern!r}:\n"
                    + "\n".join(self.lines)
                )
            line = received
            self.lines.append(line)
            if match := regex.search(line):
                return match
        raise AssertionError(
            f"no {pattern!r} within {timeout}s from {self.args[:3]}:\n" + "\n".join(self.lines)
        )

    def output(self, timeout: float = 5.0) -> str:
        """All output once the process has exited."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "\n".join(self.lines)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM (or TerminateProcess on Windows), then kill after `timeout`."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout)

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait(10)

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.popen.poll() is None:
            self.kill()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def parity(*args: str) -> list[str]:
    return [str(BIN / "parity"), *args]
