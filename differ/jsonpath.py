"""Paths into parsed bodies: writing them (`$.items[3].title`), templating them for
signatures (`$.items[*].title`) and matching them against rule patterns.

A concrete path is a tuple of parts: `str` for object keys, `int` for array indices.
Patterns (used by `[[ignore]] paths`, `[[placeholder]] paths`, `[[route]] key`):

- `$` the whole body; `.name` or `["name"]` a key; `[3]` an index;
- `[*]` or `.*` any one child (index or key);
- `..name`, `..*`, `..["name"]` that child at any depth below.

A pattern matches a node and, for ignores, everything under it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from parity.differ.routes import is_variable_segment
from parity.exceptions import ParityError

Part = str | int
Parts = tuple[Part, ...]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_DOT_NAME = re.compile(r"[^.\[\]\s]+")
_INDEX = re.compile(r"\[(\d+)\]")
_MAX_INDEX_DIGITS = 18
"""An index of more digits than this indexes no array (and `int()` of 4,301 raises)."""
_QUOTED = re.compile(r"""\[\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\]""")


class PathSyntaxError(ParityError, ValueError):
    """A path pattern that does not parse; the message says where. `pattern` is the text."""

    def __init__(self, message: str, *, pattern: str | None = None) -> None:
        super().__init__(message)
        self.pattern = pattern


def format_path(parts: Iterable[Part]) -> str:
    """`("items", 3, "a b")` -> `$.items[3]["a b"]`; keys that are not identifiers are quoted."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENT.fullmatch(part):
            out.append("." + part)
        else:
            out.append("[" + json.dumps(part, ensure_ascii=False) + "]")
    return "".join(out)


