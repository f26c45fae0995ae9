"""Route keys detected from recorded requests of RPC-style APIs (one URL, many operations),
and how a Differ uses them."""

from __future__ import annotations

import json
import uuid

from parity.differ import Differ, HttpRequest, RouteRule, detect_route_keys, load_rules

JSON = (b"Content-Type", b"application/json")


def rpc(method: str, n: int = 1) -> HttpRequest:
    body = {"jsonrpc": "2.0", "id": n, "method": method, "params": {}}
    return HttpRequest("POST", "/api/bridge", [JSON], json.dumps(body).encode())


def amz(target: str) -> HttpRequest:
    headers = [
        (b"X-Amz-Target", target.encode()),
        (b"X-Amz-Date", b"20260104T081530Z"),
        (b"Authorization", b"AWS4-HMAC-SHA256 Credential=AKIA/..."),
        (b"Content-Type", b"application/x-amz-json-1.0"),
    ]
    return HttpRequest("POST", "/", headers, b"{}")


def soap(action: str) -> HttpRequest:
    return HttpRequest("POST", "/Service.svc", [(b"SOAPAction", f'"{action}"'.encode())], b"<x/>")


def custom(op: str, session: str) -> HttpRequest:
    return HttpRequest(
        "POST",
        "/rpc",
        [(b"X-Rpc-Op", op.encode()), (b"X-Session", session.encode()), JSON],
        b"{}",
    )


def fake_api() -> list[HttpRequest]:
    """A day of a fake RPC API's traffic, with REST endpoints around it."""
    session = str(uuid.uuid4())
    return [
        rpc("ai.chat", 1),
        rpc("speech.speak", 2),
        rpc("ai.chat", 3),
        amz("DynamoDB_20120810.GetItem"),
        amz("DynamoDB_20120810.PutItem"),
        soap("http://tempuri.org/IService/GetData"),
        soap("http://tempuri.org/IService/SetData"),
        custom("orders.list", session),
        custom("orders.get", session),
        custom("orders.list", str(uuid.uuid4())),
        # REST: a `type` field that is data, a token header, a single-operation route
        HttpRequest("POST", "/api/vaults/1/entries", [JSON], b'{"type": "note", "title": "a"}'),
        HttpRequest("POST", "/api/vaults/2/entries", [JSON], b'{"type": "todo", "title": "b"}'),
        HttpRequest("GET", "/api/vaults/1", [(b"X-Vault-Session", session.encode())]),
        HttpRequest("GET", "/api/vaults/2", [(b"X-Vault-Session", str(uuid.uuid4()).encode())]),
        HttpRequest("POST", "/api/one", [JSON], b'{"method": "only.this"}'),
        HttpRequest("POST", "/api/one", [JSON], b'{"method": "only.this"}'),
    ]


def test_detects_operation_headers_and_body_fields() -> None:
    rules = detect_route_keys(fake_api())
    assert [(r.match, r.source, r.key) for r in rules] == [
        ("POST /", "header", "X-Amz-Target"),
        ("POST /Service.svc", "header", "SOAPAction"),
        ("POST /api/bridge", "json", "$.method"),
        ("POST /rpc", "header", "X-Rpc-Op"),
    ]
    assert rules[2].json_path == ("method",)


def test_qualified_type_fields_and_unknown_single_values_are_keys() -> None:
    redux = [
        HttpRequest("POST", "/dispatch", [JSON], b'{"type": "user/create"}'),
        HttpRequest("POST", "/dispatch", [JSON], b'{"type": "user/delete"}'),
    ]
    assert [(r.source, r.key) for r in detect_route_keys(redux)] == [("json", "$.type")]
    actions = [
        HttpRequest("POST", "/legacy", [JSON], b'{"action": "create", "n": 1}'),
        HttpRequest("POST", "/legacy", [JSON], b'{"action": "delete", "n": 2}'),
    ]
    assert [(r.source, r.key) for r in detect_route_keys(actions)] == [("json", "$.action")]


