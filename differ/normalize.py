"""Normalization: one response's decoded body and headers rewritten so that what may
legitimately differ no longer does. In order, for each value:

1. value map (the target's minted value -> the recorded one), whole values first;
2. origins -> `<origin>`, then URL segments through the value map;
3. `[[placeholder]]` rules (whole string values), then the built-in placeholders
   (timestamp tokens loosened by the `utc-offset` and `fraction-digits` equivalences);
4. `[[ignore]]` paths and headers removed;
5. equivalences that are a canonical form: `int-float` (an integral float becomes an
   int), `null-missing` (a key whose value is null is dropped).

Every step that changed something is recorded by name in `applied` (`values`, `origin`,
`placeholder:timestamp`, `ignore:#1`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import translate
from operator import is_

from parity.differ.content import STRUCTURED, Body, is_lossy_float
from parity.differ.equivalences import ALL_OFF, Switches
from parity.differ.jsonpath import Part, PathPattern, PathSet, PathState
from parity.differ.placeholders import (
    MAX_EMBEDDED,
    substitute,
)
from parity.differ.rules import (
    ArrayRule,
    IgnoreRule,
    NumberRule,
    PlaceholderRule,
    Rules,
    route_matches,
)
from parity.differ.values import ORIGIN_TOKEN, Origins, ValueMap


class _Ignored:
    """The whole body is ignored by a rule (pattern `$`): equal to any other body."""

    def __repr__(self) -> str:
        return "<ignored>"


IGNORED = _Ignored()


def _names(names: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(translate(n) for n in names)) if names else None


@dataclass(frozen=True, slots=True)
class Scope:
    """The rules that apply to one route, compiled for walking bodies."""

    paths: PathSet
    path_rules: tuple[IgnoreRule | PlaceholderRule, ...]
    """The rule of each pattern of `paths`, by index."""
    everywhere: tuple[PlaceholderRule, ...]
    """Placeholders without `paths`: every string value."""
    header_ignores: tuple[tuple[re.Pattern[str], str], ...]
    header_placeholders: tuple[tuple[re.Pattern[str], PlaceholderRule], ...]
    switches: Switches = ALL_OFF
    """What the rules' equivalences accept (`differ.equivalences`)."""
    arrays: tuple[ArrayRule, ...] = ()
    """`[[array]]` rules of this route (matched by the tree diff, not here)."""
    numbers: tuple[NumberRule, ...] = ()
    """`[[number]]` rules of this route (matched by the tree diff, not here)."""
    style: int = field(init=False)
    """Timestamp token flags (`differ.placeholders`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", self.switches.timestamp_style)

    @classmethod
    def of(cls, rules: Rules, route: str) -> Scope:
        """The part of `rules` whose `route` globs match `route`."""
        patterns: list[PathPattern] = []
        owners: list[IgnoreRule | PlaceholderRule] = []
        header_ignores = []
        for rule in (r for r in rules.ignores if route_matches(r.routes, route)):
            patterns += rule.paths
            owners += [rule] * len(rule.paths)
            if (names := _names(rule.headers)) is not None:
                header_ignores.append((names, rule.label))
        everywhere, header_placeholders = [], []
        for holder in (p for p in rules.placeholders if route_matches(p.routes, route)):
            patterns += holder.paths
            owners += [holder] * len(holder.paths)
            if not holder.paths:
                everywhere.append(holder)
            if (names := _names(holder.headers)) is not None:
                header_placeholders.append((names, holder))
        return cls(
            PathSet(patterns),
            tuple(owners),
            tuple(everywhere),
            tuple(header_ignores),
            tuple(header_placeholders),
            rules.switches,
            tuple(r for r in rules.arrays if route_matches(r.routes, route)),
            tuple(r for r in rules.numbers if route_matches(r.routes, route)),
        )

    def ignored_by(self, state: PathState) -> str | None:
        """The label of an ignore rule matching the node at `state`, if any."""
        for n in state.accepted:
            rule = self.path_rules[n]
            if isinstance(rule, IgnoreRule):
                return rule.label
        return None

    def is_ignored(self, parts: tuple[Part, ...]) -> bool:
        """True if an ignore rule removes the node at `parts` (or an ancestor)."""
        state = self.paths.start()
        if self.ignored_by(state) is not None:
            return True
        for part in parts:
            if not state:
                return False
            state = state.step(part)
            if self.ignored_by(state) is not None:
                return True
        return False


def form_tree(pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Form fields as an object: a repeated name becomes a list of its values."""
    tree: dict[str, object] = {}
    for name, value in pairs:
        if name not in tree:
            tree[name] = value
        elif isinstance(previous := tree[name], list):
            previous.append(value)
        else:
            tree[name] = [previous, value]
    return tree


