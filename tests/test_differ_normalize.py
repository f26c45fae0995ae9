"""Normalization: placeholders that keep the shape, origins, value maps, ignore rules and
the header policy."""

from __future__ import annotations

import pytest

from parity.differ import HttpRequest, Outcome
from parity.differ.placeholders import substitute
from tests.test_differ_support import compare, kinds, response

T = "2026-01-04T08:15:30.120000+00:00"


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("2026-01-04T08:15:30.120000+00:00", "<timestamp:6f+00:00>"),
        ("2026-01-04T08:15:30.1200000Z", "<timestamp:7fZ>"),
        ("2026-01-04T08:15:30+00:00", "<timestamp:0f+00:00>"),
        ("2026-01-04T08:15:30.0000000Z", "<timestamp:7fZ>"),
        ("2026-01-04T08:15:30", "<timestamp:0f>"),
        ("2026-01-04 08:15:30.5+01:00", "<timestamp(space):1f+01:00>"),
        ("0b6e0b6e-1111-2222-3333-44445555aaaa", "<uuid>"),
        ("0B6E0B6E-1111-2222-3333-44445555AAAA", "<UUID>"),
        ("Sun, 04 Jan 2026 08:15:30 GMT", "<http-date>"),
        ("2026-01-15", "2026-01-15"),
        ("12:30", "12:30"),
    ],
)
def test_builtin_placeholders_describe_the_format(value: str, token: str) -> None:
    assert substitute(value, set()) == token


def test_a_time_that_moved_is_equal() -> None:
    verdict = compare(
        response({"at": T, "id": "0b6e0b6e-1111-2222-3333-44445555aaaa"}),
        response(
            {"at": "2026-03-09T23:01:02.999999+00:00", "id": "11111111-2222-3333-4444-555555555555"}
        ),
    )
    assert verdict.outcome is Outcome.MATCHED
    assert {"placeholder:timestamp", "placeholder:uuid"} <= set(verdict.rules_applied)


def test_z_versus_offset_and_fraction_digits_still_differ() -> None:
    verdict = compare(response({"at": T}), response({"at": "2026-01-04T08:15:30.1200000Z"}))
    (difference,) = verdict.differences
    assert (difference.path, difference.expected, difference.actual) == (
        "$.at",
        "<timestamp:6f+00:00>",
        "<timestamp:7fZ>",
    )
    verdict = compare(
        response({"at": "2026-01-05T07:00:00+00:00"}),
        response({"at": "2026-01-05T07:00:00.0000000+00:00"}),
    )
    assert verdict.differences[0].expected == "<timestamp:0f+00:00>"
    assert (
        compare(response({"at": "x"}), response({"at": "2026-01-05T07:00:00Z"}))
        .differences[0]
        .kind.value
        == "changed"
    )


def test_date_only_values_are_data() -> None:
    verdict = compare(response({"date": "2026-01-15"}), response({"date": "2026-01-16"}))
    assert (verdict.differences[0].expected, verdict.differences[0].actual) == (
        "2026-01-15",
        "2026-01-16",
    )


def test_user_placeholders_by_route_and_path() -> None:
    rules = {
        "placeholder": [
            {"name": "order", "pattern": "ORD-[0-9]+", "route": "GET /api/*", "paths": ["$..ref"]}
        ]
    }
    same = compare(
        response({"ref": "ORD-1", "x": {"ref": "ORD-22"}}),
        response({"ref": "ORD-9", "x": {"ref": "ORD-33"}}),
        rules=rules,
    )
    assert same.outcome is Outcome.MATCHED and "placeholder:order" in same.rules_applied
    elsewhere = compare(response({"other": "ORD-1"}), response({"other": "ORD-9"}), rules=rules)
    assert kinds(elsewhere) == {("body", "$.other", "changed")}
    other_route = compare(
        response({"ref": "ORD-1"}),
        response({"ref": "ORD-9"}),
        rules=rules,
        request=HttpRequest("POST", "/api/orders"),
    )
    assert other_route.outcome is Outcome.MISMATCHED


def test_origins_are_equivalent_in_location_and_bodies() -> None:
    expected = response(
        {"self": "http://127.0.0.1:5000/api/x/1", "other": "https://cdn.example/a.png"},
        headers=[
            ("Location", "http://127.0.0.1:5000/api/x/1"),
            ("Link", "<http://127.0.0.1:5000/api/x?page=2>; rel=next"),
        ],
        origin="http://127.0.0.1:5000",
    )
    actual = response(
        {"self": "http://127.0.0.1:61234/api/x/1", "other": "https://cdn.example/a.png"},
        headers=[
            ("Location", "http://127.0.0.1:61234/api/x/1"),
            ("Link", "<http://127.0.0.1:61234/api/x?page=2>; rel=next"),
        ],
        origin="http://127.0.0.1:61234",
    )
    verdict = compare(expected, actual)
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert "origin" in verdict.rules_applied


