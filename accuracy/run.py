"""`python -m accuracy.run`: score parity on real third-party API pairs (issue 8, item 6).

For each pair under accuracy/pairs/*/pair.py: install both servers under .accuracy/NAME;
record the client against OLD through `parity record`; replay against a fresh NEW with
a fresh OLD as baseline; score `parity report --json`'s findings against truth.toml;
replay a second time and check `parity compare --json` is empty. Every process started
here is stopped in `finally`, Ctrl-C included; every wait is bounded.

Exit 0 when every pair meets its goals, 1 when one misses, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from accuracy import score
from accuracy.figures import Outcome, print_outcome, print_table, write_md
from accuracy.processes import (
    Process,
    SetupError,
    clean_env,
    free_port,
    parity_argv,
    wait_line,
    wait_ready,
)

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "accuracy" / "pairs"
WORK = ROOT / ".accuracy"
STEP_TIMEOUT = 300.0


def discover() -> list[str]:
    return sorted(p.parent.name for p in PAIRS.glob("*/pair.py"))


def load(name: str) -> ModuleType:
    return importlib.import_module(f"accuracy.pairs.{name}.pair")


@dataclass
class Context:
    pair: ModuleType
    work: Path  # .accuracy/NAME: installs
    run: Path  # .accuracy/NAME/run: data dirs, logs, sessions, db
    counter: int = 0

    def server(self, side: str, stack: ExitStack) -> str:
        """Start `side` on a fresh data dir and a free port, stopped when `stack` closes;
        its base URL once ready."""
        self.counter += 1
        data = self.run / f"data-{side}-{self.counter}"
        data.mkdir(parents=True)
        port = free_port()
        argv, env = self.pair.command(self.work, side, port, data)
        proc = Process(
            f"{self.pair.NAME} {side}",
            argv,
            self.run / f"{side}-{self.counter}.log",
            data,
            clean_env(env),
        )
        stack.callback(proc.stop)
        base = f"http://127.0.0.1:{port}"
        wait_ready(proc, base + self.pair.READY_PATH)
        return base

    def parity(self, *args: str, timeout: float = STEP_TIMEOUT) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                parity_argv(*args),
                cwd=self.run,
                env=clean_env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise SetupError(f"parity {args[0]} took more than {timeout:.0f}s") from exc


def parity_json(ctx: Context, *args: str) -> dict[str, Any]:
    done = ctx.parity(*args, "--json")
    try:
        data = json.loads(done.stdout)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except ValueError as exc:
        why = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SetupError(
            f"parity {args[0]} --json gave no JSON (exit {done.returncode}): {why[0]}"
        ) from exc


def record(ctx: Context, sessions: Path) -> None:
    with ExitStack() as stack:
        old = ctx.server("old", stack)
        rec = Process(
            "parity record",
            parity_argv(
                "record",
                "--upstream",
                old,
                "--listen",
                "127.0.0.1:0",
                "--sessions",
                str(sessions),
                "--label",
                ctx.pair.NAME,
            ),
            ctx.run / "record.log",
            ctx.run,
            clean_env(),
        )
        stack.callback(rec.stop, signal.SIGINT, 30.0)
        line = wait_line(rec, "listening on ")
        proxy = line.split("listening on ", 1)[1].split()[0]
        wait_line(rec, "recording to")
        try:
            ctx.pair.client(proxy)
        except Exception as exc:  # a pair's client bug or a dead proxy: one line, no traceback
            raise SetupError(f"the client failed: {type(exc).__name__}: {exc}") from exc
        code = rec.stop(signal.SIGINT, 30.0)
        if code not in (0, -signal.SIGINT, 130):
            raise SetupError(f"parity record exited {code}: {rec.tail()}")


def replay(ctx: Context, sessions: Path, db: Path, label: str) -> None:
    with ExitStack() as stack:
        # Two fresh instances of OLD as baselines, as `parity replay --help` advises: what
        # varies by chance (an order fixed per process) shows against one of them.
        old = ctx.server("old", stack)
        second = ctx.server("old", stack)
        new = ctx.server("new", stack)
        done = ctx.parity(
            "replay",
            str(sessions),
            "--target",
            new,
            "--baseline",
            old,
            "--baseline",
            second,
            "--db",
            str(db),
            "--label",
            label,
            "--concurrency",
            "1",
        )
        (ctx.run / f"{label}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        if done.returncode not in (0, 1):
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise SetupError(f"parity replay exited {done.returncode}: {tail[0]}")


def run_pair(name: str, keep: bool) -> Outcome:
    pair = load(name)
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    truth = score.load_truth(PAIRS / name / "truth.toml")
    try:
        pair.install(work)
    except SystemExit as exc:  # the pair's one-line reason; exit 2 like every setup error
        raise SetupError(str(exc.code).removeprefix("accuracy: ")) from exc
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    sessions, db = run_dir / "sessions", run_dir / "parity.db"
    ctx = Context(pair, work, run_dir)
    try:
        record(ctx, sessions)
        replay(ctx, sessions, db, "accuracy-1")
        report = parity_json(ctx, "report", "--db", str(db))
        replay(ctx, sessions, db, "accuracy-2")
        compare = parity_json(ctx, "compare", "--db", str(db))
    finally:
        if not keep:
            for data in run_dir.glob("data-*"):
                shutil.rmtree(data, ignore_errors=True)
    mismatches = report.get("mismatches", [])
    counts = {k: len(compare.get(k) or []) for k in ("new", "fixed", "regressed")}
    stable = not any(counts.values())
    exchanges = int((report.get("totals") or {}).get("exchanges", 0))
    diagnostic = score.diagnostic_groups(mismatches)
    if "findings" not in report:
        preview = score.score(score.preview_findings(mismatches), truth, mismatches)
        return Outcome(
            name,
            pair.DESCRIPTION,
            exchanges,
            None,
            stable,
            counts,
            diagnostic,
            ["`parity report --json` has no `findings` key yet: cannot score"],
            preview,
        )
    result = score.score(report["findings"], truth, mismatches)
    return Outcome(
        name,
        pair.DESCRIPTION,
        exchanges,
        result,
        stable,
        counts,
        diagnostic,
        score.misses_goal(result, stable),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accuracy.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--pair", action="append", metavar="NAME", help="only this pair (repeatable)"
    )
    parser.add_argument(
        "--write-md", action="store_true", help="write the figures into ACCURACY.md"
    )
    parser.add_argument("--keep", action="store_true", help="keep the servers' data dirs")
    args = parser.parse_args(argv)
    names = discover()
    unknown = sorted(set(args.pair or []) - set(names))
    if unknown:
        print(
            f"accuracy: no pair {', '.join(unknown)} (pairs: {', '.join(names)})", file=sys.stderr
        )
        return 2
    outcomes: list[Outcome] = []
    for name in args.pair or names:
        try:
            outcome = run_pair(name, args.keep)
        except (SetupError, score.TruthError) as exc:
            print(f"accuracy: {name}: {exc}", file=sys.stderr)
            return 2
        print_outcome(outcome)
        outcomes.append(outcome)
    print_table(outcomes)
    if args.write_md:
        write_md(outcomes, ROOT / "ACCURACY.md")
    missing = [o for o in outcomes if o.result is None]
    if missing:
        print(
            "accuracy: `parity report --json` has no `findings` key yet; "
            "the diagnostic above groups its mismatches instead",
            file=sys.stderr,
        )
        return 2
    return 1 if any(o.misses for o in outcomes) else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated run stops its servers too
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background
        signal.signal(signal.SIGINT, _interrupt)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("accuracy: interrupted", file=sys.stderr)
        sys.exit(130)
