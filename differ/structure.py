"""The structural diff of two normalized trees (dicts, lists, scalars).

Equality is strict: `4.0` vs `4` and `true` vs `1` differ (TYPE_CHANGED). The walk only
descends into subtrees whose canonical bytes differ, so a 3-field change in a 200 KB
document costs a few serializations, not a full Python-level walk. Arrays:

- the same elements in another order: ONE `order_changed` at the array's path;
- objects with a shared identity key (`id`, `_id`, `uuid`, `guid`, `key`): matched by it,
  so a missing item is one `removed`, not a shifted pile of `changed`;
- otherwise equal lengths pair by index, and unequal ones are aligned on equal
  elements (bounded: beyond MAX_ALIGN pairs it falls back to index pairing).

At most `limit` differences are reported.
"""

from __future__ import annotations

import json
from collections import Counter
from difflib import SequenceMatcher

import orjson

from differ.jsonpath import Parts, format_path
from differ.model import Difference, DiffKind, Where

MAX_DIFFERENCES = 1000
MAX_ALIGN = 250_000
"""Largest len(a) * len(b) aligned with difflib (its worst case is quadratic)."""
PREVIEW_CHARS = 2000
IDENTITY_KEYS = ("id", "_id", "uuid", "guid", "key")


def canonical(value: object) -> bytes:
    """Bytes that are equal exactly when two trees are strictly equal (sorted keys, and
    `1`, `1.0`, `true` written differently)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits, odd leaves: slower but exact
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
        return b"\x00" + text.encode("utf-8", "surrogatepass")


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _scalar_equal(a: object, b: object) -> bool:
    # NaN (which Python's json writes) equals itself here: it is the same literal.
    return type(a) is type(b) and (a == b or (a != a and b != b))


def preview(value: object) -> object:
    """A value small enough to store in a Difference (long strings and big trees cut)."""
    if isinstance(value, str):
        if len(value) <= PREVIEW_CHARS:
            return value
        return value[:PREVIEW_CHARS] + f"… ({len(value)} chars)"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict | list):
        size = len(canonical(value))
        if size <= PREVIEW_CHARS:
            return value
        what = (
            f"object with {len(value)} keys"
            if isinstance(value, dict)
            else f"array of {len(value)} items"
        )
        return f"<{what}, {size} bytes>"
    return value


def _identity(item: object, key: str) -> tuple[str, object] | None:
    if not isinstance(item, dict):
        return None
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return (type(value).__name__, value)


def identity_key(expected: list[object], actual: list[object]) -> str | None:
    """The first IDENTITY_KEYS name that every element on both sides has, unique per
    side, and shared by at least one pair; None if there is none."""
    if not expected or not actual:
        return None
    for key in IDENTITY_KEYS:
        ids_e = [_identity(x, key) for x in expected]
        ids_a = [_identity(x, key) for x in actual]
        if None in ids_e or None in ids_a:
            continue
        if (
            len(set(ids_e)) == len(ids_e)
            and len(set(ids_a)) == len(ids_a)
            and set(ids_e) & set(ids_a)
        ):
            return key
    return None


class TreeDiff:
    """One structural comparison; `run()` returns the differences (at most `limit`)."""

    def __init__(self, limit: int = MAX_DIFFERENCES) -> None:
        self.limit = limit
        self.out: list[Difference] = []
        self.truncated = False

    def run(self, expected: object, actual: object) -> list[Difference]:
        self._node(expected, actual, ())
        return self.out

    def _emit(self, parts: Parts, kind: DiffKind, expected: object, actual: object) -> None:
        if len(self.out) >= self.limit:
            self.truncated = True
            return
        self.out.append(Difference(Where.BODY, format_path(parts), kind, expected, actual))

    def _full(self) -> bool:
        if len(self.out) >= self.limit:
            self.truncated = True
            return True
        return False

    def _node(self, e: object, a: object, parts: Parts) -> None:
        if self._full():
            return
        if type_name(e) != type_name(a):
            self._emit(parts, DiffKind.TYPE_CHANGED, preview(e), preview(a))
        elif isinstance(e, dict) and isinstance(a, dict):
            self._object(e, a, parts)
        elif isinstance(e, list) and isinstance(a, list):
            self._array(e, a, parts)
        elif not _scalar_equal(e, a):
            self._emit(parts, DiffKind.CHANGED, preview(e), preview(a))

    def _child(self, e: object, a: object, parts: Parts) -> None:
        """Descend only if the subtrees differ (scalars directly, trees by their bytes)."""
        if isinstance(e, dict | list) and type(e) is type(a):
            if canonical(e) != canonical(a):
                self._node(e, a, parts)
        elif not _scalar_equal(e, a):
            self._node(e, a, parts)

    def _object(self, e: dict[str, object], a: dict[str, object], parts: Parts) -> None:
        for key, value in e.items():
            if self._full():
                return
            if key not in a:
                self._emit((*parts, key), DiffKind.REMOVED, preview(value), None)
            else:
                self._child(value, a[key], (*parts, key))
        for key, value in a.items():
            if key not in e:
                self._emit((*parts, key), DiffKind.ADDED, None, preview(value))

    def _array(self, e: list[object], a: list[object], parts: Parts) -> None:
        ce, ca = [canonical(x) for x in e], [canonical(x) for x in a]
        if ce == ca:  # the root is not pre-checked like children are
            return
        if len(e) == len(a) and Counter(ce) == Counter(ca):
            self._order_changed(e, a, parts)
            return
        key = identity_key(e, a)
        if key is not None:
            self._keyed(e, a, key, ce, ca, parts)
        elif len(e) == len(a):
            for i, (x, y) in enumerate(zip(e, a, strict=True)):
                if ce[i] != ca[i]:
                    self._node(x, y, (*parts, i))
        else:
            self._aligned(e, a, ce, ca, parts)

    def _order_changed(self, e: list[object], a: list[object], parts: Parts) -> None:
        key = identity_key(e, a)
        if key is not None:  # show the order of the identities, it says it all
            shown_e: object = [x[key] for x in e if isinstance(x, dict)][:50]
            shown_a: object = [x[key] for x in a if isinstance(x, dict)][:50]
        else:
            shown_e, shown_a = preview(e), preview(a)
        self._emit(parts, DiffKind.ORDER_CHANGED, shown_e, shown_a)

    def _keyed(
        self,
        e: list[object],
        a: list[object],
        key: str,
        ce: list[bytes],
        ca: list[bytes],
        parts: Parts,
    ) -> None:
        where = {_identity(x, key): j for j, x in enumerate(a)}
        matched = [
            (i, where[_identity(x, key)]) for i, x in enumerate(e) if _identity(x, key) in where
        ]
        js = [j for _i, j in matched]
        if js != sorted(js):
            self._emit(
                parts,
                DiffKind.ORDER_CHANGED,
                [_identity_value(e[i], key) for i, _j in matched][:50],
                [_identity_value(a[j], key) for j in sorted(js)][:50],
            )
        for i, j in matched:
            if ce[i] != ca[j]:
                self._node(e[i], a[j], (*parts, i))
        matched_e, matched_a = {i for i, _j in matched}, set(js)
        for i, x in enumerate(e):
            if self._full():
                return
            if i not in matched_e:
                self._emit((*parts, i), DiffKind.REMOVED, preview(x), None)
        for j, y in enumerate(a):
            if j not in matched_a:
                self._emit((*parts, j), DiffKind.ADDED, None, preview(y))

    def _aligned(
        self, e: list[object], a: list[object], ce: list[bytes], ca: list[bytes], parts: Parts
    ) -> None:
        start = 0  # equal heads and tails first: cheap, and they shrink the problem
        while start < min(len(e), len(a)) and ce[start] == ca[start]:
            start += 1
        end_e, end_a = len(e), len(a)
        while end_e > start and end_a > start and ce[end_e - 1] == ca[end_a - 1]:
            end_e, end_a = end_e - 1, end_a - 1
        if (end_e - start) * (end_a - start) > MAX_ALIGN:
            opcodes = [("replace", start, end_e, start, end_a)]
        else:
            matcher = SequenceMatcher(None, ce[start:end_e], ca[start:end_a], autojunk=False)
            opcodes = [
                (tag, i1 + start, i2 + start, j1 + start, j2 + start)
                for tag, i1, i2, j1, j2 in matcher.get_opcodes()
            ]
        for tag, i1, i2, j1, j2 in opcodes:
            if tag == "equal":
                continue
            if self._full():
                return
            paired = min(i2 - i1, j2 - j1)
            for k in range(paired):
                if ce[i1 + k] != ca[j1 + k]:
                    self._node(e[i1 + k], a[j1 + k], (*parts, i1 + k))
            for i in range(i1 + paired, min(i2, i1 + paired + self.limit)):
                self._emit((*parts, i), DiffKind.REMOVED, preview(e[i]), None)
            for j in range(j1 + paired, min(j2, j1 + paired + self.limit)):
                self._emit((*parts, j), DiffKind.ADDED, None, preview(a[j]))


def _identity_value(item: object, key: str) -> object:
    return item.get(key) if isinstance(item, dict) else None


def diff_trees(
    expected: object, actual: object, limit: int = MAX_DIFFERENCES
) -> tuple[list[Difference], bool]:
    """(differences, truncated) between two normalized trees."""
    differ = TreeDiff(limit)
    return differ.run(expected, actual), differ.truncated
