"""The journal example backends and pilot, end to end with real processes on 127.0.0.1.

One module fixture starts every server the tests need at once (two baselines, the
candidate, and one candidate per ``--fix NAME``), plays the pilot against each in
parallel and keeps the traces; the tests then compare traces. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from examples.journal.divergences import DIVERGENCES
from examples.journal.pilot import run_pilot

ROOT = Path(__file__).resolve().parents[1]
JOURNAL = ROOT / "examples" / "journal"
STARTUP_TIMEOUT = 20.0
PILOT_TIMEOUT = 60.0
ENTRY = r"/entries/\d+$"


# --- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One server to start: a mode plus fixes (flags) or extra environment."""

    mode: str
    fixes: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def _start(spec: Spec) -> subprocess.Popen[str]:
    args = [sys.executable, str(JOURNAL / "server.py"), "--mode", spec.mode, "--port", "0"]
    args += [f"--fix={name}" for name in spec.fixes]
    env = {key: value for key, value in os.environ.items() if key != "JOURNAL_FIX"}
    env.update({"PYTHONUNBUFFERED": "1", **dict(spec.env)})
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _listening_url(proc: subprocess.Popen[str]) -> str:
    """Wait (bounded) for the ``JOURNAL_LISTENING http://...`` line."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=STARTUP_TIMEOUT)
    except queue.Empty:
        pytest.fail(f"server printed nothing within {STARTUP_TIMEOUT}s: {proc.args!r}")
    match = re.fullmatch(r"JOURNAL_LISTENING (http://\S+)\n", line)
    assert match, f"unexpected first line {line!r} from {proc.args!r}"
    return match.group(1)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


@contextmanager
def servers(*specs: Spec) -> Iterator[list[str]]:
    """Start all servers concurrently; yields their base URLs; always stops them."""
    procs = [_start(spec) for spec in specs]
    try:
        yield [_listening_url(proc) for proc in procs]
    finally:
        for proc in procs:
            _stop(proc)


@dataclass(frozen=True)
class PilotRun:
    """A finished ``pilot.py`` process and the trace it wrote."""

    returncode: int
    stdout: str
    stderr: str
    trace: list[Exchange]


def start_pilot(url: str, trace: Path) -> subprocess.Popen[str]:
    args = [sys.executable, str(JOURNAL / "pilot.py"), url, "--trace", str(trace)]
    return subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_pilot(proc: subprocess.Popen[str], trace: Path) -> PilotRun:
    try:
        out, err = proc.communicate(timeout=PILOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
    return PilotRun(proc.returncode, out, err, load_trace(trace) if trace.exists() else [])


async def pilot_traces(urls: list[str], trace_dir: Path) -> list[list[Exchange]]:
    """Run ``run_pilot`` in this process against every URL concurrently."""
    paths = [trace_dir / f"in-process-{i}.jsonl" for i in range(len(urls))]
    pilots = (run_pilot(url, path) for url, path in zip(urls, paths, strict=True))
    await asyncio.wait_for(asyncio.gather(*pilots), timeout=PILOT_TIMEOUT)
    return [load_trace(path) for path in paths]


# --- traces ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One trace line, with the body un-gzipped for reading (``raw`` keeps the wire bytes)."""

    method: str
    path: str
    status: int
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.raw) if self.header("Content-Encoding") == "gzip" else self.raw

    def json(self) -> Any:
        return json.loads(self.body)


def load_trace(path: Path) -> list[Exchange]:
    exchanges = []
    for line in path.read_text("utf-8").splitlines():
        item = json.loads(line)
        url = re.sub(r"^https?://[^/]+", "", item["url"])
        headers = [(k, v) for k, v in item["headers"]]
        raw = base64.b64decode(item["body_b64"])
        exchanges.append(Exchange(item["method"], url, item["status"], headers, raw))
    return exchanges


