"""The recording benchmark: plain mitmdump vs `mitmdump -w` vs `parity record` vs
`parity record --encrypt`.

Same upstream, same load generator, same machine, same run. Each round has two passes,
one per recorder (`PASSES`): (a), (b) and that recorder run side by side and the load
alternates between them (and the upstream itself) in short slices, so that what else the
machine does falls on all of them alike; each recorder is compared with the (a) of its
own pass; per variant the median over rounds is reported.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs
from bench.load import LoadResult, percentile, run_load
from bench.upstream import SIZES

VARIANTS = {
    "a": "mitmdump (no addon)",
    "b": "mitmdump -w FILE",
    "c": "parity record",
    "d": "parity record --encrypt",
}
RECORDERS = ("c", "d")
"""The variants that are `parity record`: each writes its own session directory."""
PASSES = (("a", "b", "c"), ("a", "b", "d"))
"""The proxies of each pass of a round. The two recorders are not measured side by side:
with (b), (c) and (d) all writing 1 MiB per request, a round wrote ~6 GB, past the
kernel's dirty-page limit on a small VM (20 % of RAM), and the throttling charged every
writer ~2.5 ms of CPU per request: each recorder measured the others' writes. A pass
writes what the harness did before `--encrypt` existed ((b) and one recorder)."""
GOALS = {"2k": 0.9, "1m": 0.8}
RSS_GOAL_MB = 30.0

_EXCHANGES = re.compile(r"parity record: (\d+) exchanges \((\d+) errors\)")


@dataclass
class Config:
    rounds: int = 3
    """Each round starts the proxies of each pass afresh (new files) and ends by stopping them."""
    concurrency: int = 8
    warmup_s: float = 1.5
    slice_s: float = 2.0
    """Throughput is measured in slices of this length, alternating between the targets..."""
    slices: int = 4
    """...this many per target, size and round (so 8 s per target, size and round)."""
    latency_slices: int = 3
    latency_s: float = 3.0
    """Upper bound on one-connection latency measuring per target, size and round."""
    latency_requests: dict[str, int] = field(default_factory=lambda: {"2k": 600, "1m": 120})
    memory_requests: int = 100_000
    memory_checkpoint: int = 10_000
    memory_max_s: float = 420.0

    @classmethod
    def quick(cls) -> Config:
        return cls(
            rounds=1,
            warmup_s=0.5,
            slice_s=1.0,
            slices=2,
            latency_slices=1,
            latency_s=1.0,
            latency_requests={"2k": 100, "1m": 20},
            memory_requests=3_000,
            memory_checkpoint=1_000,
            memory_max_s=20.0,
        )


Log = Callable[[str], None]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- proxies ----------------------------------------------------------------------------


def start_variant(variant: str, upstream: str, workdir: Path) -> procs.Proc:
    """Start proxy variant a, b, c or d in reverse mode in front of `upstream`; wait until
    it listens."""
    if variant in RECORDERS:
        sessions = _sessions(workdir, variant)
        argv = [
            *procs.tool("parity"),
            "record",
            "--upstream",
            upstream,
            "--listen",
            "127.0.0.1:0",
            "--label",
            "bench",
            "--sessions",
            str(sessions),
        ]
        if variant == "d":  # a key file (HKDF, no scrypt): what CI would use
            key = workdir / "bench.key"
            if not key.exists():
                key.write_bytes(os.urandom(32))
            argv += ["--encrypt", "--key-file", str(key)]
        sessions.mkdir(exist_ok=True)
        proc = procs.spawn(f"parity-record-{variant}", argv, workdir)
        try:
            procs.wait_for_line(proc)
        except BaseException:
            procs.stop(proc)
            raise
        return proc
    last: Exception | None = None
    for _ in range(3):  # a free port can be taken between our probe and mitmdump's bind
        port = procs.free_port()
        argv = [
            *procs.tool("mitmdump"),
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
        proc = procs.spawn(f"mitmdump-{variant}", argv, workdir)
        try:
            procs.wait_for_port(proc, port)
            return proc
        except procs.BenchError as exc:
            last = exc
            procs.stop(proc)
        except BaseException:
            procs.stop(proc)
            raise
    raise procs.BenchError(f"mitmdump ({variant}) would not start: {last}")


def _sessions(workdir: Path, variant: str) -> Path:
    return workdir / ("sessions" if variant == "c" else f"sessions-{variant}")


def _clean(workdir: Path) -> None:
    recorded = [p for v in RECORDERS for p in _sessions(workdir, v).glob("*")]
    for path in [workdir / "flows.mitm", *recorded]:
        path.unlink(missing_ok=True)


# -- measuring ----------------------------------------------------------------------------


@dataclass
class _Pool:
    """What one target accumulated over its slices (one size, one round)."""

    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    cpu_s: float | None = 0.0
    sent: int = 0
    ok: int = 0
    first_error: str = ""
    slice_rps: list[float] = field(default_factory=list)
    load_ms: list[float] = field(default_factory=list)
    one_ms: list[float] = field(default_factory=list)

    def add(self, result: LoadResult) -> None:
        self.sent += result.requests + result.errors
        self.ok += result.requests
        self.errors += result.errors
        self.first_error = self.first_error or result.first_error


def _latency(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "requests": len(ordered),
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1] if ordered else 0.0,
    }


async def measure_interleaved(
    targets: dict[str, tuple[str, int]], size: str, config: Config
) -> dict[str, dict[str, Any]]:
    """Measure every target (name -> (base URL, pid whose CPU time to take)) on
    /json/`size`, alternating short slices between them so that whatever else the machine
    is doing falls on all of them alike.

    Per target: a warm-up, `slices` throughput slices at `concurrency` connections
    (requests/s, latency @8, CPU per request of the pid) and `latency_slices` slices on one
    connection (latency).
    """
    expect = SIZES[size]
    names = list(targets)
    pools = {name: _Pool() for name in names}

    def rotated(k: int) -> list[str]:
        return names[k % len(names) :] + names[: k % len(names)]

    for name in names:
        url = f"{targets[name][0]}/json/{size}"
        warm = await run_load(
            url, concurrency=config.concurrency, duration=config.warmup_s, expect_length=expect
        )
        pools[name].add(warm)
    for k in range(config.slices):
        for name in rotated(k):
            base, pid = targets[name]
            pool = pools[name]
            cpu0 = procs.cpu_seconds(pid)
            result = await run_load(
                f"{base}/json/{size}",
                concurrency=config.concurrency,
                duration=config.slice_s,
                expect_length=expect,
            )
            cpu1 = procs.cpu_seconds(pid)
            pool.add(result)
            pool.requests += result.requests
            pool.elapsed_s += result.elapsed_s
            pool.slice_rps.append(result.rps)
            pool.load_ms += result.latencies_ms
            if cpu0 is None or cpu1 is None or pool.cpu_s is None:
                pool.cpu_s = None
            else:
                pool.cpu_s += cpu1 - cpu0
    per_slice = max(1, config.latency_requests[size] // config.latency_slices)
    for k in range(config.latency_slices):
        for name in rotated(k):
            result = await run_load(
                f"{targets[name][0]}/json/{size}",
                concurrency=1,
                duration=config.latency_s / config.latency_slices,
                max_requests=per_slice,
                expect_length=expect,
            )
            pools[name].add(result)
            pools[name].one_ms += result.latencies_ms
    out: dict[str, dict[str, Any]] = {}
    for name, pool in pools.items():
        out[name] = {
            "rps": pool.requests / pool.elapsed_s if pool.elapsed_s else 0.0,
            "slice_rps": pool.slice_rps,
            "load": _latency(pool.load_ms),
            "latency": _latency(pool.one_ms),
            "cpu_ms_per_request": pool.cpu_s * 1000 / pool.requests
            if pool.cpu_s is not None and pool.requests
            else None,
            "sent": pool.sent,
            "ok": pool.ok,
            "errors": pool.errors,
            "first_error": pool.first_error,
        }
    return out


def peer(variant: str, name: str) -> str:
    """The key of `name` ("a", "b" or "direct") measured in `variant`'s pass of a round."""
    later = {variants[-1] for variants in PASSES[1:]}
    return f"{name}@{variant}" if variant in later else name