def test_a_field_missing_on_one_request_is_no_key() -> None:
    mixed = [rpc("ai.chat"), rpc("speech.speak"), HttpRequest("POST", "/api/bridge", [JSON], b"{}")]
    assert detect_route_keys(mixed) == []


def test_a_differ_uses_detected_keys_and_explicit_rules_win() -> None:
    detected = detect_route_keys(fake_api())
    differ = Differ(route_keys=detected)
    assert differ.route(rpc("speech.speak")) == "POST /api/bridge speech.speak"
    assert differ.route(amz("DynamoDB_20120810.GetItem")) == "POST / DynamoDB_20120810.GetItem"
    assert differ.route(soap("http://tempuri.org/IService/GetData")) == (
        "POST /Service.svc http://tempuri.org/IService/GetData"
    )
    assert differ.route(custom("orders.get", "s")) == "POST /rpc orders.get"
    assert differ.route(HttpRequest("POST", "/api/vaults/9/entries", [JSON], b'{"type": "x"}')) == (
        "POST /api/vaults/{id}/entries"
    )
    explicit = Differ(load_rules({"route": [{"match": "POST /api/*", "key": "json:$.id"}]}))
    both = explicit.with_route_keys(detected)
    assert both.route(rpc("speech.speak", 7)) == "POST /api/bridge 7"
    assert both.rules is explicit.rules and both.route_keys == tuple(detected)


def test_detected_rules_match_only_their_own_route() -> None:
    rule = RouteRule("POST /a[b]", "header", "X-Op")
    differ = Differ(
        route_keys=detect_route_keys(
            [
                HttpRequest("POST", "/a[b]", [(b"X-Operation", b"One")]),
                HttpRequest("POST", "/a[b]", [(b"X-Operation", b"Two")]),
            ]
        )
    )
    assert (
        differ.route(HttpRequest("POST", "/a[b]", [(b"X-Operation", b"One")])) == "POST /a[b] One"
    )
    assert differ.route(HttpRequest("POST", "/ab", [(b"X-Operation", b"One")])) == "POST /ab"
    assert rule.match == "POST /a[b]"


def test_a_query_that_names_the_operation_is_part_of_the_route() -> None:
    from parity.differ.routes import route_of

    assert route_of("GET", "/acct/photos?restype=container&comp=list&marker=abc") == (
        "GET /acct/photos?comp=list&restype=container"
    )
    assert route_of("GET", "/bucket?tagging") == "GET /bucket?tagging"
    assert route_of("POST", "/bucket/key?uploads") == "POST /bucket/key?uploads"
    assert route_of("GET", "/?Action=ListQueues&Version=2012-11-05") == "GET /?Action=ListQueues"
    # Filters, blank filters, ids and tokens never make another route.
    assert route_of("GET", "/api/entries?page=2&q=&checkbox=") == "GET /api/entries"
    assert route_of("GET", "/x?action=0b6e4c1f2a3d4e5f6a7b8c9d") == "GET /x"


def test_remembered_segments_and_header_values_answer_as_computed() -> None:
    """The route helpers remember short segments and header values (bounded); a long one
    is computed each time: either way the answer is the same, asked once or again."""
    from parity.differ import routekeys, routes

    segments = ["api", "1042", "0b6e1c9a-2c1d-4e7a-9b3f-2a6c8d9e0f11", "deadbeef01", "entries"]
    segments += ["a1" * 20, "x" * 200, "9" * 300, "ab12" * 40]
    for segment in segments * 2:
        assert routes.is_variable_segment(segment) is routes._variable(segment)
    values = ["GetItem", "speech.speak", "1042", "Bearer abc", "Op" * 200, "x" * 300]
    for value in values * 2:
        for known in (False, True):
            expected = routekeys._operation(value, known=known)
            assert routekeys._header_operation(value, known) == expected
