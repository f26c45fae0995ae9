"""Serialization details that parsed values hide: the same value written differently.

These are *serialization* differences (`Verdict.serialization`): wire-only, not counted in
the outcome unless `[serialization] gate = true`. Run only when the raw JSON bytes differ
(never on the fast path). Each is one `changed` per leaf, with the JSON literals as
expected/actual:

- a string escaped otherwise: non-ASCII text escaped (`"Caf\\u00e9"`) or raw
  (`"Café"`), `\\/` vs `/`, `\\u003c` vs `<`, `\\u000a` vs `\\n` (`\\u00e9` vs `\\u00E9`
  is the same spelling);
- the same number written differently (`1.50` vs `1.5`, `1e2` vs `100.0`, `1E+16` vs
  `1e+16`). An int and a float of one value (`4.0` vs `4`) are found by the tree diff
  (`structure.TreeDiff.respelled`), not here.

Two number literals that parse to one float but are different decimal numbers (`0.1` vs
`0.10000000000000001`) are not a spelling: JSON numbers are decimals (RFC 8259), so that
is a real `changed`, returned apart.

Key order and whitespace are never differences. Leaves whose values differ are left to
the structural diff; only leaves with strictly equal values are checked here.

What is checked, by cost: in bodies up to `FULL_CHECK_BYTES`, every escape and every
number, whatever else differs. In larger ones, escapes only when the documents differ in
how they write non-ASCII text (a cheap byte check), and numbers only when the bodies are
otherwise equal (finding the float literals outside strings costs a scan).

Equivalences switch these off on purpose: `unicode-escapes` (no string check) and
`decimal-scale` (number literals compared by their exact decimal value, so `1.50` =
`1.5` = `15e-1`, while `0.1` vs `0.10000000000000001` still differs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from parity.differ.jsonpath import Parts, format_path, get_at
from parity.differ.model import Difference, DiffKind, Where

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NUMBERISH = re.compile(rb"[-\d][-+\d.eE]*")
"""A run of the characters of a number literal (a set-led pattern is the fast kind)."""
_ESCAPED_NON_ASCII = re.compile(rb"\\u(?!00[0-7][0-9a-fA-F])[0-9a-fA-F]{4}")
_ASCII_ESCAPES = re.compile(rb"\\(?:/|u00[0-7][0-9a-fA-F])")
"""Escapes a serializer may choose for ASCII characters (`\\/`, `\\u003c`, `\\u000a`)."""
_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_BACKSLASH = 0x5C
_EXCERPT = 120
FULL_CHECK_BYTES = 64 * 1024
"""Bodies up to this size (both sides) get every check; see the module docstring."""

Literals = dict[Parts, tuple[bytes, object]]


def _plain(value: int | float) -> bytes:
    """How Python's json module writes the number: the reference spelling."""
    return (repr(value) if isinstance(value, float) else str(value)).encode("ascii")


def _escape_style(raw: bytes, full: bool) -> tuple[object, ...]:
    """How a document writes strings: raw non-ASCII bytes or not, non-ASCII escapes or
    not, and (`full`) which ASCII characters it escapes by choice. Two documents with
    equal strings but another spelling almost always differ here; only documents that
    differ here get the per-string check."""
    style: tuple[object, ...] = (raw.isascii(), _ESCAPED_NON_ASCII.search(raw) is not None)
    if full:
        style += (frozenset(e.lower() for e in set(_ASCII_ESCAPES.findall(raw))),)
    return style


def _lower_hex(match: re.Match[bytes]) -> bytes:
    escape = match.group(0)
    return escape.lower() if match.group(1)[:1] == b"u" else escape


def _spelling(literal: bytes) -> bytes:
    """A string literal with the hex digits of its `\\uXXXX` escapes in lower case."""
    return _ESCAPE.sub(_lower_hex, literal) if _BACKSLASH in literal else literal


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
    for literal in set(_NUMBERISH.findall(outside)):
        if b"." in literal or b"e" in literal or b"E" in literal:
            try:
                if _plain(float(literal)) != literal:
                    return True
            except ValueError:  # not a number after all (text, when strings were kept)
                continue
    return False


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
    """The literals of interesting leaves: strings not written as plain `"text"` (with
    escapes or non-ASCII; if `strings`) and floats not written the way Python writes them
    (if `numbers`; integers are always plain)."""
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
            if strings and (not node.isascii() or raw.find(b"\\", start, end) >= 0):
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


