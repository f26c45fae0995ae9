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
