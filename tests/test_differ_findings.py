"""Finding identity and the cross-route rule (pure logic: no servers needed)."""

from __future__ import annotations

from parity.differ.findings import (
    CROSS_ROUTE,
    FindingKey,
    cross_route_shapes,
    finding_id,
    finding_keys,
    grouped,
    is_cross_route,
    keys_of,
    transition_of,
)
from parity.differ.model import Difference, DiffKind, Outcome, Verdict, Where


def body(path: str, kind: DiffKind, expected: object, actual: object) -> Difference:
    return Difference(Where.BODY, path, kind, expected, actual)


def test_transitions_follow_the_spec() -> None:
    assert transition_of(body("$.n", DiffKind.TYPE_CHANGED, 1, "1")) == "int → string"
    assert transition_of(body("$.n", DiffKind.ADDED, None, 3)) == "missing → int"
    assert transition_of(body("$.n", DiffKind.REMOVED, None, None)) == "null → missing"
    status = Difference(Where.STATUS, "", DiffKind.CHANGED, 404, 400)
    assert transition_of(status) == "404 → 400"
    assert transition_of(body("$.s", DiffKind.CHANGED, "todo", "Todo")) == ('"todo" → "Todo"')
    assert transition_of(body("$.b", DiffKind.CHANGED, True, False)) == "true → false"
    long_a, long_b = "Hello world again", "hello World again"
    assert transition_of(body("$.t", DiffKind.CHANGED, long_a, long_b)) == "case"
    assert transition_of(body("$.t", DiffKind.CHANGED, "a b c", "a  b c")) == ("whitespace")
    assert transition_of(body("$.t", DiffKind.CHANGED, "a b", "c d")) == "text"
    assert transition_of(body("$.x", DiffKind.CHANGED, 1.5, 2)) == "number"
    stamp = body("$.at", DiffKind.CHANGED, "<timestamp:6f+00:00>", "<timestamp:7fZ>")
    assert transition_of(stamp) == '"<timestamp:6f+00:00>" → "<timestamp:7fZ>"'
    header = Difference(Where.HEADER, "x-count", DiffKind.CHANGED, "12", "345")
    assert transition_of(header) == '"N" → "N"'
    error = Difference(
        Where.STATUS,
        "",
        DiffKind.ERROR_CHANGED,
        {"status": 404, "content_type": "application/json", "message": "x"},
        {"status": 404, "content_type": "text/html; charset=utf-8"},
    )
    assert transition_of(error) == "404 json → 404 html"


def test_identity_does_not_depend_on_other_differences_or_order() -> None:
    a = body("$.items[3].title", DiffKind.CHANGED, "x", "X")
    b = Difference(Where.HEADER, "access-control-allow-origin", DiffKind.ADDED, None, "*")
    both = Verdict(Outcome.MISMATCHED, "GET /e", differences=[a, b])
    reversed_ = Verdict(Outcome.MISMATCHED, "GET /e", differences=[b, a, b])
    only_a = Verdict(Outcome.MISMATCHED, "GET /e", differences=[a])
    keys = finding_keys("GET /e", both)
    assert keys == finding_keys("GET /e", reversed_)
    assert len(keys) == 2
    assert finding_keys("GET /e", only_a)[0] in keys
    assert keys[0].path == "$.items[*].title"


def test_serialization_differences_are_their_own_category() -> None:
    case = Difference(Where.HEADER, "x-request-id", DiffKind.CHANGED, "a", "b")
    verdict = Verdict(Outcome.MATCHED, "GET /e", serialization=[case])
    (key,) = finding_keys("GET /e", verdict)
    assert key.category == "serialization"


def test_finding_id_is_stable_and_short() -> None:
    key = FindingKey("route", "GET /e", "status", "", "changed", "404 → 400", "difference")
    assert finding_id(key) == finding_id(key)
    assert finding_id(key).startswith("F") and len(finding_id(key)) == 11
    assert finding_id(key) != finding_id(key.cross_route())


