"""The soak health report: what an 8-hour soak's recordings say about the backend's health.

One streaming pass over the exchanges (`SoakAnalyzer.add`), memory bounded by routes x
time buckets, never by exchanges: per route and bucket (an hour by default) the volume,
5xx answers, transport errors (no answer), 4xx answers, a fixed log-bucket latency
histogram (`Histogram`: 2.5 % resolution, mergeable), the response bytes and the mean
length of each top-level JSON array; per recorded session a few numbers for login loops.
`SoakAnalyzer.finish` turns them into the report (`parity-soak/1`, documented in
`docs/soak.md`), and `judge` applies the thresholds (`SoakThresholds`, `[gate.soak]`):

- **latency trend**: a Theil-Sen line through the route's per-bucket p95 (robust to a
  stray slow bucket); growth = the line's value at the last bucket / at the first;
- **size growth**: the same over the mean response bytes, and over the mean length of
  each top-level JSON array (the "sidebar degradation": a list that keeps growing);
- **login loops**: in one session, a 401 answer, then a login-like request (POST to a
  route named like login, signin, auth, token, session), then a 401 again within the
  window, `loop_cycles` times in a row or more.

Pure functions over `Exchange`s: no file, no database. `parity/soak_cmd.py` reads the
session files and renders (`triage/soak_view.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parity.differ.content import decode_body
from parity.differ.model import HttpRequest
from parity.differ.routekeys import route_for
from parity.triage.times import iso

if TYPE_CHECKING:
    from parity.differ.rules import RouteRule
    from parity.sessions.model import Exchange

SCHEMA = "parity-soak/1"
DEFAULT_BUCKET = 3600.0
DEFAULT_LOOP_WINDOW = 300.0
DEFAULT_LOOP_CYCLES = 3

# --- latency histogram ---------------------------------------------------------------

_MIN_MS = 0.01
_RATIO = 1.05
_LOG_RATIO = math.log(_RATIO)
_MAX_BIN = int(math.log(6 * 3600 * 1000 / _MIN_MS) / _LOG_RATIO)  # six hours


def _bin(ms: float) -> int:
    if ms <= _MIN_MS:
        return 0
    return min(_MAX_BIN, int(math.log(ms / _MIN_MS) / _LOG_RATIO))


def _bin_value(index: int) -> float:
    """The geometric middle of a bin: within 2.5 % of every latency in it."""
    return float(_MIN_MS * _RATIO ** (index + 0.5))


class Histogram:
    """Latencies in fixed log buckets (ratio 1.05 from 10 µs to six hours: at most 446
    counters, whatever the number of samples). Mergeable; quantiles within 2.5 %."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0

    def add(self, ms: float) -> None:
        index = _bin(ms)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.total += 1

    def merge(self, other: Histogram) -> None:
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.total += other.total

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 < q <= 1) in ms, None when empty: the smallest bin holding
        at least q of the samples (nearest rank)."""
        if not self.total:
            return None
        rank = max(1, math.ceil(q * self.total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return _bin_value(index)
        return _bin_value(max(self.counts))  # pragma: no cover - rank <= total


# --- aggregates ----------------------------------------------------------------------

MAX_ARRAY_KEYS = 8
"""Top-level JSON arrays followed per route (the first seen): bounded however the
answers vary."""
MAX_JSON_BODY = 1 << 20
"""Response bodies parsed for their arrays: JSON up to 1 MiB (larger: bytes only)."""
MIN_BUCKET_SAMPLES = 3
"""Latencies a bucket needs for its p95 to be a point of the trend."""
MIN_TREND_BUCKETS = 3
"""Buckets with data a trend needs (shorter soaks: a smaller `--bucket`)."""


@dataclass(slots=True)
class Cell:
    """One route in one time bucket (or a whole route, or a whole bucket, merged)."""

    exchanges: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    client_errors: int = 0
    latency: Histogram = field(default_factory=Histogram)
    body_bytes: int = 0
    bodies: int = 0
    arrays: dict[str, list[int]] = field(default_factory=dict)
    """Top-level array key (`$` for a body that is an array) -> [sum of lengths, count]."""

    def merge(self, other: Cell) -> None:
        self.exchanges += other.exchanges
        self.server_errors += other.server_errors
        self.transport_errors += other.transport_errors
        self.client_errors += other.client_errors
        self.latency.merge(other.latency)
        self.body_bytes += other.body_bytes
        self.bodies += other.bodies

    @property
    def errors(self) -> int:
        return self.server_errors + self.transport_errors


_LOGIN = re.compile(
    r"(^|/)(log-?in|sign-?in|sign-?on|auth|authenticate|authori[sz]e|oauth2?|tokens?|sessions?)"
    r"(/|$)",
    re.I,
)


def is_login(method: str, route: str) -> bool:
    """A login-like request: a POST to a route with a login-like path segment
    (`POST /api/login`, `POST /oauth/token`, `POST /auth/refresh`, `POST /sessions`)."""
    if method.upper() != "POST":
        return False
    path = route.split(" ", 2)[1] if " " in route else route
    return bool(_LOGIN.search(path.split("?", 1)[0]))


@dataclass(slots=True)
class LoginLoop:
    """One session going 401 -> login -> 401 `cycles` times, each 401 within the window
    of the one before."""

    session: str
    cycles: int
    started_at: float
    ended_at: float
    unauthorized_route: str
    login_route: str

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "cycles": self.cycles,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "unauthorized_route": self.unauthorized_route,
            "login_route": self.login_route,
        }


@dataclass(slots=True)
class _Chain:
    """A session's current run of 401s and logins."""

    first: float = 0.0
    last: float = 0.0
    cycles: int = 0
    logged_in: bool = False
    unauthorized_route: str = ""
    login_route: str = ""
    active: bool = False