def pick(trace: list[Exchange], method: str, path_pattern: str, nth: int = 0) -> Exchange:
    """The ``nth`` exchange whose method matches and whose path matches the regex."""
    hits = [x for x in trace if x.method == method and re.search(path_pattern, x.path)]
    assert len(hits) > nth, f"no {method} {path_pattern} #{nth} in trace"
    return hits[nth]


def after(trace: list[Exchange], method: str, path_pattern: str) -> Exchange:
    """The exchange right after the first ``method path_pattern`` one."""
    return trace[trace.index(pick(trace, method, path_pattern)) + 1]


def templated(trace: list[Exchange]) -> list[str]:
    """Method and path with minted entry ids replaced, e.g. ``GET .../entries/{id}``."""
    return [x.method + " " + re.sub(r"/entries/\d+", "/entries/{id}", x.path) for x in trace]


def ranks(ids: list[int]) -> list[int]:
    """Relative order of ids (minted ids differ between runs; their order does not)."""
    return [sorted(ids).index(i) for i in ids]


def group(pattern: str | bytes, text: Any) -> Any:
    """First group of a regex that must match."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found"
    return match[1]


def login(t: list[Exchange]) -> Exchange:
    return pick(t, "POST", r"/api/login$", 1)  # the successful one (the first is a typo)


def first_entry(t: list[Exchange]) -> Exchange:
    return pick(t, "GET", ENTRY)  # "Café morning in Zürich", first item of page 1


def invalid_create(t: list[Exchange]) -> Exchange:
    return pick(t, "POST", r"/entries$", 3)  # {"title": ""}


def bridge_call(t: list[Exchange], rpc_id: int) -> Exchange:
    return pick(t, "POST", r"^/api/bridge$", rpc_id - 1)


# What each divergence changes, read from a pilot trace. Baseline and candidate give
# different values; a candidate with ``--fix NAME`` gives baseline's value again.
PROBES: dict[str, Callable[[list[Exchange]], object]] = {
    "missing-entry-status": lambda t: after(t, "DELETE", ENTRY).status,
    "utc-z-suffix": lambda t: login(t).json()["expires_at"].endswith("+00:00"),
    "seven-fraction-digits": lambda t: len(group(r"\.(\d+)", login(t).json()["expires_at"])),
    "integral-float": lambda t: group(rb'"mood_score": ([\d.]+)', first_entry(t).body),
    "null-omitted": lambda t: "section" in first_entry(t).json(),
    "search-order": lambda t: ranks(
        [r["id"] for r in pick(t, "GET", r"/search\?section=Cooking$").json()["results"]]
    ),
    "problem-details": lambda t: (
        invalid_create(t).status,
        invalid_create(t).header("Content-Type"),
    ),
    "content-type-charset": lambda t: pick(t, "GET", r"^/api/vaults$").header("Content-Type"),
    "speech-failure-http-status": lambda t: bridge_call(t, 5).status,  # voice "missing-voice"
    "pagination-off-by-one": lambda t: [
        item["id"] for item in pick(t, "GET", r"/entries\?page=2&per_page=5$").json()["items"]
    ],
    "enum-casing": lambda t: first_entry(t).json()["type"],
    "unicode-unescaped": lambda t: b"\\u00e9" in first_entry(t).body,
    "checkbox-filter": lambda t: pick(t, "GET", r"/search\?checkbox=true$").json()["total"],
    "sse-done-event": lambda t: b"event: done" in bridge_call(t, 8).body,  # ai.chat stream
}


@dataclass(frozen=True)
class Runs:
    baseline: PilotRun
    baseline_again: PilotRun
    candidate: PilotRun
    fixed: dict[str, list[Exchange]]  # divergence name -> trace of candidate --fix NAME


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Pilot processes against two baselines and the candidate; in-process pilots (cheaper)
    against one candidate per ``--fix NAME``. All servers and pilots run concurrently."""
    trace_dir = tmp_path_factory.mktemp("journal-traces")
    names = list(DIVERGENCES)
    specs = [Spec("baseline"), Spec("baseline"), Spec("candidate")]
    specs += [Spec("candidate", fixes=(name,)) for name in names]
    with servers(*specs) as urls:
        paths = [trace_dir / f"process-{i}.jsonl" for i in range(3)]
        procs = [start_pilot(url, path) for url, path in zip(urls, paths, strict=False)]
        fixed = asyncio.run(pilot_traces(urls[3:], trace_dir))
        plain = [finish_pilot(proc, path) for proc, path in zip(procs, paths, strict=True)]
    for spec, run in zip(specs, plain, strict=False):
        assert run.returncode == 0, f"pilot against {spec} failed:\n{run.stderr}"
    baseline, baseline_again, candidate = plain
    return Runs(baseline, baseline_again, candidate, dict(zip(names, fixed, strict=True)))


