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
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from accuracy import score

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "accuracy" / "pairs"
WORK = ROOT / ".accuracy"
READY_TIMEOUT = 90.0
STEP_TIMEOUT = 300.0
COMMAND = "make accuracy   (python -m accuracy.run [--pair NAME ...] [--write-md] [--keep])"


class SetupError(Exception):
    """A pair could not be installed, started, recorded or replayed."""


def discover() -> list[str]:
    return sorted(p.parent.name for p in PAIRS.glob("*/pair.py"))


def load(name: str) -> ModuleType:
    return importlib.import_module(f"accuracy.pairs.{name}.pair")


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
        old = ctx.server("old", stack)
        new = ctx.server("new", stack)
        done = ctx.parity(
            "replay",
            str(sessions),
            "--target",
            new,
            "--baseline",
            old,
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


@dataclass
class Outcome:
    name: str
    description: str
    exchanges: int
    result: score.PairScore | None
    stable: bool
    compare: dict[str, int]
    diagnostic: list[tuple[tuple[str, str, str, str], int]]
    misses: list[str]
    preview: score.PairScore | None = None
    """Before findings exist: the mismatches' differences scored as per-route findings."""


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


# --- output ---------------------------------------------------------------------------


def _finding_line(f: score.Finding) -> str:
    where = f.get("route") or f"{len(f.get('routes') or [])} routes"
    return (
        f"  {f.get('id')} {f.get('where')} {f.get('path')!r} {f.get('kind')} "
        f"{f.get('transition')!r} [{f.get('category')}] on {where} x{f.get('count')}"
    )


def _figures(r: score.PairScore) -> str:
    return (
        f"recall {r.recall:.0%}, noise share {r.noise_share:.1%} of {r.findings}, "
        f"{r.per_root_cause:.2f} per root cause, {len(r.id_failures)} id failures"
    )


def _print_lists(r: score.PairScore) -> None:
    for entry in r.missed:
        print(f"  missed: {entry.id}: {entry.description}")
    for finding in r.unexplained:
        print("  unexplained:" + _finding_line(finding)[1:])
    for line in r.id_failures:
        print(f"  id failure: {line}")


def print_outcome(out: Outcome) -> None:
    print(f"\n== {out.name}: {out.description} ({out.exchanges} exchanges)")
    if out.result is None:
        print("diagnostic (no findings yet): differences by route, where, path, kind")
        for (route, where, path, kind), count in out.diagnostic:
            print(f"  {count:4d}  {route}  {where} {path} {kind}")
        if out.preview is not None:
            print(f"  preview, the groups scored as per-route findings: {_figures(out.preview)}")
            _print_lists(out.preview)
    else:
        _print_lists(out.result)
    print(f"  stability (second replay, compare): {out.compare}")


def table_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        r = o.result
        if r is None:
            rows.append(
                [
                    o.name,
                    "n/a",
                    "n/a",
                    "n/a",
                    str(len(o.preview.id_failures)) if o.preview else "n/a",
                    "yes" if o.stable else "no",
                    f"no findings; {sum(c for _, c in o.diagnostic)} differences in "
                    f"{len(o.diagnostic)} (route, where, path, kind) groups",
                ]
            )
            continue
        rows.append(
            [
                o.name,
                f"{r.recall:.0%}",
                f"{r.noise_share:.1%}",
                f"{r.per_root_cause:.2f}",
                str(len(r.id_failures)),
                "yes" if o.stable else "no",
                "; ".join(o.misses) or "all goals met",
            ]
        )
    return rows


HEADERS = ["pair", "recall", "noise share", "findings/root cause", "id failures", "stable", "goals"]


def print_table(outcomes: Sequence[Outcome]) -> None:
    rows = [HEADERS, *table_rows(outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def write_md(outcomes: Sequence[Outcome], path: Path) -> None:
    """Replace the figures section of ACCURACY.md (between its markers) with this run's."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(outcomes)]
    for o in outcomes:
        lines.append("")
        lines.append(
            f"**{o.name}** — {o.description}; {o.exchanges} exchanges; "
            f"second replay vs first: {o.compare}."
        )
        if o.result is None:
            lines.append("")
            lines.append(
                "`parity report --json` has no `findings` yet (another branch of issue 8): "
                "recall, noise share and findings per root cause are not measured."
            )
            lines.append("")
            lines.append(
                "Diagnostic (the report's differences by route, where, templated path, kind):"
            )
            lines.append("")
            lines += [f"- {c} x `{r}` {w} `{p}` {k}" for (r, w, p, k), c in o.diagnostic]
            if o.preview is not None:
                lines.append("")
                lines.append(
                    "Preview, each group scored as a per-route finding (not the goal's "
                    f"figures): {_figures(o.preview)}."
                )
                lines += [f"- missed: `{e.id}` — {e.description}" for e in o.preview.missed]
                lines += ["- unexplained:" + _finding_line(f)[1:] for f in o.preview.unexplained]
                lines += [f"- id failure: {x}" for x in o.preview.id_failures]
        else:
            lines += [f"- missed: `{e.id}` — {e.description}" for e in o.result.missed]
            lines += ["- unexplained:" + _finding_line(f)[1:] for f in o.result.unexplained]
            lines += [f"- id failure: {x}" for x in o.result.id_failures]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = "\n".join(
        [
            f"<!-- figures: begin -->\nMeasured {stamp} with `{COMMAND}`.\n",
            *lines,
            "<!-- figures: end -->",
        ]
    )
    text = path.read_text(encoding="utf-8") if path.exists() else "# Accuracy\n\n"
    begin, end = text.find("<!-- figures: begin -->"), text.find("<!-- figures: end -->")
    if begin >= 0 and end > begin:
        text = text[:begin] + block + text[end + len("<!-- figures: end -->") :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


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
