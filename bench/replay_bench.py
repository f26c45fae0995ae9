"""The replay benchmark: `parity replay` (replay, diff and store every exchange) against
mitmproxy's own client replay (`mitmdump -C FLOWFILE`, which diffs nothing), on the same
recorded 2 KB JSON exchanges from the same local upstream, in one run; plus the differ's
figures (bench/differ_bench.py) and the results store's (triage.bench_store).

    .venv/bin/python bench/run.py --only replay,differ,store     # the benchmark (see run.py)
    .venv/bin/python -m bench.replay_bench profile [--per-session 625] [--clock cpu|wall]
    .venv/bin/python -m bench.replay_bench serve [--port 0]      # the counting upstream alone

The workload is generated once per run: 16 session files of N exchanges each
(`GET /json/2k?n=K` with a desktop app's request headers), the recorded responses being
exactly what the upstream answers, so that the replay matches (a passing CI run); a
copy records 10 % of the responses with three fields changed (the mismatch path). The same
exchanges are written as mitmproxy flows for `mitmdump -C`.

The upstream counts the requests it answers and when the first and the last arrived:
every run is checked to have sent all of them, and `window` rates (requests over the
time between the first and the last one, as the upstream saw them) leave out process
start-up and shut-down, where `wall` rates include them.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):  # run as `python bench/replay_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs
from bench.upstream import _HTTP, SIZES, _response, journal_json

Log = Callable[[str], None]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- the counting upstream ----------------------------------------------------------------


class _CountingRoutes(dict[bytes, bytes]):
    """bench/upstream.py's routes, looked up without the query string (so that recorded
    paths may vary: `/json/2k?n=17`), counting what is answered. `/__stats` and
    `/__reset` are the benchmark's own and are not counted."""

    def __init__(self, routes: dict[bytes, bytes]) -> None:
        super().__init__(routes)
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.found = 0
        self.first = 0.0
        self.last = 0.0

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "found": self.found,
            "window_s": self.last - self.first if self.requests > 1 else 0.0,
        }

    def get(self, key: bytes, default: Any = None) -> Any:
        path = key.split(b"?", 1)[0]
        if path == b"/__stats":
            return _response(orjson.dumps(self.stats()))
        if path == b"/__reset":
            self.reset()
            return _response(b"{}")
        now = time.perf_counter()
        if not self.requests:
            self.first = now
        self.requests += 1
        self.last = now
        answer = super().get(path)
        if answer is None:
            return default
        self.found += 1
        return answer


