"""The soak simulation (issue 12): a long recording made through `parity record --rotate`,
replayed with `parity replay --pace asap`, and a short recording with idle gaps replayed
with `--pace x10`.

    .venv/bin/python bench/run.py --only soak [--quick] [--soak-exchanges N] [--write-md]

1. Recording: `parity record --rotate SIZE` in front of a journal-like backend
   (bench/soak_upstream.py), driven by simulated app users (log in, list vaults, load a
   vault, list entries, open and save entries, search, idle gaps, log out, again) for
   `exchanges` exchanges; the recorder's RSS is sampled every `sample_every` exchanges.
   Flat: within +/-30 MB of its value after the first `checkpoint` exchanges.
2. Replay: `parity replay` of that recording (all its parts, redaction as recorded: the
   recorder and the replay run in the same project directory, whose `.parity/` holds the
   secret store) against the same backend, `--pace asap --no-baseline`; exchanges/s for
   the whole command and for the window between the first and the last request the
   backend saw; its RSS sampled every half second against the requests answered so far.
   Flat: within +/-50 MB after the first `checkpoint`.
3. Pacing: a session directory written with the sessions writer (sessions that start
   apart, bursts of requests and idle gaps over `pace_span_s` seconds of recorded time),
   replayed with `--pace x10`: the backend's first-to-last window against span / 10.

Every process started here is stopped in a `finally`. The benchmark process keeps
counters and at most a few hundred samples (no per-request lists).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.client
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import procs
from bench.soak_upstream import PAGES, QUERIES, USERS, VAULTS, token_of

Log = Callable[[str], None]

MARK_START = "<!-- soak-bench:start -->"
MARK_END = "<!-- soak-bench:end -->"

RECORD_RSS_GOAL_MB = 30.0
REPLAY_RSS_GOAL_MB = 50.0
REPLAY_RATE_GOAL = 3000.0
PACE_GOAL = 0.05
REPLAY_RSS_CAP_MB = 4096.0
"""A replay past this RSS is stopped (the machine is shared): the goal is then missed."""

_RECORDED = re.compile(r"parity record: (\d+) exchanges \((\d+) errors\)")
_SUMMARY = re.compile(r"(\d+) exchanges: (\d+) matched, (\d+) mismatched, (\d+) errors")


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Config:
    exchanges: int = 1_000_000
    checkpoint: int = 100_000
    """RSS is judged against its value after this many exchanges."""
    sample_every: int = 10_000
    users: int = 8
    """Simulated app users at once (each its own connection through the recorder)."""
    rotate: str = "100MB"
    idle_s: tuple[float, float] = (0.05, 0.5)
    """Each user idles this long (uniform) after every burst of 20-80 requests."""
    concurrency: int = 16
    pace_span_s: float = 120.0
    pace_factor: int = 10
    record_max_s: float = 3600.0
    replay_max_s: float = 3600.0

    @classmethod
    def quick(cls) -> Config:
        return cls(
            exchanges=30_000,
            checkpoint=3_000,
            sample_every=600,
            rotate="20MB",
            pace_span_s=60.0,
            record_max_s=600.0,
            replay_max_s=600.0,
        )

    def scaled(self, exchanges: int) -> Config:
        """The same with `exchanges`: the checkpoint after the first 100,000 (a tenth
        below 200,000), ~50 samples."""
        self.exchanges = exchanges
        self.checkpoint = 100_000 if exchanges >= 200_000 else max(1, exchanges // 10)
        self.sample_every = max(100, exchanges // 50)
        return self


# -- the load: simulated app users ----------------------------------------------------------


class _Budget:
    """Exchanges left to send, counted ones done, errors, and the progress callback."""

    def __init__(
        self, total: int, every: int, progress: Callable[[int], None], deadline: float
    ) -> None:
        self.total = total
        self.sent = 0
        self.done = 0
        self.errors = 0
        self.first_error = ""
        self.every = every
        self.progress = progress
        self.deadline = deadline
        self.logins = 0

    def open(self) -> bool:
        """Whether more may be sent."""
        return self.sent < self.total and time.monotonic() <= self.deadline and self.errors <= 100

    def take(self) -> bool:
        if not self.open():
            return False
        self.sent += 1
        return True


async def _call(
    budget: _Budget,
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes] | None:
    """One request (None when the budget is spent); a status >= 400 counts as an error."""
    if not budget.take():
        return None
    try:
        async with session.request(
            method,
            url,
            data=orjson.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json", **(headers or {})}
            if body is not None
            else headers,
        ) as reply:
            data = await reply.read()
            status = reply.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        budget.errors += 1
        budget.first_error = budget.first_error or f"{method} {url}: {type(exc).__name__}: {exc}"
        await asyncio.sleep(0.05)
        return 0, b""
    if status >= 400:
        budget.errors += 1
        budget.first_error = budget.first_error or f"{method} {url}: status {status}"
    budget.done += 1
    if budget.done % budget.every == 0:
        budget.progress(budget.done)
    return status, data


async def _user(number: int, base: str, budget: _Budget, idle: tuple[float, float]) -> None:
    """One simulated user, session after session until the budget is spent: log in, list
    vaults, load one, then bursts of list / open / save / search / tab switches with idle
    gaps between them, log out."""
    rng = random.Random(number)
    name = "ben" if number % 4 == 3 else "ana"
    timeout = aiohttp.ClientTimeout(total=60)
    while budget.open():
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            creds = {"username": name, "password": USERS[name]}
            login = await _call(budget, session, "POST", base + "/api/login", body=creds)
            if login is None:
                return
            budget.logins += 1
            auth = {"Authorization": f"Bearer {token_of(name)}"}
            vault = VAULTS[name][rng.randrange(len(VAULTS[name]))]
            if await _call(budget, session, "GET", base + "/api/vaults", headers=auth) is None:
                return
            phrase = {"passphrase": f"{name}-{vault}"}
            url = f"{base}/api/vaults/{vault}"
            if (
                await _call(budget, session, "POST", url + "/load", body=phrase, headers=auth)
                is None
            ):
                return
            headers = {**auth, "X-Vault-Session": "vs-" + vault}
            length = rng.randint(200, 1500)
            done = 3
            while done < length:
                burst = rng.randint(20, 80)
                for _ in range(burst):
                    kind = rng.random()
                    entry = 1000 + rng.randrange(200)
                    if kind < 0.30:
                        page = 1 + rng.randrange(PAGES)
                        got = await _call(
                            budget, session, "GET", f"{url}/entries?page={page}", headers=headers
                        )
                    elif kind < 0.55:
                        got = await _call(
                            budget, session, "GET", f"{url}/entries/{entry}", headers=headers
                        )
                    elif kind < 0.70:
                        got = await _call(
                            budget,
                            session,
                            "POST",
                            f"{url}/entries/{entry}/save",
                            body={"version": rng.randrange(50)},
                            headers=headers,
                        )
                    elif kind < 0.90:
                        query = QUERIES[rng.randrange(len(QUERIES))]
                        got = await _call(
                            budget, session, "GET", f"{url}/search?{query}", headers=headers
                        )
                    else:  # a tab switch
                        got = await _call(
                            budget, session, "GET", base + "/api/vaults", headers=auth
                        )
                    if got is None:
                        return
                    done += 1
                await asyncio.sleep(rng.uniform(*idle))
            if await _call(budget, session, "POST", base + "/api/logout", headers=auth) is None:
                return


async def drive(base: str, config: Config, progress: Callable[[int], None]) -> dict[str, Any]:
    """`config.users` simulated users against `base` until `config.exchanges` are sent."""
    budget = _Budget(
        config.exchanges, config.sample_every, progress, time.monotonic() + config.record_max_s
    )
    began = time.perf_counter()
    await asyncio.gather(*(_user(k, base, budget, config.idle_s) for k in range(config.users)))
    elapsed = time.perf_counter() - began
    return {
        "sent": budget.sent,
        "done": budget.done,
        "errors": budget.errors,
        "first_error": budget.first_error,
        "logins": budget.logins,
        "elapsed_s": elapsed,
        "rps": budget.done / elapsed if elapsed else 0.0,
    }


# -- the backend ------------------------------------------------------------------------------


def backend_call(port: int, path: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        data: dict[str, Any] = orjson.loads(conn.getresponse().read())
        return data
    finally:
        conn.close()


# -- flatness ---------------------------------------------------------------------------------


def flatness(samples: list[tuple[int, float]], checkpoint: int) -> dict[str, Any]:
    """RSS samples (exchanges done, MB): the value at the first sample at or past
    `checkpoint`, and how far any later sample strays from it."""
    after = [(n, rss) for n, rss in samples if n >= checkpoint]
    if not after:
        return {"at_checkpoint_mb": None, "deviation_mb": None, "drift_mb": None}
    base = after[0][1]
    deviation = max((rss - base for _, rss in after), key=abs)
    return {
        "checkpoint": after[0][0],
        "at_checkpoint_mb": base,
        "deviation_mb": deviation,
        "drift_mb": after[-1][1] - base,
        "max_mb": max(rss for _, rss in samples),
        "end_mb": samples[-1][1],
    }


def _thin(samples: list[tuple[int, float]], keep: int = 60) -> list[tuple[int, float]]:
    step = max(1, len(samples) // keep)
    out = samples[::step]
    return out if out[-1:] == samples[-1:] else [*out, samples[-1]]


# -- 1. recording -----------------------------------------------------------------------------


def _record_argv(upstream: str, sessions: Path, rotate: str) -> list[str]:
    return [
        *procs.tool("parity"),
        "record",
        "--upstream",
        upstream,
        "--listen",
        "127.0.0.1:0",
        "--label",
        "soak-bench",
        "--sessions",
        str(sessions),
        "--rotate",
        rotate,
    ]


def run_record(upstream: str, workdir: Path, config: Config, log: Log) -> dict[str, Any]:
    sessions = workdir / "soak"
    proc = procs.spawn(
        "parity-record", _record_argv(upstream, sessions, config.rotate), workdir, cwd=workdir
    )
    samples: list[tuple[int, float]] = []
    began = time.monotonic()
    try:
        procs.wait_for_line(proc, timeout=60)
        start_rss = procs.rss_mb(proc.pid)
        if start_rss is not None:
            samples.append((0, start_rss))

        def progress(done: int) -> None:
            rss = procs.rss_mb(proc.pid)
            if rss is not None:
                samples.append((done, rss))
            if done % (config.sample_every * 5) == 0:
                rate = done / (time.monotonic() - began)
                log(f"  record: {done:>8} exchanges, {rate:5.0f}/s, recorder RSS {rss or 0:.1f} MB")

        load = asyncio.run(drive(f"http://127.0.0.1:{proc.port}", config, progress))
        end_rss = procs.rss_mb(proc.pid)
        if end_rss is not None and (not samples or samples[-1][0] != load["done"]):
            samples.append((load["done"], end_rss))
        cpu = procs.cpu_seconds(proc.pid)
    finally:
        code = procs.stop(proc, timeout=120)
    match = _RECORDED.search(proc.stdout.read_text(errors="replace"))
    parts = sorted(sessions.glob("*.parity"))
    result = {
        **load,
        "exit_code": code,
        "recorded": int(match.group(1)) if match else None,
        "recorder_errors": int(match.group(2)) if match else None,
        "parts": len(parts),
        "file_bytes": sum(p.stat().st_size for p in parts),
        "cpu_s": cpu,
        "rss_start_mb": samples[0][1] if samples else None,
        "flat": flatness(samples, config.checkpoint),
        "samples": _thin(samples),
    }
    if code != 0 or result["recorded"] is None:
        raise procs.BenchError(f"parity record exited {code}:\n{proc.output()}")
    if load["errors"]:
        log(f"  record: {load['errors']} errors, first: {load['first_error']}")
    return result


# -- 2. replay --------------------------------------------------------------------------------


def _replay_argv(
    sessions: Path, target: str, db: Path, rules: Path, concurrency: int, pace: str
) -> list[str]:
    return [
        *procs.tool("parity"),
        "replay",
        str(sessions),
        "--target",
        target,
        "--no-baseline",
        "--pace",
        pace,
        "--db",
        str(db),
        "--rules",
        str(rules),
        "--concurrency",
        str(concurrency),
        "--label",
        "soak-bench",
        "--quiet",
    ]


def run_paced_replay(
    name: str,
    sessions: Path,
    port: int,
    workdir: Path,
    pace: str,
    config: Config,
    log: Log,
    sample_s: float = 0.5,
) -> dict[str, Any]:
    """`parity replay` of `sessions` at `pace`, its RSS sampled every `sample_s` against
    the requests the backend has answered; stopped past REPLAY_RSS_CAP_MB or
    `config.replay_max_s`."""
    rules = workdir / "rules.toml"
    rules.write_text("")
    db = workdir / f"results-{name}.db"
    backend_call(port, "/__reset")
    argv = _replay_argv(sessions, f"http://127.0.0.1:{port}", db, rules, config.concurrency, pace)
    samples: list[tuple[int, float]] = []
    stopped = ""
    cpu0 = _cpu_children()
    began = time.perf_counter()
    proc = procs.spawn(name, argv, workdir, cwd=workdir)
    done = threading.Event()
    last_log = [time.monotonic()]

    def watch() -> None:
        nonlocal stopped
        while not done.wait(sample_s):
            rss = procs.rss_mb(proc.pid)
            try:
                answered = int(backend_call(port, "/__stats")["requests"])
            except (OSError, ValueError, KeyError):
                continue
            if rss is None:
                continue
            if len(samples) < 20_000:
                samples.append((answered, rss))
            if rss > REPLAY_RSS_CAP_MB:
                stopped = f"RSS {rss:.0f} MB past the cap of {REPLAY_RSS_CAP_MB:.0f} MB"
                proc.popen.kill()
                return
            if time.monotonic() - last_log[0] >= 15:
                last_log[0] = time.monotonic()
                rate = answered / (time.perf_counter() - began)
                log(f"  {name}: {answered:>8} exchanges, {rate:5.0f}/s, RSS {rss:.1f} MB")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        try:
            proc.popen.wait(timeout=config.replay_max_s)
        except Exception:
            stopped = stopped or f"not finished within {config.replay_max_s:.0f} s"
        wall = time.perf_counter() - began
    finally:
        done.set()
        watcher.join(timeout=5)
        code = procs.stop(proc, timeout=10)
    cpu = _cpu_children() - cpu0
    stats = backend_call(port, "/__stats")
    output = proc.output(4000)
    summary = _SUMMARY.search(output)
    counts = [int(g) for g in summary.groups()] if summary else None
    for path in workdir.glob(f"results-{name}.db*"):
        with contextlib.suppress(OSError):
            path.unlink()
    return {
        "pace": pace,
        "exit_code": code,
        "stopped": stopped,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_ms": cpu * 1000 / stats["requests"] if stats["requests"] else None,
        "requests": stats["requests"],
        "first": stats["first"],
        "last": stats["last"],
        "window_s": stats["window_s"],
        "counts": counts,
        "output_tail": output[-600:] if counts is None or stopped else "",
        "samples": samples,
    }


def _cpu_children() -> float:
    """User + system CPU of this process's reaped children (the replay, once it exits;
    the backend runs on)."""
    if sys.platform == "win32":
        return 0.0
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_replay(
    sessions: Path,
    port: int,
    workdir: Path,
    config: Config,
    expected: int,
    log: Log,
    name: str = "parity-replay",
) -> dict[str, Any]:
    run = run_paced_replay(name, sessions, port, workdir, "asap", config, log)
    samples = run.pop("samples")
    total = run["counts"][0] if run["counts"] else run["requests"]
    run.update(
        {
            "expected": expected,
            "rps": total / run["wall_s"] if run["wall_s"] else None,
            "window_rps": (run["requests"] - 1) / run["window_s"] if run["window_s"] else None,
            "rss_first_mb": samples[0][1] if samples else None,
            "flat": flatness(samples, config.checkpoint),
            "samples": _thin(samples),
            "phases": _phases(samples, expected),
        }
    )
    return run


def _phases(samples: list[tuple[int, float]], expected: int) -> dict[str, float | None]:
    """RSS before the first request is answered (reading the recording), at 10 %, 50 %
    and at the end of the exchanges."""

    def at(fraction: float) -> float | None:
        found = [rss for n, rss in samples if n >= fraction * expected]
        return found[0] if found else None

    before = [rss for n, rss in samples if n == 0]
    return {
        "before_first_mb": max(before) if before else None,
        "at_10pct_mb": at(0.1),
        "at_50pct_mb": at(0.5),
        "end_mb": samples[-1][1] if samples else None,
        "max_mb": max((rss for _, rss in samples), default=None),
    }


def split_by_client(recording: Path, out: Path) -> dict[str, Any]:
    """The recording's exchanges regrouped into one session per client connection (each
    simulated user's session, login to logout, is one connection), in recorded order,
    written with the sessions writer with the recording's header meta (its redaction
    note): the recording as the many sessions a replay runs side by side. At most one
    open writer per live connection."""
    from parity.sessions import SessionStore, group_sessions, open_session

    store = SessionStore(out)
    (session,) = group_sessions(sorted(recording.glob("*.parity")))
    writers: dict[Any, Any] = {}
    counts: dict[Any, int] = {}
    sessions = exchanges = 0
    began = time.perf_counter()
    with open_session(session) as reader:
        header = reader.header
        for exchange in reader:
            key = exchange.client
            writer = writers.get(key)
            if writer is None:
                writer = store.create(
                    label=f"{header.label}-{sessions}",
                    upstream=header.upstream,
                    recorder=dict(header.recorder),
                    meta=dict(header.meta),
                )
                writers[key] = writer
                counts[key] = 0
                sessions += 1
            writer.append(dataclasses.replace(exchange, seq=counts[key]))
            counts[key] += 1
            exchanges += 1
            if exchange.request.path == "/api/logout":
                writers.pop(key).close()
                del counts[key]
    for writer in writers.values():
        writer.close()
    return {
        "sessions": sessions,
        "exchanges": exchanges,
        "seconds": time.perf_counter() - began,
    }


# -- 3. pacing --------------------------------------------------------------------------------


def write_paced(directory: Path, port: int, span_s: float, seed: int = 5) -> dict[str, Any]:
    """Sessions with idle gaps over `span_s` seconds of recorded time, written with the
    sessions writer: three users starting 0, 4 and 9 s apart, each bursts of 5-20
    requests 50-200 ms apart with idle gaps of 3-12 s, the last request of the last one at
    exactly `span_s`. Returns the recorded span (first to last request start) and counts."""
    from parity.sessions import Exchange, Request, Response, SessionStore

    rng = random.Random(seed)
    t0 = time.time() - 2 * 3600
    store = SessionStore(directory)
    auth = f"Bearer {token_of('ana')}".encode()
    host = f"127.0.0.1:{port}".encode()
    upstream = f"http://127.0.0.1:{port}"
    total = 0
    starts: list[float] = []
    for user, offset in enumerate((0.0, 4.0, 9.0)):
        times: list[float] = []
        t = offset
        while True:
            for _ in range(rng.randint(5, 20)):
                times.append(t)
                t += rng.uniform(0.05, 0.2)
            t += rng.uniform(3.0, 12.0)
            if t > span_s - 1.0:
                break
        if user == 2:
            times.append(span_s)
        writer = store.create(label=f"pace-{user}", upstream=upstream)
        for seq, at in enumerate(times):
            stamp = t0 + at
            path = f"/api/vaults/v-ana-personal/entries/{1000 + seq % 200}"
            writer.append(
                Exchange(
                    seq=seq,
                    client=("127.0.0.1", 40_000 + user),
                    request=Request(
                        "GET",
                        "http",
                        "127.0.0.1",
                        port,
                        path,
                        "HTTP/1.1",
                        [
                            (b"Host", host),
                            (b"Authorization", auth),
                            (b"Accept", b"application/json"),
                        ],
                        b"",
                        stamp,
                        stamp,
                    ),
                    response=Response(
                        200,
                        "OK",
                        "HTTP/1.1",
                        [(b"content-type", b"application/json")],
                        b"{}",
                        stamp + 0.001,
                        stamp + 0.001,
                    ),
                )
            )
        writer.close()
        total += len(times)
        starts += times
    return {"exchanges": total, "span_s": max(starts) - min(starts), "sessions": 3}


def run_pace(port: int, workdir: Path, config: Config, log: Log) -> dict[str, Any]:
    directory = workdir / "paced"
    written = write_paced(directory, port, config.pace_span_s)
    pace = f"x{config.pace_factor}"
    run = run_paced_replay("parity-replay-paced", directory, port, workdir, pace, config, log)
    run.pop("samples")
    expected = written["span_s"] / config.pace_factor
    run.update(
        {
            **written,
            "factor": config.pace_factor,
            "expected_s": expected,
            "error": (run["window_s"] - expected) / expected if expected else None,
            "wall_error": (run["wall_s"] - expected) / expected if expected else None,
        }
    )
    return run


# -- the whole benchmark ----------------------------------------------------------------------


def run_soak(config: Config, workdir: Path, log: Log = _log) -> dict[str, Any]:
    upstream_proc = procs.spawn(
        "soak-upstream", [sys.executable, "-m", "bench.soak_upstream", "--port", "0"], workdir
    )
    began = time.monotonic()
    result: dict[str, Any] = {"config": {**asdict(config), "idle_s": list(config.idle_s)}}
    try:
        port = procs.wait_for_line(upstream_proc)
        upstream = f"http://127.0.0.1:{port}"
        log(
            f"soak: recording {config.exchanges:,} exchanges through parity record --rotate "
            f"{config.rotate} ({config.users} users)"
        )
        cpu0 = procs.cpu_seconds(upstream_proc.pid)
        result["record"] = run_record(upstream, workdir, config, log)
        cpu1 = procs.cpu_seconds(upstream_proc.pid)
        rec = result["record"]
        result["record"]["upstream_cpu_s"] = (
            cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        )
        log(
            f"soak: recorded {rec['recorded']:,} exchanges in {rec['elapsed_s']:.0f} s "
            f"({rec['rps']:.0f}/s), {rec['parts']} parts, {rec['file_bytes'] / 1e6:.0f} MB; "
            f"recorder RSS {rec['flat']['at_checkpoint_mb'] or 0:.1f} MB at "
            f"{config.checkpoint:,}, {rec['flat']['end_mb'] or 0:.1f} MB at the end"
        )
        log(f"soak: parity replay --pace asap of {rec['recorded']:,} exchanges")
        result["replay"] = run_replay(workdir / "soak", port, workdir, config, rec["recorded"], log)
        rep = result["replay"]
        log(
            f"soak: replayed {rep['requests']:,} in {rep['wall_s']:.1f} s "
            f"({_f(rep['rps'], '.0f')}/s whole, {_f(rep['window_rps'], '.0f')}/s window), "
            f"RSS max {_f(rep['phases']['max_mb'], '.0f')} MB"
        )
        split_dir = workdir / "soak-split"
        result["split"] = split_by_client(workdir / "soak", split_dir)
        # The soak recording is not needed any more: give the disk back.
        for path in (workdir / "soak").glob("*.parity"):
            path.unlink()
        split = result["split"]
        log(
            f"soak: the same {split['exchanges']:,} exchanges as {split['sessions']:,} sessions "
            f"(one per client connection), written in {split['seconds']:.0f} s; parity replay "
            "--pace asap"
        )
        result["replay_split"] = run_replay(
            split_dir, port, workdir, config, split["exchanges"], log, "parity-replay-split"
        )
        rep = result["replay_split"]
        log(
            f"soak: replayed {rep['requests']:,} in {rep['wall_s']:.1f} s "
            f"({_f(rep['rps'], '.0f')}/s whole, {_f(rep['window_rps'], '.0f')}/s window), "
            f"RSS max {_f(rep['phases']['max_mb'], '.0f')} MB"
        )
        for path in split_dir.glob("*.parity"):
            path.unlink()
        log(f"soak: --pace x{config.pace_factor} on {config.pace_span_s:g} s of recorded time")
        result["pace"] = run_pace(port, workdir, config, log)
        pace = result["pace"]
        log(
            f"soak: paced replay window {pace['window_s']:.2f} s for {pace['expected_s']:.2f} s "
            f"expected ({_f(pace['error'] * 100 if pace['error'] is not None else None, '+.1f')} %)"
        )
    finally:
        procs.stop(upstream_proc)
    result["elapsed_s"] = time.monotonic() - began
    return result


# -- goals and rendering ----------------------------------------------------------------------


def _f(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cfg = result["config"]
    rec, pace = result.get("record"), result.get("pace")
    if rec:
        flat = rec["flat"]
        dev = flat["deviation_mb"]
        out.append(
            {
                "goal": f"every exchange recorded ({rec['sent']:,} sent)",
                "measured": f"{rec['recorded']:,} recorded, {rec['errors']} errors",
                "met": rec["recorded"] == rec["sent"] and not rec["errors"],
            }
        )
        out.append(
            {
                "goal": f"recorder RSS flat (+/-{RECORD_RSS_GOAL_MB:.0f} MB after the first "
                f"{cfg['checkpoint']:,}) over {rec['done']:,} exchanges",
                "measured": f"{_f(dev, '+.1f')} MB (from {_f(flat['at_checkpoint_mb'], '.1f')} MB)",
                "met": None if dev is None else abs(dev) <= RECORD_RSS_GOAL_MB,
            }
        )
    for key, what in (("replay", "as recorded (1 session)"), ("replay_split", "split")):
        if result.get(key):
            if key == "replay_split":
                what = f"{result['split']['sessions']:,} sessions"
            out += _replay_goals(result[key], what, cfg["checkpoint"])
    if pace:
        err = pace["error"]
        out.append(
            {
                "goal": f"--pace x{pace['factor']}: span / {pace['factor']} +/-{PACE_GOAL:.0%} "
                f"({pace['span_s']:.1f} s recorded)",
                "measured": f"{pace['window_s']:.2f} s for {pace['expected_s']:.2f} s "
                f"({_f(err * 100 if err is not None else None, '+.1f')} %); whole command "
                f"{pace['wall_s']:.2f} s",
                "met": err is not None
                and abs(err) <= PACE_GOAL
                and pace["requests"] == pace["exchanges"],
            }
        )
    return out


def _replay_goals(rep: dict[str, Any], what: str, checkpoint: int) -> list[dict[str, Any]]:
    flat = rep["flat"]
    dev = flat["deviation_mb"]
    counts = rep["counts"]
    out = [
        {
            "goal": f"replay {what}: every exchange replayed and matched",
            "measured": (
                f"{counts[0]:,} exchanges: {counts[1]:,} matched, {counts[2]:,} mismatched, "
                f"{counts[3]:,} errors"
                if counts
                else f"no summary ({rep['stopped'] or 'exit ' + str(rep['exit_code'])})"
            ),
            "met": bool(counts) and counts[0] == rep["expected"] and counts[1] == counts[0],
        },
        {
            "goal": f"replay {what}: RSS flat (+/-{REPLAY_RSS_GOAL_MB:.0f} MB after the first "
            f"{checkpoint:,})",
            "measured": f"{_f(dev, '+.1f')} MB (from {_f(flat['at_checkpoint_mb'], '.1f')} MB)"
            + (f"; {rep['stopped']}" if rep["stopped"] else ""),
            "met": None if dev is None else abs(dev) <= REPLAY_RSS_GOAL_MB and not rep["stopped"],
        },
    ]
    for how, key in (("whole command", "rps"), ("window", "window_rps")):
        rate = rep[key]
        out.append(
            {
                "goal": f"replay {what} --pace asap >= {REPLAY_RATE_GOAL:,.0f} exchanges/s ({how})",
                "measured": f"{_f(rate, ',.0f')}/s",
                "met": rate is not None and rate >= REPLAY_RATE_GOAL and not rep["stopped"],
            }
        )
    return out


def _mark(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[met]


def _samples_line(samples: list[list[float]] | list[tuple[int, float]], keep: int = 11) -> str:
    step = max(1, len(samples) // (keep - 1))
    picked = list(samples[::step])
    if picked[-1:] != list(samples[-1:]):
        picked.append(samples[-1])
    return ", ".join(f"{int(n):,}: {rss:.0f}" for n, rss in picked)


def describe(result: dict[str, Any]) -> list[str]:
    """The figures as sentences (terminal and BENCHMARKS.md)."""
    rec, rep, pace = result["record"], result["replay"], result["pace"]
    split = result["split"]
    lines = [
        f"Recording: {rec['recorded']:,} exchanges in {rec['elapsed_s']:.0f} s "
        f"({rec['rps']:.0f}/s; {rec['logins']:,} logins), {rec['parts']} parts, "
        f"{rec['file_bytes'] / 1e6:,.0f} MB; the recorder's CPU "
        f"{_f(rec['cpu_s'] * 1000 / max(1, rec['done']) if rec['cpu_s'] else None, '.2f')} ms per "
        f"exchange. Recorder RSS (MB) by exchanges: {_samples_line(rec['samples'])}.",
        _replay_line("the recording as recorded (one session, replayed in order)", rep),
        f"The same exchanges as {split['sessions']:,} sessions, one per client connection "
        f"(written in {split['seconds']:.0f} s): " + _replay_line("", result["replay_split"]),
        f"Pacing: {pace['exchanges']} exchanges in {pace['sessions']} sessions over "
        f"{pace['span_s']:.1f} s of recorded time (bursts and idle gaps of 3-12 s), "
        f"`--pace x{pace['factor']}`: first to last request {pace['window_s']:.2f} s for "
        f"{pace['expected_s']:.2f} s expected; the whole command {pace['wall_s']:.2f} s.",
    ]
    return lines


def _replay_line(what: str, rep: dict[str, Any]) -> str:
    return (
        (f"Replay of {what}: " if what else "")
        + f"{rep['requests']:,} requests in {rep['wall_s']:.1f} s whole command, "
        f"{rep['window_s']:.1f} s between the first and the last request; "
        f"{_f(rep['rps'], ',.0f')}/s whole, {_f(rep['window_rps'], ',.0f')}/s window; "
        f"the replay's CPU {_f(rep.get('cpu_ms'), '.2f')} ms per exchange "
        f"(the rate one free core would allow: "
        f"{_f(1000 / rep['cpu_ms'] if rep.get('cpu_ms') else None, ',.0f')}/s). "
        "RSS (MB) by exchanges answered: "
        + (_samples_line(rep["samples"]) if rep["samples"] else "not sampled")
        + f"; before the first answer {_f(rep['phases']['before_first_mb'], '.0f')} MB, "
        f"max {_f(rep['phases']['max_mb'], '.0f')} MB"
        + (f". Stopped: {rep['stopped']}" if rep["stopped"] else "")
        + "."
    )


def print_result(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    for line in describe(result):
        console.print(line)
    table = Table(title="soak simulation: goals")
    for name in ("goal", "measured", "verdict"):
        table.add_column(name)
    for goal in result["goals"]:
        verdict = _mark(goal["met"])
        style = "green" if goal["met"] else ("red" if goal["met"] is False else "")
        table.add_row(
            goal["goal"], goal["measured"], f"[{style}]{verdict}[/]" if style else verdict
        )
    console.print(table)


def markdown_section(result: dict[str, Any], env: dict[str, Any], command: str) -> str:
    cfg = result["config"]
    load = env["loadavg_at_start"][0]
    shared = (
        f" The machine was shared with other work (load average {load:.2f} at the start, "
        "above 1): the rates are lower than on a quiet machine, the memory figures are not."
        if load > 1
        else ""
    )
    lines = [
        MARK_START,
        "## Soak simulation (bench/soak_bench.py)",
        "",
        f"Command: `{command}` (`make bench` prints the same without touching this file).",
        "",
        f"Machine: {env['nproc']} CPUs ({env['cpu_model']}), {env['os']}, Python "
        f"{env['python']}, mitmproxy {env['mitmproxy']}; commit `{env['commit']}`, "
        f"{env['date']}, load average at start {load:.2f}. The run took "
        f"{result['elapsed_s'] / 60:.1f} minutes.{shared}",
        "",
        "Method: `parity record --rotate "
        f"{cfg['rotate']}` in reverse mode in front of bench/soak_upstream.py, a plain-asyncio "
        "backend with the journal's soak routes (login, vaults, vault load, entry list pages, "
        "entries, save, search, logout) answered from precomputed bodies: the journal example "
        "(aiohttp) costs ~3x the CPU per request, taken on two cores from the recorder being "
        f"measured. {cfg['users']} simulated users, each on its own connection, session after "
        "session: log in, list vaults, load one, then bursts of 20-80 requests (entry list "
        "30 %, open an entry 25 %, save 15 %, search 20 %, vault list 10 %) with an idle gap "
        f"of {cfg['idle_s'][0]:g}-{cfg['idle_s'][1]:g} s after each, 200-1,500 requests a "
        f"session, log out. The recorder's RSS is read from /proc every {cfg['sample_every']:,} "
        f"exchanges; flat means within +/-{RECORD_RSS_GOAL_MB:.0f} MB of its value after the "
        f"first {cfg['checkpoint']:,}. Then `parity replay SOAKDIR --target URL --no-baseline "
        f"--pace asap --concurrency {cfg['concurrency']}` of every part (in the recorder's "
        "project directory: redaction as recorded, the secrets from its store) against the "
        "same backend; its RSS every 0.5 s against the requests the backend has answered "
        f"(flat: +/-{REPLAY_RSS_GOAL_MB:.0f} MB after the first {cfg['checkpoint']:,}). One "
        "`parity record` run is one session (its parts are one session), replayed strictly "
        "in order: that replay runs on one lane whatever `--concurrency` says. The replay "
        "goal is for many sessions (issue 12: 10^6 exchanges in 1,000 sessions), so the "
        "same exchanges are also regrouped into one session per client connection (each "
        "simulated user's session, login to logout, is one connection), written with the "
        "sessions writer with the recording's header, and replayed the same way. Last, "
        "`--pace x10` on three sessions written with the sessions writer (bursts of requests "
        f"and idle gaps of 3-12 s, {cfg['pace_span_s']:g} s of recorded time): the time "
        "between the first and the last request the backend received against span / 10.",
        "",
    ]
    lines += [line + "\n" for line in describe(result)]
    lines += ["| goal | measured | verdict |", "|---|---|---|"]
    lines += [f"| {g['goal']} | {g['measured']} | {_mark(g['met'])} |" for g in result["goals"]]
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"