def test_an_origin_prefix_is_not_another_port_and_paths_still_count() -> None:
    expected = response({"u": "http://h:5000/a"}, origin="http://h:5000")
    actual = response({"u": "http://h:50001/a"}, origin="http://h:5001")
    assert kinds(compare(expected, actual)) == {("body", "$.u", "changed")}
    actual = response({"u": "http://h:5001/b"}, origin="http://h:5001")
    verdict = compare(expected, actual)
    assert (verdict.differences[0].expected, verdict.differences[0].actual) == (
        "<origin>/a",
        "<origin>/b",
    )


def test_value_maps_replace_minted_values_in_bodies() -> None:
    expected = response(
        {
            "id": 1042,
            "token": "tokA",
            "ref": "1042",
            "code": "aZ3k",
            "url": "/api/entries/1042",
            "message": "No entry 1042",
        }
    )
    actual = response(
        {
            "id": 8701,
            "token": "tokB",
            "ref": "8701",
            "code": 13,
            "url": "/api/entries/8701",
            "message": "No entry 8701",
        }
    )
    values = {8701: 1042, "tokB": "tokA", "8701": "1042", 13: "aZ3k"}
    verdict = compare(expected, actual, actual_values=values)
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert "values" in verdict.rules_applied
    assert compare(expected, actual).outcome is Outcome.MISMATCHED
    # Inside prose only values of 4+ characters are replaced: "page 13" is not id 13.
    prose = compare(response({"m": "page 13"}), response({"m": "page 13"}), actual_values={13: 99})
    assert prose.outcome is Outcome.MATCHED


def test_value_maps_apply_to_object_keys() -> None:
    verdict = compare(
        response({"by_id": {"1042": {"n": 1}}}),
        response({"by_id": {"8701": {"n": 1}}}),
        actual_values={8701: 1042},
    )
    assert verdict.outcome is Outcome.MATCHED


def test_value_maps_keep_types_apart() -> None:
    # True == 1 in Python, but a map for the id 1 must not touch a boolean.
    verdict = compare(
        response({"flag": True, "n": 1.0}), response({"flag": True, "n": 1.0}), actual_values={1: 7}
    )
    assert verdict.outcome is Outcome.MATCHED
    verdict = compare(
        response({"flag": True}, headers=[("X", "a")]),
        response({"flag": True}, headers=[("X", "b")]),
        actual_values={1: 7},
    )
    assert kinds(verdict) == {("header", "x", "changed")}


def test_value_maps_replace_tokens_in_headers() -> None:
    expected = response(
        {},
        headers=[
            ("Authorization-Info", "Bearer tokA"),
            ("Set-Cookie", "sid=tokA; Path=/; HttpOnly"),
            ("ETag", '"etag-a"'),
            ("Location", "http://h:1/api/vaults/v1/entries/1042?x=1042"),
        ],
        origin="http://h:1",
    )
    actual = response(
        {},
        headers=[
            ("Authorization-Info", "Bearer tokB"),
            ("Set-Cookie", "sid=tokB; httponly; path=/"),
            ("ETag", '"etag-b"'),
            ("Location", "http://h:2/api/vaults/v1/entries/87?x=87"),
        ],
        origin="http://h:2",
    )
    values = {"tokB": "tokA", "etag-b": "etag-a", 87: 1042}
    verdict = compare(expected, actual, actual_values=values)
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert ("header", "set-cookie", "changed") not in kinds(verdict)
    uncorrelated = compare(expected, actual)
    assert {d.path for d in uncorrelated.differences} == {
        "authorization-info",
        "set-cookie",
        "location",
    }
    # The bodies are equal and the value map did not correlate the ETag: it follows from
    # how each backend versions one representation (see differ/derived.py).
    assert "derived:etag" in uncorrelated.rules_applied


def test_ignore_rules_with_route_globs_and_wildcards() -> None:
    rules = {
        "ignore": [
            {
                "route": "GET /api/vaults/*/entries/*",
                "paths": ["$.entries[*].updated_at", "$.meta.*", "$..took_ms"],
            },
            {"headers": ["X-Trace"]},
        ]
    }
    expected = response(
        {
            "entries": [{"updated_at": 1, "t": "a"}],
            "meta": {"a": 1, "b": 2},
            "deep": {"took_ms": 1},
        },
        headers=[("X-Trace", "1")],
    )
    actual = response(
        {"entries": [{"updated_at": 2, "t": "a"}], "meta": {"a": 3}, "deep": {"took_ms": 9}},
        headers=[("x-trace", "2")],
    )
    verdict = compare(expected, actual, rules=rules)
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert {"ignore:#1", "ignore:#2"} <= set(verdict.rules_applied)
    other_route = compare(expected, actual, rules=rules, request=HttpRequest("GET", "/api/other"))
    assert ("body", "$.meta.a", "changed") in kinds(other_route)
    assert ("header", "x-trace", "changed") not in kinds(other_route)  # no route: everywhere


def test_ignoring_the_whole_body() -> None:
    rules = {"ignore": [{"name": "any-body", "paths": ["$"]}]}
    verdict = compare(
        response({"a": 1}), response(b"<html/>", content_type="text/html"), rules=rules
    )
    assert kinds(verdict) == {("header", "content-type", "changed")}
    assert "ignore:any-body" in verdict.rules_applied


