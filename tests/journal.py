"""The journal example on real processes, shared by the end-to-end tests: backends on
free ports, and a pilot day recorded through `parity record`."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from tests.procs import ROOT, Proc, parity, python

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


def start_backend(
    stack: ExitStack, mode: str, fixes: Sequence[str] = (), extra_args: Sequence[str] = ()
) -> str:
    """Start `examples/journal/server.py` (closed with `stack`); its base URL.
    `fixes` switches those candidate divergences off; `extra_args` are more options
    (`--degrade`)."""
    proc = stack.enter_context(
        Proc(
            python("examples/journal/server.py", "--mode", mode, "--port", "0", *extra_args),
            env={"JOURNAL_FIX": ",".join(fixes)},
        )
    )
    return proc.wait_for(r"JOURNAL_LISTENING (\S+)").group(1)


def record_pilot(
    sessions: Path,
    project: Path = ROOT,
    *extra: str,
    trace: Path | None = None,
    env: dict[str, str] | None = None,
) -> Path:
    """Record one pilot day against a fresh baseline into `sessions`; return it. The
    recorder runs in `project`, whose `.parity/` gets the key and the secret store that
    a replay of the (redacted) recording from the same project uses; `extra` are more
    `parity record` options, `trace` the pilot's own view of its exchanges."""
    pilot = ["examples/journal/pilot.py", *(["--trace", str(trace)] if trace else [])]
    record_traffic(sessions, pilot, project, *extra, env=env)
    return sessions


def record_traffic(
    sessions: Path,
    driver: Sequence[str],
    project: Path = ROOT,
    *extra: str,
    backend: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> str:
    """Record what the script `driver` (its path and arguments; the recorder's URL goes
    after its path) sends to a fresh baseline with `backend` options, through `parity
    record` with `extra` options run in `project`; the driver's output."""
    with ExitStack() as stack:
        upstream = start_backend(stack, "baseline", extra_args=backend)
        recorder = stack.enter_context(
            Proc(
                parity(
                    "record",
                    "--upstream",
                    upstream,
                    "--listen",
                    "127.0.0.1:0",
                    "--sessions",
                    str(sessions),
                    *extra,
                ),
                cwd=project,
                env=env,
            )
        )
        proxy = recorder.wait_for(r"listening on (http://\S+)").group(1)
        recorder.wait_for("recording to")
        with Proc(python(driver[0], proxy, *driver[1:])) as client:
            assert client.popen.wait(90) == 0, client.output()
            output = client.output()
        assert recorder.terminate() == 0, recorder.output()
    return output