# --- tests -------------------------------------------------------------------------------


def test_every_divergence_is_documented_and_probed() -> None:
    text = (JOURNAL / "DIVERGENCES.md").read_text("utf-8")
    assert len(DIVERGENCES) >= 12
    for name, divergence in DIVERGENCES.items():
        assert f"`{name}` ({divergence.kind})" in text
    assert set(PROBES) == set(DIVERGENCES)


@pytest.mark.parametrize("which", ["baseline", "candidate"])
def test_pilot_completes_against_both_modes(runs: Runs, which: str) -> None:
    run: PilotRun = getattr(runs, which)
    match = re.fullmatch(r"pilot: (\d+) requests\n", run.stdout)
    assert match, run.stdout
    assert int(match[1]) >= 60
    assert len(run.trace) == int(match[1])


def test_pilot_is_deterministic(runs: Runs) -> None:
    """Same request sequence on two fresh baselines, and the same on the candidate."""
    first, second = runs.baseline.trace, runs.baseline_again.trace
    assert templated(first) == templated(second)
    assert [x.status for x in first] == [x.status for x in second]
    assert templated(first) == templated(runs.candidate.trace)


def test_pilot_covers_the_day(runs: Runs) -> None:
    trace = runs.baseline.trace
    statuses = {x.status for x in trace}
    assert {200, 201, 204, 304, 401, 403, 404, 412, 422} <= statuses
    (large,) = [x for x in trace if x.header("Content-Encoding") == "gzip"]
    assert large.method == "GET" and re.search(ENTRY, large.path)
    assert len(large.body) >= 200_000 > len(large.raw)
    assert bridge_call(trace, 8).header("Content-Type") == "text/event-stream"
    assert trace[-1].status == 401  # after logout


def test_baseline_writes_python_json(runs: Runs) -> None:
    """Baseline JSON is byte-for-byte ``json.dumps`` output with the utf-8 charset."""
    for x in runs.baseline.trace:
        if x.body and x.header("Content-Type") != "text/event-stream":
            assert x.header("Content-Type") == "application/json; charset=utf-8", x.path
            assert json.dumps(x.json()).encode() == x.body, x.path


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_candidate_diverges(runs: Runs, name: str) -> None:
    probe = PROBES[name]
    assert probe(runs.baseline.trace) == probe(runs.baseline_again.trace)
    assert probe(runs.candidate.trace) != probe(runs.baseline.trace)


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_fix_removes_only_that_divergence(runs: Runs, name: str) -> None:
    fixed, baseline = runs.fixed[name], runs.baseline.trace
    assert PROBES[name](fixed) == PROBES[name](baseline)
    others = [other for other in PROBES if other != name]
    assert all(PROBES[other](fixed) != PROBES[other](baseline) for other in others)


