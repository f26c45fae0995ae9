"""Hostile bodies: charsets that are not character sets, content-encoding bombs under one
cap, and bytes that are not valid in their charset compared as the bytes they are."""

from __future__ import annotations

import bz2
import gzip
import zlib

import brotli
import orjson
import pytest
import zstandard

from parity.differ import Differ, Outcome, Verdict, decode_body
from parity.differ.charsets import printable, printable_text, text_encoding
from parity.differ.content import undo_encodings
from tests.test_differ_support import compare, kinds, response

NOT_CHARSETS = [
    "hex",
    "base64",
    "zlib",
    "bz2",
    "uu",
    "quopri",
    "rot13",
    "rot_13",
    "idna",
    "punycode",
    "unicode_escape",
    "raw_unicode_escape",
    "undefined",
    "bogus",
    "utf-8\x00",
    "x" * 500,
]
TYPES = [
    "text/plain",
    "application/json",
    "text/xml",
    "application/x-www-form-urlencoded",
    "text/event-stream",
    "application/x-ndjson",
]


def _storable(verdict: Verdict) -> None:
    """What triage stores of a verdict is valid UTF-8 JSON (no lone surrogates)."""
    for found in ("differences", "noise", "serialization", "baseline_differences"):
        orjson.dumps([d.to_json() for d in getattr(verdict, found)])
    orjson.dumps(verdict.error_sides)
    str(verdict.signature).encode("utf-8")


def test_only_character_sets_are_text_encodings() -> None:
    assert text_encoding("UTF-8") == "utf-8"
    assert text_encoding("latin1") == "iso8859-1"
    assert text_encoding("Shift_JIS") == "shift_jis"
    assert text_encoding("utf-16") == "utf-16"
    for name in [*NOT_CHARSETS, "", None]:
        assert text_encoding(name) is None, name


@pytest.mark.parametrize("charset", NOT_CHARSETS)
@pytest.mark.parametrize("content_type", TYPES)
def test_a_charset_that_is_no_character_set_is_read_as_utf8(
    content_type: str, charset: str
) -> None:
    full = f"{content_type}; charset={charset}"
    for data in (b'{"a": "caf\xc3\xa9"}', b"<a>68656c6c6f</a>", b"a=1&b=\xff", b"data: x\n\n"):
        body = decode_body([(b"Content-Type", full.encode("latin-1"))], data)
        assert any(n.startswith("charset-unknown:") for n in body.notes)
    prefix = b"data: " if content_type == "text/event-stream" else b""
    same = compare(
        response(prefix + b'{"a": "6869"}', content_type=full),
        response(prefix + b'{"a": "6869"}', content_type=full),
    )
    assert same.outcome is Outcome.MATCHED
    verdict = compare(
        response(prefix + b'{"a": "6869"}', content_type=full),
        response(prefix + b'{"a": "686a"}', content_type=full),
    )
    assert verdict.outcome is Outcome.MISMATCHED
    _storable(verdict)


def test_a_json_body_under_a_non_text_charset_is_json_read_as_utf8() -> None:
    body = decode_body([(b"Content-Type", b"application/json; charset=hex")], b'{"a": 1}')
    assert body.kind == "json" and body.value == {"a": 1}


def _bomb(encoding: str, size: int) -> bytes:
    zeros = b"\x00" * size
    if encoding == "gzip":
        return gzip.compress(zeros)
    if encoding == "deflate":
        return zlib.compress(zeros)
    if encoding == "br":
        return brotli.compress(zeros, quality=5)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(zeros)
    if encoding == "gzip, br":  # applied gzip then br: br undone first
        return brotli.compress(gzip.compress(zeros), quality=5)
    assert encoding == "br, gzip"
    return gzip.compress(brotli.compress(zeros, quality=5))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "gzip, br", "br, gzip"])
