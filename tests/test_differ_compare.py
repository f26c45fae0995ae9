"""Comparing: the fast path, strict equality, each difference kind, arrays, the verdict."""

from __future__ import annotations

import json

import pytest

from parity.differ import Differ, DiffKind, HttpRequest, Outcome, Where, load_rules
from parity.differ.structure import diff_trees
from tests.test_differ_support import REQUEST, compare, kinds, response


def test_identical_responses_match_on_the_fast_path_without_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import parity.differ.compare

    def no_decoding(*args: object) -> None:
        raise AssertionError("the fast path must not decode bodies")

    monkeypatch.setattr(parity.differ.compare, "decode_body", no_decoding)
    body = json.dumps({"a": 1, "b": [1, 2, 3]}).encode()
    verdict = compare(
        response(body, headers=[("Date", "Sun, 04 Jan 2026 08:15:30 GMT")]),
        response(body, headers=[("Date", "Mon, 05 Jan 2026 09:00:00 GMT")]),
    )
    assert verdict.outcome is Outcome.MATCHED
    assert verdict.differences == [] and verdict.signature is None
    assert verdict.route == "GET /api/vaults/{id}/entries/{id}"


def test_key_order_and_whitespace_are_not_differences() -> None:
    compact = b'{"b":[1,2.5],"a":{"y":null,"x":"caf\\u00e9"}}'
    spaced = b'{\n  "a": {"x": "caf\\u00e9", "y": null},\n  "b": [1, 2.5]\n}'
    assert compare(response(compact), response(spaced)).outcome is Outcome.MATCHED


@pytest.mark.parametrize(
    ("expected", "actual"),
    [(True, 1), (1, "1"), (None, {}), ([], {}), (0, False), (None, "x"), (1.0, True)],
)
def test_equality_is_strict_about_types(expected: object, actual: object) -> None:
    verdict = compare(response({"v": expected}), response({"v": actual}))
    assert kinds(verdict) == {("body", "$.v", "type_changed")}
    difference = verdict.differences[0]
    assert (difference.expected, difference.actual) == (expected, actual)
    assert type(difference.actual) is type(actual)


def test_json_has_one_number_type() -> None:
    """An int and a float of one value are one number written two ways (a serialization
    difference); of another value, a `changed`."""
    same = compare(response(b'{"v": 4.0, "n": [1.0, 2]}'), response(b'{"v": 4, "n": [1, 2.0]}'))
    assert same.outcome is Outcome.MATCHED and same.differences == []
    assert [(d.path, d.kind.value, d.expected, d.actual) for d in same.serialization] == [
        ("$.v", "changed", "4.0", "4"),
        ("$.n[0]", "changed", "1.0", "1"),
        ("$.n[1]", "changed", "2", "2.0"),
    ]
    other = compare(response({"v": 4.0}), response({"v": 5}))
    assert kinds(other) == {("body", "$.v", "changed")} and other.serialization == []


def test_changed_added_removed() -> None:
    verdict = compare(
        response({"a": 1, "b": "x", "gone": True}), response({"a": 2, "b": "x", "new": [1]})
    )
    assert kinds(verdict) == {
        ("body", "$.a", "changed"),
        ("body", "$.gone", "removed"),
        ("body", "$.new", "added"),
    }
    by_path = {d.path: d for d in verdict.differences}
    assert (by_path["$.gone"].expected, by_path["$.gone"].actual) == (True, None)
    assert (by_path["$.new"].expected, by_path["$.new"].actual) == (None, [1])


def test_a_removed_null_says_expected_none() -> None:
    verdict = compare(response({"section": None, "t": 1}), response({"t": 1}))
    (difference,) = verdict.differences
    assert (difference.kind, difference.path, difference.expected) == (
        DiffKind.REMOVED,
        "$.section",
        None,
    )


def test_top_level_arrays_equal_after_normalization_match() -> None:
    expected = [
        {"at": "2026-01-04T08:15:30.120000+00:00"},
        {"id": "0b6e0b6e-1111-2222-3333-44445555aaaa"},
    ]
    actual = [
        {"at": "2026-02-04T08:15:30.999999+00:00"},
        {"id": "99999999-1111-2222-3333-44445555aaaa"},
    ]
    assert compare(response(expected), response(actual)).outcome is Outcome.MATCHED
    stream = b'data: {"n": 1}\n\nevent: done\ndata: {"request_id": "0b6e0b6e-1111-2222-3333-44445555aaaa"}\n\n'
    other = stream.replace(b"0b6e0b6e", b"12345678")
    sse = "text/event-stream"
    assert (
        compare(response(stream, content_type=sse), response(other, content_type=sse)).outcome
        is Outcome.MATCHED
    )


def test_a_reordered_array_is_one_order_changed() -> None:
    items = [{"id": n, "title": f"t{n}"} for n in range(30)]
    verdict = compare(response({"results": items}), response({"results": list(reversed(items))}))
    assert kinds(verdict) == {("body", "$.results", "order_changed")}
    assert len(verdict.differences) == 1
    assert verdict.differences[0].expected[:3] == [0, 1, 2]  # the ids, in order
    scalars = compare(response({"tags": ["a", "b", "c"]}), response({"tags": ["c", "a", "b"]}))
    assert kinds(scalars) == {("body", "$.tags", "order_changed")}


