"""Findings: one root cause each, the unit of triage (issue 8; spec in docs/results-db.md).

A finding's identity is computed from ONE difference and its route, never from the other
differences of the exchange, their order or timing, so two identical runs give identical
findings and a fix of one of two divergences on an exchange fixes exactly one finding.

    key = FindingKey(scope, route, where, path, kind, transition, category)

`path` is templated (body indices `[*]`, instance-like keys `.*`), `transition` is the
class of the value change (`int → string`, `"todo" → "Todo"`, `null → missing`, `404 →
400`, `text`, `number`, ...). At the end of a run, a shape (where, path, kind,
transition, category) seen on many routes becomes one cross-route finding
(`cross_route_shapes`); route is then None. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from parity.differ.model import Difference, DiffKind, Verdict, Where, json_type
from parity.differ.signature import templated

ROUTE = "route"
CROSS_ROUTE = "cross-route"
DIFFERENCE = "difference"
SERIALIZATION = "serialization"

ARROW = "→"
MISSING = "missing"
MAX_IDENTIFIER = 32
"""Strings up to this long without spaces are enum-like: the concrete pair is kept."""
MAX_HEADER_VALUE = 60
"""Header values up to this long (digits templated) are kept as a concrete pair."""
CROSS_ROUTE_MIN = 3
"""A shape on at least this many routes is cross-route (or on half of >= 2 routes)."""

_IDENTIFIER = re.compile(r"^[^\s]+$")
_PLACEHOLDER = re.compile(r"^<[a-z][a-z_()]*(:[^>]*)?>$")
_DIGITS = re.compile(r"\d+")

Shape = tuple[str, str, str, str, str]
"""(where, path, kind, transition, category): a finding's key without scope and route."""


@dataclass(frozen=True, slots=True, order=True)
class FindingKey:
    """What makes a finding: two differences with one key are one root cause."""

    scope: str
    route: str | None
    where: str
    path: str
    kind: str
    transition: str
    category: str

    @property
    def shape(self) -> Shape:
        return (self.where, self.path, self.kind, self.transition, self.category)

    def cross_route(self) -> FindingKey:
        """The same shape as one finding over all routes."""
        return FindingKey(CROSS_ROUTE, None, *self.shape)

    def on_route(self, route: str) -> FindingKey:
        return FindingKey(ROUTE, route, *self.shape)


def finding_id(key: FindingKey) -> str:
    """ "F" + 10 hex of sha256 over the key's fields (route None as "")."""
    fields = (
        key.scope,
        key.route or "",
        key.where,
        key.path,
        key.kind,
        key.transition,
        key.category,
    )
    digest = hashlib.sha256("\x1f".join(fields).encode("utf-8", "surrogatepass")).hexdigest()
    return "F" + digest[:10]


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _pair(expected: Any, actual: Any) -> str:
    return f"{_shown(expected)} {ARROW} {_shown(actual)}"


