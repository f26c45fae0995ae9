"""`make bench`: how much does recording cost? `parity record` against plain mitmdump
and `mitmdump -w`, on 2 KB and 1 MB JSON responses, in one run on one machine.

    .venv/bin/python bench/run.py               # full run (~8 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick       # smoke check (< 1 minute)
    .venv/bin/python bench/run.py --write-md    # also rewrite its section of BENCHMARKS.md
    .venv/bin/python bench/run.py --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs
from bench.record_bench import VARIANTS, Config, goals, run_benchmark
from bench.upstream import SIZES

MARK_START = "<!-- record-bench:start -->"
MARK_END = "<!-- record-bench:end -->"
MD_PATH = procs.ROOT / "BENCHMARKS.md"

INTRO = """\
# Benchmarks

Each benchmark under `bench/` prints its figures and, with `--write-md`, rewrites its own
section of this file (between its `<!-- NAME:start -->` and `<!-- NAME:end -->` markers);
the rest of the file is left alone.

- **Command**: `make bench` runs `bench/run.py` and prints the table;
  `.venv/bin/python bench/run.py --write-md` also updates the section below
  (`--quick` for a smoke check, `--json OUT` for the raw figures).
  `.venv/bin/python bench/profile_record.py --variant c --size 1m` runs one proxy under
  cProfile with the same upstream and load, to see where its time goes.
- **Machine**: each section starts with the machine it ran on (CPU count and model,
  Python, mitmproxy and aiohttp versions, commit), captured by the script.
  Figures from different machines are not comparable; ratios within one run are.
- **Reading the ratios**: `vs (a)` is a variant's requests/s divided by plain mitmdump's
  (a), measured on the same load, on the same machine, in the same run. 1.00 means
  recording costs nothing over the proxy it runs in; 0.90 means 10 % fewer requests/s.
  *Added latency* is the proxied latency minus the latency of the same request sent
  straight to the upstream in the same round: what the proxy adds, not the backend.
