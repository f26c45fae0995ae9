"""The structural diff of two normalized trees (dicts, lists, scalars).

Types are strict (`true` vs `1`, `"1"` vs `1`: TYPE_CHANGED) except that JSON has one
number type: an int and a float of another value are `changed`, and of the same value
(`4.0` vs `4`) they are no difference but a spelling, collected in `TreeDiff.respelled`
for the serialization report. The walk only
descends into subtrees whose canonical bytes differ, so a 3-field change in a 200 KB
document costs a few serializations, not a full Python-level walk (compared by their
digests when large, one serialization alive at a time: memory stays near the trees'
own). Arrays:

- the same elements in another order: ONE `order_changed` at the array's path;
- objects with a shared identity key (`id`, `_id`, `uuid`, `guid`, `key`): matched by it,
  so a missing item is one `removed`, not a shifted pile of `changed`;
- otherwise equal lengths pair by index, and unequal ones are aligned on equal
  elements (bounded: beyond MAX_ALIGN pairs it falls back to index pairing).

`Leeway` carries what rules allow: `[[array]]` paths compared as multisets or sorted by a
key (order never a difference), arrays the baseline itself does not keep in order
(`unordered:auto`) or learned noise says it does not (`unordered:learned`), and
`[[number]]` tolerances. At most `limit` differences are reported.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import orjson

from parity.differ.jsonpath import Parts, format_path, template_parts
from parity.differ.model import Difference, DiffKind, Where, json_type
from parity.differ.rules import ArrayRule, NumberRule

MAX_DIFFERENCES = 1000
MAX_ALIGN = 250_000
"""Largest len(a) * len(b) aligned with difflib (its worst case is quadratic)."""
LONG_ARRAY = 1000
"""Arrays longer than this are not serialized whole to see whether they differ: their
items' digests say it, without a copy of the whole array."""
PREVIEW_CHARS = 2000
"""Characters of a long string kept in a difference (and of a body preview in `parity show`)."""
IDENTITY_KEYS = ("id", "_id", "uuid", "guid", "key", "Id", "ID", "Key", "Name", "name")
"""Item keys that pair the items of two arrays (unique per side): JSON's usual ones and
XML's capitalized ones (S3 `<Contents><Key>`, Azure `<Blob><Name>`)."""


