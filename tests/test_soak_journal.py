"""`parity soak` and `parity gate --soak` on real recordings: the journal backend, healthy
and `--degrade`d, behind `parity record`, driven by `examples/journal/soak.py` through six
simulated hours (seconds of wall time; `--bucket` makes a bucket of a sixth of it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.journal import record_traffic
from tests.procs import Proc, parity

HOURS = 6
PER_HOUR = 30
PASSPHRASE = "soak test passphrase"
CREEP_MS = 30
"""The degraded search's creep per simulated hour: ~150 ms by the last hour."""
LIMITS = "[gate.soak]\np95_floor_ms = 60\n"
"""A p95 must grow by 60 ms to count: the creep does; a healthy backend's jitter on a
loaded machine (latencies of a few ms, a slow stretch now and then) does not."""


def record_soak(sessions: Path, *, degrade: bool, encrypt: bool = False) -> float:
    """Record one soak into `sessions`; the generator's wall time in seconds."""
    backend = ["--degrade", "--sim-hour", str(PER_HOUR), "--loop-after", "4"]
    backend += ["--creep-ms", str(CREEP_MS)]
    output = record_traffic(
        sessions,
        ["examples/journal/soak.py", "--hours", str(HOURS), "--per-hour", str(PER_HOUR)],
        sessions.parent,
        "--label",
        "degraded" if degrade else "healthy",
        *(["--encrypt"] if encrypt else []),
        backend=backend if degrade else (),
        env={"PARITY_PASSPHRASE": PASSPHRASE} if encrypt else None,
    )
    match = re.search(r"SOAK_DONE \d+ (\S+)", output)
    assert match, output
    return float(match.group(1))


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    sessions = tmp_path_factory.mktemp("healthy") / "sessions"
    return sessions, record_soak(sessions, degrade=False, encrypt=True)


@pytest.fixture(scope="module")
def degraded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    sessions = tmp_path_factory.mktemp("degraded") / "sessions"
    return sessions, record_soak(sessions, degrade=True)


