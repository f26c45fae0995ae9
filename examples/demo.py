"""`make demo`: parity's main job, end to end, on the bundled journal backends.

1. start the baseline (Python contract) journal backend on a free port;
2. put `parity record` in front of it and play one pilot user's day through it;
3. stop the recorder (it closes the session file cleanly) and the backend;
4. start both backends fresh — the candidate (the C# port) and a baseline — and replay
   the session against the candidate, with the baseline to tell noise from differences;
5. print the report and the migration gate's verdict (it fails: the candidate diverges).

Everything it starts, it stops; its files go to `.parity/demo/`.
"""

from __future__ import annotations

import shutil
import sys
from contextlib import ExitStack

from examples.procs import ROOT, Proc, parity, python

DEMO_DIR = ROOT / ".parity" / "demo"
SESSIONS = DEMO_DIR / "sessions"
DB = DEMO_DIR / "parity.db"


def step(text: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}==> {text}{plain}", flush=True)


def start_backend(stack: ExitStack, mode: str, *extra: str) -> tuple[Proc, str]:
    proc = stack.enter_context(
        Proc(python("examples/journal/server.py", "--mode", mode, "--port", "0", *extra))
    )
    url = proc.wait_for(r"JOURNAL_LISTENING (\S+)").group(1)
    print(f"{mode} backend at {url}")
    return proc, url


def run(cmd: list[str], timeout: float = 300) -> int:
    with Proc(cmd) as proc:
        code = proc.popen.wait(timeout)
        print(proc.output(), flush=True)
    return code


def record_pilot() -> str | None:
    """Steps 1-3; the session file's path, or None when something failed."""
    with ExitStack() as stack:
        step("Starting the baseline journal backend (the Python contract)")
        backend, backend_url = start_backend(stack, "baseline")
        step("parity record in front of it")
        recorder = stack.enter_context(
            Proc(
                parity(
                    "record",
                    "--upstream",
                    backend_url,
                    "--listen",
                    "127.0.0.1:0",
                    "--label",
                    "pilot-ana",
                    "--sessions",
                    str(SESSIONS),
                )
            )
        )
        proxy_url = recorder.wait_for(r"listening on (http://\S+)").group(1)
        session_path = recorder.wait_for(r"recording to (\S+)").group(1)
        print("\n".join(recorder.lines))

        step(f"Playing one pilot user's day through the recorder ({proxy_url})")
        if run(python("examples/journal/pilot.py", proxy_url)) != 0:
            print("demo: the pilot failed", file=sys.stderr)
            return None

        step("Stopping the recorder (SIGTERM: it writes the trailer and exits 0)")
        code = recorder.terminate()
        print(recorder.output())
        if code != 0:
            print(f"demo: parity record exited {code}", file=sys.stderr)
            return None
        backend.terminate()
    return session_path


def replay_against_candidate() -> int:
    """Steps 4-5: fresh backends, replay, report. Returns replay's exit code."""
    with ExitStack() as stack:
        step("Starting fresh backends: the candidate (the C# port) and a baseline")
        _, candidate_url = start_backend(stack, "candidate")
        _, baseline_url = start_backend(stack, "baseline")

        step("parity replay: the session against the candidate, the baseline for noise")
        code = run(
            parity(
                "replay",
                str(SESSIONS),
                "--target",
                candidate_url,
                "--baseline",
                baseline_url,
                "--db",
                str(DB),
                "--label",
                "demo",
            )
        )
    step("parity report")
    run(parity("report", "--db", str(DB)))
    step("parity gate (what the migration runbook's gate script runs)")
    run(parity("gate", "--db", str(DB), "--out", str(DEMO_DIR / "parity_harness_results.json")))
    return code


def main() -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    SESSIONS.mkdir(parents=True, mode=0o700)
    session_path = record_pilot()
    if session_path is None:
        return 1
    step("parity sessions show (what was captured)")
    run(parity("sessions", "show", session_path, "--limit", "10"))

    code = replay_against_candidate()
    if code not in (0, 1):
        print(f"demo: parity replay failed ({code})", file=sys.stderr)
        return 1
    print(
        f"\nEach mismatch above is one of the candidate's documented divergences "
        f"(examples/journal/DIVERGENCES.md). Look closer with `.venv/bin/parity show ID --db {DB}`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
