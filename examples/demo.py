"""`make demo`: parity's main job, end to end, on the bundled journal backends.

1. start the baseline (Python contract) journal backend on a free port;
2. put `parity record` in front of it and play one pilot user's day through it;
3. stop the recorder (it closes the session file cleanly) and the backend;
4. show what was captured: `parity sessions list` and `parity sessions show`.

Everything it starts, it stops; its files go to `.parity/demo/`.
"""

from __future__ import annotations

import shutil
import sys

from examples.procs import ROOT, Proc, parity, python

DEMO_DIR = ROOT / ".parity" / "demo"
SESSIONS = DEMO_DIR / "sessions"


def step(text: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}==> {text}{plain}", flush=True)


def start_backend(mode: str) -> tuple[Proc, str]:
    proc = Proc(python("examples/journal/server.py", "--mode", mode, "--port", "0"))
    url = proc.wait_for(r"JOURNAL_LISTENING (\S+)").group(1)
    return proc, url


def run(cmd: list[str]) -> int:
    with Proc(cmd) as proc:
        code = proc.popen.wait(300)
        print(proc.output(), flush=True)
    return code


def main() -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    SESSIONS.mkdir(parents=True, mode=0o700)

    step("Starting the baseline journal backend (the Python contract)")
    backend, backend_url = start_backend("baseline")
    with backend:
        print(f"baseline at {backend_url}")
        step("parity record in front of it")
        recorder = Proc(
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
        with recorder:
            proxy_url = recorder.wait_for(r"listening on (http://\S+)").group(1)
            session_path = recorder.wait_for(r"recording to (\S+)").group(1)
            print("\n".join(recorder.lines))

            step(f"Playing one pilot user's day through the recorder ({proxy_url})")
            if run(python("examples/journal/pilot.py", proxy_url)) != 0:
                print("demo: the pilot failed", file=sys.stderr)
                return 1

            step("Stopping the recorder (SIGTERM: it writes the trailer and exits 0)")
            code = recorder.terminate()
            print(recorder.output())
            if code != 0:
                print(f"demo: parity record exited {code}", file=sys.stderr)
                return 1
        backend.terminate()

    step("parity sessions list")
    run(parity("sessions", "list", "--sessions", str(SESSIONS)))
    step("parity sessions show (the pilot's session)")
    run(parity("sessions", "show", session_path, "--limit", "25"))
    print(f"\nThe session file is {session_path}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
