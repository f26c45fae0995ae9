"""Large and hostile bodies: bounded time, no crash."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from parity.differ import Outcome
from tests.test_differ_support import compare, kinds, response

pytestmark = pytest.mark.timeout(60)


def _timed(fn: object) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()  # type: ignore[operator]
    return result, time.perf_counter() - start


def test_a_100_mb_binary_body() -> None:
    blob = bytes(range(256)) * (100 * 2**20 // 256)
    changed = bytearray(blob)
    changed[-1] ^= 0xFF
    expected = response(blob, content_type="application/octet-stream")
    same, seconds = _timed(
        lambda: compare(expected, response(bytes(blob), content_type="application/octet-stream"))
    )
    assert same.outcome is Outcome.MATCHED and seconds < 5  # type: ignore[attr-defined]
    other, seconds = _timed(
        lambda: compare(expected, response(bytes(changed), content_type="application/octet-stream"))
    )
    assert seconds < 10
    (difference,) = other.differences  # type: ignore[attr-defined]
    assert difference.expected.endswith(f"first difference at byte {len(blob) - 1}>")


def test_a_10_mb_json_body() -> None:
    items = [
        {"id": n, "title": f"entry {n}", "at": "2026-01-04T08:15:30.120000+00:00", "score": n / 3}
        for n in range(100_000)
    ]
    expected = response({"items": items})
    assert len(expected.body) > 10 * 2**20
    changed = [dict(item) for item in items]
    changed[50_000]["title"] = "changed"
    verdict, seconds = _timed(lambda: compare(expected, response({"items": changed})))
    assert kinds(verdict) == {("body", "$.items[50000].title", "changed")}  # type: ignore[arg-type]
    assert seconds < 20
    shuffled = list(reversed(items))
    verdict, seconds = _timed(lambda: compare(expected, response({"items": shuffled})))
    assert kinds(verdict) == {("body", "$.items", "order_changed")} and seconds < 20  # type: ignore[arg-type]


def test_a_gzip_bomb_is_refused_not_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    import parity.differ.content

    monkeypatch.setattr(parity.differ.content, "MAX_DECODED", 2**20)
    bomb = gzip.compress(b"\x00" * (8 * 2**20))
    verdict = compare(
        response(bomb, headers=[("Content-Encoding", "gzip")]),
        response(bomb[:-1] + b"\x01", headers=[("Content-Encoding", "gzip")]),
    )
    assert any("exceeds" in note for note in verdict.rules_applied)


def test_a_large_text_body_with_a_late_change() -> None:
    text = "line of text, 2026-01-04T08:15:30Z\n" * 300_000
    verdict, seconds = _timed(
        lambda: compare(
            response(text.encode(), content_type="text/plain"),
            response((text + "x").encode(), content_type="text/plain"),
        )
    )
    assert kinds(verdict) == {("body", "$", "changed")} and seconds < 20  # type: ignore[arg-type]


def test_absurdly_deep_json_does_not_crash() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    verdict = compare(response(deep), response(deep[:-1] + b" ]"))
    assert verdict.outcome in (Outcome.MATCHED, Outcome.MISMATCHED)
    nested = json.dumps(json.loads("[" * 900 + "1" + "]" * 900)).encode()
    verdict = compare(response(nested), response(nested.replace(b"1", b"2")))
    assert verdict.outcome is Outcome.MISMATCHED


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/event-stream",
        "application/x-www-form-urlencoded",
        "application/msgpack",
        "application/x-ndjson",
        "text/html; charset=bogus",
        None,
    ],
)
def test_random_bytes_never_crash(content_type: str | None) -> None:
    import random

    rng = random.Random(7)
    encodings = ["gzip", "br", "deflate", "zstd", "gzip, br", None]
    for _ in range(60):
        bodies = [bytes(rng.randrange(256) for _ in range(rng.randrange(64))) for _ in range(3)]
        encoding = rng.choice(encodings)
        extra = [("Content-Encoding", encoding)] if encoding else []
        expected, actual, baseline = (
            response(b, content_type=content_type, headers=extra) for b in bodies
        )
        verdict = compare(expected, actual, baseline, actual_values={1: 2, "a": "b"})
        assert verdict.outcome in (Outcome.MATCHED, Outcome.MISMATCHED)
        json.dumps([d.to_json() for d in verdict.differences])  # triage stores them as JSON


def _listing(n: int, marker: str = "entry") -> bytes:
    items = [
        {"id": i, "title": f"{marker if i == n // 2 else 'entry'} {i}", "text": f"{i} " + "w" * 60}
        for i in range(n)
    ]
    return json.dumps({"items": items}).encode()


def test_a_large_answer_shares_the_strings_of_its_recording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import orjson

    from parity.differ import content, sharedjson

    recorded, served = _listing(2000), _listing(2000, "Entry")
    first = orjson.loads(recorded)
    tree = sharedjson.parse_sharing(served, first)
    assert tree == orjson.loads(served)
    assert all(  # the answer's long strings are the recording's string objects
        a["text"] is e["text"] for e, a in zip(first["items"], tree["items"], strict=True)
    )
    # decode_body shares from SHARE_FROM bytes on; under it, orjson alone.
    headers = [(b"Content-Type", b"application/json")]
    assert (
        content.decode_body(headers, served, first).value["items"][0]["text"]
        is not (first["items"][0]["text"])
    )
    monkeypatch.setattr(content, "SHARE_FROM", 1000)
    shared = content.decode_body(headers, served, first).value
    assert shared == tree and shared["items"][0]["text"] is first["items"][0]["text"]
    # and the comparison through the differ finds the one change, once
    verdict = compare(response(recorded), response(served))
    assert [(d.path, d.expected, d.actual) for d in verdict.differences] == [
        ("$.items[1000].title", "entry 1000", "Entry 1000")
    ]


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": [NaN], "b": "' + b"s" * 30 + b'"}',
        b'{"a": 1e400, "b": "' + b"s" * 30 + b'"}',
        b'{"a": 18446744073709551616, "b": "' + b"s" * 30 + b'"}',
        b'{"a": -9223372036854775809, "b": "' + b"s" * 30 + b'"}',
        b'{"a": "\xff", "b": "' + b"s" * 30 + b'"}',
        b'{"a": 1,',
    ],
)
def test_a_shared_parse_declines_where_orjson_reads_otherwise(data: bytes) -> None:
    from parity.differ import sharedjson

    assert sharedjson.parse_sharing(data, {"b": "s" * 30}) is None


def test_a_long_listing_with_one_change_pairs_in_place() -> None:
    """Unique ids, one item changed: no pairing table, the same differences as pairing by
    id; a moved item is still an order change, a removed one still `removed`."""
    items = [{"id": i, "v": i} for i in range(3000)]
    changed = [dict(x) for x in items]
    changed[1500]["v"] = -1
    verdict = compare(response(json.dumps(items).encode()), response(json.dumps(changed).encode()))
    assert [(d.path, d.kind.value) for d in verdict.differences] == [("$[1500].v", "changed")]
    moved = [*items[:10], items[11], items[10], *items[12:]]
    verdict = compare(response(json.dumps(items).encode()), response(json.dumps(moved).encode()))
    assert [d.kind.value for d in verdict.differences] == ["order_changed"]
    swapped = [dict(x) for x in moved]
    swapped[10]["v"] = -2  # moved and changed: paired by id, not by position
    verdict = compare(response(json.dumps(items).encode()), response(json.dumps(swapped).encode()))
    assert sorted((d.path, d.kind.value) for d in verdict.differences) == [
        ("$", "order_changed"),
        ("$[11].v", "changed"),
    ]
