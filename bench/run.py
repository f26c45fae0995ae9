"""`make bench`: how much does recording cost? `parity record` (plain and `--encrypt`)
against plain mitmdump and `mitmdump -w`, on 2 KB and 1 MB JSON responses, in one run on one machine. And how
fast is replaying? `parity replay` (replay + diff + store) against `mitmdump -C`, the
differ on 200 KB bodies against DeepDiff, and the results store (bench/replay_bench.py).
And how much memory does one 100 MB JSON body cost to replay and show (bench/large_bench.py)?
And a soak: 10^6 exchanges recorded through `parity record --rotate`, replayed at
`--pace asap`, memory over time, and `--pace x10` against the recorded span
(bench/soak_bench.py).

    .venv/bin/python bench/run.py               # everything (~20 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick       # smoke check (~1.5 minutes)
    .venv/bin/python bench/run.py --only record             # the recording benchmark only
    .venv/bin/python bench/run.py --only replay,differ,store  # the replay benchmark only
    .venv/bin/python bench/run.py --only large              # one 100 MB body's peak RSS
    .venv/bin/python bench/run.py --only soak [--soak-exchanges N]  # the soak simulation
    .venv/bin/python bench/run.py --write-md    # also rewrite their sections of BENCHMARKS.md
    .venv/bin/python bench/run.py --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import large_bench, procs, replay_bench, soak_bench
from bench.record_bench import VARIANTS, Config, goals, run_benchmark
from bench.upstream import SIZES

BENCHMARKS = ("record", "replay", "differ", "store", "large", "soak")

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
- **Replay**: `.venv/bin/python bench/run.py --only replay,differ,store --write-md` runs and
  writes only the replay, differ and store section (`--only record` only the recording one);
  `.venv/bin/python -m bench.replay_bench profile` runs `parity replay` under cProfile on the
  same workload.
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
    import importlib.metadata

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
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain"],
            cwd=procs.ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        status = ""
    # Uncommitted changes to the code under test (not to the benchmarks or this file).
    dirty = sorted(
        {
            line[3:].split("/", 1)[0] + "/"
            for line in status.splitlines()
            if line[3:].split("/", 1)[0]
            in ("sessions", "recorder", "replayer", "differ", "triage", "parity")
        }
    )
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
        "deepdiff": importlib.metadata.version("deepdiff"),
        "commit": commit,
        "dirty": ", ".join(dirty),
        "loadavg_at_start": list(load),
    }


# -- rendering ------------------------------------------------------------------------------

_NAMES = {
    "direct": "direct",
    "a": "(a) mitmdump",
    "b": "(b) mitmdump -w",
    "c": "(c) parity record",
    "d": "(d) parity record --encrypt",
}
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
        "`-w FILE`, (c) `parity record --upstream URL --listen 127.0.0.1:0`, (d) the same with "
        "`--encrypt --key-file KEY` (AES-256-GCM per record). Each round has two passes, one "
        "per recorder: (a), (b) and that recorder start side by side (the two recorders are "
        "never side by side: with three writers of 1 MiB per request a round wrote ~6 GB, "
        "past the kernel's dirty-page limit, and the throttling charged every writer for the "
        "others' writes), each recorder is compared with its own pass's (a) and direct, "
        "and the load generator (aiohttp, keep-alive, in this "
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
            for v in ("b", "c", "d")
        )
        for size in SIZES
    }
    cpu = "; ".join(
        f"{_SIZE_NAMES[size]} "
        + ", ".join(
            f"({v}) {_f(result['summary'][size][v]['cpu_vs_a'], '.2f')}" for v in ("b", "c", "d")
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


def write_markdown(
    section: str,
    path: Path = MD_PATH,
    marks: tuple[str, str] = (MARK_START, MARK_END),
    after: str | None = None,
) -> None:
    """Replace one benchmark's section of BENCHMARKS.md, between its `marks` (create the
    file with its intro if needed). A new section goes right after the marker `after`
    when the file has it, else at the end."""
    text = path.read_text() if path.exists() else INTRO
    mark_start, mark_end = marks
    start, end = text.find(mark_start), text.find(mark_end)
    if start >= 0 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(mark_end) :]
    elif after is not None and after in text:
        at = text.find(after) + len(after)
        text = text[:at] + "\n\n" + section.rstrip("\n") + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n")


# -- main -------------------------------------------------------------------------------------


def _selected(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"choose from {', '.join(BENCHMARKS)} (comma-separated), not {value!r}"
        )
    return [name for name in BENCHMARKS if name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark parity record against plain mitmdump and mitmdump -w; "
        "parity replay against mitmdump -C; the differ; the results store."
    )
    parser.add_argument(
        "--only",
        type=_selected,
        default=list(BENCHMARKS),
        metavar="LIST",
        help="comma-separated benchmarks to run: record, replay, differ, store, large, soak "
        "(default: all)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts: a smoke check in ~1.5 minutes"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of the interleaved variants, record and replay (default 3, 1 with --quick)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the RSS run")
    parser.add_argument(
        "--memory-requests", type=int, help="exchanges in the RSS run (default 100000)"
    )
    parser.add_argument(
        "--per-session",
        type=int,
        help="replay: exchanges per recorded session, 16 sessions (default 1250, 100 with --quick)",
    )
    parser.add_argument(
        "--soak-exchanges",
        type=int,
        help="soak: exchanges recorded and replayed (default 1000000, 30000 with --quick)",
    )
    parser.add_argument(
        "--soak-users",
        type=int,
        help="soak: simulated app users recording at once, each on its own connection "
        "(default 8; more record a long soak sooner, up to what the recorder serves)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the raw results as JSON")
    parser.add_argument(
        "--write-md",
        action="store_true",
        help="rewrite the sections of BENCHMARKS.md of the benchmarks that ran",
    )
    args = parser.parse_args(argv)
    selected: list[str] = args.only
    # SIGTERM as an exit, so that every `finally` stops the processes it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    config = Config.quick() if args.quick else Config()
    replay_config = replay_bench.Config.quick() if args.quick else replay_bench.Config()
    if args.rounds is not None:
        config.rounds = max(1, min(args.rounds, 20))
        replay_config.rounds = config.rounds
    if args.memory_requests is not None:
        config.memory_requests = max(config.memory_checkpoint, min(args.memory_requests, 1_000_000))
    if args.per_session is not None:
        replay_config.per_session = max(10, min(args.per_session, 20_000))

    env = environment()
    flags = (" --quick" if args.quick else "") + (
        "" if selected == list(BENCHMARKS) else " --only " + ",".join(selected)
    )
    result: dict[str, Any] = {"environment": env, "quick": args.quick}
    if "record" in selected:
        print(
            f"parity recording benchmark: {env['nproc']} CPUs, Python {env['python']}, "
            f"mitmproxy {env['mitmproxy']}, {config.rounds} round(s)"
            + (" (quick)" if args.quick else ""),
            file=sys.stderr,
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="parity-bench-") as tmp:
            try:
                record = asyncio.run(run_benchmark(config, Path(tmp), memory=not args.no_memory))
            except procs.BenchError as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 1
        result.update(record)
        result["goals"] = goals(result)
        print_result(result)

    replay_parts = [name for name in selected if name not in ("record", "large", "soak")]
    replay_result: dict[str, Any] | None = None
    if replay_parts:
        print(
            f"parity replay benchmark ({', '.join(replay_parts)}): {env['nproc']} CPUs, "
            f"{replay_config.rounds} round(s) of {replay_config.sessions} x "
            f"{replay_config.per_session} exchanges" + (" (quick)" if args.quick else ""),
            file=sys.stderr,
            flush=True,
        )
        replay_result = {"environment": env, "quick": args.quick}
        began = time.monotonic()
        try:
            if "replay" in replay_parts:
                with tempfile.TemporaryDirectory(prefix="parity-replay-bench-") as tmp:
                    replay_result["replay"] = replay_bench.run_replay(replay_config, Path(tmp))
            if "differ" in replay_parts:
                replay_result["differ"] = replay_bench.run_differ(replay_config)
            if "store" in replay_parts:
                replay_result["store"] = replay_bench.run_store(replay_config)
        except procs.BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        replay_result["elapsed_s"] = time.monotonic() - began
        replay_result["goals"] = replay_bench.goals(replay_result)
        replay_bench.print_result(replay_result)
        result["replay_bench"] = replay_result

    if "large" in selected:
        mb = 20 if args.quick else large_bench.BODY_MB
        print(f"parity large-body benchmark: {mb} MB JSON", file=sys.stderr, flush=True)
        try:
            result["large"] = large_bench.run_large(mb, log=_stderr)
        except RuntimeError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        large_bench.print_large(result["large"])

    if "soak" in selected:
        soak_config = soak_bench.Config.quick() if args.quick else soak_bench.Config()
        if args.soak_exchanges is not None:
            soak_config.scaled(max(1000, min(args.soak_exchanges, 10_000_000)))
        if args.soak_users is not None:
            soak_config.users = max(1, min(args.soak_users, 256))
        print(
            f"parity soak benchmark: {soak_config.exchanges:,} exchanges, {env['nproc']} CPUs",
            file=sys.stderr,
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="parity-soak-bench-") as tmp:
            try:
                soak = soak_bench.run_soak(soak_config, Path(tmp), log=_stderr)
            except procs.BenchError as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 1
        soak["goals"] = soak_bench.goals(soak)
        soak_bench.print_result(soak)
        result["soak"] = soak

    if args.json:
        # The recording benchmark's figures at the top level (as before), the others under
        # `replay_bench`.
        args.json.write_text(json.dumps(result, indent=2))
        print(f"raw results: {args.json}", file=sys.stderr)
    if args.write_md:
        command = ".venv/bin/python bench/run.py --write-md" + flags
        if "record" in selected:
            write_markdown(markdown_section(result, command))
            print(f"updated {MD_PATH.name}: recording section", file=sys.stderr)
        if replay_result is not None and all(
            name in replay_result for name in ("replay", "differ", "store")
        ):
            write_markdown(
                replay_bench.markdown_section(replay_result, command),
                marks=(replay_bench.MARK_START, replay_bench.MARK_END),
                after=MARK_END,
            )
            print(f"updated {MD_PATH.name}: replay section", file=sys.stderr)
        elif replay_result is not None:
            print(
                "--write-md: the replay section needs replay, differ and store in one run; "
                "not written",
                file=sys.stderr,
            )
        if "large" in result:
            write_markdown(
                large_bench.markdown_section(result["large"], env, command),
                marks=(large_bench.MARK_START, large_bench.MARK_END),
                after=replay_bench.MARK_END,
            )
            print(f"updated {MD_PATH.name}: large-body section", file=sys.stderr)
        if "soak" in result:
            soak_command = (
                command
                + (f" --soak-exchanges {args.soak_exchanges}" if args.soak_exchanges else "")
                + (f" --soak-users {args.soak_users}" if args.soak_users else "")
            )
            write_markdown(
                soak_bench.markdown_section(result["soak"], env, soak_command),
                marks=(soak_bench.MARK_START, soak_bench.MARK_END),
                after=large_bench.MARK_END,
            )
            print(f"updated {MD_PATH.name}: soak section", file=sys.stderr)
    return 0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