def bucket(seconds: float) -> str:
    return f"{max(1, round(seconds / HOURS * 1000))}ms"


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory whose parity.toml holds `LIMITS`."""
    project = tmp_path_factory.mktemp("limits")
    (project / "parity.toml").write_text(LIMITS)
    return project


def soak_json(recording: tuple[Path, float], cwd: Path, *extra: str, env=None) -> tuple[int, dict]:
    sessions, seconds = recording
    argv = parity("soak", str(sessions), "--json", "--bucket", bucket(seconds), *extra)
    with Proc(argv, cwd=cwd, env=env) as proc:
        code = proc.popen.wait(60)
        out = proc.output()
    assert code in (0, 1), out
    return code, json.loads(out[out.index("{") :])


ROUTE_KEYS = {
    "route", "exchanges", "server_errors", "transport_errors", "client_errors", "error_rate",
    "p50_ms", "p95_ms", "p99_ms", "mean_bytes", "p95_trend", "size_trend", "array_trend",
    "degraded", "buckets",
}  # fmt: skip
TOP_KEYS = [
    "schema", "passed", "exit_code", "reasons", "thresholds", "settings", "span", "sessions",
    "totals", "buckets", "routes", "login_loops",
]  # fmt: skip


def check_schema(data: dict) -> None:
    """The documented shape of `parity-soak/1` (docs/soak.md), key by key."""
    assert list(data) == TOP_KEYS
    assert data["schema"] == "parity-soak/1"
    assert set(data["thresholds"]) == {
        "max_p95_growth", "p95_floor_ms", "max_size_growth", "size_floor_bytes",
        "size_floor_items", "max_login_loops", "max_error_rate",
    }  # fmt: skip
    assert set(data["settings"]) == {"bucket_seconds", "loop_window_seconds", "loop_cycles"}
    assert set(data["span"]) == {"started_at", "ended_at", "seconds", "buckets"}
    assert set(data["totals"]) == {
        "exchanges", "server_errors", "transport_errors", "client_errors", "error_rate",
        "routes", "login_loops",
    }  # fmt: skip
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    for row in data["buckets"]:
        assert iso.match(row["start"])
    for route in data["routes"]:
        assert set(route) == ROUTE_KEYS
        for row in route["buckets"]:
            assert set(row) == {
                "start", "exchanges", "server_errors", "transport_errors", "client_errors",
                "error_rate", "p50_ms", "p95_ms", "p99_ms", "mean_bytes", "arrays",
            }  # fmt: skip
    for item in data["sessions"]:
        assert set(item) == {
            "session", "path", "exchanges", "skipped_bytes", "skipped_reason",
            "malformed_records",
        }  # fmt: skip
    for loop in data["login_loops"]:
        assert set(loop) == {
            "session", "cycles", "started_at", "ended_at", "unauthorized_route", "login_route",
        }  # fmt: skip


def test_a_degraded_soak_shows_each_degradation(degraded, limits: Path) -> None:
    code, data = soak_json(degraded, limits)
    check_schema(data)
    assert code == 1 and data["passed"] is False
    routes = {route["route"]: route for route in data["routes"]}
    search = routes["GET /api/vaults/{id}/search"]
    assert search["p95_trend"]["growth"] > 1.5 and search["degraded"], search
    sidebar = routes["GET /api/vaults/{id}/entries"]
    assert sidebar["array_trend"]["key"] == "$.recent" and sidebar["degraded"], sidebar
    assert len(data["login_loops"]) == 1, data["login_loops"]
    assert data["login_loops"][0]["cycles"] >= 3
    assert data["login_loops"][0]["login_route"] == "POST /api/login"
    blamed = {route["route"] for route in data["routes"] if route["degraded"]}
    assert blamed <= {"GET /api/vaults/{id}/search", "GET /api/vaults/{id}/entries"}
    assert any("login loop" in reason for reason in data["reasons"])


def test_a_healthy_encrypted_soak_shows_nothing(healthy, limits: Path) -> None:
    code, data = soak_json(healthy, limits, env={"PARITY_PASSPHRASE": PASSPHRASE})
    check_schema(data)
    assert code == 0 and data["passed"] is True, data["reasons"]
    assert data["reasons"] == [] and data["login_loops"] == []
    assert data["totals"]["exchanges"] >= HOURS * (PER_HOUR - 2)
    assert data["span"]["buckets"] >= 3
    without_key = Proc(parity("soak", str(healthy[0])), env={"PARITY_PASSPHRASE": ""})
    with without_key as proc:
        assert proc.popen.wait(30) == 2
        assert "is encrypted" in proc.output()


def test_the_terminal_report(degraded) -> None:
    sessions, seconds = degraded
    with Proc(parity("soak", str(sessions), "--bucket", bucket(seconds))) as proc:
        assert proc.popen.wait(60) == 1
        out = proc.output()
    assert "DEGRADED" in out and "Per route" in out and "Login loops" in out
    assert "GET /api/vaults/{id}/search" in out


def test_the_html_report_is_one_self_contained_file(degraded, tmp_path: Path) -> None:
    sessions, seconds = degraded
    page = tmp_path / "soak.html"
    args = ["soak", str(sessions), "--bucket", bucket(seconds), "--html", str(page), "--json"]
    with Proc(parity(*args)) as proc:
        assert proc.popen.wait(60) == 1
        out = proc.output()
    data = json.loads(out[out.index("{") :])
    text = page.read_text("utf-8")
    assert not re.search(r"<script[^>]+src=[\"']?https?:", text, re.I)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", text, re.I)
    assert text.count("<script") >= len(data["routes"])
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # plotly.js is inside
    sections = re.findall(r'<section class="route" data-route="([^"]+)">', text)
    assert len(sections) == len(data["routes"])
    assert text.count("Plotly.newPlot") == len(data["routes"])


def test_html_without_plotly_says_what_to_install(degraded, tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "plotly"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('no plotly here')\n")
    page = tmp_path / "soak.html"
    env = {"PYTHONPATH": str(shim.parent)}
    with Proc(parity("soak", str(degraded[0]), "--html", str(page)), env=env) as proc:
        assert proc.popen.wait(30) == 2
        out = proc.output()
    assert out.strip().splitlines() == [
        "--html needs plotly: pip install 'parity[report]' (or pip install plotly)"
    ]
    assert not page.exists()


def gate(cwd: Path, *args: str) -> tuple[int, str, dict]:
    with Proc(parity("gate", *args), cwd=cwd) as proc:
        code = proc.popen.wait(60)
        out = proc.output()
    artifact = cwd / "logs" / "parity_soak_results.json"
    return code, out, json.loads(artifact.read_text()) if artifact.exists() else {}


def test_the_gate_passes_a_healthy_soak_and_fails_a_degraded_one(
    healthy, degraded, tmp_path: Path
) -> None:
    (tmp_path / "parity.toml").write_text(
        f"{LIMITS}max_p95_growth = 1.5\nmax_login_loops = 0\n"
        f'bucket = "{degraded[1] / HOURS * 1000:.0f}ms"\n'
    )
    code, out, artifact = gate(tmp_path, "--soak", str(degraded[0]))
    assert code == 1, out
    assert artifact["passed"] is False and artifact["exit_code"] == 1
    reasons = artifact["reasons"]
    assert any(r.startswith("GET /api/vaults/{id}/search: p95 latency grew") for r in reasons)
    assert any(r.startswith("GET /api/vaults/{id}/entries: $.recent grew") for r in reasons)
    assert any("login loop" in r for r in reasons)
    assert "DEGRADED" in out

    (tmp_path / "parity.toml").write_text(
        f"[gate.soak]\nmax_p95_growth = 1000\nmax_size_growth = 1000\nmax_login_loops = 1\n"
        f"bucket = {degraded[1] / HOURS:.3f}\n"
    )
    code, out, artifact = gate(tmp_path, "--soak", str(degraded[0]), "--json")
    assert code == 0, out
    assert artifact["passed"] is True and artifact["thresholds"]["max_login_loops"] == 1

    (tmp_path / "parity.toml").write_text(f"{LIMITS}bucket = {healthy[1] / HOURS:.3f}\n")
    with Proc(
        parity("gate", "--soak", str(healthy[0])),
        cwd=tmp_path,
        env={"PARITY_PASSPHRASE": PASSPHRASE},
    ) as proc:
        assert proc.popen.wait(60) == 0, proc.output()
    artifact = json.loads((tmp_path / "logs" / "parity_soak_results.json").read_text())
    assert artifact["passed"] is True and artifact["reasons"] == []


def test_gate_soak_input_errors(degraded, tmp_path: Path) -> None:
    (tmp_path / "parity.toml").write_text("[gate.soak]\nmax_p95_growth = 0.5\n")
    code, out, _ = gate(tmp_path, "--soak", str(degraded[0]))
    assert code == 2 and "[gate] soak max_p95_growth must be a number of at least 1" in out
    (tmp_path / "parity.toml").write_text("[gate.soak]\nmax_p95 = 2\n")
    code, out, _ = gate(tmp_path, "--soak", str(degraded[0]))
    assert code == 2 and "'max_p95' is not a known key" in out
    (tmp_path / "parity.toml").unlink()
    code, out, _ = gate(tmp_path, "RUN1", "--soak", str(degraded[0]))
    assert code == 2 and "drop RUN" in out
    not_a_session = tmp_path / "x.parity"
    not_a_session.write_bytes(b"hello")
    code, out, artifact = gate(tmp_path, "--soak", str(not_a_session))
    assert code == 2 and "not a parity session file" in out and artifact == {}
    assert len(out.strip().splitlines()) == 1


def test_bad_input_is_one_line(degraded, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in (
        (["--bucket", "abc"], "--bucket must be a duration such as 5s"),
        (["--loop-window", "0s"], "--loop-window must be at least 1ms"),
        (["--html", str(tmp_path / "no" / "such" / "dir" / "x.html"), "--bucket", "1"], None),
    ):
        with Proc(parity("soak", str(degraded[0]), *args)) as proc:
            code = proc.popen.wait(30)
            out = proc.output()
        if message is None:  # parent directories are made, like the gate's artifact
            assert code == 1 and (tmp_path / "no" / "such" / "dir" / "x.html").is_file(), out
            continue
        assert code == 2 and out.startswith("parity: error: " + message), out
        assert len(out.strip().splitlines()) == 1
    with Proc(parity("soak", str(empty))) as proc:
        assert proc.popen.wait(30) == 2
        assert proc.output().strip() == f"parity: error: no session files (*.parity) in {empty}"
