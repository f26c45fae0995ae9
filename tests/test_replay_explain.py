"""`replayer.explain`: the request as sent, kept for `parity show` without its secrets."""

from __future__ import annotations

import orjson

from parity.replayer.correlate import ValueMap
from parity.replayer.explain import sent_record
from parity.replayer.outgoing import Target, build
from parity.sessions import Request

JSON = [(b"Content-Type", b"application/json")]


def test_secret_headers_queries_and_substituted_credentials_are_masked() -> None:
    values = ValueMap()
    values.learn(
        JSON,
        orjson.dumps({"token": "recTOKEN1234567890", "user": {"id": 13}}),
        JSON,
        orjson.dumps({"token": "newTOKEN0987654321", "user": {"id": 41}}),
        seq=1,
        path="/login",
    )
    request = Request(
        "GET",
        "http",
        "127.0.0.1",
        5000,
        "/users/13?access_token=recTOKEN1234567890&page=2",
        "HTTP/1.1",
        [(b"Authorization", b"Bearer recTOKEN1234567890"), (b"Accept", b"*/*")],
        b"",
        1.0,
    )
    outgoing = build(request, Target("http://127.0.0.1:6001"), values, "http://127.0.0.1:5000")
    sent = sent_record("s1", outgoing)
    assert sent["baseline"] is None
    target = sent["target"]
    assert target["url"] == "/users/41?access_token=***&page=2"
    assert target["headers"] == [
        ["Host", "127.0.0.1:6001"],
        ["Authorization", "***"],
        ["Accept", "*/*"],
    ]
    assert target["substitutions"] == [
        {
            "recorded": "***",
            "sent": "***",
            "at": "header Authorization",
            "minted_by": {"session": "s1", "seq": 1, "path": "$.token"},
        },
        {
            "recorded": "13",
            "sent": "41",
            "at": "path segment 2",
            "minted_by": {"session": "s1", "seq": 1, "path": "$.user.id"},
        },
        {
            "recorded": "***",
            "sent": "***",
            "at": "query access_token",
            "minted_by": {"session": "s1", "seq": 1, "path": "$.token"},
        },
    ]
    assert "TOKEN" not in orjson.dumps(sent).decode()