def test_specific_differences(runs: Runs) -> None:
    """Spot-check what the candidate actually sends for some divergences."""
    base, cand = runs.baseline.trace, runs.candidate.trace
    assert (after(base, "DELETE", ENTRY).status, after(cand, "DELETE", ENTRY).status) == (404, 400)
    base_login = pick(base, "POST", r"/api/login$", 1).json()["expires_at"]
    cand_login = pick(cand, "POST", r"/api/login$", 1).json()["expires_at"]
    assert re.fullmatch(r".*T\d\d:\d\d:\d\d(\.\d{6})?\+00:00", base_login)
    assert re.fullmatch(r".*T\d\d:\d\d:\d\d\.\d{7}Z", cand_login)
    assert b'"mood_score": 4.0,' in first_entry(base).body
    assert b'"mood_score": 4,' in first_entry(cand).body
    assert "Café morning in Zürich".encode() in first_entry(cand).body
    assert (first_entry(base).json()["type"], first_entry(cand).json()["type"]) == (
        "journal",
        "Journal",
    )
    invalid = invalid_create(cand).json()
    assert invalid["status"] == 400 and "Title" in invalid["errors"]
    assert invalid_create(base).json()["error"]["code"] == "validation_error"
    assert bridge_call(cand, 5).json() == {"error": "voice unavailable"}
    assert bridge_call(base, 5).json()["error"]["code"] == -32001


async def _reset_scenario(base_url: str) -> None:
    """Change state, reset, and check that the fixture state (and only it) is back."""
    creds = {"username": "ana", "password": "ana-pilot-2026"}
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(base_url, timeout=timeout) as http:

        async def open_personal() -> tuple[dict[str, str], str]:
            async with http.post("/api/login", json=creds) as r:
                auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
            async with http.get("/api/vaults", headers=auth) as r:
                vault = (await r.json())["vaults"][0]["id"]
            load = f"/api/vaults/{vault}/load"
            async with http.post(load, json={"passphrase": "blue lantern"}, headers=auth) as r:
                auth["X-Vault-Session"] = (await r.json())["vault_session"]
            return auth, f"/api/vaults/{vault}/entries"

        async def ids(auth: dict[str, str], entries: str) -> list[int]:
            async with http.get(entries, params={"per_page": "100"}, headers=auth) as r:
                return [item["id"] for item in (await r.json())["items"]]

        auth, entries = await open_personal()
        fixture_ids = await ids(auth, entries)
        assert fixture_ids == list(range(1, 13))
        async with http.delete(f"{entries}/1", headers=auth) as r:
            assert r.status == 204
        async with http.post(entries, json={"title": "New"}, headers=auth) as r:
            assert r.status == 201
        assert await ids(auth, entries) != fixture_ids
        async with http.post("/_admin/reset") as r:
            assert r.status == 204
        async with http.get("/api/vaults", headers=auth) as r:
            assert r.status == 401  # sessions are part of the reset
        auth, entries = await open_personal()
        assert await ids(auth, entries) == fixture_ids


def test_admin_reset_restores_fixture_state() -> None:
    with servers(Spec("baseline")) as (url,):
        asyncio.run(asyncio.wait_for(_reset_scenario(url), timeout=30))


async def _health(base_url: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(f"{base_url}/api/health") as response,
    ):
        assert response.status == 200
        return dict(await response.json())


def test_health_and_env_fixes() -> None:
    env = (("JOURNAL_FIX", "search-order, utc-z-suffix"),)
    with servers(Spec("baseline"), Spec("candidate", env=env)) as (base, cand):
        base_health = asyncio.run(asyncio.wait_for(_health(base), timeout=20))
        cand_health = asyncio.run(asyncio.wait_for(_health(cand), timeout=20))
    assert base_health["mode"] == "baseline" and base_health["divergences"] == []
    assert cand_health["mode"] == "candidate"
    assert set(cand_health["divergences"]) == set(DIVERGENCES) - {"search-order", "utc-z-suffix"}


def test_unknown_fix_is_rejected() -> None:
    args = [sys.executable, str(JOURNAL / "server.py"), "--mode", "candidate", "--port", "0"]
    result = subprocess.run(
        [*args, "--fix", "no-such-thing"], capture_output=True, text=True, timeout=20, cwd=ROOT
    )
    assert result.returncode == 2
    assert "no-such-thing" in result.stderr
