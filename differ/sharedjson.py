"""Parsing a large JSON body beside the body it is compared with, sharing equal strings.

Two answers of a slightly different 100 MB listing are mostly the same strings. Parsed
one after the other, each tree holds its own copy of every string, and the strings are
most of a tree: the pair costs twice what one does. `parse_sharing` parses the second
body so that each long string equal to one in the first tree *is* that string object:
the second tree costs its differences, not a copy of the first. (It also makes the
comparison of those strings an identity check.)

orjson cannot share (it has no hook), so the shared parse is the json module's, with an
`object_hook`; and the two parsers do not read every input alike. The shared parse is
used only where they agree, and `None` otherwise (the caller then parses as usual):

- NaN and Infinity, which orjson refuses, are refused;
- integers beyond orjson's range (it reads those beyond 64 bits as floats) and numbers
  too large for a float (`1e400`: json reads infinity, orjson refuses): a walk of the
  tree after the parse looks for them (50 ms for 100 MB);
- bytes that are not UTF-8 (parse_json keeps them as lone surrogates), nesting deeper
  than the json module's recursion allows, any parse error: no.

tests/fuzz/test_fuzz_content.py checks that a shared parse equals orjson's on any input.
"""

from __future__ import annotations

import codecs
import json

SHARE_FROM = 16 << 20
"""Bodies from this size are parsed sharing strings with their counterpart (below it,
a copy costs little and orjson is faster)."""

SHORTEST = 24
"""Strings shorter than this are not looked up (a str object of 24 ASCII characters
is 73 bytes: shorter ones save little against the lookup)."""

_INT_RANGE = (-(2**63), 2**64 - 1)
"""The integers orjson reads as integers (beyond them: floats)."""


def _long_strings(tree: object) -> dict[str, str]:
    """Every string of `tree` at least SHORTEST characters long, as itself (an iterative
    walk)."""
    found: dict[str, str] = {}
    if not isinstance(tree, dict | list):
        return found
    stack: list[dict[str, object] | list[object]] = [tree]
    while stack:
        node = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if type(child) is str:
                if len(child) >= SHORTEST:
                    found.setdefault(child, child)
            elif isinstance(child, dict | list):
                stack.append(child)
    return found


def _refuse(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def parse_sharing(data: bytes, like: object) -> object | None:
    """`data` (UTF-8 JSON) parsed as orjson would, with each long string that `like`
    also holds shared with `like`; None where the parse cannot promise orjson's tree
    (see the module doc)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    strings = _long_strings(like)
    if not strings:
        return None

    def shared(value: str) -> str:
        return strings.get(value, value) if len(value) >= SHORTEST else value

    def hook(obj: dict[str, object]) -> dict[str, object]:
        for key, value in obj.items():
            if type(value) is str:
                obj[key] = shared(value)
            elif type(value) is list:
                for i, item in enumerate(value):
                    if type(item) is str:
                        value[i] = shared(item)
        return obj

    try:
        text = data.decode("utf-8")
        tree = json.loads(text, object_hook=hook, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    return tree if _numbers_alike(tree) else None


def _number_alike(value: object) -> bool:
    if type(value) is int:
        return _INT_RANGE[0] <= value <= _INT_RANGE[1]
    if type(value) is float:
        return value - value == 0  # not infinite (NaN never parses: `_refuse`)
    return True


def _numbers_alike(tree: object) -> bool:
    """Whether every number of `tree` is one orjson reads the same way."""
    if not isinstance(tree, dict | list):
        return _number_alike(tree)
    stack: list[dict[str, object] | list[object]] = [tree]
    while stack:
        node = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append(child)
            elif not _number_alike(child):
                return False
    return True
