"""Value correlation (pure logic): what is learned, and where it is carried."""

from __future__ import annotations

import orjson
import pytest

from parity.replayer.correlate import Trace, ValueMap, looks_minted, request_values
from parity.replayer.outgoing import Target, build
from parity.replayer.resources import key_resource, nested_resource, path_resource, resource_name
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


# -- scopes: equal recorded values from different resources never cross ---------------------


def _learn_at(values: ValueMap, path: str, seq: int, recorded: object, minted: object) -> None:
    values.learn(JSON, orjson.dumps(recorded), JSON, orjson.dumps(minted), seq=seq, path=path)


def _blog() -> ValueMap:
    """Post 13 minted as 41 and comment 13 as 77, as a blog API's replay sees them."""
    values = ValueMap()
    _learn_at(values, "/posts", 1, {"id": 13, "title": "a"}, {"id": 41, "title": "a"})
    _learn_at(
        values,
        "/posts/13/comments",
        2,
        {"id": 13, "postId": 13, "body": "b"},
        {"id": 77, "postId": 41, "body": "b"},
    )
    return values


def test_resource_names_fold_case_separators_and_plurals() -> None:
    pairs = [("posts", "post"), ("Entries", "entry"), ("categories", "category")]
    pairs += [("boxes", "box"), ("statuses", "status"), ("blog-posts", "blogPost")]
    pairs += [("addresses", "address"), ("databases", "database"), ("matches", "match")]
    for plural, singular in pairs:
        assert resource_name(plural) == resource_name(singular), (plural, singular)
    assert resource_name("post") != resource_name("comment")
    for key in ("postId", "post_id", "post-id", "PostID", "postIds", "X-Post-Id"):
        assert key_resource(key) == "post", key
    for key in ("id", "_id", "uuid", "ids", "paid", "valid", "title"):
        assert key_resource(key) is None, key


def test_where_a_value_was_minted_names_its_resource() -> None:
    assert path_resource("/api/v1/posts") == "post"
    assert path_resource("/posts/13/comments?page=2") == "comment"
    assert path_resource("/posts/13") == "post"
    assert path_resource("/posts/my-slug", (set(), {"my-slug"})) == "post"
    assert path_resource("/") is None
    assert nested_resource("id", ["comment"], "post") == "comment"
    assert nested_resource("id", ["comments", "post"], "post") == "comment"
    assert nested_resource("id", ["data"], "record") == "record"  # a wrapper: the route's
    assert nested_resource("authorId", ["post"], "post") == "author"
    assert nested_resource("id", [], None) is None


def test_equal_values_of_two_resources_go_to_their_own_new_ids() -> None:
    values = _blog()
    assert values.apply_path("/posts/13") == "/posts/41"
    assert values.apply_path("/comments/13") == "/comments/77"
    assert values.apply_path("/posts/13/comments/13") == "/posts/41/comments/77"
    assert values.apply_path("/comments?postId=13") == "/comments?postId=41"
    assert values.apply_path("/comments?post_id=13&id=13") == "/comments?post_id=41&id=77"
    body = values.apply_body(
        b'{"postId": 13, "comment": {"id": 13}, "post": {"id": 13}}', "application/json"
    )
    assert orjson.loads(body) == {"postId": 41, "comment": {"id": 77}, "post": {"id": 41}}
    assert orjson.loads(values.apply_body(b'{"id": 13}', "application/json", "/posts/13")) == {
        "id": 41
    }
    assert values.apply_body(b"post_id=13", "application/x-www-form-urlencoded") == b"post_id=41"
    assert values.apply_text("13", "X-Post-Id") == "41"
    assert values.reverse()[41] == 13 and values.reverse()[77] == 13


def test_a_use_that_names_no_scope_is_left_as_recorded_and_listed() -> None:
    values = _blog()
    trace = Trace()
    assert values.apply_path("/lookup/13", trace) == "/lookup/13"
    assert values.apply_text("13", "X-Thing", trace) == "13"
    assert values.apply_body(b'{"ref": 13}', "application/json", "/search", trace) == b'{"ref": 13}'
    assert trace.ambiguous == ["13"] and trace.substitutions == []


