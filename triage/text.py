"""Small text helpers: JSON for the database, one-line descriptions of differences.
(Signatures and their shapes are the differ's: `differ.signature`.)"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from parity.differ.signature import place


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def storable(text: str) -> str:
    """`text` as valid UTF-8 for SQLite: each lone surrogate (a JSON `"\\ud800"`, bytes
    kept by `surrogateescape`) written as its escape, `\\ud800`. Readable, distinct per
    code point, and in JSON text an escape that reads back as the same string; text
    without surrogates is returned as is."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_escaped, text)


def dumps(value: Any) -> str:
    """Compact JSON text, valid UTF-8 (`storable`); values JSON cannot hold become
    strings rather than errors."""
    try:
        return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # integers beyond 64 bits, lone surrogates: orjson refuses them
        text = json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))
        return storable(text)


def loads(text: str | None, empty: Any = None) -> Any:
    if text is None:
        return empty
    return json.loads(text)


def short(value: Any, limit: int = 40) -> str:
    """A value as compact JSON, cut to `limit` characters."""
    text = dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_difference(diff: dict[str, Any]) -> str:
    """One line: `$.a.b[3] changed: 1 -> 1.0`, `header etag removed: "x"`."""
    where = place(diff["where"], diff["path"])
    kind = diff["kind"]
    expected, actual = diff.get("expected"), diff.get("actual")
    if kind == "added":
        return f"{where} added: {short(actual)}"
    if kind == "removed":
        return f"{where} removed: {short(expected)}"
    if kind == "order_changed":
        return f"{where} order changed"
    if kind == "error_changed":
        return f"error changed: {_error_side(expected)} -> {_error_side(actual)}"
    label = "type changed" if kind == "type_changed" else "changed"
    return f"{where} {label}: {short(expected)} -> {short(actual)}"


def _error_side(side: Any) -> str:
    """`422 "Invalid request"` from an `error_changed` side (the differ's summary)."""
    if not isinstance(side, dict):
        return short(side)
    message = side.get("message")
    status = str(side.get("status"))
    return f"{status} {short(message)}" if isinstance(message, str) else status