def test_reordered_records_that_also_changed_are_matched_by_id() -> None:
    expected = [{"id": 8, "type": "todo"}, {"id": 7, "type": "journal"}, {"id": 6, "type": "note"}]
    actual = [{"id": 6, "type": "Note"}, {"id": 7, "type": "Journal"}, {"id": 8, "type": "Todo"}]
    verdict = compare(response({"results": expected}), response({"results": actual}))
    assert kinds(verdict) == {
        ("body", "$.results", "order_changed"),
        ("body", "$.results[0].type", "changed"),
        ("body", "$.results[1].type", "changed"),
        ("body", "$.results[2].type", "changed"),
    }


def test_a_shifted_page_is_one_removed_and_one_added_item() -> None:
    expected = [{"id": n, "v": n} for n in range(6, 11)]
    actual = [{"id": n, "v": n} for n in range(7, 12)]
    verdict = compare(response({"items": expected}), response({"items": actual}))
    assert kinds(verdict) == {("body", "$.items[0]", "removed"), ("body", "$.items[4]", "added")}


def test_arrays_of_other_lengths_report_the_extra_items() -> None:
    verdict = compare(
        response({"items": [1, 2, 3, 4, 5, 6, 7]}), response({"items": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
    )
    assert kinds(verdict) == {("body", "$.items[7]", "added"), ("body", "$.items[8]", "added")}
    verdict = compare(
        response({"items": ["a", "b", "c", "d"]}), response({"items": ["a", "c", "d"]})
    )
    assert kinds(verdict) == {("body", "$.items[1]", "removed")}
    verdict = compare(response({"items": [1, 2, 3]}), response({"items": [1, 5, 3, 4]}))
    assert kinds(verdict) == {("body", "$.items[1]", "changed"), ("body", "$.items[3]", "added")}


def test_nested_differences_get_full_paths() -> None:
    verdict = compare(
        response({"a": {"b": [{"c": 1}, {"c": 2, "weird key": 1}]}}),
        response({"a": {"b": [{"c": 1}, {"c": 3, "weird key": 2}]}}),
    )
    assert kinds(verdict) == {
        ("body", "$.a.b[1].c", "changed"),
        ("body", '$.a.b[1]["weird key"]', "changed"),
    }


def test_huge_arrays_stay_bounded() -> None:
    expected = list(range(100_000))
    actual = [n + 1 for n in range(100_000)]
    differences, truncated = diff_trees(expected, actual, limit=50)
    assert len(differences) == 50 and truncated


def test_status_differences() -> None:
    # (Both sides errors is error parity: see test_differ_errors.py.)
    verdict = compare(response({"e": 1}, status=200), response({"e": 1}, status=201))
    (difference,) = verdict.differences
    assert (difference.where, difference.path, difference.kind) == (
        Where.STATUS,
        "",
        DiffKind.CHANGED,
    )
    assert (difference.expected, difference.actual) == (200, 201)
    assert verdict.outcome is Outcome.MISMATCHED and verdict.signature


def test_header_differences_use_the_lower_case_name() -> None:
    verdict = compare(
        response({}, headers=[("Cache-Control", "no-store"), ("X-Old", "1")]),
        response({}, headers=[("cache-control", "max-age=60"), ("X-New", "1")]),
    )
    assert kinds(verdict) == {
        ("header", "cache-control", "changed"),
        ("header", "x-old", "removed"),
        ("header", "x-new", "added"),
    }


def test_no_answer_is_an_error_verdict() -> None:
    verdict = compare(response({}), None, error="connection reset")
    assert verdict.outcome is Outcome.ERROR and verdict.error == "connection reset"
    assert verdict.route == "GET /api/vaults/{id}/entries/{id}"
    assert compare(response({}), None).error


def test_route_rules_add_a_key_from_json_header_or_query() -> None:
    rules = load_rules(
        {
            "route": [
                {"match": "POST /api/bridge", "key": "json:$.method"},
                {"match": "POST /", "key": "header:X-Amz-Target"},
                {"match": "GET /legacy*", "key": "query:action"},
            ]
        }
    )
    differ = Differ(rules)
    rpc = HttpRequest(
        "POST",
        "/api/bridge",
        [(b"Content-Type", b"application/json")],
        b'{"method": "speech.speak", "id": 5}',
    )
    assert differ.route(rpc) == "POST /api/bridge speech.speak"
    amz = HttpRequest("POST", "/", [(b"x-amz-target", b"DynamoDB_20120810.GetItem")])
    assert differ.route(amz) == "POST / DynamoDB_20120810.GetItem"
    assert (
        differ.route(HttpRequest("GET", "/legacy.php?action=list&id=7")) == "GET /legacy.php list"
    )
    assert differ.route(HttpRequest("POST", "/api/bridge", [], b"not json")) == "POST /api/bridge"
    assert differ.route(REQUEST) == "GET /api/vaults/{id}/entries/{id}"


def test_render_shows_the_normalized_body() -> None:
    differ = Differ()
    rendered = differ.render(
        response(
            {"at": "2026-01-04T08:15:30.120000+00:00", "href": "http://127.0.0.1:5000/x", "id": 87},
            origin="http://127.0.0.1:5000",
        ),
        values={87: 1042},
    )
    assert json.loads(rendered) == {"at": "<timestamp:6f+00:00>", "href": "<origin>/x", "id": 1042}
    assert "\n  " in rendered  # indented
    assert differ.render(response(b"plain", content_type="text/plain")) == "plain"
    assert (
        differ.render(response(b"\x00\x01", content_type="image/png")) == "<2 bytes of image/png>"
    )