def test_a_value_with_one_scope_is_used_everywhere() -> None:
    values = ValueMap()
    _learn_at(values, "/posts", 1, {"id": 13}, {"id": 41})
    assert values.apply_path("/anything/13") == "/anything/41"
    assert values.apply_text("13", "X-Thing") == "41"


def test_scopes_that_agree_are_not_ambiguous() -> None:
    values = ValueMap()
    _learn_at(values, "/posts", 1, {"id": 13}, {"id": 41})
    values.learn(
        [(b"Location", b"http://a/entries/13")], b"", [(b"Location", b"http://b/entries/41")], b""
    )
    trace = Trace()
    assert values.apply_path("/lookup/13", trace) == "/lookup/41" and not trace.ambiguous


def test_the_newest_mint_of_a_scope_wins_and_other_scopes_keep_theirs() -> None:
    values = _blog()
    _learn_at(values, "/posts", 8, {"id": 13, "title": "c"}, {"id": 42, "title": "c"})
    assert values.apply_path("/posts/13") == "/posts/42"
    assert values.apply_path("/comments/13") == "/comments/77"
    assert values.reverse()[42] == 13


def test_etags_go_to_conditional_headers() -> None:
    values = ValueMap()
    values.learn([(b"ETag", b'"7"')], b"", [(b"ETag", b'"e-new"')], b"")
    _learn_at(values, "/posts", 2, {"id": "7"}, {"id": "p-9"})
    assert values.apply_text('"7"', "If-Match") == '"e-new"'
    assert values.apply_text("7", "If-None-Match") == "e-new"
    assert values.apply_path("/posts/7") == "/posts/p-9"


def test_a_trace_says_what_was_substituted_where_and_by_which_exchange() -> None:
    values = _blog()
    trace = Trace()
    values.apply_path("/posts/13/comments?postId=13", trace)
    values.apply_body(b'{"post": {"id": 13}}', "application/json", "/x", trace)
    seen = [(s.recorded, s.sent, s.at, s.mint.seq, s.mint.at) for s in trace.substitutions]
    assert seen == [
        ("13", "41", "path segment 2", 1, "$.id"),
        ("13", "41", "query postId", 1, "$.id"),
        (13, 41, "$.post.id", 1, "$.id"),
    ]
    trace = Trace()
    values.apply_path("/comments?postId=99", trace)
    assert trace.substitutions == [] and trace.ambiguous == []


def test_a_cookie_takes_the_value_minted_for_its_name() -> None:
    values = ValueMap()
    values.learn(
        [(b"Set-Cookie", b"sid=rec-0001; Path=/"), (b"Set-Cookie", b"csrf=rec-0002")],
        b"",
        [(b"Set-Cookie", b"sid=new-0001; Path=/"), (b"Set-Cookie", b"csrf=new-0002")],
        b"",
    )
    values.learn([(b"Set-Cookie", b"csrf=rec-0001")], b"", [(b"Set-Cookie", b"csrf=new-0009")], b"")
    trace = Trace()
    cookie = values.apply_text("sid=rec-0001; csrf=rec-0001", "Cookie", trace)
    assert cookie == "sid=new-0001; csrf=new-0009"
    assert [(s.at, s.mint.at) for s in trace.substitutions] == [
        ("header Cookie", "header Set-Cookie sid"),
        ("header Cookie", "header Set-Cookie csrf"),
    ]
    assert values.apply_text("rec-0001", "X-Other", trace) == "rec-0001"
    assert trace.ambiguous == ["rec-0001"]