async def run_passes(
    number: int, upstream_proc: procs.Proc, upstream: str, workdir: Path, config: Config
) -> dict[str, Any]:
    """Round `number`: one `run_round` per pass, merged; (a), (b) and direct of a later
    pass are kept under `peer` keys (`a@d`)."""
    entry: dict[str, Any] = {"round": number + 1, "order": []}
    for variants in PASSES:
        part = await run_round(number, upstream_proc, upstream, workdir, config, variants)
        recorder = variants[-1]
        for name in ("direct", *part["order"]):
            key = name if name == recorder else peer(recorder, name)
            entry[key] = part[name]
            entry["order"].append(key)
    return entry


async def run_round(
    number: int,
    upstream_proc: procs.Proc,
    upstream: str,
    workdir: Path,
    config: Config,
    variants: tuple[str, ...] = tuple(VARIANTS),
) -> dict[str, Any]:
    """Start `variants` side by side, measure them (and the upstream directly) on each
    size, stop them and check what they wrote."""
    order = list(variants)
    order = order[number % len(order) :] + order[: number % len(order)]
    running: dict[str, procs.Proc] = {}
    entry: dict[str, Any] = {"round": number + 1, "order": order}
    try:
        for variant in order:
            running[variant] = start_variant(variant, upstream, workdir)
        targets = {"direct": (upstream, upstream_proc.pid)}
        for variant in order:
            targets[variant] = (f"http://127.0.0.1:{running[variant].port}", running[variant].pid)
        for name in targets:
            entry[name] = {}
        for size in SIZES:
            measured = await measure_interleaved(targets, size, config)
            for name, figures in measured.items():
                entry[name][size] = figures
    finally:
        for variant, proc in running.items():
            code = procs.stop(proc, timeout=60)
            entry.setdefault(variant, {})["exit_code"] = code
        files = {
            "b": [workdir / "flows.mitm"],
            **{v: list(_sessions(workdir, v).glob("*.parity")) for v in RECORDERS},
        }
        files = {v: paths for v, paths in files.items() if v in running}
        for variant, paths in files.items():
            entry.setdefault(variant, {})["file_bytes"] = sum(
                p.stat().st_size for p in paths if p.exists()
            )
        _clean(workdir)
    for variant, proc in running.items():
        if entry[variant]["exit_code"] != 0:
            raise procs.BenchError(
                f"{proc.name} exited with {entry[variant]['exit_code']}:\n{proc.output()}"
            )
    for variant in (v for v in RECORDERS if v in running):
        c = running[variant]
        match = _EXCHANGES.search(c.stdout.read_text(errors="replace"))
        entry[variant]["recorded"] = int(match.group(1)) if match else None
        ok = sum(entry[variant][size]["ok"] for size in SIZES)
        if entry[variant]["recorded"] is None or entry[variant]["recorded"] < ok:
            raise procs.BenchError(
                f"{c.name} reported {entry[variant]['recorded']} exchanges for {ok} "
                f"responses:\n{c.output()}"
            )
    return entry


