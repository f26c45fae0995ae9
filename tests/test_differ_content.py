"""Body decoding: every Content-Encoding, every content type, and never a crash."""

from __future__ import annotations

import gzip
import zlib

import brotli
import msgpack
import pytest
import zstandard

from parity.differ import Outcome
from parity.differ.content import decode_body, decode_content_encoding
from tests.test_differ_support import compare, kinds, response

DOC = b'{"title": "Caf\\u00e9", "n": 1}'


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("br", brotli.compress),
        ("zstd", lambda d: zstandard.ZstdCompressor().compress(d)),
        ("identity", lambda d: d),
    ],
)
def test_each_content_encoding_is_undone(encoding: str, encode: object) -> None:
    encoded = encode(DOC)  # type: ignore[operator]
    body = decode_body(
        [(b"Content-Type", b"application/json"), (b"Content-Encoding", encoding.encode())], encoded
    )
    assert body.decoded and body.kind == "json"
    assert body.value == {"title": "Café", "n": 1}


def test_a_chain_of_encodings_is_undone_in_reverse() -> None:
    encoded = brotli.compress(gzip.compress(DOC))
    data, notes, ok = decode_content_encoding(encoded, ["gzip, br"])
    assert ok and data == DOC
    assert notes == ["decoded:br", "decoded:gzip"]


def test_a_gzip_body_equals_the_same_body_uncompressed() -> None:
    plain = response({"a": 1})
    zipped = response(
        gzip.compress(plain.body), headers=[("Content-Encoding", "gzip"), ("Content-Length", "99")]
    )
    verdict = compare(plain, zipped)
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert "decoded:gzip" in verdict.rules_applied


def test_an_undecodable_body_is_compared_raw_and_noted() -> None:
    body = decode_body([(b"Content-Encoding", b"gzip")], b"not gzip at all")
    assert not body.decoded and body.kind == "binary" and body.data == b"not gzip at all"
    assert body.notes[0].startswith("undecodable:gzip")
    unknown = decode_body([(b"Content-Encoding", b"compress")], b"xyz")
    assert not unknown.decoded and unknown.notes[0].startswith("undecodable:compress")


def test_undecodable_bodies_compare_raw_and_their_encoding_header_counts() -> None:
    bad = response(b"\x00garbage", headers=[("Content-Encoding", "br")])
    verdict = compare(bad, response(b"\x00garbage", headers=[("Content-Encoding", "br")]))
    assert verdict.outcome is Outcome.MATCHED
    verdict = compare(bad, response(b"\x00other", headers=[("Content-Encoding", "br")]))
    assert ("body", "$", "changed") in kinds(verdict)
    assert any(n.startswith("undecodable:br") for n in verdict.rules_applied)


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/json", "json"),
        ("application/problem+json", "json"),
        ("application/vnd.api+json; charset=utf-8", "json"),
        ("text/json", "json"),
        ("text/plain", "json"),  # sniffed
        (None, "json"),  # sniffed
        ("application/octet-stream", "binary"),
    ],
)
def test_json_content_types_and_sniffing(content_type: str | None, kind: str) -> None:
    headers = [(b"Content-Type", content_type.encode())] if content_type else []
    assert decode_body(headers, b' {"a": [1, 2]}').kind == kind


def test_form_bodies_are_ordered_pairs() -> None:
    body = decode_body(
        [(b"Content-Type", b"application/x-www-form-urlencoded")], b"a=1&b=x+y&a=2&c="
    )
    assert body.kind == "form"
    assert body.value == [("a", "1"), ("b", "x y"), ("a", "2"), ("c", "")]


def test_form_values_are_compared_by_name() -> None:
    form = "application/x-www-form-urlencoded"
    verdict = compare(
        response(b"a=1&b=2", content_type=form), response(b"b=2&a=3", content_type=form)
    )
    assert kinds(verdict) == {("body", "$.a", "changed")}


@pytest.mark.parametrize("content_type", ["application/msgpack", "application/x-msgpack"])
def test_msgpack_bodies_are_trees(content_type: str) -> None:
    packed = msgpack.packb({"a": [1, 2.5], "b": b"\x00\x01", 3: "int key"})
    body = decode_body([(b"Content-Type", content_type.encode())], packed)
    assert body.kind == "msgpack"
    assert body.value == {"a": [1, 2.5], "b": "base64:AAE=", "3": "int key"}
    verdict = compare(
        response(packed, content_type=content_type),
        response(
            msgpack.packb({"a": [1, 2], "b": b"\x00\x01", 3: "int key"}), content_type=content_type
        ),
    )
    assert kinds(verdict) == {("body", "$.a[1]", "changed")}  # 2.5 vs 2: one number type