def test_cross_route_rule() -> None:
    assert is_cross_route(3, 100)
    assert is_cross_route(2, 4)
    assert not is_cross_route(2, 5)
    assert not is_cross_route(1, 2)
    assert not is_cross_route(1, 3)
    assert not is_cross_route(1, 1)
    added = Difference(Where.HEADER, "access-control-allow-origin", DiffKind.ADDED, None, "*")
    routes = [f"GET /r{i}" for i in range(5)]
    observations = [
        (r, k)
        for r in routes
        for k in finding_keys(r, Verdict(Outcome.MISMATCHED, r, differences=[added]))
    ]
    lone = body("$.a", DiffKind.CHANGED, 1, 2)
    observations += [
        ("GET /r0", k) for k in finding_keys("GET /r0", Verdict(Outcome.MISMATCHED, "", [lone]))
    ]
    cross = cross_route_shapes(observations, run_routes=5)
    stored = {finding_id(grouped(k, cross)) for _, k in observations}
    assert len(stored) == 2
    header_key = grouped(observations[0][1], cross)
    assert header_key.scope == CROSS_ROUTE and header_key.route is None


def test_cross_route_is_sticky() -> None:
    added = Difference(Where.HEADER, "vary", DiffKind.REMOVED, "Origin", None)
    key = finding_keys("GET /a", Verdict(Outcome.MISMATCHED, "GET /a", [added]))[0]
    assert cross_route_shapes([("GET /a", key)], run_routes=10) == frozenset()
    sticky = frozenset({key.shape})
    assert cross_route_shapes([("GET /a", key)], 10, sticky) == sticky


def test_a_changed_status_is_the_one_finding_of_its_exchange() -> None:
    """An HTML error page instead of a JSON result: the status explains the body and the
    headers; they stay on the exchange but are not findings of their own."""
    status = Difference(Where.STATUS, "", DiffKind.CHANGED, 200, 500)
    kind = Difference(
        Where.HEADER, "content-type", DiffKind.CHANGED, "application/json", "text/html"
    )
    csp = Difference(Where.HEADER, "content-security-policy", DiffKind.ADDED, None, "x")
    value = body("$.ok", DiffKind.REMOVED, True, None)
    verdict = Verdict(Outcome.MISMATCHED, "POST /q", differences=[value, csp, kind, status])
    (key,) = finding_keys("POST /q", verdict)
    assert (key.where, key.transition) == ("status", "200 → 500 (-ok)")
    assert keys_of("POST /q", [value, csp, kind, status], "difference") == [key]


def test_another_media_type_is_the_one_finding_of_its_exchange() -> None:
    kind = Difference(
        Where.HEADER,
        "content-type",
        DiffKind.CHANGED,
        "application/octet-stream",
        "application/xml",
    )
    gone = Difference(Where.HEADER, "content-md5", DiffKind.REMOVED, "abc", None)
    value = body("$", DiffKind.CHANGED, "blob", "<Tags/>")
    verdict = Verdict(Outcome.MISMATCHED, "GET /b", differences=[value, gone, kind])
    (key,) = finding_keys("GET /b", verdict)
    assert key.path == "content-type"


def test_a_charset_change_alone_explains_nothing_else() -> None:
    charset = Difference(
        Where.HEADER,
        "content-type",
        DiffKind.CHANGED,
        "application/json; charset=utf-8",
        "application/json",
    )
    value = body("$.title", DiffKind.CHANGED, "a", "b")
    verdict = Verdict(Outcome.MISMATCHED, "GET /e", differences=[value, charset])
    assert len(finding_keys("GET /e", verdict)) == 2


def test_two_errors_of_one_route_with_other_bodies_are_two_findings() -> None:
    """200 -> 400 with `{error, reason}` and 200 -> 400 with `{error, message}`: two root
    causes on one route; the shape of the new answer keeps them apart, values do not."""
    status = Difference(Where.STATUS, "", DiffKind.CHANGED, 200, 400)

    def answer(*keys: str) -> Verdict:
        added = [body(f"$.{k}", DiffKind.ADDED, None, "v") for k in keys]
        gone = body("$.docs", DiffKind.REMOVED, [], None)
        return Verdict(Outcome.MISMATCHED, "POST /f", differences=[status, gone, *added])

    (reason,) = finding_keys("POST /f", answer("error", "reason"))
    (message,) = finding_keys("POST /f", answer("message", "error"))
    assert reason.transition == "200 → 400 (-docs +error +reason)"
    assert message.transition == "200 → 400 (-docs +error +message)"
    assert finding_keys("POST /f", answer("reason", "error")) == [reason]