async def run_memory(upstream: str, workdir: Path, config: Config, log: Log) -> dict[str, Any]:
    """`parity record` for `memory_requests` 2 KB exchanges, sampling its RSS every checkpoint."""
    proc = start_variant("c", upstream, workdir)
    samples: list[tuple[int, float]] = []
    start_rss = procs.rss_mb(proc.pid)
    if start_rss is None:
        procs.stop(proc)
        _clean(workdir)
        return {"skipped": "no /proc on this OS: RSS not sampled"}

    def sample(done: int) -> None:
        rss = procs.rss_mb(proc.pid)
        if rss is not None:
            samples.append((done, rss))
        if done % (config.memory_checkpoint * 2) == 0:
            log(f"  memory: {done:>7} exchanges, RSS {rss:.1f} MB")

    try:
        load = await run_load(
            f"http://127.0.0.1:{proc.port}/json/2k",
            concurrency=config.concurrency,
            duration=config.memory_max_s,
            max_requests=config.memory_requests,
            expect_length=SIZES["2k"],
            progress=sample,
            progress_every=config.memory_checkpoint,
        )
        end_rss = procs.rss_mb(proc.pid)
    finally:
        exit_code = procs.stop(proc, timeout=60)
        files = list((workdir / "sessions").glob("*.parity"))
        file_bytes = sum(p.stat().st_size for p in files)
        _clean(workdir)
    match = _EXCHANGES.search(proc.stdout.read_text(errors="replace"))
    at_first = samples[0][1] if samples else None
    return {
        "requests": load.requests,
        "errors": load.errors,
        "first_error": load.first_error,
        "rps": load.rps,
        "elapsed_s": load.elapsed_s,
        "recorded": int(match.group(1)) if match else None,
        "exit_code": exit_code,
        "file_bytes": file_bytes,
        "rss_start_mb": start_rss,
        "rss_first_checkpoint_mb": at_first,
        "first_checkpoint": samples[0][0] if samples else None,
        "rss_end_mb": end_rss,
        "rss_max_mb": max([s[1] for s in samples] + [end_rss or 0.0]),
        "rss_delta_mb": (end_rss - at_first)
        if (end_rss is not None and at_first is not None)
        else None,
        "samples": samples,
    }


# -- the whole benchmark ------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