def _excerpts(expected: bytes, actual: bytes) -> tuple[str, str]:
    """The two literals as text; long ones cut around the first place they differ."""
    texts = (expected.decode("utf-8", "replace"), actual.decode("utf-8", "replace"))
    if max(len(t) for t in texts) <= 2 * _EXCERPT:
        return texts
    first = next(
        (i for i, (x, y) in enumerate(zip(*texts, strict=False)) if x != y),
        min(len(t) for t in texts),
    )
    start = max(0, first - _EXCERPT // 2)

    def cut(text: str) -> str:
        if len(text) <= 2 * _EXCERPT:
            return text
        return f"…{text[start : start + _EXCERPT]}… ({len(text)} chars)"

    return cut(texts[0]), cut(texts[1])


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
    otherwise_equal: bool = True,
    thorough: bool = True,
    unicode_escapes: bool = False,
    decimal_scale: bool = False,
    applied: set[str] | None = None,
) -> tuple[list[Difference], list[Difference], bool]:
    """(serialization differences, real differences, checked) for two JSON documents;
    the real ones are numbers of another decimal value that parse to one float. `trees`
    are the parsed values before normalization, `skip(parts)` says a path is ignored by a rule.
    `otherwise_equal`: the normalized trees showed no difference (then large documents
    get the number check too). `thorough=False` treats every document as a large one
    (the cheap checks only). `checked` is False if the documents could not be lined
    up with their tokens (nothing is reported). `unicode_escapes` and `decimal_scale`
    are the equivalences of those names; when one of them hides something,
    `equivalence:NAME` goes into `applied`."""
    full = thorough and max(len(expected_raw), len(actual_raw)) <= FULL_CHECK_BYTES
    strings = _escape_style(expected_raw, full) != _escape_style(actual_raw, full)
    if strings and unicode_escapes:
        strings = False
        if applied is not None:
            applied.add("equivalence:unicode-escapes")
    numbers = (otherwise_equal or full) and (
        _odd_floats(expected_raw, expected_tree) or _odd_floats(actual_raw, actual_tree)
    )
    if not strings and not numbers:
        return [], [], True
    try:
        found_e = _literals(expected_raw, expected_tree, strings, numbers)
        found_a = _literals(actual_raw, actual_tree, strings, numbers)
    except (_Misaligned, RecursionError):
        return [], [], False
    wire: list[Difference] = []
    real: list[Difference] = []
    for parts in [*found_e, *(p for p in found_a if p not in found_e)]:
        literal_e, value_e = found_e.get(parts) or _leaf(expected_tree, parts)
        literal_a, value_a = found_a.get(parts) or _leaf(actual_tree, parts)
        if not _same(value_e, value_a) or skip(parts):
            continue
        out = wire
        if isinstance(value_e, str):
            differs = _spelling(literal_e) != _spelling(literal_a)
        else:
            differs = literal_e != literal_a
            if differs and not _same_decimal(literal_e, literal_a):
                out = real
            elif differs and decimal_scale:
                differs = False
                if applied is not None:
                    applied.add("equivalence:decimal-scale")
        if differs:
            shown_e, shown_a = _excerpts(literal_e, literal_a)
            out.append(
                Difference(Where.BODY, format_path(parts), DiffKind.CHANGED, shown_e, shown_a)
            )
    return wire, real, True


def number_literal(value: object) -> str:
    """How Python's json module writes a number (the spelling shown for `4.0` vs `4`)."""
    assert isinstance(value, int | float)
    return _plain(value).decode("ascii")


def _leaf(tree: object, parts: Parts) -> tuple[bytes, object]:
    """(reference literal, value) of a leaf that had nothing unusual on its side."""
    present, value = get_at(tree, parts)
    if not present:
        return b"", _Missing
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _plain(value), value
    if isinstance(value, str):  # not collected: no escapes, ASCII only, so written plain
        return b'"' + value.encode("ascii", "replace") + b'"', value
    return b"", value


class _Missing:
    """Stands for a leaf that one side does not have."""