def test_a_re_mint_retires_the_old_mint_wherever_else_it_was_seen() -> None:
    values = ValueMap()
    _learn_at(values, "/entries", 1, {"id": 5, "t": "a"}, {"id": 1, "t": "a"})
    _learn_at(
        values, "/search", 2, {"results": [{"id": 5, "t": "a"}]}, {"results": [{"id": 1, "t": "a"}]}
    )
    assert set(values.scopes[5]) == {"entry", "search"}
    _learn_at(values, "/entries", 3, {"id": 5, "t": "b"}, {"id": 2, "t": "b"})  # 5 reused
    assert set(values.scopes[5]) == {"entry"}
    trace = Trace()
    assert values.apply_text("5", "X-Ref", trace) == "2" and not trace.ambiguous
    assert values.reverse()[2] == 5 and 1 not in values.reverse()


def test_values_minted_in_xml_answers_are_carried_too() -> None:
    """An S3-style API mints an upload id in an XML body; later requests carry it in the
    query. HTML and DTD bodies are never read for values."""
    xml = [(b"Content-Type", b"application/xml")]

    def answer(upload: str) -> bytes:
        return (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult>'
            b"<Bucket>photos</Bucket><Key>a.jpg</Key><UploadId>"
            + upload.encode()
            + b"</UploadId></InitiateMultipartUploadResult>"
        )

    values = ValueMap()
    values.learn(xml, answer("VXBsb2FkIElEIGZvciBlbHZpbmc"), xml, answer("2~iCw_lDY8VoNzJa"))
    assert (
        values.apply_path("/photos/a.jpg?partNumber=1&uploadId=VXBsb2FkIElEIGZvciBlbHZpbmc")
        == "/photos/a.jpg?partNumber=1&uploadId=2~iCw_lDY8VoNzJa"
    )
    html = [(b"Content-Type", b"text/html")]
    page = b"<!DOCTYPE html><html><body><p id='tokenABCDEF123456'>x</p></body></html>"
    other = b"<!DOCTYPE html><html><body><p id='tokenZZZZZZ999999'>x</p></body></html>"
    fresh = ValueMap()
    fresh.learn(html, page, html, other)
    assert fresh.apply_path("/x?id=tokenABCDEF123456") == "/x?id=tokenABCDEF123456"


def test_bytes_answered_as_recorded_again_are_not_parsed_and_learn_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body answered byte for byte as recorded, whose values were remembered before,
    is not parsed again: what the map knows after a run of list pages, mints and repeats
    is what it knows when every body is parsed."""
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    page = {"entries": [{"id": 1001, "etag": digest}, {"id": 1002, "title": "a"}]}
    steps = [
        (page, page),  # answered as recorded
        ({"id": 13, "token": "tok-recorded-1"}, {"id": 77, "token": "tok-minted-1"}),
        (page, page),  # the same bytes again: remembered, not parsed
        ({"id": 14}, {"id": 14}),
        (page, {"entries": [{"id": 2001, "etag": digest}]}),  # a mismatch: learned from
        (page, page),
        ({"id": 13}, {"id": 78}),  # 13 minted again
    ]
    fast = ValueMap({13, 14, 1001, "tok-recorded-1"})
    slow = ValueMap({13, 14, 1001, "tok-recorded-1"})
    slow._remembered_both = lambda body: False  # type: ignore[method-assign]
    parsed = 0
    import parity.replayer.correlate as correlate

    tree = correlate._tree

    def counting(body: bytes) -> object:
        nonlocal parsed
        parsed += 1
        return tree(body)

    monkeypatch.setattr(correlate, "_tree", counting)
    for recorded, minted in steps:
        _learn(fast, recorded, minted)
    fast_parses, parsed = parsed, 0
    for recorded, minted in steps:
        _learn(slow, recorded, minted)
    assert fast_parses < parsed
    assert fast.forward == slow.forward
    assert fast.forward[13] == 78 and fast.forward["tok-recorded-1"] == "tok-minted-1"
    assert fast.reproduced == slow.reproduced and fast.version == slow.version
    assert fast._seen_recorded == slow._seen_recorded
    assert fast._seen_minted == slow._seen_minted
    for path in ("/api/entries/13?x=1001", "/api/entries/14", "/t/tok-recorded-1"):
        assert fast.apply_path(path) == slow.apply_path(path)