async def run_benchmark(
    config: Config, workdir: Path, log: Log = _log, memory: bool = True
) -> dict[str, Any]:
    upstream_proc = procs.spawn(
        "upstream", [sys.executable, "-m", "bench.upstream", "--port", "0"], workdir
    )
    rounds: list[dict[str, Any]] = []
    mem: dict[str, Any] | None = None
    began = time.monotonic()
    try:
        port = procs.wait_for_line(upstream_proc)
        upstream = f"http://127.0.0.1:{port}"
        for number in range(config.rounds):
            entry = await run_passes(number, upstream_proc, upstream, workdir, config)
            for name in entry["order"]:
                log(
                    f"round {number + 1}/{config.rounds}: "
                    + (f"({name}) {VARIANTS[name]:<20}" if name in VARIANTS else f"{name:<24}")
                    + ", ".join(f"{size} {entry[name][size]['rps']:6.0f} req/s" for size in SIZES)
                )
            rounds.append(entry)
        if memory:
            log(f"memory: parity record, {config.memory_requests} x 2 KB exchanges")
            mem = await run_memory(upstream, workdir, config, log)
    finally:
        procs.stop(upstream_proc)
    return {
        "config": config.__dict__,
        "rounds": rounds,
        "summary": summarize(rounds),
        "memory": mem,
        "elapsed_s": time.monotonic() - began,
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per size and variant: medians over rounds; added latency is taken per round
    (proxied minus direct in the same round), then the median."""
    summary: dict[str, Any] = {}
    for size in SIZES:
        per: dict[str, Any] = {}
        for variant in ("direct", *VARIANTS):
            rows = [r[variant][size] for r in rounds]
            direct = [r[peer(variant, "direct")][size] for r in rounds]
            per[variant] = {
                "rps": _median([row["rps"] for row in rows]),
                "rps_rounds": [row["rps"] for row in rows],
                "cpu_ms_per_request": _median([row["cpu_ms_per_request"] for row in rows]),
                "p50_ms": _median([row["latency"]["p50_ms"] for row in rows]),
                "p99_ms": _median([row["latency"]["p99_ms"] for row in rows]),
                "load_p50_ms": _median([row["load"]["p50_ms"] for row in rows]),
                "load_p99_ms": _median([row["load"]["p99_ms"] for row in rows]),
                "errors": sum(row["errors"] for row in rows),
            }
            if variant != "direct":
                per[variant]["added_p50_ms"] = _median(
                    [
                        row["latency"]["p50_ms"] - d["latency"]["p50_ms"]
                        for row, d in zip(rows, direct, strict=True)
                    ]
                )
                per[variant]["added_p99_ms"] = _median(
                    [
                        row["latency"]["p99_ms"] - d["latency"]["p99_ms"]
                        for row, d in zip(rows, direct, strict=True)
                    ]
                )
                per[variant]["load_added_p50_ms"] = _median(
                    [
                        row["load"]["p50_ms"] - d["load"]["p50_ms"]
                        for row, d in zip(rows, direct, strict=True)
                    ]
                )
                per[variant]["load_added_p99_ms"] = _median(
                    [
                        row["load"]["p99_ms"] - d["load"]["p99_ms"]
                        for row, d in zip(rows, direct, strict=True)
                    ]
                )
        for variant in VARIANTS:
            a = peer(variant, "a")
            base = _median([r[a][size]["rps"] for r in rounds])
            base_cpu = _median([r[a][size]["cpu_ms_per_request"] for r in rounds])
            rps = per[variant]["rps"]
            per[variant]["vs_a"] = rps / base if rps and base else None
            cpu = per[variant]["cpu_ms_per_request"]
            # (a)'s CPU per request over the variant's: the throughput ratio the variant
            # would reach if the proxy's own CPU were the only limit.
            per[variant]["cpu_vs_a"] = base_cpu / cpu if cpu and base_cpu else None
            per[variant]["vs_a_rounds"] = [
                r[variant][size]["rps"] / r[a][size]["rps"] if r[a][size]["rps"] else None
                for r in rounds
            ]
        summary[size] = per
    return summary


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, each with the measured figure and whether it is met."""
    out: list[dict[str, Any]] = []
    summary = result["summary"]
    for variant in RECORDERS:
        for size, floor in GOALS.items():
            ratio = summary[size][variant]["vs_a"]
            out.append(
                {
                    "goal": f"({variant}) >= {floor:.1f} x (a) at {size}",
                    "measured": f"{ratio:.2f} x" if ratio is not None else "n/a",
                    "met": ratio is not None and ratio >= floor,
                }
            )
    for size in GOALS:
        c, b = summary[size]["c"]["rps"], summary[size]["b"]["rps"]
        out.append(
            {
                "goal": f"(c) ahead of (b) at {size}",
                "measured": f"{c / b:.2f} x (b)" if c and b else "n/a",
                "met": bool(c and b and c > b),
            }
        )
    mem = result.get("memory")
    if mem and mem.get("rss_delta_mb") is not None:
        out.append(
            {
                "goal": f"recorder RSS flat (+/-{RSS_GOAL_MB:.0f} MB) over {mem['requests']} exchanges",
                "measured": f"{mem['rss_delta_mb']:+.1f} MB after the first {mem['first_checkpoint']}",
                "met": abs(mem["rss_delta_mb"]) <= RSS_GOAL_MB,
            }
        )
    elif mem:
        out.append(
            {"goal": "recorder RSS flat", "measured": mem.get("skipped", "n/a"), "met": None}
        )
    return out
