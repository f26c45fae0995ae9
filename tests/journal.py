"""The journal example on real processes, shared by the end-to-end tests: backends on
free ports, and a pilot day recorded through `parity record`."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from tests.procs import Proc, parity, python

RESET = (
    "curl -fsS -X POST {target}/_admin/reset"
    if shutil.which("curl")
    else f'{sys.executable} -c "import urllib.request as u; u.urlopen(u.Request('
    "'{target}/_admin/reset', method='POST'), timeout=10)\""
)
"""The journal backends' reset hook, for parity.toml."""


def targets_toml(**urls: str) -> str:
    """parity.toml's `[targets.NAME]` tables (each with `RESET`) and a `[replay]` table
    replaying against `csharp` with `python` as the baseline."""
    tables = [
        f'[targets.{name}]\nurl = "{url}"\nreset = {json.dumps(RESET)}\n'
        for name, url in urls.items()
    ]
    return "\n".join([*tables, '[replay]\ntarget = "csharp"\nbaseline = ["python"]\n'])


def start_backend(stack: ExitStack, mode: str, fixes: Sequence[str] = ()) -> str:
    """Start `examples/journal/server.py` (closed with `stack`); its base URL.
    `fixes` switches those candidate divergences off."""
    proc = stack.enter_context(
        Proc(
            python("examples/journal/server.py", "--mode", mode, "--port", "0"),
            env={"JOURNAL_FIX": ",".join(fixes)},
        )
    )
    return proc.wait_for(r"JOURNAL_LISTENING (\S+)").group(1)


def record_pilot(sessions: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    """Record one pilot day against a fresh baseline into `sessions` (`extra` options for
    `parity record`, e.g. `--encrypt`, and `env` for it); return it."""
    with ExitStack() as stack:
        backend = start_backend(stack, "baseline")
        recorder = stack.enter_context(
            Proc(
                parity(
                    "record",
                    "--upstream",
                    backend,
                    "--listen",
                    "127.0.0.1:0",
                    "--sessions",
                    str(sessions),
                    *extra,
                ),
                env=env,
            )
        )
        proxy = recorder.wait_for(r"listening on (http://\S+)").group(1)
        recorder.wait_for("recording to")
        with Proc(python("examples/journal/pilot.py", proxy)) as pilot:
            assert pilot.popen.wait(90) == 0, pilot.output()
        assert recorder.terminate() == 0
    return sessions