def canonical(value: object) -> bytes:
    """Bytes that are equal exactly when two trees are strictly equal (sorted keys, and
    `1`, `1.0`, `true` written differently)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits, odd leaves: slower but exact
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
        return b"\x00" + text.encode("utf-8", "surrogatepass")


def digest(value: object) -> bytes:
    """16 bytes equal exactly when two trees are strictly equal (a hash of `canonical`).
    The serialization is freed at once: a long array's items are compared by their
    digests, so a 100 MB array costs 16 bytes per item rather than a second copy of
    itself (and orjson's spare capacity on each of those copies)."""
    return hashlib.blake2b(canonical(value), digest_size=16).digest()


DIRECT_BYTES = 1 << 20
"""Serializations up to this size are compared as they are; larger ones by digest."""


def same_tree(e: object, a: object) -> bool:
    """Whether two trees are strictly equal (`canonical(e) == canonical(a)`), holding at
    most one large serialization at a time."""
    ce = canonical(e)
    if len(ce) <= DIRECT_BYTES:
        return ce == canonical(a)
    hashed = hashlib.blake2b(ce, digest_size=16).digest()
    del ce
    return hashed == digest(a)


def _item_keys(e: list[object], a: list[object]) -> tuple[list[bytes], list[bytes]]:
    """What the items of two arrays are compared by: their canonical bytes, or for a
    long array (`LONG_ARRAY`) their digests."""
    key = digest if max(len(e), len(a)) > LONG_ARRAY else canonical
    return [key(x) for x in e], [key(x) for x in a]


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


def _identity(item: object, key: str) -> object:
    """The item's identity value under `key` (a string or an integer), or None. The
    value itself is the identity: a string never equals an integer, booleans are left
    out, so no (type, value) pair is needed."""
    if not isinstance(item, dict):
        return None
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def _distinct(items: list[object], key: str) -> set[object] | None:
    """The set of the items' identity values under `key`; None as soon as one has none
    (built without a list of all values: a long array is paired at the cost of a set)."""
    seen: set[object] = set()
    for item in items:
        value = _identity(item, key)
        if value is None:
            return None
        seen.add(value)
    return seen


@dataclass(frozen=True, slots=True)
class Identity:
    """The key that pairs the items of two arrays, and whether its values are unique on
    both sides (else elements sharing a value pair by likeness)."""

    key: str
    unique: bool


def identity(expected: list[object], actual: list[object]) -> Identity | None:
    """The first IDENTITY_KEYS name that every element on both sides has, unique per
    side, and shared by at least one pair; else the first such name that repeats on
    some elements but still tells most of them apart (a snapshot listed under its
    blob's `Name`: `_keyed` pairs the elements sharing a value by likeness); None if
    there is none."""
    if not expected or not actual:
        return None
    repeating = None
    for key in IDENTITY_KEYS:
        distinct_e = _distinct(expected, key)
        if distinct_e is None:
            continue
        distinct_a = _distinct(actual, key)
        if distinct_a is None or distinct_e.isdisjoint(distinct_a):
            continue
        if len(distinct_e) == len(expected) and len(distinct_a) == len(actual):
            return Identity(key, unique=True)
        if (
            repeating is None
            and 2 * len(distinct_e) > len(expected)
            and 2 * len(distinct_a) > len(actual)
        ):
            repeating = Identity(key, unique=False)
    return repeating


def identity_key(expected: list[object], actual: list[object]) -> str | None:
    """The name of `identity(expected, actual)`'s key, or None."""
    found = identity(expected, actual)
    return found.key if found is not None else None


def _in_place(e: list[object], a: list[object], changed: list[int], found: Identity) -> bool:
    """Whether pairing two arrays of one length by `found` pairs every item with the one
    at its own position: true when the values are unique and the unequal items at each
    `changed` position share their value (equal items share theirs). Then the items pair
    by index, with no pairing table for a long array."""
    return found.unique and all(
        _identity(e[i], found.key) == _identity(a[i], found.key) for i in changed
    )


def _likeness(x: object, y: object) -> int:
    """Fields two objects agree on minus fields only one of them has (pairs elements
    that share an identity value)."""
    if not isinstance(x, dict) or not isinstance(y, dict):
        return 0
    score = 0
    for k, v in x.items():
        if k not in y:
            score -= 1
        elif canonical(v) == canonical(y[k]):
            score += 1
    return score - sum(1 for k in y if k not in x)


def _keyed_pairs(e: list[object], a: list[object], key: str) -> list[tuple[int, int]]:
    """(i, j) pairs of elements with the same identity value, in `e`'s order. Where a
    value repeats, its elements pair with the most alike element (ties: the earlier)."""
    where: dict[object, list[int]] = {}
    for j, y in enumerate(a):
        where.setdefault(_identity(y, key), []).append(j)
    pairs: list[tuple[int, int]] = []
    for i, x in enumerate(e):
        free = where.get(_identity(x, key))
        if not free:
            continue
        if len(free) == 1 or len(free) > _MAX_LIKENESS_GROUP:
            j = free[0]
        else:
            j = max(free, key=lambda j: (_likeness(x, a[j]), -j))
        free.remove(j)
        pairs.append((i, j))
    return pairs


_MAX_LIKENESS_GROUP = 64
"""Elements sharing one identity value beyond which they pair in order."""


AUTO_UNORDERED = "unordered:auto"
LEARNED_UNORDERED = "unordered:learned"


@dataclass(slots=True)
class Leeway:
    """What the rules allow beyond strict equality, and the labels of what was used."""

    arrays: tuple[ArrayRule, ...] = ()
    numbers: tuple[NumberRule, ...] = ()
    auto_unordered: frozenset[str] = frozenset()
    """Templated paths (`$.results`, `$.items[*].tags`) of arrays compared as multisets
    because a baseline answered them in another order than the recording."""
    learned_unordered: frozenset[str] = frozenset()
    """Templated paths where learned noise says the reference reorders arrays."""
    applied: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.arrays or self.numbers or self.auto_unordered or self.learned_unordered)

    def array_rule(self, parts: Parts) -> tuple[str, str | None] | None:
        """(label, sort_by or None for a multiset) for the array at `parts`, if any."""
        for rule in self.arrays:
            if any(p.matches(parts) for p in rule.paths):
                return rule.label, rule.sort_by
        if self.auto_unordered or self.learned_unordered:
            templated = template_parts(parts)
            if templated in self.auto_unordered:
                return AUTO_UNORDERED, None
            if templated in self.learned_unordered:
                return LEARNED_UNORDERED, None
        return None

    def number_rule(self, parts: Parts) -> NumberRule | None:
        for rule in self.numbers:
            if any(p.matches(parts) for p in rule.paths):
                return rule
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def within(rule: NumberRule, expected: float, actual: float) -> bool:
    """True if the two numbers are equal under the rule's tolerances."""
    return math.isclose(expected, actual, rel_tol=rule.relative, abs_tol=rule.tolerance)