def test_header_policy_ignores_transport_headers() -> None:
    expected = response(
        {"a": 1},
        headers=[
            ("Date", "Sun, 04 Jan 2026 08:15:30 GMT"),
            ("Server", "Python/3.11 aiohttp"),
            ("Connection", "keep-alive"),
            ("Transfer-Encoding", "chunked"),
            ("Via", "1.1 a"),
        ],
    )
    actual = response(
        {"a": 1}, headers=[("Date", "Mon, 05 Jan 2026 10:00:00 GMT"), ("Server", "Kestrel")]
    )
    verdict = compare(expected, actual)
    assert verdict.outcome is Outcome.MATCHED
    assert {"header-policy:date", "header-policy:server"} <= set(verdict.rules_applied)


def test_content_type_charset_is_found() -> None:
    verdict = compare(response({"a": 1}), response({"a": 1}, content_type="application/json"))
    (difference,) = verdict.differences
    assert (difference.path, difference.expected, difference.actual) == (
        "content-type",
        "application/json; charset=utf-8",
        "application/json",
    )


def test_content_length_and_encoding_follow_the_body() -> None:
    import gzip

    raw = b'{"id": 1042}'
    expected = response(raw, headers=[("Content-Length", str(len(raw)))])
    actual = response(
        gzip.compress(b'{"id": 87}'),
        headers=[("Content-Length", "33"), ("Content-Encoding", "gzip")],
    )
    verdict = compare(expected, actual, actual_values={87: 1042})
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert verdict.serialization == []
    # Content-Length is never a difference of its own, not even of empty bodies (HEAD,
    # 304): the length of the representation shows where the representation is sent.
    head = compare(
        response(b"", headers=[("Content-Length", "12")]),
        response(b"", headers=[("Content-Length", "40")]),
    )
    assert head.outcome is Outcome.MATCHED and "header-policy:content-length" in (
        head.rules_applied
    )
    # A different body: the body difference is the one finding, Content-Length follows.
    other = compare(
        response(raw, headers=[("Content-Length", str(len(raw)))]),
        response(b'{"id": 10420}', headers=[("Content-Length", "13")]),
    )
    assert kinds(other) == {("body", "$.id", "changed")}
    # Content-Encoding still speaks when the bodies cannot: both empty.
    encoded = compare(
        response(b"", headers=[("Content-Encoding", "gzip")]), response(b"", headers=[])
    )
    assert kinds(encoded) == {("header", "content-encoding", "removed")}


def test_request_ids_compare_by_shape_and_rate_limits_by_presence() -> None:
    expected = response(
        {},
        headers=[
            ("X-Request-Id", "0b6e0b6e-1111-2222-3333-44445555aaaa"),
            ("X-RateLimit-Remaining", "59"),
        ],
    )
    same_shape = response(
        {},
        headers=[
            ("X-Request-Id", "99999999-1111-2222-3333-44445555bbbb"),
            ("X-RateLimit-Remaining", "12"),
        ],
    )
    assert compare(expected, same_shape).outcome is Outcome.MATCHED
    other_shape = response(
        {}, headers=[("X-Request-Id", "0HMVD9N1K2:00000001"), ("X-RateLimit-Remaining", "12")]
    )
    assert kinds(compare(expected, other_shape)) == {("header", "x-request-id", "changed")}
    missing = response({}, headers=[("X-Request-Id", "99999999-1111-2222-3333-44445555bbbb")])
    assert kinds(compare(expected, missing)) == {("header", "x-ratelimit-remaining", "removed")}


def test_header_rules_override_the_policy() -> None:
    expected = response(
        {}, headers=[("Server", "a"), ("Cache-Control", "no-store"), ("X-Thing", "1")]
    )
    actual = response(
        {}, headers=[("Server", "b"), ("Cache-Control", "max-age=9"), ("X-Thing", "2")]
    )
    assert kinds(
        compare(expected, actual, rules={"headers": {"compare": ["server"], "ignore": ["cache-*"]}})
    ) == {("header", "server", "changed"), ("header", "x-thing", "changed")}
    assert kinds(compare(expected, actual, rules={"headers": {"compare_only": ["X-Thing"]}})) == {
        ("header", "x-thing", "changed")
    }
    shaped = compare(expected, actual, rules={"headers": {"shape": ["x-thing", "cache-control"]}})
    assert kinds(shaped) == {("header", "cache-control", "changed")}  # "x-x" vs "x-x=x"


def test_duplicate_headers_compare_as_lists() -> None:
    expected = response({}, headers=[("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2")])
    reordered = response({}, headers=[("Set-Cookie", "b=2"), ("set-cookie", "a=1; path=/")])
    assert compare(expected, reordered).outcome is Outcome.MATCHED
    missing = response({}, headers=[("Set-Cookie", "a=1; Path=/")])
    (difference,) = compare(expected, missing).differences
    assert difference.path == "set-cookie" and difference.expected == ["a=1; path=/", "b=2"]