async def serve(host: str, port: int) -> None:
    routes = _CountingRoutes(
        {f"/json/{name}".encode(): _response(journal_json(size)) for name, size in SIZES.items()}
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _HTTP(routes), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()
    print(f"bench upstream: listening on http://{bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def upstream_call(port: int, path: str) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """One GET to the upstream: status, reason, headers in order, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.reason, response.getheaders(), response.read()
    finally:
        conn.close()


def upstream_stats(port: int) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(upstream_call(port, "/__stats")[3])
    return data


def upstream_reset(port: int) -> None:
    upstream_call(port, "/__reset")


# -- the workload ---------------------------------------------------------------------------

USER_AGENT = b"JournalDesktop/4.2.1 (Windows NT 10.0; Win64; x64) Electron/31.2.0"


@dataclass
class Answer:
    """What the upstream really answers to `GET /json/2k`, recorded as is."""

    status: int
    reason: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def fetch_answer(port: int) -> Answer:
    status, reason, headers, body = upstream_call(port, "/json/2k?n=0")
    if status != 200 or len(body) != SIZES["2k"]:
        raise procs.BenchError(f"upstream answered {status} with {len(body)} bytes to /json/2k")
    return Answer(
        status, reason, [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers], body
    )


def changed_answer(answer: Answer) -> Answer:
    """The same answer with three fields changed (what a 10 % mismatching recording holds)."""
    doc = orjson.loads(answer.body)
    doc["count"] += 1
    doc["entries"][0]["title"] = "Changed title"
    doc["entries"][-1]["mood"] = 6
    body = orjson.dumps(doc)
    headers = [
        (k, str(len(body)).encode() if k.lower() == b"content-length" else v)
        for k, v in answer.headers
    ]
    return Answer(answer.status, answer.reason, headers, body)


def request_headers(port: int, session: int, request_id: bytes) -> list[tuple[bytes, bytes]]:
    """A desktop app's request headers: one bearer token per session, one id per request."""
    return [
        (b"Host", f"127.0.0.1:{port}".encode()),
        (b"User-Agent", USER_AGENT),
        (b"Accept", b"application/json"),
        (b"Accept-Encoding", b"gzip, deflate, br"),
        (b"Accept-Language", b"en-US,en;q=0.9"),
        (b"Authorization", f"Bearer pilot-{session:02d}-{uuid.UUID(int=session).hex}".encode()),
        (b"X-Request-Id", request_id),
        (b"Connection", b"keep-alive"),
    ]


@dataclass
class Workload:
    """Where one run's recorded exchanges are, as parity sessions and as mitmproxy flows."""

    sessions: int
    per_session: int
    match_dir: Path
    """Session files whose recorded responses are what the upstream answers."""
    mismatch_dir: Path | None
    """The same, with every `mismatch_every`-th response recorded with three fields changed."""
    flows: list[Path]
    """One mitmproxy flow file per session."""
    all_flows: Path
    """Every flow in one file, session after session."""
    empty_dir: Path
    """One session without exchanges, and..."""
    empty_flows: Path
    """...an empty flow file: what each tool costs to start and stop."""

    @property
    def exchanges(self) -> int:
        return self.sessions * self.per_session


_MARK_PATH = "QQQQQQ"
_MARK_IDS = {name: name[0].upper() * 36 for name in ("flow", "client", "server", "request")}


def _flow_template(
    port: int, headers: list[tuple[bytes, bytes]], answer: Answer, t: float
) -> bytes:
    """One recorded flow, serialized, with fixed-width markers where each exchange differs
    (the path's `n=`, X-Request-Id and the flow's and connections' ids): mitmproxy's
    serializer is slow enough (~0.5 ms a flow) to dominate the set-up otherwise."""
    from mitmproxy import connection, http
    from mitmproxy.io import tnetstring

    flow = http.HTTPFlow(
        connection.Client(
            id=_MARK_IDS["client"],
            peername=("127.0.0.1", 50_000),
            sockname=("127.0.0.1", 8080),
            timestamp_start=t,
        ),
        connection.Server(id=_MARK_IDS["server"], address=("127.0.0.1", port)),
    )
    flow.id = _MARK_IDS["flow"]
    flow.request = http.Request(
        "127.0.0.1",
        port,
        b"GET",
        b"http",
        b"",
        f"/json/2k?n={_MARK_PATH}".encode(),
        b"HTTP/1.1",
        http.Headers(headers),
        b"",
        None,
        t,
        t,
    )
    flow.response = http.Response(
        b"HTTP/1.1",
        answer.status,
        answer.reason.encode(),
        http.Headers(answer.headers),
        answer.body,
        None,
        t + 0.0004,
        t + 0.0005,
    )
    flow.live = False
    data = tnetstring.dumps(flow.get_state())
    for marker in (_MARK_PATH, *_MARK_IDS.values()):
        if data.count(marker.encode()) != 1:
            raise procs.BenchError(f"flow template: marker {marker} is not unique")
    return data


def write_workload(
    workdir: Path,
    port: int,
    sessions: int,
    per_session: int,
    mismatch_every: int | None,
) -> Workload:
    """Write the recorded exchanges: as parity sessions (matching, and mismatching if
    `mismatch_every`), and as mitmproxy flows (one file per session, and all in one)."""
    from parity.sessions import Exchange, Request, Response, SessionStore

    if sessions * per_session > 1_000_000:
        raise procs.BenchError("at most 1,000,000 exchanges (paths carry a 6-digit n)")
    answer = fetch_answer(port)
    other = changed_answer(answer)
    upstream = f"http://127.0.0.1:{port}"
    stores = {"match": SessionStore(workdir / "sessions-match")}
    if mismatch_every:
        stores["mismatch"] = SessionStore(workdir / "sessions-mismatch")
    flows_dir = workdir / "flows"
    flows_dir.mkdir()
    flow_paths: list[Path] = []
    all_flows = workdir / "all.flows"
    t0 = time.time() - 3600
    request_marker = _MARK_IDS["request"].encode()
    with all_flows.open("wb") as all_file:
        for s in range(sessions):
            writers = {
                name: store.create(label=f"bench-{name}-{s:02d}", upstream=upstream)
                for name, store in stores.items()
            }
            template = _flow_template(
                port, request_headers(port, s, request_marker), answer, t0 + s
            )
            path = flows_dir / f"session-{s:02d}.flows"
            flow_paths.append(path)
            with path.open("wb") as flow_file:
                for i in range(per_session):
                    k = s * per_session + i
                    t = t0 + s + i * 0.1
                    target = f"/json/2k?n={k:06d}"
                    request_id = str(uuid.UUID(int=(s << 32) + i)).encode()
                    headers = request_headers(port, s, request_id)
                    for name, session_writer in writers.items():
                        mismatched = (
                            name == "mismatch"
                            and k % (mismatch_every or 1) == (mismatch_every or 1) - 1
                        )
                        recorded = other if mismatched else answer
                        session_writer.append(
                            Exchange(
                                seq=i,
                                client=("127.0.0.1", 50_000 + s),
                                request=Request(
                                    "GET",
                                    "http",
                                    "127.0.0.1",
                                    port,
                                    target,
                                    "HTTP/1.1",
                                    headers,
                                    b"",
                                    t,
                                    t,
                                ),
                                response=Response(
                                    recorded.status,
                                    recorded.reason,
                                    "HTTP/1.1",
                                    recorded.headers,
                                    recorded.body,
                                    t + 0.0004,
                                    t + 0.0005,
                                ),
                            )
                        )
                    data = (
                        template.replace(_MARK_PATH.encode(), f"{k:06d}".encode())
                        .replace(request_marker, request_id)
                        .replace(_MARK_IDS["flow"].encode(), str(uuid.uuid4()).encode())
                        .replace(_MARK_IDS["client"].encode(), str(uuid.uuid4()).encode())
                        .replace(_MARK_IDS["server"].encode(), str(uuid.uuid4()).encode())
                    )
                    flow_file.write(data)
                    all_file.write(data)
            for session_writer in writers.values():
                session_writer.close()
    _check_flows(flow_paths[-1], per_session, port)
    empty = SessionStore(workdir / "sessions-empty")
    empty.create(label="bench-empty", upstream=upstream).close()
    empty_flows = workdir / "empty.flows"
    empty_flows.write_bytes(b"")
    return Workload(
        sessions=sessions,
        per_session=per_session,
        match_dir=stores["match"].root,
        mismatch_dir=stores["mismatch"].root if "mismatch" in stores else None,
        flows=flow_paths,
        all_flows=all_flows,
        empty_dir=empty.root,
        empty_flows=empty_flows,
    )


def _check_flows(path: Path, expected: int, port: int) -> None:
    """Read a flow file back with mitmproxy: every flow there, the last one as meant."""
    from mitmproxy import http
    from mitmproxy import io as mitm_io

    with path.open("rb") as file:
        flows = list(mitm_io.FlowReader(file).stream())
    last = flows[-1] if flows else None
    if (
        len(flows) != expected
        or not isinstance(last, http.HTTPFlow)
        or last.request.port != port
        or not last.request.path.endswith(
            f"{int(path.stem.split('-')[1]) * expected + expected - 1:06d}"
        )
        or last.response is None
        or len(last.response.content or b"") != SIZES["2k"]
    ):
        raise procs.BenchError(f"flow file {path} does not read back as written")


# -- running the commands -------------------------------------------------------------------

VARIANTS = {
    "p": "parity replay",
    "p10": "parity replay, 10 % differ",
    "m1": "mitmdump -C",
    "m16": "16 x mitmdump -C",
}
COMMANDS = {
    "p": "parity replay DIR --target URL --concurrency 16 --db FILE",
    "p10": "the same on the 10 % mismatching recording",
    "m1": "mitmdump -n -q -C ALL.flows",
    "m16": "16 x mitmdump -n -q -C SESSION.flows, side by side",
}
PARITY = ("p", "p10")
PEERS = ("m16", "m1")
PEER = "m16"
"""The peer the >= 2x goal is judged against: mitmdump's client replay sends one flow at a
time (`client_replay_concurrency` only takes 1 or -1 in mitmproxy 11), so 16 of them side by
side, one per recorded session, are the nearest thing to concurrency 16."""

GOAL_RATE = 3000.0
GOAL_RATIO = 2.0
GOAL_EQUAL_PER_S = 4000.0
GOAL_THREE_FIELDS_MS = 2.0
GOAL_STORE_PER_S = 50_000.0

_SUMMARY = re.compile(
    r"(\d+) exchanges: (\d+) matched, (\d+) mismatched, (\d+) errors(?:, (\d+) noise suppressed)?"
)


@dataclass
class Config:
    rounds: int = 3
    """Each round runs every variant once, in an order that rotates from round to round."""
    sessions: int = 16
    per_session: int = 1250
    concurrency: int = 16
    mismatch_every: int = 10
    differ_repeat: int = 5
    differ_scale: float = 1.0
    """Scales the number of calls per timing in the differ figures."""
    store_rows: int = 100_000
    store_repeat: int = 3

    @classmethod
    def quick(cls) -> Config:
        return cls(rounds=1, per_session=100, differ_repeat=3, differ_scale=0.2, store_repeat=1)

    @property
    def exchanges(self) -> int:
        return self.sessions * self.per_session

    def timeout(self, exchanges: int) -> float:
        """Seconds one command may take: generous (mitmdump -C does ~250/s here), bounded."""
        return 60.0 + exchanges * 0.025


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_commands(
    name: str, argvs: list[list[str]], workdir: Path, timeout: float
) -> dict[str, Any]:
    """Start the commands side by side and wait for all of them: wall time from the first
    start to the last exit, their CPU time (user + system), exit codes and output."""
    cpu0 = _cpu_children()
    began = time.perf_counter()
    deadline = began + timeout
    running: list[procs.Proc] = []
    try:
        for i, argv in enumerate(argvs):
            running.append(procs.spawn(f"{name}-{i}" if len(argvs) > 1 else name, argv, workdir))
        for proc in running:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                raise procs.BenchError(
                    f"{proc.name} did not finish within {timeout:.0f} s:\n{proc.output()}"
                ) from None
        wall = time.perf_counter() - began
    finally:
        for proc in running:
            procs.stop(proc, timeout=10)
    return {
        "wall_s": wall,
        "cpu_s": _cpu_children() - cpu0,
        "exit_codes": [proc.popen.returncode for proc in running],
        "output": running[0].output() if running else "",
    }


def _parity_argv(
    sessions_dir: Path, upstream: str, db: Path, rules: Path, concurrency: int
) -> list[str]:
    return [
        *procs.tool("parity"),
        "replay",
        str(sessions_dir),
        "--target",
        upstream,
        "--db",
        str(db),
        "--rules",
        str(rules),
        "--concurrency",
        str(concurrency),
        "--label",
        "bench",
    ]


def _mitmdump_argv(flows: Path) -> list[str]:
    return [*procs.tool("mitmdump"), "-n", "-q", "-C", str(flows)]


def run_variant(
    variant: str, workload: Workload, port: int, workdir: Path, config: Config
) -> dict[str, Any]:
    """Run one variant on the whole workload; check that every exchange was sent (and, for
    parity, judged as recorded); the figures."""
    upstream = f"http://127.0.0.1:{port}"
    rules = workdir / "rules.toml"  # empty: the defaults, whatever the working directory holds
    rules.write_text("")
    db = workdir / f"results-{variant}.db"
    total = workload.exchanges
    if variant in PARITY:
        sessions_dir = workload.match_dir if variant == "p" else workload.mismatch_dir
        assert sessions_dir is not None
        argvs = [_parity_argv(sessions_dir, upstream, db, rules, config.concurrency)]
    elif variant == "m1":
        argvs = [_mitmdump_argv(workload.all_flows)]
    else:
        argvs = [_mitmdump_argv(path) for path in workload.flows]
    upstream_reset(port)
    try:
        run = run_commands(variant, argvs, workdir, config.timeout(total))
    finally:
        for path in workdir.glob(f"results-{variant}.db*"):
            path.unlink()
    stats = upstream_stats(port)
    mismatched = total // config.mismatch_every if variant == "p10" else 0
    expected_codes = [1 if mismatched else 0] * len(argvs)
    problem = ""
    if run["exit_codes"] != expected_codes:
        problem = f"exit codes {run['exit_codes']}, expected {expected_codes}"
    elif stats["requests"] != total or stats["found"] != total:
        problem = f"the upstream answered {stats['found']} of {stats['requests']} requests for {total} exchanges"
    elif variant in PARITY:
        match = _SUMMARY.search(run["output"])
        want = (total, total - mismatched, mismatched, 0)
        got = tuple(int(g) for g in match.groups()[:4]) if match else None
        if got != want:
            problem = f"parity replay reported {got} (exchanges, matched, mismatched, errors), expected {want}"
    if problem:
        raise procs.BenchError(f"{VARIANTS[variant]}: {problem}:\n{run['output']}")
    window = stats["window_s"]
    return {
        "exchanges": total,
        "processes": len(argvs),
        "wall_s": run["wall_s"],
        "window_s": window,
        "cpu_s": run["cpu_s"],
        "rps": total / run["wall_s"],
        "window_rps": (total - 1) / window if window > 0 else None,
        "cpu_ms": run["cpu_s"] * 1000 / total,
    }


def run_startup(tool: str, workload: Workload, port: int, workdir: Path) -> dict[str, Any]:
    """One process of `tool` (`parity` or `mitmdump`) on nothing to replay: its start-up
    and shut-down, wall and CPU."""
    upstream = f"http://127.0.0.1:{port}"
    rules = workdir / "rules.toml"
    rules.write_text("")
    db = workdir / "results-empty.db"
    if tool == "parity":
        argv = _parity_argv(workload.empty_dir, upstream, db, rules, 16)
    else:
        argv = _mitmdump_argv(workload.empty_flows)
    try:
        run = run_commands(f"{tool}-empty", [argv], workdir, 60.0)
    finally:
        for path in workdir.glob("results-empty.db*"):
            path.unlink()
    if run["exit_codes"] != [0]:
        raise procs.BenchError(
            f"{tool} on an empty recording exited {run['exit_codes']}:\n{run['output']}"
        )
    return {"wall_s": run["wall_s"], "cpu_s": run["cpu_s"]}


def run_replay(config: Config, workdir: Path, log: Log = _log) -> dict[str, Any]:
    """The end-to-end comparison: the counting upstream, the workload, `rounds` rounds of
    every variant (and each tool's start-up on nothing)."""
    upstream_proc = procs.spawn(
        "upstream", [sys.executable, "-m", "bench.replay_bench", "serve", "--port", "0"], workdir
    )
    began = time.monotonic()
    rounds: list[dict[str, Any]] = []
    try:
        port = procs.wait_for_line(upstream_proc)
        t = time.perf_counter()
        workload = write_workload(
            workdir, port, config.sessions, config.per_session, config.mismatch_every
        )
        log(
            f"replay: {workload.exchanges} exchanges in {workload.sessions} sessions written "
            f"in {time.perf_counter() - t:.1f} s"
        )
        names = list(VARIANTS)
        for number in range(config.rounds):
            order = names[number % len(names) :] + names[: number % len(names)]
            entry: dict[str, Any] = {"round": number + 1, "order": order}
            for variant in order:
                figures = run_variant(variant, workload, port, workdir, config)
                entry[variant] = figures
                log(
                    f"round {number + 1}/{config.rounds}: ({variant}) {VARIANTS[variant]:<32}"
                    f"{figures['wall_s']:6.1f} s, {figures['rps']:6.0f}/s wall, "
                    f"{_f(figures['window_rps'], '6.0f')}/s window, "
                    f"{figures['cpu_ms']:.2f} ms CPU per exchange"
                )
            entry["startup"] = {
                tool: run_startup(tool, workload, port, workdir) for tool in ("parity", "mitmdump")
            }
            rounds.append(entry)
    finally:
        procs.stop(upstream_proc)
    return {
        "config": {
            "rounds": config.rounds,
            "sessions": config.sessions,
            "per_session": config.per_session,
            "concurrency": config.concurrency,
            "mismatch_every": config.mismatch_every,
        },
        "rounds": rounds,
        "summary": summarize(rounds),
        "elapsed_s": time.monotonic() - began,
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _f(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per variant: medians over rounds; CPU net of start-up (each process's start-up CPU,
    measured in the same round, taken off); parity (matching) over each peer."""
    summary: dict[str, Any] = {}
    for variant in VARIANTS:
        rows = [r[variant] for r in rounds]
        tool = "parity" if variant in PARITY else "mitmdump"
        net = [
            (row["cpu_s"] - row["processes"] * r["startup"][tool]["cpu_s"])
            * 1000
            / row["exchanges"]
            for row, r in zip(rows, rounds, strict=True)
        ]
        summary[variant] = {
            "exchanges": rows[0]["exchanges"],
            "wall_s": _median([row["wall_s"] for row in rows]),
            "rps": _median([row["rps"] for row in rows]),
            "window_rps": _median([row["window_rps"] for row in rows]),
            "cpu_ms": _median([row["cpu_ms"] for row in rows]),
            "net_cpu_ms": _median(list(net)),
            "rps_rounds": [row["rps"] for row in rows],
            "window_rps_rounds": [row["window_rps"] for row in rows],
        }
    for peer in PEERS:
        s, p = summary[peer], summary["p"]
        s["vs"] = p["rps"] / s["rps"] if p["rps"] and s["rps"] else None
        s["window_vs"] = (
            p["window_rps"] / s["window_rps"] if p["window_rps"] and s["window_rps"] else None
        )
        s["cpu_vs"] = (
            s["net_cpu_ms"] / p["net_cpu_ms"] if p["net_cpu_ms"] and s["net_cpu_ms"] else None
        )
        s["vs_rounds"] = [r["p"]["rps"] / r[peer]["rps"] for r in rounds]
        s["window_vs_rounds"] = [
            r["p"]["window_rps"] / r[peer]["window_rps"]
            if r["p"]["window_rps"] and r[peer]["window_rps"]
            else None
            for r in rounds
        ]
    summary["startup"] = {
        tool: {
            "wall_s": _median([r["startup"][tool]["wall_s"] for r in rounds]),
            "cpu_s": _median([r["startup"][tool]["cpu_s"] for r in rounds]),
        }
        for tool in ("parity", "mitmdump")
    }
    return summary


# -- the differ and the results store --------------------------------------------------------


def run_differ(config: Config, log: Log = _log) -> dict[str, Any]:
    """bench/differ_bench.py's figures: the differ on two 200 KB shapes, and DeepDiff."""
    from bench import differ_bench

    out = []
    for label, doc, change in differ_bench.cases():
        m = differ_bench.measure(
            label, doc, change, repeat=config.differ_repeat, scale=config.differ_scale
        )
        log(
            f"differ: {label}: equal bytes {m['equal_bytes']['best_s'] * 1e6:.0f} us, "
            f"3-field change {m['three_fields']['best_s'] * 1e3:.2f} ms, "
            f"DeepDiff {m['deepdiff']['best_s'] * 1e3:.2f} ms"
        )
        out.append(m)
    return {"repeat": config.differ_repeat, "scale": config.differ_scale, "cases": out}


def run_store(config: Config, log: Log = _log) -> dict[str, Any]:
    """triage.bench_store: `store_rows` results into a fresh database, `store_repeat` times."""
    from parity.triage.bench import bench_store

    rates = []
    for i in range(config.store_repeat):
        rates.append(bench_store(config.store_rows))
        log(
            f"store: {config.store_rows} results at {rates[-1]:,.0f} rows/s ({i + 1}/{config.store_repeat})"
        )
    return {
        "rows": config.store_rows,
        "repeat": config.store_repeat,
        "rates": rates,
        "best": max(rates),
        "median": statistics.median(rates),
    }


# -- goals ------------------------------------------------------------------------------------


def _case(result: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    differ = result.get("differ")
    if not differ:
        return None
    return next((c for c in differ["cases"] if c["label"].startswith(prefix)), None)


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, each with the measured figure and whether it is met."""
    out: list[dict[str, Any]] = []
    replay = result.get("replay")
    if replay:
        s = replay["summary"]
        p = s["p"]
        out.append(
            {
                "goal": f"parity replay >= {GOAL_RATE:,.0f} exchanges/s (whole command)",
                "measured": f"{p['rps']:,.0f}/s",
                "met": p["rps"] >= GOAL_RATE,
            }
        )
        out.append(
            {
                "goal": f"parity replay >= {GOAL_RATE:,.0f} exchanges/s (window, no start-up)",
                "measured": f"{_f(p['window_rps'], ',.0f')}/s",
                "met": p["window_rps"] is not None and p["window_rps"] >= GOAL_RATE,
            }
        )
        for peer in PEERS:
            for key, how in (("vs", "whole command"), ("window_vs", "window")):
                ratio = s[peer][key]
                out.append(
                    {
                        "goal": f"parity replay >= {GOAL_RATIO:g} x ({peer}) {VARIANTS[peer]} ({how})",
                        "measured": f"{_f(ratio, '.2f')} x",
                        "met": ratio is not None and ratio >= GOAL_RATIO,
                    }
                )
    entry = _case(result, "one entry")
    if entry:
        rate = 1 / entry["equal_bytes"]["median_s"]
        out.append(
            {
                "goal": f"equal 200 KB bodies >= {GOAL_EQUAL_PER_S:,.0f} comparisons/s",
                "measured": f"{rate:,.0f}/s (median)",
                "met": rate >= GOAL_EQUAL_PER_S,
            }
        )
        ms = entry["three_fields"]["median_s"] * 1000
        out.append(
            {
                "goal": f"3-field change in a 200 KB entry <= {GOAL_THREE_FIELDS_MS:g} ms",
                "measured": f"{ms:.2f} ms (median)",
                "met": ms <= GOAL_THREE_FIELDS_MS,
            }
        )
    store = result.get("store")
    if store:
        out.append(
            {
                "goal": f"{store['rows']:,} results stored at >= {GOAL_STORE_PER_S:,.0f} rows/s",
                "measured": f"{store['median']:,.0f} rows/s (median)",
                "met": store["median"] >= GOAL_STORE_PER_S,
            }
        )
    return out


# -- rendering ----------------------------------------------------------------------------------

MARK_START = "<!-- replay-bench:start -->"
MARK_END = "<!-- replay-bench:end -->"

REPLAY_HEADER = [
    "variant",
    "wall s",
    "exchanges/s",
    "window /s",
    "CPU ms/exch",
    "net of start-up",
    "(p) ÷ this",
    "(p) ÷ this, window",
]
DIFFER_HEADER = [
    "200 KB document",
    "equal bytes",
    "equal values, other whitespace",
    "3-field change",
    "DeepDiff(a, b)",
    "DeepDiff incl. parsing",
    "DeepDiff(a, b) ÷ 3-field change",
]


def replay_rows(replay: dict[str, Any]) -> list[list[str]]:
    rows = []
    for variant, name in VARIANTS.items():
        s = replay["summary"][variant]
        rows.append(
            [
                f"({variant}) {name}",
                _f(s["wall_s"], ".1f"),
                _f(s["rps"], ",.0f"),
                _f(s["window_rps"], ",.0f"),
                _f(s["cpu_ms"], ".2f"),
                _f(s["net_cpu_ms"], ".2f"),
                _f(s.get("vs"), ".2f") if variant in PEERS else "",
                _f(s.get("window_vs"), ".2f") if variant in PEERS else "",
            ]
        )
    return rows


def _ms(t: dict[str, float]) -> str:
    return f"{t['median_s'] * 1e3:.2f} ({t['best_s'] * 1e3:.2f})"


def differ_rows(differ: dict[str, Any]) -> list[list[str]]:
    rows = []
    for c in differ["cases"]:
        eq = c["equal_bytes"]
        rows.append(
            [
                f"{c['label']} ({c['bytes'] / 1000:.0f} KB)",
                f"{eq['median_s'] * 1e6:.0f} µs = {1 / eq['median_s']:,.0f}/s "
                f"({1 / eq['best_s']:,.0f}/s)",
                _ms(c["equal_values"]),
                _ms(c["three_fields"]),
                _ms(c["deepdiff"]),
                _ms(c["deepdiff_parse"]),
                f"{c['deepdiff']['median_s'] / c['three_fields']['median_s']:.2f}",
            ]
        )
    return rows


def _startup_line(replay: dict[str, Any]) -> str:
    st = replay["summary"]["startup"]
    return (
        "Start-up and shut-down on nothing to replay (one process, median): "
        f"`parity replay` {st['parity']['wall_s']:.2f} s wall, {st['parity']['cpu_s']:.2f} s CPU; "
        f"`mitmdump -C` {st['mitmdump']['wall_s']:.2f} s wall, {st['mitmdump']['cpu_s']:.2f} s CPU."
    )


def _mismatch_line(replay: dict[str, Any]) -> str:
    s = replay["summary"]
    p, p10 = s["p"], s["p10"]
    every = replay["config"]["mismatch_every"]
    return (
        f"The mismatch path: with every {every}th exchange differing, (p10) runs at "
        f"{_f(p10['rps'] / p['rps'] if p['rps'] else None, '.2f')} x (p)'s exchanges/s "
        f"(window {_f(p10['window_rps'] / p['window_rps'] if p['window_rps'] and p10['window_rps'] else None, '.2f')} x), "
        f"{(p10['cpu_ms'] - p['cpu_ms']) * 1000:+.0f} µs CPU per exchange."
    )


def _deepdiff_line(differ: dict[str, Any]) -> str:
    cases = {c["label"]: c for c in differ["cases"]}
    parts = [
        f"{label}: DeepDiff(a, b) {c['deepdiff']['median_s'] * 1e3:.2f} ms, "
        f"with parsing {c['deepdiff_parse']['median_s'] * 1e3:.2f} ms, the differ's whole "
        f"compare {c['three_fields']['median_s'] * 1e3:.2f} ms"
        for label, c in cases.items()
    ]
    return (
        "DESIGN.md's budget assumed DeepDiff costs ~20 ms on a 200 KB journal entry. Measured, "
        "on three changed fields: " + "; ".join(parts) + ". On one entry whose 200 KB are one "
        "string, DeepDiff compares that string in one step and is not slow; on many leaves it is."
    )


def _store_line(store: dict[str, Any]) -> str:
    return (
        f"Results store (`triage.bench_store({store['rows']})`: {store['rows']:,} results, 5 % "
        "mismatched with 2 KB bodies, 1 % errors, built first, then only their storage timed): "
        f"{store['median']:,.0f} rows/s median, {store['best']:,.0f} best of {store['repeat']} "
        "(" + ", ".join(f"{r:,.0f}" for r in store["rates"]) + ")."
    )


def print_result(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 140))
    replay = result.get("replay")
    if replay:
        cfg = replay["config"]
        table = Table(
            title=f"parity replay vs mitmdump -C: {cfg['sessions']} x {cfg['per_session']} "
            "2 KB exchanges (medians over rounds)"
        )
        for i, name in enumerate(REPLAY_HEADER):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in replay_rows(replay):
            table.add_row(*row)
        console.print(table)
        console.print(
            "window /s: requests over the time from the first to the last one the upstream "
            "received (no start-up or shut-down). net of start-up: CPU per exchange minus "
            "each process's start-up CPU. (p) ÷ this: parity replay's exchanges/s over the "
            "peer's."
        )
        console.print(_startup_line(replay))
    differ = result.get("differ")
    if differ:
        table = Table(title="the differ on 200 KB: ms, median (best)")
        for i, name in enumerate(DIFFER_HEADER):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in differ_rows(differ):
            table.add_row(*row)
        console.print(table)
    store = result.get("store")
    if store:
        console.print(_store_line(store))
    goal_table = Table(title="goals")
    for name in ("goal", "measured", "verdict"):
        goal_table.add_column(name)
    for goal in result["goals"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[goal["met"]]
        style = "green" if goal["met"] else "red"
        goal_table.add_row(goal["goal"], goal["measured"], f"[{style}]{verdict}[/]")
    console.print(goal_table)


def markdown_section(result: dict[str, Any], command: str) -> str:
    """This benchmark's section of BENCHMARKS.md: needs replay, differ and store figures."""
    env = result["environment"]
    replay, differ, store = result["replay"], result["differ"], result["store"]
    cfg = replay["config"]
    s = replay["summary"]
    lines = [
        MARK_START,
        "## Replay and diff: `parity replay` vs `mitmdump -C`; the differ; the results store",
        "",
        f"Command: `{command}` (`make bench` prints the same tables without touching this file).",
        "",
        f"Machine: {env['nproc']} CPUs ({env['cpu_model']}), {env['os']}, Python {env['python']}, "
        f"mitmproxy {env['mitmproxy']}, aiohttp {env['aiohttp']}, deepdiff {env.get('deepdiff', '?')}; "
        f"commit `{env['commit']}`"
        + (f" (with uncommitted changes to {env['dirty']})" if env.get("dirty") else "")
        + f", {env['date']}, load average at start {env['loadavg_at_start'][0]:.2f}. "
        f"The replay, differ and store parts took {result['elapsed_s'] / 60:.1f} minutes.",
        "",
        "### End to end: replay + diff + store",
        "",
        "Method: one asyncio upstream process (bench/upstream.py's server, routing on the "
        "path without its query and counting what it answers) serves `GET /json/2k?n=K` "
        f"(2048 bytes of JSON). The recording is generated once per run: {cfg['sessions']} "
        f"session files x {cfg['per_session']} exchanges ({cfg['sessions'] * cfg['per_session']:,}), "
        "each request with a desktop app's headers (bearer token, X-Request-Id, Accept-*), each "
        "recorded response exactly what the upstream answers, so every exchange matches (a "
        "passing CI run); a copy records every "
        f"{cfg['mismatch_every']}th response with three fields changed (the mismatch path: "
        "diff, signature, mismatch rows). The same exchanges as mitmproxy flows: one file per "
        "session, and all in one file. Variants: (p) `parity replay DIR --target URL "
        f"--concurrency {cfg['concurrency']} --db FILE` (sessions in parallel, each in recorded "
        "order; every answer diffed and stored); (p10) the same on the mismatching copy; (m1) "
        "`mitmdump -n -q -C ALL.flows`, mitmproxy's own client replay, which diffs and stores "
        "nothing; (m16) 16 `mitmdump -n -q -C SESSION.flows` side by side, one per session. "
        "mitmproxy 11's `client_replay_concurrency` only takes 1 (the default: one flow at a "
        "time, one new connection per flow) or -1 (every flow at once; in a trial on this "
        "machine with 20,000 flows it ran out of file descriptors, `Too many open files`, and 6 "
        "requests were never sent), so (m16) is the nearest thing to concurrency 16, and the "
        "peer for the 2x goal. Each run is checked: the upstream "
        "answered as many requests as there are exchanges, the exit code is as expected, and parity's summary "
        "counts the matched and mismatched exchanges that were recorded. "
        f"{cfg['rounds']} round{'s' if cfg['rounds'] != 1 else ''}, the order rotating; "
        "figures are medians over rounds.",
        "",
        "| " + " | ".join(REPLAY_HEADER) + " |",
        "|---|" + "---:|" * (len(REPLAY_HEADER) - 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in replay_rows(replay)]
    per_round = "; ".join(
        f"{peer}: "
        + ", ".join(_f(x, ".2f") for x in s[peer]["vs_rounds"])
        + " (window "
        + ", ".join(_f(x, ".2f") for x in s[peer]["window_vs_rounds"])
        + ")"
        for peer in PEERS
    )
    lines += [
        "",
        "`wall s`: from starting the command(s) to the last exit; `exchanges/s` = exchanges / "
        "wall. `window /s`: exchanges over the time between the first and the last request the "
        "upstream received, which leaves out start-up (imports, reading the recording) and "
        "shut-down. `CPU ms/exchange`: user + system CPU of the command's processes per "
        "exchange; `net of start-up` takes each process's start-up CPU (below) off. "
        "`(p) ÷ this`: parity replay's exchanges/s over this peer's, from the medians.",
        "",
        _startup_line(replay),
        "",
        f"Per-round (p) ÷ peer: {per_round}.",
        "",
        _mismatch_line(replay),
        "",
        "### The differ",
        "",
        "`bench/differ_bench.py`'s two 200 KB shapes: one journal entry with a 200 KB body "
        "text, and a page of 400 small entries (many leaves). `Differ().compare` of the "
        "recorded response against: an equal body (another bytes object), the same values "
        "with other whitespace, and the body with three fields changed (decode, normalize, "
        "diff); `DeepDiff(a, b)` on the same two documents already parsed, and with parsing "
        f"(`orjson.loads` of both). Milliseconds per call, median (best) of {differ['repeat']} "
        "repeats.",
        "",
        "| " + " | ".join(DIFFER_HEADER) + " |",
        "|---|" + "---:|" * (len(DIFFER_HEADER) - 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in differ_rows(differ)]
    lines += [
        "",
        _deepdiff_line(differ),
        "",
        "### The results store",
        "",
        _store_line(store),
        "",
        "### Goals",
        "",
        "| goal | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [
        f"| {g['goal']} | {g['measured']} | "
        + {True: "met", False: "MISSED", None: "n/a"}[g["met"]]
        + " |"
        for g in result["goals"]
    ]
    lines += [
        "",
        "`.venv/bin/python -m bench.replay_bench profile` runs `parity replay` in-process under "
        "cProfile on the same workload and prints the top functions in µs per exchange.",
        MARK_END,
    ]
    return "\n".join(lines) + "\n"


# -- profiling ----------------------------------------------------------------------------------


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    path = Path(filename)
    for root in (procs.ROOT, *[Path(p) for p in sys.path if p.endswith("site-packages")]):
        try:
            return f"{path.relative_to(root)}:{line}({name})"
        except ValueError:
            continue
    return f"{path.name}:{line}({name})"


def profile(
    workdir: Path, sessions: int, per_session: int, clock: str, top: int, out: Path
) -> None:
    """`parity replay` in this process on the benchmark's matching workload: once without
    a profiler (its CPU per exchange), once under cProfile; prints the top functions by
    cumulative time, in µs per exchange, and keeps the profile in `out`."""
    import cProfile
    import pstats

    from parity.cli import main as parity_main

    upstream_proc = procs.spawn(
        "upstream", [sys.executable, "-m", "bench.replay_bench", "serve", "--port", "0"], workdir
    )
    try:
        port = procs.wait_for_line(upstream_proc)
        workload = write_workload(workdir, port, sessions, per_session, None)
        rules = workdir / "rules.toml"
        rules.write_text("")
        total = workload.exchanges

        def replay(db: str) -> None:
            sys.argv = [
                "parity",
                *_parity_argv(
                    workload.match_dir, f"http://127.0.0.1:{port}", workdir / db, rules, 16
                )[len(procs.tool("parity")) :],
            ]
            upstream_reset(port)
            try:
                parity_main()
            except SystemExit as exc:
                if exc.code not in (0, None):
                    raise procs.BenchError(f"parity replay exited {exc.code}") from None
            if upstream_stats(port)["requests"] != total:
                raise procs.BenchError("parity replay did not send every exchange")

        wall0, cpu0 = time.perf_counter(), time.thread_time()
        replay("plain.db")
        wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
        timer = time.thread_time if clock == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer)
        profiler.enable()
        try:
            replay("profiled.db")
        finally:
            profiler.disable()
        profiler.dump_stats(str(out))
    finally:
        procs.stop(upstream_proc)
    stats = pstats.Stats(profiler)
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    profiled = stats.total_tt  # type: ignore[attr-defined]
    scale = cpu / profiled if clock == "cpu" and profiled else wall / profiled
    print(
        f"parity replay, {total} exchanges ({sessions} sessions x {per_session}), in-process "
        f"(imports already done):\n"
        f"  without profiler: {wall:.2f} s wall = {total / wall:,.0f} exchanges/s, "
        f"{cpu * 1e6 / total:.0f} µs CPU (main thread) per exchange\n"
        f"  under cProfile ({clock} clock): {profiled:.2f} s = {profiled * 1e6 / total:.0f} µs "
        f"per exchange; `~µs` scales by {scale:.2f} to the unprofiled "
        f"{'CPU' if clock == 'cpu' else 'wall'} time (cProfile inflates Python calls more than C)\n"
        f"  profile kept in {out} (python -m pstats {out})"
    )
    print(f"\n{'cum µs/ex':>10} {'~µs/ex':>8} {'self µs/ex':>10} {'calls/ex':>9}  function")
    ranked = sorted(entries.items(), key=lambda kv: kv[1][3], reverse=True)
    for key, (_cc, nc, tt, ct, _callers) in ranked[:top]:
        print(
            f"{ct * 1e6 / total:10.1f} {ct * scale * 1e6 / total:8.1f} {tt * 1e6 / total:10.1f} "
            f"{nc / total:9.2f}  {_where(key)}"
        )
    print(f"\n{'self µs/ex':>10} {'~µs/ex':>8} {'calls/ex':>9}  function (by own time)")
    for key, (_cc, nc, tt, _ct, _callers) in sorted(
        entries.items(), key=lambda kv: kv[1][2], reverse=True
    )[:top]:
        print(
            f"{tt * 1e6 / total:10.1f} {tt * scale * 1e6 / total:8.1f} {nc / total:9.2f}  {_where(key)}"
        )


# -- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="The replay benchmark's counting upstream, and parity replay under cProfile."
        " The benchmark itself runs from bench/run.py."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="the counting upstream")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=0)
    prof = sub.add_parser("profile", help="parity replay under cProfile on the bench workload")
    prof.add_argument("--sessions", type=int, default=16)
    prof.add_argument("--per-session", type=int, default=625)
    prof.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    prof.add_argument("--top", type=int, default=30)
    prof.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "parity-replay.prof"
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            asyncio.run(serve(args.host, args.port))
        except KeyboardInterrupt:
            return 130
        return 0
    sessions = max(1, min(args.sessions, 256))
    per_session = max(1, min(args.per_session, 1_000_000 // sessions))
    with tempfile.TemporaryDirectory(prefix="parity-replay-profile-") as tmp:
        try:
            profile(Path(tmp), sessions, per_session, args.clock, max(1, args.top), args.out)
        except procs.BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
