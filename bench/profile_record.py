"""Profile a proxy variant under load with cProfile, to see where its time goes.

    .venv/bin/python bench/profile_record.py --variant c --size 1m --requests 2000
    .venv/bin/python bench/profile_record.py --variant a --size 1m --requests 2000

Runs the upstream, the proxy under `python -m cProfile -o OUT`, a fixed number of
requests at 8 connections, then SIGTERM; prints the top functions and keeps OUT
(default /tmp/parity-bench-VARIANT-SIZE.prof) for `python -m pstats` or snakeviz.
cProfile slows Python code down (C calls less), so read proportions, not absolute times.
`--clock cpu` profiles the proxy's CPU time (thread_time) instead of wall time, so that
time the proxy spends preempted on a busy machine is not charged to whatever it was doing.
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/profile_record.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs
from bench.load import run_load
from bench.upstream import SIZES


def _child(clock: str, out: str, program: str, argv: list[str]) -> None:
    """Run mitmdump or parity in this process under cProfile (used via `--child`)."""
    import cProfile
    import time

    timer = time.thread_time if clock == "cpu" else time.perf_counter
    profiler = cProfile.Profile(timer)
    sys.argv = [program, *argv]
    from mitmproxy.tools.main import mitmdump

    from parity.cli import main as parity

    profiler.enable()
    try:
        if program == "parity":
            parity()
        else:
            mitmdump()
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(out)


def _argv(
    variant: str, upstream: str, workdir: Path, out: Path, port: int, clock: str
) -> list[str]:
    if clock == "cpu":
        program = "parity" if variant == "c" else "mitmdump"
        prof = [sys.executable, str(Path(__file__).resolve()), "--child", clock, str(out), program]
    else:
        prof = [sys.executable, "-m", "cProfile", "-o", str(out)]
    if variant == "c":
        (workdir / "sessions").mkdir(exist_ok=True)
        return [
            *prof,
            *(["-m", "parity.cli"] if clock == "wall" else []),
            "record",
            "--upstream",
            upstream,
            "--listen",
            "127.0.0.1:0",
            "--sessions",
            str(workdir / "sessions"),
        ]
    argv = [
        *prof,
        *(procs.tool("mitmdump") if clock == "wall" else []),
        "-q",
        "--mode",
        f"reverse:{upstream}",
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
    ]
    if variant == "b":
        argv += ["-w", str(workdir / "flows.mitm")]
    return argv


async def profile(
    variant: str, size: str, requests: int, out: Path, workdir: Path, clock: str
) -> None:
    upstream_proc = procs.spawn(
        "upstream", [sys.executable, "-m", "bench.upstream", "--port", "0"], workdir
    )
    proxy: procs.Proc | None = None
    try:
        upstream = f"http://127.0.0.1:{procs.wait_for_line(upstream_proc)}"
        port = procs.free_port()
        proxy = procs.spawn(
            f"proxy-{variant}", _argv(variant, upstream, workdir, out, port, clock), workdir
        )
        if variant == "c":
            port = procs.wait_for_line(proxy, timeout=60)
        else:
            procs.wait_for_port(proxy, port, timeout=60)
        cpu0 = procs.cpu_seconds(proxy.pid)
        result = await run_load(
            f"http://127.0.0.1:{port}/json/{size}",
            concurrency=8,
            duration=300,
            max_requests=requests,
            expect_length=SIZES[size],
        )
        cpu1 = procs.cpu_seconds(proxy.pid)
        cpu = (
            f", {(cpu1 - cpu0) * 1000 / result.requests:.2f} ms CPU/request"
            if cpu0 and cpu1
            else ""
        )
        print(
            f"{variant} {size}: {result.requests} requests, {result.errors} errors, "
            f"{result.rps:.0f} req/s under cProfile{cpu}",
            file=sys.stderr,
        )
    finally:
        if proxy is not None:
            procs.stop(proxy, timeout=120)
        procs.stop(upstream_proc)


def main() -> int:
    if len(sys.argv) > 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
        return 0
    parser = argparse.ArgumentParser(description="cProfile one proxy variant under load.")
    parser.add_argument("--variant", choices=["a", "b", "c"], default="c")
    parser.add_argument("--size", choices=list(SIZES), default="1m")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--clock", choices=["wall", "cpu"], default="wall", help="what cProfile measures"
    )
    args = parser.parse_args()
    out = (
        args.out
        or Path(tempfile.gettempdir())
        / f"parity-bench-{args.variant}-{args.size}-{args.clock}.prof"
    )
    requests = max(10, min(args.requests, 200_000))
    with tempfile.TemporaryDirectory(prefix="parity-profile-") as tmp:
        try:
            asyncio.run(profile(args.variant, args.size, requests, out, Path(tmp), args.clock))
        except procs.BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
    if not out.exists():
        print(f"bench: no profile written to {out}", file=sys.stderr)
        return 1
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(f"profile: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
