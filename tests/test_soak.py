"""The soak health report's analysis (`triage/soak.py`), on exchanges built in memory:
an eight-hour soak with a creeping route, a growing list and a login loop, and a
healthy one with the same traffic."""

from __future__ import annotations

import json
import random

from parity.sessions import Exchange, FlowError, Request, Response
from parity.triage.soak import (
    Histogram,
    SoakSettings,
    SoakThresholds,
    analyze,
    is_login,
    judge,
    theil_sen,
)

T0 = 497_222 * 3600.0  # on an hour: eight hours are eight buckets
HOUR = 3600.0


def exchange(
    seq: int,
    at: float,
    method: str,
    path: str,
    status: int | None,
    latency_ms: float,
    body: bytes = b"{}",
) -> Exchange:
    request = Request(method, "http", "127.0.0.1", 5000, path, "HTTP/1.1", [], b"", at, at + 0.0001)
    response = None
    if status is not None:
        end = at + latency_ms / 1000
        headers = [(b"Content-Type", b"application/json")]
        response = Response(status, "", "HTTP/1.1", headers, body, end - 0.0001, end)
    error = None if status is not None else FlowError("connection refused", at + 0.01)
    return Exchange(seq, request, response, error)


def soak(degraded: bool, hours: int = 8, per_hour: int = 120, seed: int = 7) -> list[Exchange]:
    """A user's day in a loop: list, search, save; with `degraded`, search creeps 15 ms
    per hour, the sidebar list grows with every save and, after hour 5, every login
    is followed by a 401."""
    rng = random.Random(seed)
    out: list[Exchange] = []
    saves = 0
    seq = 0

    def add(at: float, method: str, path: str, status: int | None, ms: float, body=b"{}"):
        nonlocal seq
        seq += 1
        out.append(exchange(seq, at, method, path, status, ms, body))

    add(T0, "POST", "/api/login", 200, 5)
    for i in range(hours * per_hour):
        at = T0 + i * HOUR / per_hour + 1
        hour = i / per_hour
        jitter = rng.uniform(0.5, 1.5)
        kind = i % 4
        if kind == 0:
            recent = list(range(saves if degraded else min(saves, 5)))
            body = json.dumps({"items": list(range(20)), "recent": recent}).encode()
            add(at, "GET", f"/api/vaults/{1000 + i % 3}/entries", 200, 4 * jitter, body)
        elif kind == 1:
            creep = 15 * hour if degraded else 0
            spike = 400 if rng.random() < 0.03 else 0  # a stray stall, healthy or not
            add(at, "GET", "/api/vaults/7/search?q=x", 200, 6 * jitter + creep + spike)
        elif kind == 2:
            saves += 1
            add(at, "POST", f"/api/vaults/7/entries/{i}/save", 200, 3 * jitter)
        elif degraded and hour >= 5:
            add(at, "GET", "/api/vaults", 401, 1)
            add(at + 0.2, "POST", "/api/login", 200, 5)
        else:
            add(at, "GET", "/api/vaults", 200, 2 * jitter)
    return out


def report(exchanges: list[Exchange], **limits: float) -> dict:
    data = analyze([("S1", exchanges)], SoakSettings()).to_json()
    return judge(data, SoakThresholds(**limits))


def by_route(data: dict) -> dict[str, dict]:
    return {route["route"]: route for route in data["routes"]}


def test_histogram_quantiles_within_their_resolution() -> None:
    histogram = Histogram()
    values = [i / 10 for i in range(1, 10_001)]  # 0.1 .. 1000 ms
    for value in values:
        histogram.add(value)
    for q in (0.5, 0.95, 0.99):
        exact = values[int(q * len(values)) - 1]
        got = histogram.quantile(q)
        assert got is not None and abs(got - exact) / exact < 0.03, (q, got, exact)
    assert len(histogram.counts) < 300
    assert Histogram().quantile(0.5) is None


def test_theil_sen_ignores_a_stray_point() -> None:
    flat = [(float(x), 10.0) for x in range(10)]
    flat[7] = (7.0, 500.0)
    trend = theil_sen(flat, floor=1.0)
    assert trend is not None and trend.growth == 1.0
    rising = [(float(x) * HOUR, 10.0 + 5 * x) for x in range(9)]
    trend = theil_sen(rising, floor=1.0)
    assert trend is not None and round(trend.growth, 2) == 5.0 and trend.slope_per_hour == 5
    assert theil_sen(rising[:2], floor=1.0) is None


def test_login_like_routes() -> None:
    for route in ("POST /api/login", "POST /oauth/token", "POST /auth/refresh", "POST /sessions"):
        assert is_login("POST", route), route
    for route in ("GET /api/login", "POST /api/vaults/{id}/entries", "POST /api/authors"):
        assert not is_login(route.split()[0], route), route


