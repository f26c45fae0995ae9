"""Differ micro-benchmarks (no servers): equal 200 KB bodies, a 3-field change, DeepDiff.

    python bench/differ_bench.py

Two 200 KB shapes: one journal entry with a 200 KB body text (the pilot's large entry),
and a page of ~400 small entries (many leaves). Each figure is the best of several
repeats, so a busy machine disturbs it less.
"""

from __future__ import annotations

import copy
import json
import random
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from deepdiff import DeepDiff

from examples.journal.pilot import SEED, large_text
from parity.differ import Differ, HttpRequest, HttpResponse

HEADERS = [
    (b"Content-Type", b"application/json; charset=utf-8"),
    (b"ETag", b'"14727f53b1877cefe3a0"'),
    (b"X-Request-Id", b"0b6e0b6e-1111-2222-3333-444455556666"),
    (b"Date", b"Sun, 04 Jan 2026 08:15:30 GMT"),
    (b"Server", b"Python/3.11 aiohttp/3.10"),
]


def entry(n: int, body: str) -> dict[str, Any]:
    return {
        "id": 1000 + n,
        "title": f"Caf\u00e9 morning {n}",
        "body": body,
        "section": None,
        "tags": ["writing", "morning"],
        "type": "journal",
        "checkbox": None,
        "mood_score": 4.0,
        "date": "2026-03-07",
        "created_at": "2026-01-04T08:15:30.120000+00:00",
        "updated_at": "2026-01-04T08:15:30.120000+00:00",
        "version": 1,
        "word_count": len(body.split()),
    }


def timings(fn: Callable[[], object], number: int, repeat: int = 5) -> dict[str, float]:
    """Seconds per call: the best and the median of `repeat` repeats of `number` calls."""
    per_call = [t / number for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return {"best_s": min(per_call), "median_s": statistics.median(per_call)}


def best(fn: Callable[[], object], number: int) -> float:
    """Seconds per call, best of 5 repeats."""
    return timings(fn, number)["best_s"]


def measure(
    label: str,
    doc: Any,
    change: Callable[[Any], None],
    *,
    repeat: int = 5,
    scale: float = 1.0,
) -> dict[str, Any]:
    """Time the differ on `doc` against: an equal copy (bytes equal), the same values with
    other whitespace, and `change`d (three fields); and DeepDiff on the same two
    documents, given parsed (`deepdiff`) and from the bytes (`deepdiff_parse`). Each
    figure: seconds per call, best and median of `repeat` repeats; `scale` scales the
    number of calls per repeat (0.2 for a smoke check)."""
    raw = json.dumps(doc).encode()
    changed = copy.deepcopy(doc)
    change(changed)
    raw_changed = json.dumps(changed).encode()
    request = HttpRequest("GET", "/api/vaults/0b6e/entries/1042")
    expected = HttpResponse(200, HEADERS, raw, "http://127.0.0.1:5000")
    equal = HttpResponse(200, list(HEADERS), bytes(bytearray(raw)), "http://127.0.0.1:5001")
    three = HttpResponse(200, list(HEADERS), raw_changed, "http://127.0.0.1:5001")
    compact = HttpResponse(
        200, list(HEADERS), json.dumps(doc, separators=(",", ":")).encode(), None
    )
    differ = Differ()
    found = differ.compare(request, expected, three)

    def n(calls: int) -> int:
        return max(1, round(calls * scale))

    a, b = json.loads(raw), json.loads(raw_changed)
    return {
        "label": label,
        "bytes": len(raw),
        "differences": [d.path for d in found.differences],
        "equal_bytes": timings(lambda: differ.compare(request, expected, equal), n(2000), repeat),
        "equal_values": timings(lambda: differ.compare(request, expected, compact), n(50), repeat),
        "three_fields": timings(lambda: differ.compare(request, expected, three), n(50), repeat),
        "deepdiff": timings(lambda: DeepDiff(a, b), n(5), repeat),
        "deepdiff_parse": timings(
            lambda: DeepDiff(orjson.loads(raw), orjson.loads(raw_changed)), n(5), repeat
        ),
    }


def print_figures(m: dict[str, Any]) -> None:
    print(f"{m['label']}: {m['bytes'] / 1000:.0f} KB, differences found: {m['differences']}")
    t = m["equal_bytes"]["best_s"]
    print(f"  equal bytes            {t * 1e6:8.0f} us   {1 / t:8.0f} compares/s")
    print(f"  equal values, other ws {m['equal_values']['best_s'] * 1e3:8.2f} ms")
    print(
        f"  3-field change         {m['three_fields']['best_s'] * 1e3:8.2f} ms"
        "   (whole compare: decode, normalize, diff)"
    )
    print(
        f"  DeepDiff(a, b)         {m['deepdiff']['best_s'] * 1e3:8.2f} ms"
        "   (parsed values given, diff only)"
    )
    print(
        f"  DeepDiff incl. parsing {m['deepdiff_parse']['best_s'] * 1e3:8.2f} ms"
        "   (orjson.loads of both bodies, then DeepDiff)"
    )


def run(label: str, doc: Any, change: Callable[[Any], None]) -> None:
    print_figures(measure(label, doc, change))


def cases() -> list[tuple[str, Any, Callable[[Any], None]]]:
    """The two 200 KB shapes, each with its three-field change."""
    text = large_text(random.Random(SEED))

    def three_fields(doc: dict[str, Any]) -> None:
        doc["title"], doc["version"], doc["tags"] = "Changed", 2, ["x"]

    page = {"items": [entry(n, text[n * 300 : n * 300 + 300]) for n in range(400)], "total": 400}

    def three_items(doc: dict[str, Any]) -> None:
        doc["items"][3]["title"] = "Changed"
        doc["items"][200]["version"] = 2
        doc["items"][399]["tags"] = ["x"]

    return [
        ("one entry, 200 KB body", entry(0, text), three_fields),
        ("page of 400 entries", page, three_items),
    ]


def main() -> None:
    for label, doc, change in cases():
        run(label, doc, change)


if __name__ == "__main__":
    main()
