"""Value correlation (pure logic): what is learned, and where it is carried."""

from __future__ import annotations

import orjson

from replayer.correlate import ValueMap, looks_minted, request_values
from replayer.outgoing import Target, build
from tests.factories import make_exchange

JSON = [(b"Content-Type", b"application/json")]


def _learn(values: ValueMap, recorded: dict, minted: dict, headers_a=JSON, headers_b=JSON) -> None:
    values.learn(headers_a, orjson.dumps(recorded), headers_b, orjson.dumps(minted))


def test_minted_values_are_ids_tokens_and_uuids_not_data() -> None:
    assert looks_minted("id", 13) and looks_minted("entry_id", 13) and looks_minted("vaultId", "x")
    assert looks_minted("token", "abc") and looks_minted(
        None, "0b6e1c9a-2c1d-4e7a-9b3f-2a6c8d9e0f11"
    )
    assert looks_minted(None, "eyJhbGciOiJIUzI1NiJ9abc123")
    assert not looks_minted("type", "journal")  # an enum: a difference, never a correlation
    assert not looks_minted("count", 3) and not looks_minted("page", 2)
    assert not looks_minted("valid", "yes") and not looks_minted("paid", 10)
    assert (
        looks_minted("entryIds", 3)
        and looks_minted("X-Request-ID", "r")
        and looks_minted("apiKey", "k")
    )
    assert not looks_minted("id", True) and not looks_minted("score", 4.0)


def test_a_type_change_is_carried_into_path_query_headers_and_bodies() -> None:
    values = ValueMap()
    _learn(values, {"entry": {"id": 13}}, {"entry": {"id": "aZ3k"}})
    assert (
        values.apply_path("/api/entries/13?parent_id=13&page=13")
        == "/api/entries/aZ3k?parent_id=aZ3k&page=13"
    )
    assert values.apply_text("13") == "aZ3k"
    body = values.apply_body(
        b'{"entry_id": 13, "ids": [13], "max_words": 13, "n": 14}', "application/json"
    )
    assert orjson.loads(body) == {"entry_id": "aZ3k", "ids": ["aZ3k"], "max_words": 13, "n": 14}
    assert (
        values.apply_body(b"entry_id=13&x=1", "application/x-www-form-urlencoded")
        == b"entry_id=aZ3k&x=1"
    )
    assert values.reverse()["aZ3k"] == 13


def test_an_id_reused_after_delete_maps_to_the_latest_mint() -> None:
    values = ValueMap()
    _learn(values, {"id": 5}, {"id": 1})
    assert values.apply_path("/entries/5") == "/entries/1"
    _learn(values, {"id": 6}, {"id": 1})  # the target reuses 1 after the delete
    assert values.apply_path("/entries/6") == "/entries/1"
    _learn(values, {"id": 5}, {"id": 2})  # the recording reused 5
    assert values.apply_path("/entries/5") == "/entries/2"


def test_tokens_cookies_etags_and_locations() -> None:
    values = ValueMap()
    values.learn(
        [
            (b"ETag", b'"e-rec"'),
            (b"Set-Cookie", b"sid=recsid123; HttpOnly; Path=/"),
            (b"Location", b"http://a:1/api/entries/1042"),
        ],
        b'{"token": "recTOKEN1234567890"}',
        [
            (b"ETag", b'"e-new"'),
            (b"Set-Cookie", b"sid=newsid456; HttpOnly; Path=/"),
            (b"Location", b"http://b:2/api/entries/87"),
        ],
        b'{"token": "newTOKEN0987654321"}',
    )
    assert values.apply_text("Bearer recTOKEN1234567890") == "Bearer newTOKEN0987654321"
    assert values.apply_text("sid=recsid123; theme=dark") == "sid=newsid456; theme=dark"
    assert values.apply_text('"e-rec"') == '"e-new"'
    assert values.apply_path("/api/entries/1042") == "/api/entries/87"


def test_items_of_a_list_in_another_order_are_not_each_others_records() -> None:
    values = ValueMap()
    recorded = {
        "results": [{"id": 7, "title": "a", "date": "d1"}, {"id": 5, "title": "b", "date": "d2"}]
    }
    reordered = {
        "results": [{"id": 5, "title": "b", "date": "d2"}, {"id": 7, "title": "a", "date": "d1"}]
    }
    _learn(values, recorded, reordered)
    assert values.forward == {}
    renumbered = {
        "results": [{"id": 70, "title": "a", "date": "d1"}, {"id": 50, "title": "B", "date": "d2"}]
    }
    _learn(values, recorded, renumbered)
    assert values.forward[7] == 70 and 5 not in values.forward  # "b" vs "B": 1 agree, 1 not


def test_short_values_are_not_replaced_inside_other_header_text() -> None:
    values = ValueMap()
    _learn(values, {"id": 5}, {"id": 9})
    assert values.apply_text("text/html;q=0.5") == "text/html;q=0.5"
    assert values.apply_text("5") == "9"


def test_a_value_seen_before_that_now_differs_is_not_learned() -> None:
    """Fresh mints are correlated even when unused; a changed old reference is a difference."""
    values = ValueMap(wanted={"recTOKEN1234567890"})
    _learn(values, {"user": {"id": 7}}, {"user": {"id": 7}})
    _learn(
        values,
        {"token": "recTOKEN1234567890", "user": {"id": 7}, "entry": {"id": 41}},
        {"token": "newTOKEN0987654321", "user": {"id": 8}, "entry": {"id": 99}},
    )
    assert values.forward == {"recTOKEN1234567890": "newTOKEN0987654321", 41: 99, "41": "99"}


def test_request_values_cover_every_place_a_value_travels() -> None:
    found = request_values(
        "/api/vaults/v-1/entries/1042?cursor=abc",
        [(b"Authorization", b"Bearer tok123"), (b"Cookie", b"sid=s1; x=y")],
        b'{"parent": 77, "tags": ["a"]}',
    )
    assert {"v-1", "1042", 1042, "abc", "tok123", "s1", 77, "a"} <= found


def test_build_points_the_request_at_the_target() -> None:
    exchange = make_exchange(2, path="/api/entries/13?x=1")
    exchange.request.headers.append((b"Authorization", b"Bearer recTOKEN1234567890"))
    exchange.request.headers.append((b"Origin", b"http://127.0.0.1:5000"))
    exchange.request.headers.append((b"Content-Length", b"999"))
    values = ValueMap()
    _learn(
        values, {"id": 13, "token": "recTOKEN1234567890"}, {"id": 99, "token": "newTOKEN0987654321"}
    )
    out = build(
        exchange.request, Target("http://127.0.0.1:6001/prefix"), values, "http://127.0.0.1:5000"
    )
    assert out.url == "http://127.0.0.1:6001/prefix/api/entries/99?x=1"
    names = [k.lower() for k, _ in out.headers]
    assert names[0] == "host" and dict(out.headers)["Host"] == "127.0.0.1:6001"
    assert "content-length" not in names
    assert ("Cookie", "a=1") in out.headers and ("cookie", "b=2") in out.headers  # duplicates kept
    assert ("Authorization", "Bearer newTOKEN0987654321") in out.headers
    assert ("Origin", "http://127.0.0.1:6001") in out.headers
    assert out.body == exchange.request.body
