"""parity on traffic nobody here wrote: two APIs that behave like third-party ones
(tests/apis), each recorded through `parity record` in front of its reference and
replayed against its port, on real processes.

- store_api, a REST commerce API whose port changes the id type (ints -> "prod_8f3aK2"),
  gets pagination wrong on a full last page, quotes no Link rel, and rounds tax half to
  even: those differences are found, and nothing from correlated ids, tokens, ETags,
  request ids, rate-limit counters or timestamps is.
- tags_api, an AWS JSON 1.1-style RPC API (one URL, the operation in `X-Amz-Target`)
  whose tag arrays come back in random order in both modes: the port's error shape,
  omitted null and dropped tag are found; order-only differences are not; every
  operation is its own route without a rules file.

The first replay of each has live references as baselines (two for the tags: a single
shuffled sample keeps the recorded order too often); the second, into the same results
database, has none, so only the noise learned by the first keeps volatile fields out.
The documented differences are in each API's module docstring.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.procs import Proc, parity, python

pytestmark = pytest.mark.timeout(120)

Diff = dict[str, Any]
Mismatch = dict[str, Any]
Explains = Callable[[Mismatch, Diff], bool]

TARGET = "TagService_20260101"
TAG_OPERATIONS = {
    "CreateResource",
    "TagResource",
    "UntagResource",
    "ListTags",
    "DescribeResource",
    "DeleteResource",
    "GetTagValues",  # unknown to the service: still its own route
}
MIN_EXCHANGES = 25


# --- processes ------------------------------------------------------------------------


DAY = 86_400.0


def _apis(stack: ExitStack, api: str, *modes: str, clock: float = 0.0) -> list[str]:
    """Start one API process per mode (all at once), then wait for each to listen. The
    n-th process's clock is `clock + n` days ahead: epoch seconds (`created`) always
    differ from the recording's and between the processes of one replay, whatever
    second each falls in."""
    procs = [
        stack.enter_context(
            Proc(
                python(
                    "-m",
                    f"tests.apis.{api}",
                    "--mode",
                    mode,
                    "--port",
                    "0",
                    "--clock-offset",
                    str(clock + n * DAY if clock else 0.0),
                )
            )
        )
        for n, mode in enumerate(modes)
    ]
    return [proc.wait_for(r"API_LISTENING (\S+)").group(1) for proc in procs]


def _client(client: str, base_url: str) -> str:
    with Proc(python("-m", f"tests.apis.{client}", base_url)) as proc:
        code = proc.popen.wait(60)
        output = proc.output()
    assert code == 0, output
    return output


def _requests(client_output: str) -> int:
    """The request count a client prints: `NAME_client: 33 requests, statuses {...}`."""
    match = re.search(r"(\d+) requests", client_output)
    return int(match.group(1)) if match else 0


def _record(sessions: Path, api: str, client: str) -> Path:
    with ExitStack() as stack:
        (reference,) = _apis(stack, api, "reference")
        recorder = stack.enter_context(
            Proc(
                parity(
                    "record",
                    "--upstream",
                    reference,
                    "--listen",
                    "127.0.0.1:0",
                    "--sessions",
                    str(sessions),
                    "--label",
                    client,
                )
            )
        )
        proxy = recorder.wait_for(r"listening on (http://\S+)").group(1)
        recorder.wait_for("recording to")
        output = _client(client, proxy)
        assert _requests(output) >= MIN_EXCHANGES, output
        assert recorder.terminate() == 0, recorder.output()
    return sessions


def _json_command(*args: str) -> tuple[int, Any, str]:
    with Proc(parity(*args)) as proc:
        code = proc.popen.wait(30)
        output = proc.output()
    try:
        return code, json.loads(output), output
    except ValueError:
        return code, None, output


@dataclass
class Run:
    code: int
    output: str
    report: dict[str, Any]

    @property
    def mismatches(self) -> list[Mismatch]:
        mismatches: list[Mismatch] = self.report["mismatches"]
        return mismatches

    def dump(self, limit: int = 6000) -> str:
        return json.dumps(self.mismatches, indent=1, default=str)[:limit]


def _replay(sessions: Path, db: Path, api: str, *, target: str = "port", baselines: int = 1) -> Run:
    """Replay against a fresh `target`-mode process with `baselines` fresh references."""
    with ExitStack() as stack:
        urls = _apis(stack, api, target, *["reference"] * baselines, clock=DAY)
        args = ["replay", str(sessions), "--target", urls[0], "--db", str(db)]
        for url in urls[1:]:
            args += ["--baseline", url]
        with Proc(parity(*args)) as run:
            code = run.popen.wait(60)
            output = run.output()
    assert code in (0, 1), output
    report_code, report, report_output = _json_command("report", "--db", str(db), "--json")
    assert report_code == 0 and report is not None, report_output
    return Run(code, output, report)


# --- checking a report against the documented differences ----------------------------


def _classify(
    run: Run, explains: dict[str, Explains]
) -> tuple[dict[str, list[Mismatch]], list[str]]:
    """Which documented difference explains each reported one: name -> the mismatches
    that show it, and every reported difference no name explains."""
    found: dict[str, list[Mismatch]] = {}
    unexplained: list[str] = []
    for mismatch in run.mismatches:
        assert mismatch["error"] is None, mismatch
        for diff in mismatch["differences"]:
            names = [name for name, test in explains.items() if test(mismatch, diff)]
            for name in names:
                if mismatch not in found.setdefault(name, []):
                    found[name].append(mismatch)
            if not names:
                unexplained.append(f"{mismatch['route']} {mismatch['url']}: {diff}")
    return found, unexplained


def _assert_exactly(run: Run, explains: dict[str, Explains]) -> dict[str, list[Mismatch]]:
    assert run.report["totals"]["errors"] == 0, run.output
    assert run.report["totals"]["exchanges"] >= MIN_EXCHANGES, run.report["totals"]
    found, unexplained = _classify(run, explains)
    assert not unexplained, "reported but not a documented difference:\n" + "\n".join(unexplained)
    missing = set(explains) - set(found)
    assert not missing, f"documented differences not found: {sorted(missing)}\n{run.dump()}"
    assert run.code == 1
    return found


def _header(diff: Diff, name: str) -> bool:
    return diff["where"] == "header" and str(diff["path"]).lower() == name


# --- store_api: REST, ids change type, pagination ------------------------------------

LIST = "GET /v2/products"
ORDER_ROUTES = ("POST /v2/orders", "GET /v2/orders/{id}")
STORE_DIFFERENCES: dict[str, Explains] = {
    # (b) has_more on the last page when it is full; the next page's link comes with it.
    "has-more-on-full-last-page": lambda m, d: (
        m["route"] == LIST
        and (
            (d["path"] == "$.has_more" and (d["expected"], d["actual"]) == (False, True))
            or (d["path"] == "$.next_page" and d["expected"] is None and d["actual"] is not None)
            or (_header(d, "link") and d["kind"] == "added")
        )
    ),
    # (b) Link: <...>; rel=next, unquoted.
    "link-rel-unquoted": lambda m, d: (
        m["route"] == LIST
        and _header(d, "link")
        and d["kind"] == "changed"
        and 'rel="next"' in str(d["expected"])
        and "rel=next" in str(d["actual"])
    ),
    # (c) half-even rounding of the tax: 1 cent less in tax and total.
    "tax-rounded-half-even": lambda m, d: (
        m["route"] in ORDER_ROUTES
        and d["where"] == "body"
        and d["path"] in ("$.tax", "$.total")
        and d["kind"] == "changed"
        and isinstance(d["expected"], int)
        and d["actual"] == d["expected"] - 1
    ),
}
ID_ROUTES = {
    "GET /v2/products/{id}",
    "PATCH /v2/products/{id}",
    "DELETE /v2/products/{id}",
    "GET /v2/orders/{id}",
}


def _assert_store_run(run: Run) -> None:
    found = _assert_exactly(run, STORE_DIFFERENCES)
    # (a) The id type change is carried through, not reported, and breaks nothing: every
    # follow-up request found its record (no 401/404/412 that the reference did not give).
    wrong = [m for m in run.mismatches if m["expected_status"] != m["actual_status"]]
    assert not wrong, json.dumps(wrong, indent=1)[:4000]
    routes = {r["route"]: r for r in run.report["routes"]}
    assert set(routes) >= ID_ROUTES, sorted(routes)
    assert all(routes[r]["errors"] == 0 for r in ID_ROUTES)
    # (b) exactly on the full last pages: 6 products by 3 (page 2) and by 2 (page 3).
    last_pages = {m["url"] for m in found["has-more-on-full-last-page"]}
    assert last_pages == {"/v2/products?limit=3&page=2", "/v2/products?limit=2&page=3"}
    # (c) exactly the one order whose tax ends in half a cent, when created and read.
    taxed = sorted(m["route"] for m in found["tax-rounded-half-even"])
    assert taxed == sorted(ORDER_ROUTES), taxed


@pytest.fixture(scope="module")
def store_sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _record(tmp_path_factory.mktemp("store-sessions"), "store_api", "store_client")


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store-db") / "parity.db"


@pytest.fixture(scope="module")
def store_with_baseline(store_sessions: Path, store_db: Path) -> Run:
    return _replay(store_sessions, store_db, "store_api", baselines=1)


@pytest.fixture(scope="module")
def store_without_baseline(store_sessions: Path, store_db: Path, store_with_baseline: Run) -> Run:
    return _replay(store_sessions, store_db, "store_api", baselines=0)


def test_store_client_runs_unchanged_against_the_port() -> None:
    with ExitStack() as stack:
        (port,) = _apis(stack, "store_api", "port")
        output = _client("store_client", port)
    assert _requests(output) >= MIN_EXCHANGES, output


def test_store_port_with_a_baseline_shows_exactly_the_documented_differences(
    store_with_baseline: Run,
) -> None:
    _assert_store_run(store_with_baseline)
    assert store_with_baseline.report["totals"]["noise_suppressed"] > 0


def test_store_port_without_a_baseline_learned_noise_keeps_volatile_fields_out(
    store_with_baseline: Run, store_without_baseline: Run, store_db: Path
) -> None:
    """`created` epochs, `receipt_url`s and `request_log_url`s quoting a `req_...` id
    differ on every run and are not uuids or minted ids: only learned noise hides them."""
    _assert_store_run(store_without_baseline)
    assert store_without_baseline.report["totals"]["noise_suppressed"] > 0
    code, noise, output = _json_command("noise", "--db", str(store_db), "--json")
    assert code == 0 and noise, output
    learned = json.dumps(noise)
    for field in ("created", "receipt_url", "request_log_url"):
        assert field in learned, f"{field} not in the learned noise: {learned[:3000]}"


def test_store_reference_against_a_reference_baseline_matches_completely(
    store_sessions: Path, tmp_path: Path
) -> None:
    run = _replay(store_sessions, tmp_path / "parity.db", "store_api", target="reference")
    assert run.report["totals"]["mismatched"] == 0, run.dump()
    assert run.report["totals"]["errors"] == 0 and run.code == 0, run.output


# --- tags_api: one URL, operations in X-Amz-Target, set-like arrays -------------------


def _op(name: str) -> str:
    return f"POST / {TARGET}.{name}"


TAG_DIFFERENCES: dict[str, Explains] = {
    # (a) 400 ResourceNotFoundException -> 404 {"code": "NotFound"}: one error_changed
    # (with the status change, if the differ reports it alongside).
    "error-shape-on-deleted": lambda m, d: (
        m["route"] == _op("DescribeResource")
        and (m["expected_status"], m["actual_status"]) == (400, 404)
        and (d["kind"] == "error_changed" or d["where"] == "status")
    ),
    # (b) "NextToken": null left out.
    "next-token-omitted": lambda m, d: (
        m["route"] == _op("ListTags")
        and d["where"] == "body"
        and d["path"] == "$.NextToken"
        and d["kind"] == "removed"
        and d["expected"] is None
    ),
    # (c) the empty-valued tag missing from the shuffled Tags of DescribeResource.
    "empty-tag-dropped": lambda m, d: (
        m["route"] == _op("DescribeResource")
        and d["where"] == "body"
        and d["kind"] == "removed"
        and re.fullmatch(r"\$\.Resource\.Tags\[\d+\]", str(d["path"])) is not None
        and isinstance(d["expected"], dict)
        and d["expected"].get("Value") == ""
    ),
}


def _assert_tags_run(run: Run) -> None:
    found = _assert_exactly(run, TAG_DIFFERENCES)
    errors = found["error-shape-on-deleted"]
    assert len(errors) == 1, json.dumps(errors, indent=1)
    kinds = [d["kind"] for d in errors[0]["differences"]]
    assert "error_changed" in kinds, errors[0]
    # Everything else answered with the reference's status: no ResourceNotFound from an
    # id that was not carried through.
    wrong = [
        m for m in run.mismatches if m["expected_status"] != m["actual_status"] and m not in errors
    ]
    assert not wrong, json.dumps(wrong, indent=1)[:4000]
    # (b) on every successful ListTags; (c) on each of the 5 Describes of the resources that
    # have an empty-valued tag, one removed tag each time.
    listed = [
        m for m in run.mismatches if m["route"] == _op("ListTags") and m["expected_status"] == 200
    ]
    assert len(found["next-token-omitted"]) == len(listed) == 8, run.dump()
    dropped = found["empty-tag-dropped"]
    assert len(dropped) == 5, run.dump()
    for mismatch in dropped:
        removed = [d for d in mismatch["differences"] if d["kind"] == "removed"]
        assert len(removed) == 1 and removed[0]["expected"]["Key"] in ("scratch", "backup")


@pytest.fixture(scope="module")
def tags_sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _record(tmp_path_factory.mktemp("tags-sessions"), "tags_api", "tags_client")


@pytest.fixture(scope="module")
def tags_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tags-db") / "parity.db"


@pytest.fixture(scope="module")
def tags_with_baselines(tags_sessions: Path, tags_db: Path) -> Run:
    return _replay(tags_sessions, tags_db, "tags_api", baselines=2)


@pytest.fixture(scope="module")
def tags_without_baseline(tags_sessions: Path, tags_db: Path, tags_with_baselines: Run) -> Run:
    return _replay(tags_sessions, tags_db, "tags_api", baselines=0)


def test_tags_client_runs_unchanged_against_the_port() -> None:
    with ExitStack() as stack:
        (port,) = _apis(stack, "tags_api", "port")
        output = _client("tags_client", port)
    assert _requests(output) >= MIN_EXCHANGES, output


def test_tags_routes_are_one_per_operation_from_the_target_header(
    tags_with_baselines: Run,
) -> None:
    routes = {r["route"] for r in tags_with_baselines.report["routes"]}
    assert routes == {_op(name) for name in TAG_OPERATIONS}, sorted(routes)


def test_tags_port_with_baselines_shows_exactly_the_documented_differences(
    tags_with_baselines: Run,
) -> None:
    """No order_changed anywhere: the baselines shuffle the same arrays, so they are
    compared as multisets, and the dropped tag is still one `removed`."""
    _assert_tags_run(tags_with_baselines)
    assert tags_with_baselines.report["totals"]["noise_suppressed"] > 0


def test_tags_port_without_a_baseline_learned_noise_keeps_order_and_times_out(
    tags_with_baselines: Run, tags_without_baseline: Run, tags_db: Path
) -> None:
    _assert_tags_run(tags_without_baseline)
    assert tags_without_baseline.report["totals"]["noise_suppressed"] > 0
    code, noise, output = _json_command("noise", "--db", str(tags_db), "--json")
    assert code == 0 and noise, output
    learned = json.dumps(noise)
    assert "CreationTime" in learned, learned[:3000]


def test_tags_reference_against_reference_baselines_matches_completely(
    tags_sessions: Path, tmp_path: Path
) -> None:
    run = _replay(
        tags_sessions, tmp_path / "parity.db", "tags_api", target="reference", baselines=2
    )
    assert run.report["totals"]["mismatched"] == 0, run.dump()
    assert run.report["totals"]["errors"] == 0 and run.code == 0, run.output