def body_tree(body: Body) -> tuple[bool, object]:
    """(True, the tree a path looks into) for a structured, form or text body: the parsed
    value, form fields as an object, the text itself; (False, None) for any other."""
    if body.kind == "form" and isinstance(body.value, list):
        return True, form_tree(body.value)
    if body.kind in STRUCTURED or body.kind == "text":
        return True, body.value
    return False, None


class Normalizer:
    """Normalizes the bodies and headers of one side (expected, actual or baseline)."""

    def __init__(self, scope: Scope, values: ValueMap, origins: Origins, applied: set[str]):
        self.scope = scope
        self.values = values
        self.origins = origins
        self.applied = applied
        self._origins_here = bool(origins)
        """False while walking a body in which no origin occurs at all."""
        self._has_values = bool(values)
        self._int_float = scope.switches.int_float
        self._null_missing = scope.switches.null_missing
        self._style = scope.style
        self._descend: Callable[[object], object] = (
            self._loose if self._int_float or self._null_missing else self._free
        )
        """The walk below a node no path rule can reach."""
        self.lossy = False
        """Set when a float may stand for an integer orjson could not hold (> 64 bits):
        the caller then parses the body again exactly and normalizes it once more."""

    # --- bodies -----------------------------------------------------------------

    def body(self, body: Body) -> object:
        """The comparable value: a tree (structured kinds), text, bytes, None (empty) or
        IGNORED."""
        root = self.scope.paths.start()
        label = self.scope.ignored_by(root)
        if label is not None:
            self.applied.add(label)
            return IGNORED
        self._origins_here = self.origins.present_in(body.data)
        if body.kind in STRUCTURED:
            value = body.value
            if body.kind == "form":
                assert isinstance(value, list)
                value = form_tree(value)
            return self._walk(value, root if root else None)
        if body.kind == "text":
            assert isinstance(body.value, str)
            return self._text(body.value)
        return body.value

    def _text(self, text: str) -> str:
        if self._origins_here:
            text = self._origin(text)
        return substitute(text, self.applied, self._style)

    def _origin(self, text: str) -> str:
        text, changed = self.origins.replace(text)
        if changed:
            self.applied.add("origin")
        return text

    def _walk(self, value: object, state: PathState | None) -> object:
        """Normalize a subtree; `state` tracks path rules (None: none can match below)."""
        if state is None:
            return self._descend(value)
        if isinstance(value, dict):
            out: dict[str, object] = {}
            for key, child in value.items():
                if child is None and self._null_missing:
                    self.applied.add("equivalence:null-missing")
                    continue
                sub = state.step(key)
                if not self._drop(sub):
                    out[self._key(key)] = self._walk(child, sub if sub else None)
            return out
        if isinstance(value, list):
            items = []
            for index, child in enumerate(value):
                sub = state.step(index)
                if not self._drop(sub):
                    items.append(self._walk(child, sub if sub else None))
            return items
        return self._leaf(value, state)

    def _free(self, value: object) -> object:
        """`_walk` where no path rule can match: the hot loop, kept lean. A container
        whose children all come back unchanged is returned itself, not a copy: an
        unchanged 100 MB tree is not held twice (the trees are never mutated)."""
        if isinstance(value, dict):
            if self._has_values:
                return {self._key(key): self._free(child) for key, child in value.items()}
            out = {key: self._free(child) for key, child in value.items()}
            return value if all(map(is_, out.values(), value.values())) else out
        if isinstance(value, list):
            items = [self._free(child) for child in value]
            return value if all(map(is_, items, value)) else items
        if self._has_values:
            return self._leaf(value, None)
        if isinstance(value, str):  # `_leaf` of a string without a value map
            return self._string(value, None)
        if isinstance(value, float) and is_lossy_float(value):
            self.lossy = True
        return value

    def _loose(self, value: object) -> object:
        """`_free` with `null-missing` (null-valued keys dropped) and `int-float`."""
        if isinstance(value, dict):
            out: dict[str, object] = {}
            for key, child in value.items():
                if child is None and self._null_missing:
                    self.applied.add("equivalence:null-missing")
                else:
                    out[self._key(key)] = self._loose(child)
            return out
        if isinstance(value, list):
            return [self._loose(child) for child in value]
        if isinstance(value, str | float) or self._has_values:
            return self._leaf(value, None)
        return value

    def _key(self, key: str) -> str:
        """An object key that is a minted value (`{"by_id": {"87": ...}}`) is mapped too."""
        if not self._has_values:
            return key
        mapped = self.values.key(key)
        if mapped != key:
            self.applied.add("values")
        return mapped

    def _drop(self, state: PathState) -> bool:
        if not state.accepted:
            return False
        label = self.scope.ignored_by(state)
        if label is None:
            return False
        self.applied.add(label)
        return True

    def _leaf(self, value: object, state: PathState | None) -> object:
        if isinstance(value, float):
            if is_lossy_float(value):
                self.lossy = True
            elif self._int_float and value.is_integer() and abs(value) < 2.0**63:
                self.applied.add("equivalence:int-float")
                value = int(value)
        if self._has_values:
            hit, value = self.values.leaf(value)
            if hit:
                self.applied.add("values")
        if isinstance(value, str):
            return self._string(value, state)
        return value

    def _string(self, text: str, state: PathState | None) -> str:
        if self._origins_here:
            text = self._origin(text)
        if self._has_values and len(text) <= MAX_EMBEDDED:
            url = "/" in text and (text[:1] == "/" or "://" in text or ORIGIN_TOKEN in text)
            mapped = self.values.url(text) if url else self.values.words(text)
            if mapped != text:
                self.applied.add("values")
                text = mapped
        rules = self.scope.everywhere if state is None else self._placeholders_at(state)
        for rule in rules:
            if rule.pattern.fullmatch(text):
                self.applied.add(rule.label)
                return rule.token
        # `substitute_value`, with its cheap checks inline (most strings have no - or ,)
        if len(text) > MAX_EMBEDDED or ("-" not in text and "," not in text):
            return text
        return substitute(text, self.applied, self._style)

    def _placeholders_at(self, state: PathState) -> tuple[PlaceholderRule, ...]:
        """Placeholders whose `paths` match here (first), then the path-less ones."""
        rules = self.scope.path_rules
        found = tuple(r for n in state.accepted if isinstance(r := rules[n], PlaceholderRule))
        return found + self.scope.everywhere

    # --- headers ----------------------------------------------------------------

    def header(self, name: str, value: str) -> str | None:
        """A header value normalized; None if an `[[ignore]] headers` rule drops it."""
        for names, label in self.scope.header_ignores:
            if names.match(name):
                self.applied.add(label)
                return None
        value = self._origin(value)
        if self._has_values:
            mapped = self.values.header(value)
            if mapped != value:
                self.applied.add("values")
                value = mapped
        for names, rule in self.scope.header_placeholders:
            if names.match(name) and rule.pattern.fullmatch(value):
                self.applied.add(rule.label)
                return rule.token
        return substitute(value, self.applied, self._style)