def _sort_key(item: object, key: str) -> tuple[int, str, object]:
    """Items sort by the value under `key` (numbers, then strings, then the rest by
    their canonical bytes); items without it go last, in their order."""
    if not isinstance(item, dict) or key not in item:
        return (3, "", b"")
    value = item[key]
    if _is_number(value):
        return (0, "", value)
    if isinstance(value, str):
        return (1, "", value)
    return (2, "", canonical(value))


Index = Sequence[int] | None
"""Original positions of the items of a sorted array (None: not sorted)."""


def _at(parts: Parts, index: Index, i: int) -> Parts:
    return (*parts, index[i] if index is not None else i)


class TreeDiff:
    """One structural comparison; `run()` returns the differences (at most `limit`).
    Afterwards `respelled` holds the numbers equal by value but one an int and the other
    a float (`changed`, with the two values), also at most `limit`."""

    def __init__(self, limit: int = MAX_DIFFERENCES, leeway: Leeway | None = None) -> None:
        self.limit = limit
        self.out: list[Difference] = []
        self.respelled: list[Difference] = []
        self.truncated = False
        self.leeway = leeway if leeway else None

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
        if self.leeway is not None and self.leeway.numbers and _is_number(e) and _is_number(a):
            rule = self.leeway.number_rule(parts)
            if rule is not None:
                assert isinstance(e, int | float) and isinstance(a, int | float)
                if within(rule, e, a):
                    self.leeway.applied.add(rule.label)
                else:
                    self._emit(parts, DiffKind.CHANGED, e, a)
                return
        if json_type(e) != json_type(a):
            if not (_is_number(e) and _is_number(a)):
                self._emit(parts, DiffKind.TYPE_CHANGED, preview(e), preview(a))
            elif e != a:
                self._emit(parts, DiffKind.CHANGED, e, a)
            elif len(self.respelled) < self.limit:
                self.respelled.append(
                    Difference(Where.BODY, format_path(parts), DiffKind.CHANGED, e, a)
                )
        elif isinstance(e, dict) and isinstance(a, dict):
            self._object(e, a, parts)
        elif isinstance(e, list) and isinstance(a, list):
            self._array(e, a, parts)
        elif not _scalar_equal(e, a):
            self._emit(parts, DiffKind.CHANGED, preview(e), preview(a))

    def _child(self, e: object, a: object, parts: Parts) -> None:
        """Descend only if the subtrees differ (scalars directly, trees by their bytes)."""
        if isinstance(e, dict | list) and type(e) is type(a):
            if isinstance(e, list) and len(e) > LONG_ARRAY:
                self._node(e, a, parts)  # `_array` compares its items' digests anyway
            elif e is not a and not same_tree(e, a):
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
        ce, ca = _item_keys(e, a)
        if ce == ca:  # the root is not pre-checked like children are
            return
        rule = self.leeway.array_rule(parts) if self.leeway is not None else None
        if rule is not None:
            assert self.leeway is not None
            label, sort_by = rule
            self.leeway.applied.add(label)
            if sort_by is None:
                self._unordered(e, a, ce, ca, parts)
            else:
                self._sorted(e, a, ce, ca, parts, sort_by)
            return
        self._sequence(e, a, ce, ca, parts, None, None, ordered=True)

    def _sequence(
        self,
        e: list[object],
        a: list[object],
        ce: list[bytes],
        ca: list[bytes],
        parts: Parts,
        ie: Index,
        ia: Index,
        *,
        ordered: bool,
    ) -> None:
        """Two arrays item by item; `ie`/`ia` map positions to the reported indices, and
        `ordered=False` never reports the order."""
        # Of two arrays of one length only the unequal positions can tell a reorder
        # (equal ones cancel out of the two multisets): no table of every item.
        changed = [i for i, c in enumerate(ce) if c != ca[i]] if len(e) == len(a) else None
        if changed is not None and Counter(ce[i] for i in changed) == Counter(
            ca[i] for i in changed
        ):
            if ordered:
                self._order_changed(e, a, parts)
            return
        found = identity(e, a)
        if found is not None and not (changed is not None and _in_place(e, a, changed, found)):
            self._keyed(e, a, found.key, ce, ca, parts, ie, ia, ordered=ordered)
        elif changed is not None:
            for i in changed:
                self._node(e[i], a[i], _at(parts, ie, i))
        else:
            self._aligned(e, a, ce, ca, parts, ie, ia)

    def _sorted(
        self,
        e: list[object],
        a: list[object],
        ce: list[bytes],
        ca: list[bytes],
        parts: Parts,
        key: str,
    ) -> None:
        """`sort_by`: both sides sorted by `key` (stably), then compared in that order;
        reported indices are the original ones."""
        ie = sorted(range(len(e)), key=lambda i: _sort_key(e[i], key))
        ia = sorted(range(len(a)), key=lambda j: _sort_key(a[j], key))
        se, sa = [ce[i] for i in ie], [ca[j] for j in ia]
        if se != sa:
            self._sequence(
                [e[i] for i in ie], [a[j] for j in ia], se, sa, parts, ie, ia, ordered=False
            )

    def _unordered(
        self, e: list[object], a: list[object], ce: list[bytes], ca: list[bytes], parts: Parts
    ) -> None:
        """A multiset: items with an identity key are matched by it; otherwise the items
        only one side has are `removed` / `added`, except that items equal but for int
        vs float spellings (`[4.0]` vs `[4]`) are paired and compared."""
        if Counter(ce) == Counter(ca):
            return
        key = identity_key(e, a)
        if key is not None:
            self._keyed(e, a, key, ce, ca, parts, None, None, ordered=False)
            return
        spare_a, spare_e = Counter(ca), Counter(ce)
        removed, added = [], []
        for i, c in enumerate(ce):
            if spare_a[c] > 0:
                spare_a[c] -= 1
            else:
                removed.append(i)
        for j, c in enumerate(ca):
            if spare_e[c] > 0:
                spare_e[c] -= 1
            else:
                added.append(j)
        if removed and added:
            removed, added = self._respelled_pairs(e, a, removed, added, parts)
        for i in removed:
            self._emit((*parts, i), DiffKind.REMOVED, preview(e[i]), None)
        for j in added:
            self._emit((*parts, j), DiffKind.ADDED, None, preview(a[j]))

    def _respelled_pairs(
        self, e: list[object], a: list[object], removed: list[int], added: list[int], parts: Parts
    ) -> tuple[list[int], list[int]]:
        """Pair the unmatched items of a multiset that are equal by number value, compare
        each pair (their int/float spellings go to `respelled`); return the rest."""
        waiting: dict[bytes, list[int]] = {}
        for j in added:
            waiting.setdefault(canonical(_by_value(a[j])), []).append(j)
        unpaired = []
        for i in removed:
            candidates = waiting.get(canonical(_by_value(e[i])))
            if candidates:
                self._node(e[i], a[candidates.pop(0)], (*parts, i))
            else:
                unpaired.append(i)
        return unpaired, sorted(j for left in waiting.values() for j in left)

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
        ie: Index = None,
        ia: Index = None,
        *,
        ordered: bool = True,
    ) -> None:
        matched = _keyed_pairs(e, a, key)
        js = [j for _i, j in matched]
        if ordered and js != sorted(js):
            self._emit(
                parts,
                DiffKind.ORDER_CHANGED,
                [_identity_value(e[i], key) for i, _j in matched][:50],
                [_identity_value(a[j], key) for j in sorted(js)][:50],
            )
        for i, j in matched:
            if ce[i] != ca[j]:
                self._node(e[i], a[j], _at(parts, ie, i))
        matched_e, matched_a = {i for i, _j in matched}, set(js)
        for i, x in enumerate(e):
            if self._full():
                return
            if i not in matched_e:
                self._emit(_at(parts, ie, i), DiffKind.REMOVED, preview(x), None)
        for j, y in enumerate(a):
            if j not in matched_a:
                self._emit(_at(parts, ia, j), DiffKind.ADDED, None, preview(y))

    def _aligned(
        self,
        e: list[object],
        a: list[object],
        ce: list[bytes],
        ca: list[bytes],
        parts: Parts,
        ie: Index = None,
        ia: Index = None,
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
                    self._node(e[i1 + k], a[j1 + k], _at(parts, ie, i1 + k))
            for i in range(i1 + paired, min(i2, i1 + paired + self.limit)):
                self._emit(_at(parts, ie, i), DiffKind.REMOVED, preview(e[i]), None)
            for j in range(j1 + paired, min(j2, j1 + paired + self.limit)):
                self._emit(_at(parts, ia, j), DiffKind.ADDED, None, preview(a[j]))


def _by_value(value: object) -> object:
    """`value` with integral floats as ints: equal for two trees that differ only in how
    their numbers are spelled (used to pair items, never to compare them)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2.0**63:
        return int(value)
    if isinstance(value, dict):
        return {key: _by_value(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_by_value(child) for child in value]
    return value


def _identity_value(item: object, key: str) -> object:
    return item.get(key) if isinstance(item, dict) else None


def diff_trees(
    expected: object,
    actual: object,
    limit: int = MAX_DIFFERENCES,
    leeway: Leeway | None = None,
) -> tuple[list[Difference], bool]:
    """(differences, truncated) between two normalized trees; what `leeway` allowed and
    used is added to `leeway.applied`."""
    differ = TreeDiff(limit, leeway)
    return differ.run(expected, actual), differ.truncated