def _enum_like(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if not isinstance(value, str):
        return False
    if _PLACEHOLDER.match(value):
        return True
    return len(value) <= MAX_IDENTIFIER and bool(_IDENTIFIER.match(value))


def _string_class(expected: str, actual: str) -> str:
    if expected.lower() == actual.lower():
        return "case"
    if "".join(expected.split()) == "".join(actual.split()):
        return "whitespace"
    return "text"


def _value_transition(expected: Any, actual: Any) -> str:
    if _enum_like(expected) and _enum_like(actual):
        return _pair(expected, actual)
    if isinstance(expected, str) and isinstance(actual, str):
        return _string_class(expected, actual)
    numeric = (int, float)
    if (
        isinstance(expected, numeric)
        and isinstance(actual, numeric)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        return "number"
    left, right = json_type(expected), json_type(actual)
    return "value" if left == right else f"{left} {ARROW} {right}"


def _header_transition(expected: Any, actual: Any) -> str:
    left = _DIGITS.sub("N", str(expected))
    right = _DIGITS.sub("N", str(actual))
    if len(left) <= MAX_HEADER_VALUE and len(right) <= MAX_HEADER_VALUE:
        return _pair(left, right)
    return "value"


def _error_side(side: Any) -> str:
    if not isinstance(side, dict):
        return str(side)
    content_type = side.get("content_type")
    media = "empty"
    if isinstance(content_type, str) and content_type:
        media = content_type.split(";")[0].strip().lower().rsplit("/", 1)[-1]
        media = media.rsplit("+", 1)[-1]
    return f"{side.get('status')} {media}"


def transition_of(difference: Difference) -> str:
    """The class of the value change of one difference (see the module docstring)."""
    kind = difference.kind
    expected, actual = difference.expected, difference.actual
    if kind is DiffKind.ERROR_CHANGED:
        return f"{_error_side(expected)} {ARROW} {_error_side(actual)}"
    if kind is DiffKind.ADDED:
        return f"{MISSING} {ARROW} {json_type(actual)}"
    if kind is DiffKind.REMOVED:
        return f"{json_type(expected)} {ARROW} {MISSING}"
    if kind is DiffKind.TYPE_CHANGED:
        return f"{json_type(expected)} {ARROW} {json_type(actual)}"
    if kind is DiffKind.ORDER_CHANGED:
        return "order"
    if difference.where is Where.STATUS:
        return f"{expected} {ARROW} {actual}"
    if difference.where is Where.HEADER:
        return _header_transition(expected, actual)
    return _value_transition(expected, actual)


def route_key(route: str, difference: Difference, category: str) -> FindingKey:
    """The per-route key of one difference."""
    return FindingKey(
        ROUTE,
        route,
        difference.where.value,
        templated(difference),
        difference.kind.value,
        transition_of(difference),
        category,
    )


def _media_type(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.split(";", 1)[0].strip().lower() or None


def explaining(differences: Sequence[Difference]) -> list[Difference] | None:
    """The differences that explain a whole response, if the exchange has any: a status
    that changed (or an `error_changed`), else a Content-Type of another media type. The
    response is then another kind of answer (an error instead of a result, an HTML error
    page instead of JSON, a blob instead of its tags), and its body and header
    differences are consequences of that one root cause, not findings of their own. They
    stay on the exchange (`parity show` lists them). None when nothing explains the rest."""
    status = [d for d in differences if d.where is Where.STATUS]
    if status:
        return status
    media = [
        d
        for d in differences
        if d.where is Where.HEADER
        and d.path == "content-type"
        and d.kind is DiffKind.CHANGED
        and _media_type(d.expected) != _media_type(d.actual)
    ]
    return media or None


def finding_keys(route: str, verdict: Verdict) -> list[FindingKey]:
    """The distinct per-route keys of a verdict's differences (category `difference`)
    and serialization differences (category `serialization`), sorted. When a status or
    media-type change explains the response (`explaining`), only it is a finding."""
    root = explaining(verdict.differences)
    if root is not None:
        return _root_keys(route, root, verdict.differences)
    keys = {route_key(route, d, DIFFERENCE) for d in verdict.differences}
    keys.update(route_key(route, d, SERIALIZATION) for d in verdict.serialization)
    return sorted(keys, key=_sort_key)


def keys_of(route: str, differences: Sequence[Difference], category: str) -> list[FindingKey]:
    """Distinct per-route keys of stored differences (used by the v4 migration), with the
    same rule as `finding_keys` for category `difference`."""
    root = explaining(differences) if category == DIFFERENCE else None
    if root is not None:
        return _root_keys(route, root, differences)
    return sorted({route_key(route, d, category) for d in differences}, key=_sort_key)


_TOP_KEY = re.compile(r"^\$\.([^.\[]+)$")
_MAX_SHAPE_KEYS = 6


def _answer_shape(differences: Sequence[Difference]) -> str:
    """`(+error +message -docs)`: the top-level body keys the new answer added and
    removed. Two root causes that turn one route's 200 into a 400 with other error
    bodies stay two findings; values (messages, ids) never enter it."""
    marks = set()
    for d in differences:
        if d.where is not Where.BODY or d.kind not in (DiffKind.ADDED, DiffKind.REMOVED):
            continue
        top = _TOP_KEY.match(d.path)
        if top:
            marks.add(("+" if d.kind is DiffKind.ADDED else "-") + top.group(1))
    if not marks:
        return ""
    shown = sorted(marks, key=lambda m: (m[1:], m[0]))[:_MAX_SHAPE_KEYS]
    return " (" + " ".join(shown) + ")"


def _root_keys(
    route: str, root: Sequence[Difference], differences: Sequence[Difference]
) -> list[FindingKey]:
    """The keys of an exchange that `explaining` explains: a status change carries the
    shape of the new answer in its transition."""
    shape = _answer_shape(differences)
    keys = set()
    for d in root:
        key = route_key(route, d, DIFFERENCE)
        if d.where is Where.STATUS and d.kind is DiffKind.CHANGED and shape:
            key = dataclasses.replace(key, transition=key.transition + shape)
        keys.add(key)
    return sorted(keys, key=_sort_key)


def _sort_key(key: FindingKey) -> tuple[str, ...]:
    return (key.scope, key.route or "", *key.shape)


def is_cross_route(route_count: int, run_routes: int) -> bool:
    """The spec's rule: on >= 3 routes, or on >= half of a run of >= 2 routes. A shape
    on one route is never cross-route (in a run of 2 routes, one is "half")."""
    if route_count >= CROSS_ROUTE_MIN:
        return True
    return route_count >= 2 and 2 * route_count >= run_routes


def cross_route_shapes(
    observations: Iterable[tuple[str, FindingKey]],
    run_routes: int,
    sticky: frozenset[Shape] = frozenset(),
) -> frozenset[Shape]:
    """The shapes that are cross-route in a run, from its (route, per-route key)
    observations. `run_routes` counts every route the run replayed (matched ones too);
    `sticky` are shapes already cross-route in the database: they stay so whatever this
    run shows (a partial fix does not change the finding's identity)."""
    routes: dict[Shape, set[str]] = {}
    for route, key in observations:
        routes.setdefault(key.shape, set()).add(route)
    found = {s for s, on in routes.items() if is_cross_route(len(on), run_routes)}
    return frozenset(found | sticky.intersection(routes))


def grouped(key: FindingKey, cross: frozenset[Shape]) -> FindingKey:
    """`key` as stored: its cross-route finding if its shape is cross-route."""
    return key.cross_route() if key.shape in cross else key
