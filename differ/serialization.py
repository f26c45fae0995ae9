"""Serialization details that parsed values hide: the same value written differently.

Run only when the raw JSON bytes differ (never on the fast path). Two details are
reported, each as one `changed` difference per leaf, with the JSON literals as
expected/actual:

- non-ASCII text escaped (`"Caf\\u00e9"`) on one side and raw UTF-8 (`"Café"`) on the
  other. Checked whenever the two documents escape differently (a cheap byte check), so
  it is found next to other differences too;
- the same number written differently (`1.50` vs `1.5`, `1e2` vs `100.0`, `1E+16` vs
  `1e+16`). Checked when the normalized trees are otherwise equal. `4.0` vs `4` is not
  one: strict equality already calls it `type_changed`.

Key order and whitespace are never differences. Leaves whose values differ are left to
the structural diff; only leaves with strictly equal values are checked here.

Equivalences switch these off on purpose: `unicode-escapes` (no string check) and
`decimal-scale` (number literals compared by their exact decimal value, so `1.50` =
`1.5` = `15e-1`, while `0.1` vs `0.10000000000000001` still differs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from differ.jsonpath import Parts, format_path, get_at
from differ.model import Difference, DiffKind, Where

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_FLOAT = re.compile(rb"-?\d+(?:\.\d+)?[eE][+-]?\d+|-?\d+\.\d+")
_ESCAPED_NON_ASCII = re.compile(rb"\\u(?!00[0-7][0-9a-fA-F])[0-9a-fA-F]{4}")
_BACKSLASH = 0x5C
_EXCERPT = 120

Literals = dict[Parts, tuple[bytes, object]]


def _plain(value: int | float) -> bytes:
    """How Python's json module writes the number: the reference spelling."""
    return (repr(value) if isinstance(value, float) else str(value)).encode("ascii")


def _style(literal: bytes) -> tuple[bool, bool]:
    """(has raw non-ASCII bytes, has non-ASCII escapes) of a string literal."""
    return (not literal.isascii(), _ESCAPED_NON_ASCII.search(literal) is not None)


class _Misaligned(Exception):
    """The tokens do not line up with the parsed tree (duplicate keys, NaN, odd charset)."""


def _odd_floats(raw: bytes, tree: object) -> bool:
    """Cheap first pass: True if the document may hold a float literal that Python would
    write differently (`1.50`, `1E+16`). No floats in the tree: no. Otherwise splitting
    on quotes drops the strings at C speed."""
    if not _has_float(tree):
        return False
    parts = raw.split(b'"')
    # An escaped quote breaks the inside/outside alternation: then look everywhere, which
    # can only cause a needless precise pass (text like "1.50"), never a missed literal.
    outside = b" ".join(parts if b'\\"' in raw else parts[0::2])
    return any(_plain(float(literal)) != literal for literal in set(_FLOAT.findall(outside)))