def template_parts(parts: Iterable[Part]) -> str:
    """The path with every index as `[*]` and every instance-like key (numbers, uuids,
    long tokens) as `.*`: the same spot in every element, whatever its values. The
    result is itself a valid pattern that matches the original path."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append("[*]")
        elif is_variable_segment(part):
            out.append(".*")
        elif _IDENT.fullmatch(part):
            out.append("." + part)
        else:
            out.append("[" + json.dumps(part, ensure_ascii=False) + "]")
    return "".join(out)


def template_path(path: str, *, keys: bool = True) -> str:
    """`template_parts` of a formatted body path; paths that do not parse are returned
    with their indices replaced only. With `keys=False` only indices are replaced, keys
    are kept (`$.ids.123[4]` -> `$.ids.123[*]`), in any text."""
    if not keys:
        return _INDEX.sub("[*]", path)
    try:
        return template_parts(parse_concrete(path))
    except PathSyntaxError:
        return _INDEX.sub("[*]", path)


@dataclass(frozen=True, slots=True)
class _Step:
    """One pattern step: `name` (None = any child) and whether it may skip levels."""

    name: Part | None
    deep: bool = False

    def accepts(self, part: Part) -> bool:
        return self.name is None or self.name == part


def _unquote(token: str) -> str:
    """The key inside `["..."]` (JSON string rules) or `['...']` (backslash escapes any char)."""
    if token.startswith('"'):
        try:
            value = json.loads(token)
        except ValueError as exc:
            raise PathSyntaxError(f"bad quoted key {_short(token)}: {exc}") from None
        assert isinstance(value, str)
        return value
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _short(text: str) -> str:
    """`repr(text)` cut after 60 characters, for one-line errors."""
    shown = repr(text[:61])
    return shown if len(shown) <= 62 else shown[:60] + "…"


def _parse_steps(text: str) -> tuple[_Step, ...]:
    if not text.startswith("$"):
        raise PathSyntaxError(f"path {_short(text)} must start with '$'", pattern=text)
    steps: list[_Step] = []
    i = 1
    while i < len(text):
        deep = text.startswith("..", i)
        if deep:
            i += 2
        elif text[i] == ".":
            i += 1
        if i >= len(text):
            raise PathSyntaxError(f"path {_short(text)} ends after a '.'", pattern=text)
        if text.startswith("*", i) and (deep or text[i - 1] == "."):
            steps.append(_Step(None, deep))
            i += 1
            continue
        if text.startswith("[*]", i):
            steps.append(_Step(None, deep))
            i += 3
            continue
        index = _INDEX.match(text, i)
        quoted = _QUOTED.match(text, i)
        name = _DOT_NAME.match(text, i) if text[i - 1] == "." else None
        if index and len(index.group(1)) > _MAX_INDEX_DIGITS:
            raise PathSyntaxError(
                f"path {_short(text)}: index of {len(index.group(1))} digits (at {i})",
                pattern=text,
            )
        if index:
            steps.append(_Step(int(index.group(1)), deep))
            i = index.end()
        elif quoted:
            steps.append(_Step(_unquote(quoted.group(1)), deep))
            i = quoted.end()
        elif name:
            steps.append(_Step(name.group(), deep))
            i = name.end()
        else:
            raise PathSyntaxError(
                f"path {_short(text)}: cannot read {_short(text[i:])} (at {i})", pattern=text
            )
    return tuple(steps)


def parse_concrete(path: str) -> Parts:
    """`$.items[3].title` -> `("items", 3, "title")`; wildcards are an error here."""
    steps = _parse_steps(path)
    if any(s.name is None or s.deep for s in steps):
        raise PathSyntaxError(
            f"path {_short(path)} must not contain wildcards or '..'", pattern=path
        )
    return tuple(s.name for s in steps if s.name is not None)


def get_at(value: object, parts: Sequence[Part]) -> tuple[bool, object]:
    """`(True, node)` at `parts` inside a parsed value, `(False, None)` if absent."""
    node = value
    for part in parts:
        if isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
            continue
        if not (isinstance(node, dict) and isinstance(part, str) and part in node):
            return False, None
        node = node[part]
    return True, node


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled pattern; `text` is what the rules file said."""

    text: str
    steps: tuple[_Step, ...]

    @classmethod
    def compile(cls, text: str) -> PathPattern:
        return cls(text, _parse_steps(text.strip()))

    def matches(self, parts: Sequence[Part]) -> bool:
        """True if this pattern matches the node at `parts` itself."""
        state = PathSet([self]).start()
        for part in parts:
            if not state:
                return False
            state = state.step(part)
        return bool(state.accepted)

    def covers(self, parts: Sequence[Part]) -> bool:
        """True if this pattern matches `parts` or one of its ancestors."""
        states = PathSet([self]).start()
        if states.accepted:
            return True
        for part in parts:
            states = states.step(part)
            if states.accepted:
                return True
            if not states:
                return False
        return False


@dataclass(frozen=True, slots=True)
class PathState:
    """Where a walk stands in several patterns at once (an NFA state set).

    `accepted` names the patterns (by index in their `PathSet`) that match the current
    node; an empty state means no pattern can match anything below.
    """

    owner: PathSet
    positions: frozenset[tuple[int, int]]
    accepted: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.positions)

    def step(self, part: Part) -> PathState:
        """The state at child `part` of the current node."""
        return self.owner.advance(self.positions, part)


class PathSet:
    """Several patterns matched together while walking a tree, one step per level."""

    def __init__(self, patterns: Sequence[PathPattern]) -> None:
        self.patterns = tuple(patterns)

    def start(self) -> PathState:
        return self._state({(n, 0) for n in range(len(self.patterns))})

    def advance(self, positions: frozenset[tuple[int, int]], part: Part) -> PathState:
        following: set[tuple[int, int]] = set()
        for n, pos in positions:
            steps = self.patterns[n].steps
            if pos >= len(steps):
                continue
            step = steps[pos]
            if step.deep:
                following.add((n, pos))  # `..` may skip this level
            if step.accepts(part):
                following.add((n, pos + 1))
        return self._state(following)

    def _state(self, positions: set[tuple[int, int]]) -> PathState:
        accepted = frozenset(n for n, pos in positions if pos == len(self.patterns[n].steps))
        return PathState(self, frozenset(positions), accepted)
