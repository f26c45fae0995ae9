"""Mismatches that read like bug reports (`parity show`, the report's examples), latency
parity per route, signatures spanning URLs, large bodies, and the report's speed on 100k
results. Real SQLite files; results built from real JSON bodies."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from parity.differ.model import Difference, DiffKind, HttpResponse, Outcome, Verdict, Where
from parity.report_cmd import report, show
from parity.triage import ExchangeResult, ResultsDB, bench_store, queries, render
from parity.triage.sentences import Side, agrees, sentence
from tests.test_triage_db import run_info

JSON = [(b"Content-Type", b"application/json")]


@click.group()
def cli() -> None:
    """Test mount."""


cli.add_command(report)
cli.add_command(show)


def ok(*args: str, columns: int = 200) -> str:
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def result(
    seq: int,
    differences: list[Difference],
    expected: HttpResponse,
    actual: HttpResponse | None,
    *,
    session: str = "s1",
    url: str | None = None,
    route: str = "GET /api/entries/{id}",
    signature: str | None = None,
    expected_ms: float | None = 1.0,
    actual_ms: float | None = 1.0,
    rendered: tuple[str, str] | None = None,
) -> ExchangeResult:
    outcome = Outcome.MISMATCHED if differences else Outcome.MATCHED
    if actual is None:
        outcome = Outcome.ERROR
    return ExchangeResult(
        session=session,
        seq=seq,
        method=route.split()[0],
        url=url or f"/api/entries/{seq}",
        route=route,
        verdict=Verdict(
            outcome,
            route,
            differences=differences,
            signature=signature,
            error="connection refused" if actual is None else None,
        ),
        expected=expected,
        actual=actual,
        expected_ms=expected_ms,
        actual_ms=actual_ms,
        expected_rendered=rendered[0] if rendered else None,
        actual_rendered=rendered[1] if rendered else None,
    )


def store(path: Path, *results: ExchangeResult) -> str:
    with ResultsDB(path) as db:
        run_id = db.start_run(run_info())
        with db.writer(run_id) as w:
            for r in results:
                w.add(r)
        db.finish_run(run_id)
    return run_id


def only_mismatch(path: Path) -> dict[str, Any]:
    with ResultsDB(path, create=False) as db:
        ident = db.query("SELECT id FROM mismatches ORDER BY session, seq LIMIT 1")[0]["id"]
        return queries.show(db, ident)["mismatch"]


# -- sentences with the values on the wire ------------------------------------------------

EXPECTED_ENTRY = {
    "entry": {
        "id": 7,
        "created_at": "2026-02-23T20:19:14.123456+00:00",
        "title": "Groceries",
        "tags": ["home", "food"],
        "count": 4,
        "name": "Café",
        "session": {"token": "tok-s3cr3t"},
        "text": "long " * 100,
        "items": [
            {"id": 1, "at": "2026-02-23T10:00:00+00:00"},
            {"id": 2, "at": "2026-02-23T11:00:00+00:00"},
        ],
    }
}
ACTUAL_ENTRY = {
    "entry": {
        "id": 7,
        "created_at": "2026-02-23T20:19:14.1234567Z",
        "title": "Groceries (2)",
        "count": 4.0,
        "version": 2,
        "name": "Café",
        "session": {"token": "tok-other-s3cr3t"},
        "text": "short " * 100,
        "items": [
            {"id": 2, "at": "2026-02-23T11:00:00+00:00"},
            {"id": 1, "at": "2026-02-23T10:00:00Z"},
        ],
    }
}
ENTRY_DIFFERENCES = [
    Difference(Where.STATUS, "", DiffKind.CHANGED, 404, 400),
    Difference(
        Where.HEADER,
        "content-type",
        DiffKind.CHANGED,
        "application/json; charset=utf-8",
        "application/json",
    ),
    # what the differ stores: placeholders of the format, not the values
    Difference(
        Where.BODY,
        "$.entry.created_at",
        DiffKind.CHANGED,
        "<timestamp:6f+00:00>",
        "<timestamp:7fZ>",
    ),
    Difference(Where.BODY, "$.entry.tags", DiffKind.REMOVED, ["home", "food"], None),
    Difference(Where.BODY, "$.entry.version", DiffKind.ADDED, None, 2),
    Difference(Where.BODY, "$.entry.count", DiffKind.TYPE_CHANGED, 4, 4.0),
    Difference(Where.BODY, "$.entry.name", DiffKind.CHANGED, '"Caf\\u00e9"', '"Café"'),
    Difference(
        Where.BODY, "$.entry.session.token", DiffKind.CHANGED, "tok-s3cr3t", "tok-other-s3cr3t"
    ),
    Difference(Where.BODY, "$.entry.text", DiffKind.CHANGED, "long " * 100, "short " * 100),
    Difference(Where.BODY, "$.entry.items", DiffKind.ORDER_CHANGED, [1, 2], [2, 1]),
    # items pair by id: expected [0] (id 1) is actual [1]
    Difference(
        Where.BODY,
        "$.entry.items[0].at",
        DiffKind.CHANGED,
        "<timestamp:0f+00:00>",
        "<timestamp:0fZ>",
    ),
    # a path the bodies do not have, and a value some rule normalized: the stored values
    Difference(Where.BODY, "$.nowhere", DiffKind.CHANGED, "stored-e", "stored-a"),
    Difference(Where.BODY, "$.entry.title", DiffKind.CHANGED, "<normalized>x", "other"),
]


@pytest.fixture
def entry_db(tmp_path: Path) -> Path:
    path = tmp_path / "parity.db"
    expected_body = body(EXPECTED_ENTRY).replace("Café".encode(), b"Caf\\u00e9")
    store(
        path,
        result(
            1,
            ENTRY_DIFFERENCES,
            HttpResponse(
                404, [(b"Content-Type", b"application/json; charset=utf-8")], expected_body
            ),
            HttpResponse(400, JSON, json.dumps(ACTUAL_ENTRY, ensure_ascii=False).encode()),
            signature="entrysig0001",
        ),
    )
    return path


def test_show_leads_with_one_sentence_per_difference_with_raw_values(entry_db: Path) -> None:
    m = only_mismatch(entry_db)
    said = m["sentences"]
    assert said == [
        "status 400 where the recording had 404",
        "header `content-type`: `application/json` where the recording had "
        "`application/json; charset=utf-8`",
        "`$.entry.created_at`: `2026-02-23T20:19:14.1234567Z` where the recording had "
        "`2026-02-23T20:19:14.123456+00:00`",
        '`$.entry.tags` is missing (the recording had `["home","food"]`)',
        "`$.entry.version` is extra: `2`",
        "`$.entry.count`: `4.0` (a decimal number) where the recording had `4` (an integer)",
        '`$.entry.name`: the same value written differently: `"Café"` where the recording '
        'had `"Caf\\u00e9"`',
        "`$.entry.session.token`: `***` where the recording had `***`",
        f"`$.entry.text`: `{('short ' * 100)[:119]}…` where the recording had "
        f"`{('long ' * 100)[:119]}…`",
        "`$.entry.items`: the same items in another order",
        "`$.entry.items[0].at`: `2026-02-23T10:00:00Z` where the recording had "
        "`2026-02-23T10:00:00+00:00`",
        "`$.nowhere`: `stored-a` where the recording had `stored-e`",
        "`$.entry.title`: `other` where the recording had `<normalized>x`",
    ]
    assert m["differences"][2]["expected"] == "<timestamp:6f+00:00>"  # stored as compared

    out = ok("show", m["id"], "--db", str(entry_db))
    assert "s3cr3t" not in out
    what = out.index("What differs (13)")
    assert what < out.index("Body diff") < out.index("Request")
    assert (
        "• `$.entry.created_at`: `2026-02-23T20:19:14.1234567Z` where the recording had "
        "`2026-02-23T20:19:14.123456+00:00`" in out
    )


def test_the_report_example_is_the_first_sentence(entry_db: Path) -> None:
    data = json.loads(ok("report", "--db", str(entry_db), "--json"))
    example = data["signatures"][0]["example"]
    assert example["sentence"] == "status 400 where the recording had 404"
    assert example["difference"] == "status changed: 404 -> 400"
    assert data["signatures"][0]["kinds"] == [
        "added",
        "changed",
        "order_changed",
        "removed",
        "type_changed",
    ]


def test_raw_values_must_agree_with_the_stored_ones() -> None:
    assert agrees("2026-02-23T20:19:14.1234567Z", "<timestamp:7fZ>")
    assert not agrees("2026-02-23T20:19:14.123456+00:00", "<timestamp:7fZ>")
    assert agrees("http://127.0.0.1:5001/api/x", "<origin>/api/x")
    assert not agrees("http://127.0.0.1:5001/api/y", "<origin>/api/x")
    assert agrees(4, 4) and not agrees(4, 4.0) and not agrees(1042, 87)
    assert agrees({"at": "2026-01-01T00:00:00Z"}, {"at": "<timestamp:0fZ>"})
    assert agrees(list(range(1000)), "<array of 1000 items, 3890 bytes>")


def test_error_changed_reads_as_two_rejections(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    expected = HttpResponse(422, JSON, body({"error": {"message": "Invalid request"}}))
    actual = HttpResponse(
        400,
        [(b"Content-Type", b"application/problem+json; charset=utf-8")],
        body(
            {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                "title": "One or more validation errors occurred.",
                "status": 400,
                "errors": {"Title": ["The Title field is required."]},
            }
        ),
    )
    summary = (
        {"status": 422, "content_type": "application/json", "message": "Invalid request"},
        {"status": 400, "content_type": "application/problem+json; charset=utf-8"},
    )
    store(
        path,
        result(
            1,
            [Difference(Where.STATUS, "", DiffKind.ERROR_CHANGED, *summary)],
            expected,
            actual,
            route="POST /api/entries",
        ),
        result(
            2,
            [
                Difference(Where.BODY, "$.results", DiffKind.ORDER_CHANGED, [1, 2], [2, 1]),
                Difference(Where.BODY, "$.took", DiffKind.CHANGED, 1, 2),
            ],
            HttpResponse(200, JSON, body({"results": [1, 2], "took": 1})),
            HttpResponse(200, JSON, body({"results": [2, 1], "took": 2})),
            route="GET /api/search",
        ),
    )
    m = only_mismatch(path)
    assert m["sentences"] == [
        "both rejected it, differently: "
        '`400 application/problem+json "One or more validation errors occurred."` '
        'where the recording had `422 application/json "Invalid request"`'
    ]
    data = json.loads(ok("report", "--db", str(path), "--json"))
    kinds = {s["route"]: s["kinds"] for s in data["signatures"]}
    assert kinds == {
        "POST /api/entries": ["error_changed"],
        "GET /api/search": ["changed", "order_changed"],
    }
    errors = next(s for s in data["signatures"] if s["route"] == "POST /api/entries")
    assert errors["example"]["difference"] == 'error changed: 422 "Invalid request" -> 400'
    search = next(s for s in data["signatures"] if s["route"] == "GET /api/search")
    assert search["example"]["sentence"] == "`$.results`: the same items in another order"
    # a message-less text error, and a side without a stored response
    plain = Side(503, [["Content-Type", "text/plain"]], b"\n  Service Unavailable\nretry")
    gone = Side(None, None, None)
    diff = {"where": "status", "path": "", "kind": "error_changed", "expected": "x", "actual": "y"}
    assert sentence(diff, plain, gone) == (
        'both rejected it, differently: `y` where the recording had `503 text/plain "Service Unavailable retry"`'
    )
    stored = dict(diff, actual=summary[1])
    assert sentence(stored, plain, gone) == (
        "both rejected it, differently: `400 application/problem+json` "
        'where the recording had `503 text/plain "Service Unavailable retry"`'
    )
    assert sentence(diff, plain, gone) == (
        'both rejected it, differently: `y` where the recording had `503 text/plain "Service Unavailable retry"`'
    )


# -- signatures ---------------------------------------------------------------------------


def test_a_signature_is_one_item_with_its_count_urls_and_sessions(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    diff = [
        Difference(
            Where.BODY, "$.created", DiffKind.CHANGED, "<timestamp:0fZ>", "<timestamp:0f+00:00>"
        )
    ]
    results = [
        result(
            i,
            diff,
            HttpResponse(200, JSON, body({"created": f"2026-01-0{1 + i % 9}T10:00:00Z"})),
            HttpResponse(200, JSON, body({"created": f"2026-01-0{1 + i % 9}T10:00:00+00:00"})),
            session=f"s{i % 3}",
            url=f"/api/entries/{100 + i}",
            signature="span5igna7ur",
        )
        for i in range(12)
    ]
    # the same URL twice counts once
    results.append(
        result(
            12,
            diff,
            HttpResponse(200, JSON, body({"created": "2026-01-01T10:00:00Z"})),
            HttpResponse(200, JSON, body({"created": "2026-01-01T10:00:00+00:00"})),
            session="s0",
            url="/api/entries/100",
            signature="span5igna7ur",
        )
    )
    store(path, *results)
    data = json.loads(ok("show", "span5", "--db", str(path), "--json"))
    sig = data["signature"]
    assert sig["count"] == 13
    assert sig["url_count"] == 12 and len(sig["urls"]) == 10
    assert sig["urls"][:3] == ["/api/entries/100", "/api/entries/103", "/api/entries/106"]
    assert sig["sessions"] == ["s0", "s1", "s2"] and sig["session_count"] == 3
    assert data["mismatch"]["session"] == "s0" and data["mismatch"]["seq"] == 0
    assert data["mismatch"]["sentences"] == [
        "`$.created`: `2026-01-01T10:00:00+00:00` where the recording had `2026-01-01T10:00:00Z`"
    ]
    out = ok("show", "span5", "--db", str(path))
    assert "count      13 in run" in out and "12 distinct URLs, 3 sessions" in out
    assert "/api/entries/100, /api/entries/103" in out and "+2 more" in out
    assert "sessions   s0, s1, s2" in out
    assert "Its first mismatch in the latest run:" in out and "What differs (1)" in out


def test_the_report_stays_readable_at_100_columns(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    paths = ["$.a", "$.b", "$.c", "$.d", "$.e"]
    store(
        path,
        result(
            1,
            [Difference(Where.BODY, p, DiffKind.CHANGED, 1, 2) for p in paths],
            HttpResponse(200, JSON, body(dict.fromkeys("abcde", 1))),
            HttpResponse(200, JSON, body(dict.fromkeys("abcde", 2))),
            route="GET /api/vaults/{id}/entries/{id}/attachments",
            signature="wide5igna7ur",
        ),
    )
    data = json.loads(ok("report", "--db", str(path), "--json"))
    assert data["signatures"][0]["paths"] == paths  # JSON keeps them all
    out = ok("report", "--db", str(path), columns=100)
    assert max(len(line) for line in out.splitlines()) <= 100
    table = out[out.index("Findings, most severe first") :]
    rows = [line.split("│") for line in table.splitlines() if line.startswith("│")]
    assert all(len(cells) == 7 for cells in rows)  # 5 columns, none squeezed out

    def column(n: int) -> str:
        return " ".join(" ".join(cells[n].split()) for cells in rows).strip()

    assert column(3).count("$.") == 5  # one finding per path
    assert "`$.a`: `2` where the recording had `1`" in column(5)
    assert "p50 ms" in out  # latency columns fit at 100 columns


# -- latency ------------------------------------------------------------------------------


def test_latency_percentiles_per_route(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    same = HttpResponse(200, JSON, b"{}")
    fast = [
        result(
            i,
            [],
            same,
            same,
            url="/a",
            route="GET /a",
            expected_ms=i + 1.0,
            actual_ms=2.0 * (i + 1),
        )
        for i in range(100)
    ]
    errors = [
        result(100 + i, [], same, None, url="/b", route="GET /b", expected_ms=ms, actual_ms=None)
        for i, ms in enumerate([30.0, 10.0, 20.0])
    ]
    unknown = [
        result(200, [], same, same, url="/c", route="GET /c", expected_ms=None, actual_ms=None)
    ]
    store(path, *fast, *errors, *unknown)
    data = json.loads(ok("report", "--db", str(path), "--json"))
    latency = {r["route"]: r["latency"] for r in data["routes"]}
    assert latency["GET /a"] == {
        "expected_p50": 50.0,
        "expected_p95": 95.0,
        "actual_p50": 100.0,
        "actual_p95": 190.0,
    }
    assert latency["GET /b"] == {
        "expected_p50": 20.0,
        "expected_p95": 30.0,
        "actual_p50": None,
        "actual_p95": None,
    }
    assert latency["GET /c"] == dict.fromkeys(latency["GET /c"], None)
    assert set(data["totals"]) == {
        "exchanges",
        "matched",
        "mismatched",
        "errors",
        "noise_suppressed",
    }
    out = ok("report", "--db", str(path))
    assert "50.0 / 100" in out and "95.0 / 190" in out and "20.0 / -" in out
    # the replayed time is highlighted when over 1.5x the recorded one
    assert render._times(50.0, 100.0) == "50.0 / [red]100[/red]"
    assert render._times(50.0, 75.0) == "50.0 / 75.0"
    assert queries.percentile([], 50) is None and queries.percentile([3.0], 95) == 3.0


# -- large bodies -------------------------------------------------------------------------


def test_a_200_kb_entry_shows_only_the_hunks_around_its_differences(tmp_path: Path) -> None:
    path = tmp_path / "parity.db"
    entry = {
        "id": 1,
        "blocks": [{"n": i, "text": f"paragraph {i} " + "x" * 80} for i in range(2000)],
    }
    changed = json.loads(json.dumps(entry))
    changed["blocks"][700]["text"] = "changed"
    changed["blocks"][1500]["n"] = 1500.0
    expected_body, actual_body = body(entry), body(changed)
    assert len(expected_body) > 200_000
    differences = [
        Difference(Where.BODY, "$.blocks[700].text", DiffKind.CHANGED, "…", "changed"),
        Difference(Where.BODY, "$.blocks[1500].n", DiffKind.TYPE_CHANGED, 1500, 1500.0),
    ]
    one_line = (expected_body.decode(), actual_body.decode())  # a minified rendering
    store(
        path,
        result(
            1,
            differences,
            HttpResponse(200, JSON, expected_body),
            HttpResponse(200, JSON, actual_body),
        ),
        result(
            2,
            differences,
            HttpResponse(200, JSON, expected_body),
            HttpResponse(200, JSON, actual_body),
            rendered=one_line,
        ),
    )
    with ResultsDB(path, create=False) as db:
        ids = [r["id"] for r in db.query("SELECT id FROM mismatches ORDER BY seq")]
        pretty, minified = (queries.show(db, i)["mismatch"] for i in ids)
    assert len(pretty["body_diff"]) <= 2 + 2 * (1 + 2 * queries.CONTEXT_LINES + 2)
    assert sum(line.startswith("@@") for line in pretty["body_diff"]) == 2
    assert '-      "text": "paragraph 700 ' in "\n".join(pretty["body_diff"])
    assert (
        pretty["sentences"][1]
        == "`$.blocks[1500].n`: `1500.0` (a decimal number) where the recording had `1500` (an integer)"
    )
    assert len(minified["body_diff"]) == 5
    assert all(len(line) <= queries.MAX_LINE + 30 for line in minified["body_diff"])
    assert minified["body_diff"][3].endswith(f"… ({len(one_line[0]) + 1} chars)")
    out = ok("show", ids[0], "--db", str(path))
    assert len(out) < 20_000 and "paragraph 10 " not in out


# -- speed --------------------------------------------------------------------------------


def test_the_report_of_100k_results_takes_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "bench.db"
    bench_store(100_000, path=path)
    with ResultsDB(path, create=False) as db:
        start = time.perf_counter()
        data = queries.build_report(db)
        built = time.perf_counter() - start
    start = time.perf_counter()
    out = ok("report", "--db", str(path), "--json")
    command = time.perf_counter() - start
    print(
        f"\ntriage: report of 100000 results: {built:.3f} s to build, {command:.3f} s as a command"
    )
    assert data["totals"]["exchanges"] == 100_000 and len(data["routes"]) == 40
    assert all(r["latency"]["actual_p95"] is not None for r in data["routes"])
    assert json.loads(out)["totals"] == data["totals"]
    assert built < 2.0 and command < 4.0  # goal < 1 s; loose for noisy CI


def test_a_large_body_with_a_difference_in_every_item_is_diffed_line_by_line() -> None:
    """Same layout, other values (a timestamp format in each of 2,000 items): compared
    line by line, not aligned by difflib (which takes seconds there)."""
    items = [{"id": i, "created": "<timestamp:0fZ>", "text": "x" * 60} for i in range(2000)]
    expected = json.dumps({"items": items}, indent=2)
    actual = expected.replace('"<timestamp:0fZ>"', '"<timestamp:0f+00:00>"')
    assert len(expected) > 200_000
    start = time.perf_counter()
    lines, more = queries.body_diff(expected, actual)
    took = time.perf_counter() - start
    assert took < 0.5, took
    assert lines[:6] == [
        "--- expected",
        "+++ actual",
        "@@ -2,10002 +2,10002 @@",
        '   "items": [',
        "     {",
        '       "id": 0,',
    ]
    assert lines[6:8] == [
        '-      "created": "<timestamp:0fZ>",',
        '+      "created": "<timestamp:0f+00:00>",',
    ]
    assert len(lines) == queries.MAX_DIFF_LINES and more > 0


def test_small_body_diffs_are_exactly_difflibs() -> None:
    import difflib
    import random

    rng = random.Random(7)
    for _ in range(200):
        expected = [str(rng.randint(0, 9)) for _ in range(rng.choice([3, 40, 300]))]
        actual = [("x" + x if rng.random() < 0.1 else x) for x in expected]
        if rng.random() < 0.5:
            actual.insert(rng.randrange(len(actual)), "new")
        reference = list(
            difflib.unified_diff(expected, actual, "expected", "actual", n=3, lineterm="")
        )
        ours, _more = queries.body_diff("\n".join(expected), "\n".join(actual))
        if len(expected) == len(actual) >= queries.PAIRWISE_FROM:
            changed = [i for i, (e, a) in enumerate(zip(expected, actual, strict=True)) if e != a]
            assert sum(line.startswith("-") for line in ours[2:]) == len(changed)
        else:
            assert ours == reference[: queries.MAX_DIFF_LINES]


def test_sentences_mask_secrets_in_text_and_form_bodies() -> None:
    form = [["Content-Type", "application/x-www-form-urlencoded"]]
    text = [["Content-Type", "text/plain"]]
    expected = Side(200, form, b"user=ana&password=hunter2")
    actual = Side(200, form, b"user=bob&password=other-s3cr3t")
    diff = {
        "where": "body",
        "path": "$.user",
        "kind": "changed",
        "expected": "ana",
        "actual": "bob",
    }
    assert sentence(diff, expected, actual) == "`$.user`: `bob` where the recording had `ana`"
    whole = {
        "where": "body",
        "path": "$",
        "kind": "changed",
        "expected": "user=ana&password=hunter2",
        "actual": "user=bob&password=other-s3cr3t",
    }
    said = sentence(whole, Side(200, text, b"user=ana&password=hunter2"), Side(200, text, b"x"))
    assert "hunter2" not in said and "s3cr3t" not in said
    assert (
        said == "the body: `user=bob&password=***` where the recording had `user=ana&password=***`"
    )