def test_text_uses_the_charset_parameter() -> None:
    body = decode_body(
        [(b"Content-Type", b"text/plain; charset=iso-8859-1")], "café".encode("latin-1")
    )
    assert body.kind == "text" and body.value == "café"


def test_invalid_utf8_text_never_crashes_and_keeps_every_byte() -> None:
    body = decode_body([(b"Content-Type", b"text/html")], b"<p>\xff\xfe broken \xc3</p>")
    assert body.kind == "text" and body.value == "<p>\udcff\udcfe broken \udcc3</p>"
    assert "\ufffd" not in str(body.value) and "invalid-bytes:kept" in body.notes
    verdict = compare(
        response(b"<p>\xff ok</p>", content_type="text/html"),
        response(b"<p>\xfe ok</p>", content_type="text/html"),
    )
    # Two different bad bytes are two different characters, shown as the bytes they are.
    assert [(d.expected, d.actual) for d in verdict.differences] == [
        ("<p>\\xff ok</p>", "<p>\\xfe ok</p>")
    ]
    verdict = compare(
        response(b"<p>\xff a</p>", content_type="text/html"),
        response(b"<p>\xff b</p>", content_type="text/html"),
    )
    assert kinds(verdict) == {("body", "$", "changed")}


def test_javascript_and_csv_are_text() -> None:
    # XML is a tree: see test_differ_xml.py.
    for content_type in (
        "application/javascript",
        "text/csv",
    ):
        assert decode_body([(b"Content-Type", content_type.encode())], b"<a/>").kind == "text"


def test_non_json_under_a_json_content_type_is_text_not_a_crash() -> None:
    body = decode_body([(b"Content-Type", b"application/json")], b"<html>502 Bad Gateway</html>")
    assert body.kind == "text" and "unparsable:json:JSONDecodeError" in body.notes
    verdict = compare(response({"ok": True}), response(b"<html>502 Bad Gateway</html>"))
    assert kinds(verdict) == {("body", "$", "type_changed")}
    verdict = compare(response(b"{broken"), response(b"{broken!"))
    assert kinds(verdict) == {("body", "$", "changed")}


def test_server_sent_events_are_a_list_of_events() -> None:
    stream = (
        b'data: {"index": 0, "delta": "Hi "}\n\n'
        b": keep-alive comment\n\n"
        b'data: {"index": 1, "delta": "there"}\n\n'
        b'event: done\ndata: {"finish_reason": "stop", "request_id": "0b6e0b6e-1111-2222-3333-444455556666"}\n\n'
    )
    body = decode_body([(b"Content-Type", b"text/event-stream")], stream)
    assert body.kind == "sse" and len(body.value) == 3  # type: ignore[arg-type]
    truncated = stream.rsplit(b"event: done", 1)[0]
    verdict = compare(
        response(stream, content_type="text/event-stream"),
        response(truncated, content_type="text/event-stream"),
    )
    assert kinds(verdict) == {("body", "$[2]", "removed")}
    assert verdict.differences[0].expected["event"] == "done"


def test_ndjson_is_a_list_of_documents() -> None:
    body = decode_body([(b"Content-Type", b"application/x-ndjson")], b'{"a": 1}\n{"a": 2}\n')
    assert body.kind == "ndjson" and body.value == [{"a": 1}, {"a": 2}]


def test_an_empty_body_against_a_body_is_added_or_removed() -> None:
    assert kinds(compare(response(b"", content_type=None), response({"a": 1}))) >= {
        ("body", "$", "added")
    }
    assert kinds(compare(response({"a": 1}), response(b"", content_type=None))) >= {
        ("body", "$", "removed")
    }


def test_binary_bodies_say_size_type_and_where_they_differ() -> None:
    png = "image/png"
    verdict = compare(
        response(b"\x89PNG" + b"\x00" * 100, content_type=png),
        response(b"\x89PNG" + b"\x01" * 100, content_type=png),
    )
    (difference,) = verdict.differences
    assert difference.path == "$" and difference.kind.value == "changed"
    assert difference.expected == "<104 bytes of image/png, first difference at byte 4>"