def test_a_degraded_soak_shows_each_degradation() -> None:
    data = report(soak(degraded=True))
    routes = by_route(data)
    search = routes["GET /api/vaults/{id}/search"]
    assert search["p95_trend"]["growth"] > 5, search["p95_trend"]
    assert any("p95 latency grew" in why for why in search["degraded"])
    sidebar = routes["GET /api/vaults/{id}/entries"]
    assert sidebar["array_trend"]["key"] == "$.recent"
    assert sidebar["array_trend"]["end_items"] > 200
    assert any("$.recent grew" in why for why in sidebar["degraded"])
    assert len(data["login_loops"]) == 1
    loop = data["login_loops"][0]
    assert loop["session"] == "S1" and loop["cycles"] > 50
    assert loop["unauthorized_route"] == "GET /api/vaults"
    assert loop["login_route"] == "POST /api/login"
    assert data["passed"] is False and data["exit_code"] == 1
    assert any("login loop" in reason for reason in data["reasons"])
    # nothing else is blamed
    assert not routes["POST /api/vaults/{id}/entries/{id}/save"]["degraded"]
    assert len(data["buckets"]) == 8 and data["span"]["buckets"] == 8
    assert sum(b["exchanges"] for b in data["buckets"]) == data["totals"]["exchanges"]


def test_a_healthy_soak_shows_nothing() -> None:
    data = report(soak(degraded=False))
    assert data["passed"] is True, data["reasons"]
    assert data["reasons"] == [] and data["login_loops"] == []
    search = by_route(data)["GET /api/vaults/{id}/search"]
    assert 0.8 < search["p95_trend"]["growth"] < 1.25
    assert search["p99_ms"] > 100  # the stray stalls are in the tail, not in the trend


def test_thresholds_decide() -> None:
    degraded = soak(degraded=True)
    lenient = report(degraded, max_p95_growth=100, max_size_growth=1000, max_login_loops=5)
    assert lenient["passed"] is True, lenient["reasons"]
    assert lenient["thresholds"]["max_login_loops"] == 5


def test_errors_and_unanswered_requests_count_apart_from_4xx() -> None:
    exchanges = [
        exchange(1, T0, "GET", "/a", 200, 5),
        exchange(2, T0 + 1, "GET", "/a", 503, 5),
        exchange(3, T0 + 2, "GET", "/a", None, 0),
        exchange(4, T0 + 3, "GET", "/a", 404, 5),
    ]
    data = report(exchanges, max_error_rate=0.6)
    route = by_route(data)["GET /a"]
    assert (route["server_errors"], route["transport_errors"], route["client_errors"]) == (1, 1, 1)
    assert route["error_rate"] == 0.5 and data["passed"] is True
    failing = report(exchanges, max_error_rate=0.1)
    assert failing["passed"] is False and "error rate 50.00%" in failing["reasons"][0]


def test_memory_is_bounded_by_routes_and_buckets_not_exchanges() -> None:
    from parity.triage.soak import SoakAnalyzer

    analyzer = SoakAnalyzer(SoakSettings())
    for i, item in enumerate(soak(degraded=True, per_hour=1000)):
        analyzer.add(f"S{i % 4}", item)
    cells = [cell for buckets in analyzer.cells.values() for cell in buckets.values()]
    assert analyzer.exchanges > 8000
    assert len(cells) <= len(analyzer.cells) * 8
    assert all(len(cell.latency.counts) < 450 for cell in cells)
    assert all(len(cell.arrays) <= 8 for cell in cells)
    assert len(analyzer.chains) == 4


def test_a_torn_file_is_read_to_its_damage_and_said(tmp_path) -> None:
    from parity.sessions import SessionHeader, SessionWriter
    from parity.triage.soak import soak_files

    path = tmp_path / "torn.parity"
    writer = SessionWriter(path, SessionHeader("torn", "", T0, None))
    for item in soak(degraded=False, hours=1, per_hour=40):  # 41 exchanges
        writer.append(item)
    writer.close(trailer=False)  # killed: no trailer
    path.write_bytes(path.read_bytes()[:-7])  # and torn in the last exchange
    report, read = soak_files([path], SoakSettings())
    assert read[0]["session"] == "torn" and read[0]["exchanges"] == 40
    assert read[0]["skipped_bytes"] > 0 and "torn tail" in read[0]["skipped_reason"]
    assert report.to_json(read)["totals"]["exchanges"] == 40


def test_route_rules_make_an_rpc_bridges_operations_routes() -> None:
    from parity.differ import load_rules

    rules = load_rules({"route": [{"match": "POST /api/bridge", "key": "json:$.method"}]})
    items = []
    for i in range(6):
        item = exchange(i, T0 + i, "POST", "/api/bridge", 200, 5)
        item.request.body = b'{"method": "%s"}' % (b"ai.chat" if i % 2 else b"speech.speak")
        item.request.headers = [(b"Content-Type", b"application/json")]
        items.append(item)
    data = analyze([("S", items)], SoakSettings(routes=rules.routes)).to_json()
    assert {r["route"] for r in data["routes"]} == {
        "POST /api/bridge ai.chat",
        "POST /api/bridge speech.speak",
    }


def test_a_sparse_route_is_trended_over_merged_buckets() -> None:
    """One search a bucket: no bucket has 3 latencies, pairs of pairs do."""
    items = [exchange(i, T0 + i * HOUR, "GET", "/search", 200, 10 + 8 * i) for i in range(32)]
    data = report(items)
    trend = by_route(data)["GET /search"]["p95_trend"]
    assert trend is not None and trend["growth"] > 3
    assert data["passed"] is False