"""


def environment() -> dict[str, Any]:
    import aiohttp
    import mitmproxy.version

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu_model = platform.processor()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=procs.ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = ""
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": usable,
        "cpu_model": cpu_model,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "mitmproxy": mitmproxy.version.VERSION,
        "aiohttp": aiohttp.__version__,
        "commit": commit,
        "loadavg_at_start": list(load),
    }


# -- rendering ------------------------------------------------------------------------------

_NAMES = {"direct": "direct", "a": "(a) mitmdump", "b": "(b) mitmdump -w", "c": "(c) parity record"}
_SIZE_NAMES = {"2k": "2 KB", "1m": "1 MB"}
_HEADER = [
    "size",
    "variant",
    "req/s",
    "vs (a)",
    "+p50 ms",
    "+p99 ms",
    "+p50 @8",
    "+p99 @8",
    "CPU ms/req",
]


def _f(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for size in SIZES:
        for variant in ("direct", *VARIANTS):
            s = result["summary"][size][variant]
            direct = variant == "direct"
            rows.append(
                [
                    _SIZE_NAMES[size],
                    _NAMES[variant],
                    _f(s["rps"], ".0f"),
                    "" if direct else _f(s["vs_a"], ".2f"),
                    f"({s['p50_ms']:.2f})" if direct else _f(s["added_p50_ms"], "+.2f"),
                    f"({s['p99_ms']:.2f})" if direct else _f(s["added_p99_ms"], "+.2f"),
                    f"({s['load_p50_ms']:.2f})" if direct else _f(s["load_added_p50_ms"], "+.2f"),
                    f"({s['load_p99_ms']:.2f})" if direct else _f(s["load_added_p99_ms"], "+.2f"),
                    "" if direct else _f(s["cpu_ms_per_request"], ".2f"),
                ]
            )
    return rows


def _goal_mark(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[met]


def memory_line(mem: dict[str, Any] | None) -> str:
    if not mem:
        return "Memory: not measured (--no-memory)."
    if "skipped" in mem:
        return f"Memory: skipped ({mem['skipped']})."
    return (
        f"Memory: `parity record` RSS {mem['rss_start_mb']:.1f} MB at start, "
        f"{mem['rss_first_checkpoint_mb']:.1f} MB after {mem['first_checkpoint']} exchanges, "
        f"{mem['rss_end_mb']:.1f} MB after {mem['requests']} "
        f"(delta {mem['rss_delta_mb']:+.1f} MB, max {mem['rss_max_mb']:.1f} MB); "
        f"{mem['recorded']} exchanges recorded, session file {mem['file_bytes'] / 1e6:.0f} MB, "
        f"{mem['rps']:.0f} req/s."
    )


def print_result(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    table = Table(title="parity record vs mitmdump (medians over rounds)")
    for i, name in enumerate(_HEADER):
        table.add_column(name, justify="left" if i < 2 else "right")
    for i, row in enumerate(table_rows(result)):
        table.add_row(*row, end_section=(i + 1) % (len(VARIANTS) + 1) == 0)
    console.print(table)
    console.print(
        "+p50/+p99: latency added by the proxy (proxied minus direct, ms) on one connection;"
        " @8: at 8 connections. Direct rows show the direct latency itself in parentheses."
        " CPU ms/req: the proxy process's CPU time per request at 8 connections."
    )
    console.print(memory_line(result["memory"]))
    goal_table = Table(title="goals")
    for name in ("goal", "measured", "verdict"):
        goal_table.add_column(name)
    for goal in result["goals"]:
        verdict = _goal_mark(goal["met"])
        style = "green" if goal["met"] else ("red" if goal["met"] is False else "")
        goal_table.add_row(
            goal["goal"], goal["measured"], f"[{style}]{verdict}[/]" if style else verdict
        )
    console.print(goal_table)


def markdown_section(result: dict[str, Any], command: str) -> str:
    env = result["environment"]
    cfg = result["config"]
    lines = [
        MARK_START,
        "## Recording overhead: `parity record` vs mitmdump",
        "",
        f"Command: `{command}` (`make bench` prints the same table without touching this file).",
        "",
        f"Machine: {env['nproc']} CPUs ({env['cpu_model']}), {env['os']}, Python {env['python']}, "
        f"mitmproxy {env['mitmproxy']}, aiohttp {env['aiohttp']}; commit `{env['commit']}`, "
        f"{env['date']}, load average at start {env['loadavg_at_start'][0]:.2f}. "
        f"The run took {result['elapsed_s'] / 60:.1f} minutes.",
        "",
        "Method: one asyncio upstream process serves precomputed JSON journal entries "
        "(`GET /json/2k`, 2048 bytes; `GET /json/1m`, 1 MiB). Each proxy runs as its own "
        "process in reverse mode: (a) `mitmdump -q --mode reverse:URL`, (b) the same with "
        "`-w FILE`, (c) `parity record --upstream URL --listen 127.0.0.1:0`. In each round "
        "the three start side by side and the load generator (aiohttp, keep-alive, in this "
        "process) alternates between them and the upstream itself (direct): after a "
        f"{cfg['warmup_s']:g} s warm-up each, {cfg['slices']} slices of {cfg['slice_s']:g} s "
        f"at {cfg['concurrency']} connections in a closed loop per target and size "
        "(requests/s, latency @8, proxy CPU per request), then up to "
        f"{cfg['latency_requests']['2k']} / {cfg['latency_requests']['1m']} requests on one "
        f"connection in {cfg['latency_slices']} slices (latency); the order rotates every "
        f"slice. {cfg['rounds']} rounds, each with fresh proxies and files; figures are "
        "medians over rounds.",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(_HEADER) - 2)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(result)]
    lines += [
        "",
        "`+p50 ms` / `+p99 ms`: latency the proxy adds (proxied minus direct, in ms) on one "
        "connection; `@8`: the same at 8 connections, where it is mostly queueing. Direct rows "
        "show the direct latency itself in parentheses. `CPU ms/req`: the proxy process's "
        "user+system CPU time per request in the throughput phase, the figure least disturbed "
        "by a noisy machine.",
        "",
        memory_line(result["memory"]),
        "",
        "| goal | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [
        f"| {g['goal']} | {g['measured']} | {_goal_mark(g['met'])} |" for g in result["goals"]
    ]
    ratios = {
        size: " / ".join(
            f"{v}: " + ", ".join(_f(x, ".2f") for x in result["summary"][size][v]["vs_a_rounds"])
            for v in ("b", "c")
        )
        for size in SIZES
    }
    cpu = "; ".join(
        f"{_SIZE_NAMES[size]} "
        + ", ".join(
            f"({v}) {_f(result['summary'][size][v]['cpu_vs_a'], '.2f')}" for v in ("b", "c")
        )
        for size in SIZES
    )
    lines += [
        "",
        "By proxy CPU per request, (a)'s CPU ms/req over the variant's (the ratio the variant "
        f"would reach if the proxy's own CPU were the only limit): {cpu}.",
        "",
        "Per-round ratios vs (a): "
        + "; ".join(f"{_SIZE_NAMES[size]} {text}" for size, text in ratios.items())
        + ".",
        MARK_END,
    ]
    return "\n".join(lines) + "\n"


def write_markdown(section: str, path: Path = MD_PATH) -> None:
    """Replace this benchmark's section of BENCHMARKS.md (create the file with its intro if needed)."""
    text = path.read_text() if path.exists() else INTRO
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start >= 0 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(MARK_END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n")


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark parity record against plain mitmdump and mitmdump -w."
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts: a smoke check in < 60 s"
    )
    parser.add_argument(
        "--rounds", type=int, help="rounds of the interleaved variants (default 3, 1 with --quick)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the RSS run")
    parser.add_argument(
        "--memory-requests", type=int, help="exchanges in the RSS run (default 100000)"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the raw results as JSON")
    parser.add_argument(
        "--write-md", action="store_true", help="rewrite this benchmark's section of BENCHMARKS.md"
    )
    args = parser.parse_args(argv)

    config = Config.quick() if args.quick else Config()
    if args.rounds is not None:
        config.rounds = max(1, min(args.rounds, 20))
    if args.memory_requests is not None:
        config.memory_requests = max(config.memory_checkpoint, min(args.memory_requests, 1_000_000))

    env = environment()
    print(
        f"parity recording benchmark: {env['nproc']} CPUs, Python {env['python']}, "
        f"mitmproxy {env['mitmproxy']}, {config.rounds} round(s)"
        + (" (quick)" if args.quick else ""),
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="parity-bench-") as tmp:
        try:
            result = asyncio.run(run_benchmark(config, Path(tmp), memory=not args.no_memory))
        except procs.BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
    result["environment"] = env
    result["quick"] = args.quick
    result["goals"] = goals(result)
    print_result(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"raw results: {args.json}", file=sys.stderr)
    if args.write_md:
        command = ".venv/bin/python bench/run.py --write-md" + (" --quick" if args.quick else "")
        write_markdown(markdown_section(result, command))
        print(f"updated {MD_PATH.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