@dataclass(frozen=True, slots=True)
class Trend:
    """A Theil-Sen line through one series of per-bucket values: its value at the
    first and the last bucket, their ratio and the slope per hour."""

    start: float
    end: float
    growth: float
    slope_per_hour: float


def theil_sen(points: list[tuple[float, float]], floor: float) -> Trend | None:
    """The median slope of all pairs, through the median intercept; growth = end/start
    with both at least `floor` (a series starting at 0 grows from `floor`). None with
    fewer than MIN_TREND_BUCKETS points."""
    if len(points) < MIN_TREND_BUCKETS:
        return None
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    if not slopes:
        return None
    slope = _median(slopes)
    intercept = _median([y - slope * x for x, y in points])
    x0, x1 = points[0][0], points[-1][0]
    start = max(intercept + slope * x0, 0.0)
    end = max(intercept + slope * x1, 0.0)
    return Trend(start, end, max(end, floor) / max(start, floor), slope * 3600)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True, slots=True)
class SoakSettings:
    bucket: float = DEFAULT_BUCKET
    """Seconds per time bucket (an hour by default)."""
    loop_window: float = DEFAULT_LOOP_WINDOW
    """Seconds within which a 401 must follow the last one to continue a login loop."""
    loop_cycles: int = DEFAULT_LOOP_CYCLES
    """401 -> login -> 401 cycles in a row that make a login loop."""
    routes: tuple[RouteRule, ...] = ()
    """`[[route]]` rules of the rules file (an RPC bridge's operations are routes)."""