def test_every_content_encoding_stops_at_the_one_cap(
    monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    import parity.differ.content

    monkeypatch.setattr(parity.differ.content, "MAX_DECODED", 2**20)
    bomb = _bomb(encoding, 8 * 2**20)
    headers = [("Content-Encoding", encoding)]
    undone = undo_encodings(bomb, [encoding])
    assert not undone.ok and undone.data == bomb
    # Past the cap by at most one brotli meta-block (16 MiB; zlib and zstd: one byte).
    assert 2**20 < undone.too_large <= 2**20 + 2**24, undone.too_large
    assert undone.notes[0].startswith("too-large:")
    said = f"body too large to compare ({undone.too_large // 2**20} MB decoded)"
    small = response(b'{"ok": true}')
    verdict = compare(small, response(bomb, headers=headers))
    assert [(d.path, d.expected, d.actual) for d in verdict.differences if d.path == "$"] == [
        ("$", {"ok": True}, said)
    ]
    other = _bomb(encoding, 8 * 2**20 + 1)
    both = compare(response(bomb, headers=headers), response(other, headers=headers))
    assert [(d.expected, d.actual) for d in both.differences] == [(said, said)]
    same = compare(response(bomb, headers=headers), response(bomb, headers=headers))
    assert same.outcome is Outcome.MATCHED  # equal raw bytes: nothing decoded
    assert Differ().render(response(bomb, headers=headers)) == f"<{said}>"


def test_brotli_streams_in_pieces_and_gives_what_one_call_gives() -> None:
    document = b"".join(b'{"n": %d, "name": "entry %d"},' % (n, n) for n in range(50_000))
    packed = brotli.compress(document)
    assert undo_encodings(packed, ["br"]).data == document
    cut = undo_encodings(packed[: len(packed) // 2], ["br"])
    assert not cut.ok and cut.notes[0].startswith("undecodable:br:truncated")


def test_a_bomb_under_the_cap_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    import parity.differ.content

    monkeypatch.setattr(parity.differ.content, "MAX_DECODED", 2**20)
    for encoding in ("gzip", "br", "zstd", "gzip, br"):
        undone = undo_encodings(_bomb(encoding, 2**20), [encoding])
        assert undone.ok and undone.data == b"\x00" * 2**20 and not undone.too_large


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "text/plain"]
)
def test_invalid_utf8_json_compares_the_bytes(content_type: str) -> None:
    e = response(b'{"name": "caf\xe9", "n": 1}', content_type=content_type)
    a = response(b'{"name": "caf\xe8", "n": 1}', content_type=content_type)
    verdict = compare(e, a)
    assert [(d.path, d.expected, d.actual) for d in verdict.differences] == [
        ("$.name", "caf\\xe9", "caf\\xe8")
    ]
    assert "invalid-bytes:kept" in verdict.rules_applied
    _storable(verdict)
    assert compare(e, response(e.body, content_type=content_type)).outcome is Outcome.MATCHED
    respaced = response(b'{"name":"caf\xe9","n":1}', content_type=content_type)
    assert compare(e, respaced).outcome is Outcome.MATCHED  # still parsed as JSON


def test_bytes_a_multibyte_charset_rejects_stay_different() -> None:
    # 0x81 starts a two-byte Shift_JIS character; " " and "!" cannot end one.
    e = response(b"x\x81 y", content_type="text/plain; charset=shift_jis")
    a = response(b"x\x81!y", content_type="text/plain; charset=shift_jis")
    verdict = compare(e, a)
    assert kinds(verdict) == {("body", "$", "changed")}
    _storable(verdict)


def test_invalid_bytes_in_a_key_and_a_value_leave_the_differ_printable() -> None:
    e = response(b'{"k\xff": {"v": "a\xfe"}}')
    a = response(b'{"k\xff": {"v": "a\xfd"}}')
    verdict = compare(e, a)
    assert [(d.path, d.expected, d.actual) for d in verdict.differences] == [
        ('$["k\\xff"].v', "a\\xfe", "a\\xfd")
    ]
    _storable(verdict)
    rendered = Differ().render(e)
    rendered.encode("utf-8")
    assert '"k\\xff"' in rendered and '"a\\xfe"' in rendered


@pytest.mark.parametrize("charset", ["", "; charset=latin-1", "; charset=utf-16"])
def test_a_lone_surrogate_escape_in_json_never_breaks_a_verdict(charset: str) -> None:
    codec = charset.partition("=")[2] or "utf-8"
    e = response(
        '{"a": "\\ud800", "b": 1}'.encode(codec), content_type="application/json" + charset
    )
    a = response(
        '{"a": "\\udc00", "b": 2}'.encode(codec), content_type="application/json" + charset
    )
    verdict = compare(e, a)
    assert verdict.outcome is Outcome.MISMATCHED
    _storable(verdict)
    err = compare(
        response(e.body, status=500, content_type=e.headers[0][1].decode()),
        response(a.body, status=502, content_type=a.headers[0][1].decode()),
    )
    _storable(err)
    Differ().render(e).encode("utf-8")


def test_printable_writes_lone_surrogates_and_leaves_the_rest() -> None:
    assert printable_text("caf\udce9 \ud800 é") == "caf\\xe9 \\ud800 é"
    value = {"k": ["x"], 1: None}
    assert printable(value) is value
    assert printable({"\udcff": ("\udc80", 2)}) == {"\\xff": ("\\x80", 2)}
    assert printable_text("\udc00\udc7f") == "\\udc00\\udc7f"  # not escaped bytes


def test_a_bz2_body_with_a_bz2_charset_is_text_not_a_crash() -> None:
    packed = bz2.compress(b"hello")
    body = decode_body([(b"Content-Type", b"text/plain; charset=bz2")], packed)
    assert body.kind == "text" and isinstance(body.value, str)


def test_a_sentence_writes_bytes_that_were_not_text_as_escapes() -> None:
    from parity.triage.sentences import shown

    assert shown("caf\udce9") == "caf\\xe9"
    assert shown({"a": "\ud800"}) == '{"a":"\\\\ud800"}'