def _has_float(tree: object) -> bool:
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _spans(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of every string and number literal, in document order. Strings are
    skipped with `bytes.find` (C speed), so long strings cost next to nothing."""
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        quote = raw.find(b'"', position)
        gap_end = quote if quote >= 0 else len(raw)
        if gap_end > position:
            spans.extend(m.span() for m in _NUMBER.finditer(raw, position, gap_end))
        if quote < 0:
            return spans
        end = raw.find(b'"', quote + 1)
        while end > 0 and raw[end - 1] == _BACKSLASH and _escaped(raw, end):
            end = raw.find(b'"', end + 1)
        if end < 0:
            raise _Misaligned
        spans.append((quote, end + 1))
        position = end + 1


def _escaped(raw: bytes, index: int) -> bool:
    """True if the character at `index` follows an odd number of backslashes."""
    start = index - 1
    while start >= 0 and raw[start] == _BACKSLASH:
        start -= 1
    return (index - 1 - start) % 2 == 1


def _literals(raw: bytes, tree: object, strings: bool, numbers: bool) -> Literals:
    """The literals of interesting leaves: non-ASCII strings (if `strings`) and floats
    not written the way Python writes them (if `numbers`; integers are always plain)."""
    spans = _spans(raw)
    found: Literals = {}
    position = 0

    def take() -> tuple[int, int]:
        nonlocal position
        if position >= len(spans):
            raise _Misaligned
        position += 1
        return spans[position - 1]

    def walk(node: object, parts: Parts) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                take()
                walk(child, (*parts, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*parts, index))
        elif isinstance(node, str):
            start, end = take()
            if strings and not node.isascii():
                found[parts] = (raw[start:end], node)
        elif isinstance(node, float):
            start, end = take()
            if numbers and raw[start:end] != _plain(node):
                found[parts] = (raw[start:end], node)
        elif isinstance(node, int) and not isinstance(node, bool):
            take()

    walk(tree, ())
    if position != len(spans):
        raise _Misaligned
    return found


def _excerpt(literal: bytes) -> str:
    text = literal.decode("utf-8", "replace")
    if len(text) <= 2 * _EXCERPT:
        return text
    first = next((i for i, c in enumerate(text) if ord(c) > 127 or text.startswith("\\u", i)), 0)
    start = max(0, first - _EXCERPT // 2)
    return f"…{text[start : start + _EXCERPT]}… ({len(text)} chars)"


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _same_decimal(a: bytes, b: bytes) -> bool:
    try:
        return Decimal(a.decode("ascii")) == Decimal(b.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        return False


def literal_differences(
    expected_raw: bytes,
    actual_raw: bytes,
    expected_tree: object,
    actual_tree: object,
    skip: Callable[[Parts], bool],
    *,
    numbers: bool = True,
    unicode_escapes: bool = False,
    decimal_scale: bool = False,
    applied: set[str] | None = None,
) -> tuple[list[Difference], bool]:
    """(differences, checked) for two JSON documents; `trees` are the parsed values before
    normalization, `skip(parts)` says a path is ignored by a rule. Number literals are
    only checked if `numbers` (the caller passes it when the normalized trees are equal:
    the check costs a scan, and a body that differs anyway can wait). `checked` is False
    if the documents could not be lined up with their tokens (nothing is reported).
    `unicode_escapes` and `decimal_scale` are the equivalences of those names; when one
    of them hides something, `equivalence:NAME` goes into `applied`."""
    strings = (expected_raw.isascii() != actual_raw.isascii()) or (
        (_ESCAPED_NON_ASCII.search(expected_raw) is None)
        != (_ESCAPED_NON_ASCII.search(actual_raw) is None)
    )
    if strings and unicode_escapes:
        strings = False
        if applied is not None:
            applied.add("equivalence:unicode-escapes")
    numbers = numbers and (
        _odd_floats(expected_raw, expected_tree) or _odd_floats(actual_raw, actual_tree)
    )
    if not strings and not numbers:
        return [], True
    try:
        found_e = _literals(expected_raw, expected_tree, strings, numbers)
        found_a = _literals(actual_raw, actual_tree, strings, numbers)
    except (_Misaligned, RecursionError):
        return [], False
    out = []
    for parts in [*found_e, *(p for p in found_a if p not in found_e)]:
        literal_e, value_e = found_e.get(parts) or _leaf(expected_tree, parts)
        literal_a, value_a = found_a.get(parts) or _leaf(actual_tree, parts)
        if not _same(value_e, value_a) or skip(parts):
            continue
        if isinstance(value_e, str):
            differs = _style(literal_e) != _style(literal_a)
        else:
            differs = literal_e != literal_a
            if differs and decimal_scale and _same_decimal(literal_e, literal_a):
                differs = False
                if applied is not None:
                    applied.add("equivalence:decimal-scale")
        if differs:
            out.append(
                Difference(
                    Where.BODY,
                    format_path(parts),
                    DiffKind.CHANGED,
                    _excerpt(literal_e),
                    _excerpt(literal_a),
                )
            )
    return out, True


def _leaf(tree: object, parts: Parts) -> tuple[bytes, object]:
    """(reference literal, value) of a leaf that had nothing unusual on its side."""
    present, value = get_at(tree, parts)
    if not present:
        return b"", _Missing
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _plain(value), value
    return b"", value


class _Missing:
    """Stands for a leaf that one side does not have."""