class SoakAnalyzer:
    """Feed it every exchange of a soak (`add`, any order of sessions, each session's
    exchanges in recorded order), then `finish`."""

    def __init__(self, settings: SoakSettings | None = None) -> None:
        self.settings = settings or SoakSettings()
        self.cells: dict[str, dict[int, Cell]] = {}
        self.chains: dict[str, _Chain] = {}
        self.loops: list[LoginLoop] = []
        self.array_keys: dict[str, set[str]] = {}
        self.first: float | None = None
        self.last: float | None = None
        self.exchanges = 0

    def route(self, exchange: Exchange) -> str:
        request = exchange.request
        rules = self.settings.routes
        if not rules:
            return route_for(HttpRequest(request.method, request.path), ())
        return route_for(
            HttpRequest(request.method, request.path, request.headers, request.body), rules
        )

    def add(self, session: str, exchange: Exchange) -> None:
        started = exchange.request.timestamp_start
        route = self.route(exchange)
        index = int(started // self.settings.bucket)
        cell = self.cells.setdefault(route, {}).get(index)
        if cell is None:
            cell = self.cells[route][index] = Cell()
        self.exchanges += 1
        self.first = started if self.first is None else min(self.first, started)
        self.last = started if self.last is None else max(self.last, started)
        cell.exchanges += 1
        response = exchange.response
        if response is None:
            cell.transport_errors += 1
            status = 0
        else:
            status = response.status
            if status >= 500:
                cell.server_errors += 1
            elif status >= 400:
                cell.client_errors += 1
            if exchange.error is None and response.timestamp_end is not None:
                cell.latency.add(max(0.0, response.timestamp_end - started) * 1000)
            cell.body_bytes += len(response.body)
            cell.bodies += 1
            if len(response.body) <= MAX_JSON_BODY and b"json" in (
                response.header("content-type") or b""
            ):
                followed = self.array_keys.setdefault(route, set())
                _count_arrays(cell.arrays, followed, response.headers, response.body)
        self._login_loop(session, exchange.request.method, route, status, started)

    def _login_loop(self, session: str, method: str, route: str, status: int, at: float) -> None:
        chain = self.chains.get(session)
        if chain is None:
            chain = self.chains[session] = _Chain()
        if chain.active and at - chain.last > self.settings.loop_window:
            self._close(session, chain)
        if is_login(method, route):
            if chain.active:
                chain.logged_in = True
                chain.login_route = route
            return
        if status != 401:
            return
        if not chain.active:
            chain.active, chain.first, chain.cycles, chain.logged_in = True, at, 0, False
        elif chain.logged_in:
            chain.cycles += 1
            chain.logged_in = False
        chain.last = at
        chain.unauthorized_route = route

    def _close(self, session: str, chain: _Chain) -> None:
        if chain.cycles >= self.settings.loop_cycles:
            self.loops.append(
                LoginLoop(
                    session,
                    chain.cycles,
                    chain.first,
                    chain.last,
                    chain.unauthorized_route,
                    chain.login_route,
                )
            )
        self.chains[session] = _Chain()

    def finish(self) -> SoakReport:
        for session, chain in list(self.chains.items()):
            if chain.active:
                self._close(session, chain)
        return SoakReport(self)


def _count_arrays(
    arrays: dict[str, list[int]], followed: set[str], headers: Any, body: bytes
) -> None:
    """Add the lengths of the top-level arrays of a JSON answer to `arrays`: the keys
    its route follows (`followed`: the first MAX_ARRAY_KEYS it showed)."""
    decoded = decode_body(headers, body)
    if decoded.kind != "json":
        return
    value = decoded.value
    found: list[tuple[str, int]] = []
    if isinstance(value, list):
        found.append(("$", len(value)))
    elif isinstance(value, dict):
        found.extend((f"$.{k}", len(v)) for k, v in value.items() if isinstance(v, list))
    for key, length in found:
        if key not in followed and len(followed) >= MAX_ARRAY_KEYS:
            continue
        followed.add(key)
        slot = arrays.setdefault(key, [0, 0])
        slot[0] += length
        slot[1] += 1


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rate(errors: int, exchanges: int) -> float:
    return round(errors / exchanges, 6) if exchanges else 0.0


def _counts(cell: Cell) -> dict[str, Any]:
    return {
        "exchanges": cell.exchanges,
        "server_errors": cell.server_errors,
        "transport_errors": cell.transport_errors,
        "client_errors": cell.client_errors,
        "error_rate": _rate(cell.errors, cell.exchanges),
        "p50_ms": _ms(cell.latency.quantile(0.50)),
        "p95_ms": _ms(cell.latency.quantile(0.95)),
        "p99_ms": _ms(cell.latency.quantile(0.99)),
    }


class SoakReport:
    """The soak's figures (`to_json` gives the `parity-soak/1` report without the verdict,
    which `judge` adds)."""

    def __init__(self, analyzer: SoakAnalyzer) -> None:
        self.settings = analyzer.settings
        self.cells = analyzer.cells
        self.loops = sorted(analyzer.loops, key=lambda loop: (loop.started_at, loop.session))
        self.first = analyzer.first
        self.last = analyzer.last
        self.exchanges = analyzer.exchanges

    def _bucket_start(self, index: int) -> float:
        return index * self.settings.bucket

    def _p95_points(self, buckets: Mapping[int, Cell]) -> list[tuple[float, float]]:
        """(start, p95) of the route's buckets with MIN_BUCKET_SAMPLES latencies or more.
        A route too sparse for its buckets (most of them below that) is looked at in
        buckets two, four, ... times as long, merged (histograms merge exactly), while
        more than MIN_TREND_BUCKETS of them are left."""
        span = 1
        while True:
            merged: dict[int, Histogram] = {}
            for index, cell in buckets.items():
                merged.setdefault(index // span, Histogram()).merge(cell.latency)
            full = {i: h for i, h in merged.items() if h.total >= MIN_BUCKET_SAMPLES}
            with_data = sum(1 for h in merged.values() if h.total)
            if 2 * len(full) >= with_data or with_data <= MIN_TREND_BUCKETS:
                break
            span *= 2
        points = []
        for index in sorted(full):
            p95 = full[index].quantile(0.95)
            assert p95 is not None
            points.append((self._bucket_start(index * span), p95))
        return points

    def route_json(self, route: str, buckets: Mapping[int, Cell]) -> dict[str, Any]:
        whole = Cell()
        rows = []
        size_points: list[tuple[float, float]] = []
        array_points: dict[str, list[tuple[float, float]]] = {}
        for index in sorted(buckets):
            cell = buckets[index]
            whole.merge(cell)
            start = self._bucket_start(index)
            row = {"start": iso(start), **_counts(cell)}
            row["mean_bytes"] = round(cell.body_bytes / cell.bodies, 1) if cell.bodies else None
            row["arrays"] = {k: round(s / n, 2) for k, (s, n) in sorted(cell.arrays.items())}
            rows.append(row)
            if cell.bodies:
                size_points.append((start, cell.body_bytes / cell.bodies))
            for key, (total, count) in cell.arrays.items():
                array_points.setdefault(key, []).append((start, total / count))
        p95_trend = theil_sen(self._p95_points(buckets), floor=1.0)
        size_trend = theil_sen(size_points, floor=1.0)
        array_trend: tuple[str, Trend] | None = None
        for key in sorted(array_points):
            trend = theil_sen(array_points[key], floor=1.0)
            if trend is not None and (
                array_trend is None
                or trend.end - trend.start > array_trend[1].end - array_trend[1].start
            ):
                array_trend = key, trend
        return {
            "route": route,
            **_counts(whole),
            "mean_bytes": round(whole.body_bytes / whole.bodies, 1) if whole.bodies else None,
            "p95_trend": None
            if p95_trend is None
            else {
                "start_ms": _ms(p95_trend.start),
                "end_ms": _ms(p95_trend.end),
                "growth": round(p95_trend.growth, 3),
                "slope_ms_per_hour": round(p95_trend.slope_per_hour, 3),
            },
            "size_trend": None
            if size_trend is None
            else {
                "start_bytes": round(size_trend.start, 1),
                "end_bytes": round(size_trend.end, 1),
                "growth": round(size_trend.growth, 3),
            },
            "array_trend": None
            if array_trend is None
            else {
                "key": array_trend[0],
                "start_items": round(array_trend[1].start, 2),
                "end_items": round(array_trend[1].end, 2),
                "growth": round(array_trend[1].growth, 3),
            },
            "degraded": [],
            "buckets": rows,
        }

    def to_json(self, sessions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The figures; `sessions` what was read of each file (`soak_files`)."""
        routes = [self.route_json(route, buckets) for route, buckets in self.cells.items()]
        routes.sort(key=lambda item: (-item["exchanges"], item["route"]))
        by_bucket: dict[int, Cell] = {}
        for buckets in self.cells.values():
            for index, cell in buckets.items():
                by_bucket.setdefault(index, Cell()).merge(cell)
        total = Cell()
        for cell in by_bucket.values():
            total.merge(cell)
        return {
            "schema": SCHEMA,
            "settings": {
                "bucket_seconds": self.settings.bucket,
                "loop_window_seconds": self.settings.loop_window,
                "loop_cycles": self.settings.loop_cycles,
            },
            "span": {
                "started_at": iso(self.first),
                "ended_at": iso(self.last),
                "seconds": round(self.last - self.first, 3)
                if self.first is not None and self.last is not None
                else 0.0,
                "buckets": len(by_bucket),
            },
            "sessions": sessions or [],
            "totals": {
                "exchanges": total.exchanges,
                "server_errors": total.server_errors,
                "transport_errors": total.transport_errors,
                "client_errors": total.client_errors,
                "error_rate": _rate(total.errors, total.exchanges),
                "routes": len(routes),
                "login_loops": len(self.loops),
            },
            "buckets": [
                {"start": iso(self._bucket_start(index)), **_counts(by_bucket[index])}
                for index in sorted(by_bucket)
            ],
            "routes": routes,
            "login_loops": [loop.to_json() for loop in self.loops],
        }


# --- thresholds ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoakThresholds:
    """What a soak may show and still pass (`[gate.soak]` in parity.toml)."""

    max_p95_growth: float = 1.5
    """A route's p95 trend may grow at most this factor across the soak..."""
    p95_floor_ms: float = 20.0
    """...or by less than this many ms (jitter on a fast route is not degradation)."""
    max_size_growth: float = 1.5
    """A route's mean response bytes, or the mean length of one of its top-level JSON
    arrays, may grow at most this factor across the soak..."""
    size_floor_bytes: float = 1024.0
    """...or by less than this many bytes (bytes),"""
    size_floor_items: float = 10.0
    """...or by fewer items than this (arrays)."""
    max_login_loops: int = 0
    """Login loops allowed."""
    max_error_rate: float = 0.01
    """Exchanges answered 5xx or not at all, as a fraction of all the soak's (each route's
    rate is shown, not gated: a soak exercises failure paths on purpose)."""

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


THRESHOLD_KEYS = tuple(SoakThresholds.__slots__)


def judge(data: dict[str, Any], thresholds: SoakThresholds) -> dict[str, Any]:
    """The report with its verdict: `passed`, `exit_code`, `reasons`, `thresholds`, and
    each route's `degraded` (what it showed beyond the thresholds)."""
    reasons: list[str] = []
    for route in data["routes"]:
        route["degraded"] = _degraded(route, thresholds)
        reasons.extend(f"{route['route']}: {why}" for why in route["degraded"])
    totals = data["totals"]
    if totals["error_rate"] > thresholds.max_error_rate:
        reasons.append(
            f"error rate {totals['error_rate']:.2%} over the soak "
            f"({totals['server_errors']} 5xx, {totals['transport_errors']} unanswered); "
            f"at most {thresholds.max_error_rate:.2%} allowed"
        )
    loops = data["login_loops"]
    if len(loops) > thresholds.max_login_loops:
        sessions = sorted({loop["session"] for loop in loops})
        cycles = max(loop["cycles"] for loop in loops)
        reasons.append(
            f"{len(loops)} login loop{'s' if len(loops) != 1 else ''} (401 -> login -> 401, "
            f"up to {cycles} cycles) in {', '.join(sessions[:3])}"
            f"{f' and {len(sessions) - 3} more' if len(sessions) > 3 else ''}; "
            f"at most {thresholds.max_login_loops} allowed"
        )
    passed = not reasons
    head = {"schema": data["schema"], "passed": passed, "exit_code": 0 if passed else 1}
    rest = {k: v for k, v in data.items() if k != "schema"}
    return {**head, "reasons": reasons, "thresholds": thresholds.to_json(), **rest}


_GROWTH_CHECKS = (
    # trend, its start and end keys, the growth limit, the floor, what grew, the unit
    ("p95_trend", "start_ms", "end_ms", "max_p95_growth", "p95_floor_ms", "p95 latency", "ms"),
    ("size_trend", "start_bytes", "end_bytes", "max_size_growth", "size_floor_bytes", "response size", "bytes"),
    ("array_trend", "start_items", "end_items", "max_size_growth", "size_floor_items", "", "items"),
)  # fmt: skip
"""What `_degraded` checks: a trend that grew more than its limit, by at least its floor."""


def _degraded(route: dict[str, Any], limits: SoakThresholds) -> list[str]:
    found = []
    for name, start, end, limit_name, floor_name, what, unit in _GROWTH_CHECKS:
        trend = route[name]
        limit = getattr(limits, limit_name)
        if (
            trend is None
            or trend["growth"] <= limit
            or trend[end] - trend[start] < getattr(limits, floor_name)
        ):
            continue
        found.append(
            f"{what or trend['key']} grew {trend['growth']:.1f}x ({trend[start]:.0f} -> "
            f"{trend[end]:.0f} {unit}); at most {limit:g}x allowed"
        )
    return found


def analyze(
    sessions: Iterable[tuple[str, Iterable[Exchange]]], settings: SoakSettings | None = None
) -> SoakReport:
    """The report over `(session id, exchanges)` pairs (tests, small inputs)."""
    analyzer = SoakAnalyzer(settings)
    for session, exchanges in sessions:
        for exchange in exchanges:
            analyzer.add(session, exchange)
    return analyzer.finish()


# --- reading the recordings -------------------------------------------------------------


def soak_files(
    files: Iterable[Path], settings: SoakSettings, progress: Callable[[int], None] | None = None
) -> tuple[SoakReport, list[dict[str, Any]]]:
    """The report over session files, read once each in constant memory (one exchange
    at a time; a rotated session's parts as one), and what was read of each session: `{"session", "path", "exchanges",
    "skipped_bytes", "skipped_reason", "malformed_records"}` (a torn tail or a malformed
    record is read past and said, as replay does). A file that is not a session, or
    that cannot be decrypted, raises `SessionFileError`/`SessionKeyError`."""
    from parity.sessions.parts import as_sessions, open_session

    analyzer = SoakAnalyzer(settings)
    read: list[dict[str, Any]] = []
    done = 0
    # The parts of a rotated session are read as one (`sessions.parts`).
    for parts in as_sessions(list(files)):
        count = 0
        with open_session(parts) as reader:
            session = reader.header.id
            for exchange in reader:
                analyzer.add(session, exchange)
                count += 1
            result = reader.result
        read.append(
            {
                "session": session,
                "path": str(parts.path),
                "exchanges": count,
                "skipped_bytes": result.skipped_bytes,
                "skipped_reason": result.skipped_reason or None,
                "malformed_records": result.malformed_records,
                **({"parts": len(parts.paths)} if len(parts.paths) > 1 else {}),
                **({"missing_parts": result.missing_parts} if result.missing_parts else {}),
            }
        )
        done += len(parts.paths)
        if progress is not None:
            progress(done)
    return analyzer.finish(), read
