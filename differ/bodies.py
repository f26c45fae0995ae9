"""Whole-body differences for bodies that are not trees: text, binary, empty, or two
bodies of different families (JSON vs an HTML error page). Path `$` throughout."""

from __future__ import annotations

from typing import Literal

from parity.differ.content import STRUCTURED, Body, too_large_text
from parity.differ.model import Difference, DiffKind, Where
from parity.differ.structure import preview

Family = Literal["structured", "text", "binary", "empty"]

_CHUNK = 65536
_WINDOW = 300
_WHOLE = 2000


def family(body: Body) -> Family:
    if body.kind in STRUCTURED:
        return "structured"
    if body.kind in ("text", "binary", "empty"):
        return body.kind
    return "binary"


def first_difference(a: str | bytes, b: str | bytes) -> int:
    """Index of the first differing element (len of the shorter if one is a prefix).
    Linear: compares chunks in C, then looks inside the first unequal chunk."""
    limit = min(len(a), len(b))
    start = 0
    while start < limit and a[start : start + _CHUNK] == b[start : start + _CHUNK]:
        start += _CHUNK
    end = min(start + _CHUNK, limit)
    for i in range(start, end):
        if a[i] != b[i]:
            return i
    return end


def _excerpt(text: str, at: int) -> str:
    if len(text) <= _WHOLE:
        return text
    start = max(0, at - _WINDOW // 3)
    head = "…" if start else ""
    tail = "…" if start + _WINDOW < len(text) else ""
    return f"{head}{text[start : start + _WINDOW]}{tail} (at char {at} of {len(text)})"


def text_difference(expected: str, actual: str) -> Difference:
    """One `changed` at `$`, showing both texts (or excerpts around the first difference)."""
    at = first_difference(expected, actual)
    return Difference(
        Where.BODY, "$", DiffKind.CHANGED, _excerpt(expected, at), _excerpt(actual, at)
    )


def binary_difference(expected: Body, actual: Body) -> Difference:
    """One `changed` at `$`: sizes and types, and where the bytes start to differ."""
    at = first_difference(expected.data, actual.data)
    note = f", first difference at byte {at}"
    return Difference(
        Where.BODY,
        "$",
        DiffKind.CHANGED,
        expected.describe()[:-1] + note + ">",
        actual.describe()[:-1] + note + ">",
    )


def shown(body: Body, value: object) -> object:
    """A preview of a whole body for differences at `$`."""
    if family(body) == "structured":
        return preview(value)
    if family(body) == "text" and isinstance(value, str):
        return _excerpt(value, 0)
    if family(body) == "empty":
        return None
    return body.describe()


def family_difference(expected: Body, e_value: object, actual: Body, a_value: object) -> Difference:
    """Bodies of different families: `added`/`removed` if one is empty, else `type_changed`."""
    if family(expected) == "empty":
        return Difference(Where.BODY, "$", DiffKind.ADDED, None, shown(actual, a_value))
    if family(actual) == "empty":
        return Difference(Where.BODY, "$", DiffKind.REMOVED, shown(expected, e_value), None)
    return Difference(
        Where.BODY, "$", DiffKind.TYPE_CHANGED, shown(expected, e_value), shown(actual, a_value)
    )


def too_large_difference(expected: Body, actual: Body) -> Difference:
    """One `changed` at `$` when a side's decoding stopped at the cap (`MAX_DECODED`):
    that side reads `body too large to compare (N MB decoded)`, the other as a preview."""

    def side(body: Body) -> object:
        return too_large_text(body.too_large) if body.too_large else shown(body, body.value)

    return Difference(Where.BODY, "$", DiffKind.CHANGED, side(expected), side(actual))
