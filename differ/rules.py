"""The rules file: what the differ cannot learn by itself. `load_rules(data)` checks the
parsed TOML dict and returns `Rules`; every mistake is one `RulesError` line that names
the rule (`rules: [[ignore]] #2: 'paths' must be a list of strings`).

The format is documented in `docs/rules.md`. Unknown keys are errors, so a typo never
silently disables a rule; new tables can be added later without changing the meaning of
existing files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

from parity.differ.equivalences import EQUIVALENCES, PROFILES, Switches, check, switches
from parity.differ.jsonpath import Parts, PathPattern, PathSyntaxError, parse_concrete
from parity.exceptions import ParityError

RouteSource = Literal["json", "header", "query"]

_PLACEHOLDER_NAME = re.compile(r"[A-Za-z0-9_.:\-]+")
_TABLES = (
    "array",
    "equivalences",
    "headers",
    "ignore",
    "number",
    "placeholder",
    "profiles",
    "route",
    "serialization",
)
_IGNORE_KEYS = ("headers", "name", "paths", "route")
_ARRAY_KEYS = ("name", "path", "paths", "route", "sort_by", "unordered")
_NUMBER_KEYS = ("name", "path", "paths", "relative", "route", "tolerance")
_PROFILES_KEYS = ("enable",)
_PLACEHOLDER_KEYS = ("headers", "name", "paths", "pattern", "route")
_ROUTE_KEYS = ("key", "match")
_HEADERS_KEYS = ("compare", "compare_only", "ignore", "shape")
_SERIALIZATION_KEYS = ("gate",)
_SOURCES: dict[str, RouteSource] = {"json": "json", "header": "header", "query": "query"}

# What a rules file may ask for (a rules file is input too: it must not be able to take
# the differ down). Far above any real file's needs.
MAX_RULES = 1000
"""Rules of one kind (`[[ignore]]`, `[[placeholder]]`, ...)."""
MAX_LIST = 1000
"""Entries of one list (`paths`, `headers`, `route`, `enable`)."""
MAX_TEXT = 2000
"""Characters of one string: a name, a header, a route glob, a regex, a JSON path."""
MAX_PATH_STEPS = 256
"""Steps of one JSON path pattern (`$.a[0].b` has 3): deeper than any body it could meet."""
_SHOWN = 60


def _quoted(value: object) -> str:
    """`repr(value)` cut after 60 characters: every error stays one short line."""
    text = repr(value[: _SHOWN + 1] if isinstance(value, str) else value)
    return text if len(text) <= _SHOWN + 2 else text[:_SHOWN] + "…"


class RulesError(ParityError, ValueError):
    """A malformed rules file; the message is one line that names the rule. `where` is the
    rule (`[[ignore]] #2`) when one is to blame."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


def route_matches(globs: Sequence[str], route: str) -> bool:
    """True if `route` (`METHOD /path` plus an optional key) matches one of `globs`, or if
    there are none (a rule without `route` applies everywhere)."""
    return not globs or any(fnmatchcase(route, glob) for glob in globs)


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """`[[ignore]]`: paths and headers removed on every side before comparing."""

    label: str
    routes: tuple[str, ...] = ()
    paths: tuple[PathPattern, ...] = ()
    headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlaceholderRule:
    """`[[placeholder]]`: whole string values matching `pattern` become `<name>`."""

    label: str
    name: str
    pattern: re.Pattern[str]
    routes: tuple[str, ...] = ()
    paths: tuple[PathPattern, ...] = ()
    """Empty: every string value of the body."""
    headers: tuple[str, ...] = ()
    """Header names whose (whole) values the pattern also applies to."""

    @property
    def token(self) -> str:
        return f"<{self.name}>"


@dataclass(frozen=True, slots=True)
class RouteRule:
    """`[[route]]`: for requests whose default route matches `match`, append a key taken
    from the JSON body, a header or the query string."""

    match: str
    source: RouteSource
    key: str
    json_path: Parts = ()


@dataclass(frozen=True, slots=True)
class ArrayRule:
    """`[[array]]`: arrays at `paths` compared as multisets (`unordered`) or after sorting
    both sides by the key `sort_by`; either way their order is never a difference."""

    label: str
    paths: tuple[PathPattern, ...]
    routes: tuple[str, ...] = ()
    sort_by: str | None = None
    """None: unordered (a multiset)."""


@dataclass(frozen=True, slots=True)
class NumberRule:
    """`[[number]]`: numbers at `paths` are equal within `tolerance` (absolute) or
    `relative` (times the larger magnitude), whichever is larger."""

    label: str
    paths: tuple[PathPattern, ...]
    routes: tuple[str, ...] = ()
    tolerance: float = 0.0
    relative: float = 0.0


@dataclass(frozen=True, slots=True)
class HeaderRules:
    """`[headers]`: changes to the default header policy (see `differ.headers`)."""

    ignore: tuple[str, ...] = ()
    compare: tuple[str, ...] = ()
    compare_only: tuple[str, ...] | None = None
    shape: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SerializationRules:
    """`[serialization]`: what happens to differences only on the wire (header-name case,
    JSON escape and number spelling)."""

    gate: bool = False
    """True: they are differences like any other (in `Verdict.differences`, the outcome,
    the signature and the gate). False (the default): `Verdict.serialization` only."""


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything a rules file says; `Rules()` is the default (no rules)."""

    ignores: tuple[IgnoreRule, ...] = ()
    placeholders: tuple[PlaceholderRule, ...] = ()
    routes: tuple[RouteRule, ...] = ()
    headers: HeaderRules = field(default_factory=HeaderRules)
    arrays: tuple[ArrayRule, ...] = ()
    numbers: tuple[NumberRule, ...] = ()
    equivalences: frozenset[str] = frozenset()
    """The equivalences switched on (`differ.equivalences`), profiles expanded."""
    serialization: SerializationRules = field(default_factory=SerializationRules)
    switches: Switches = field(init=False, repr=False, compare=False)
    """What those equivalences accept (`differ.equivalences.switches`), applied once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "switches", switches(self.equivalences))

    def has(self, equivalence: str) -> bool:
        return equivalence in self.equivalences


# --- loading -----------------------------------------------------------------------------


class _Reader:
    """Typed access to one table of the rules file, with errors that name it."""

    def __init__(self, where: str, table: object, known: Sequence[str]) -> None:
        self.where = where
        if not isinstance(table, Mapping):
            self.fail(f"must be a table, not {_type_name(table)}")
        assert isinstance(table, Mapping)
        unknown = sorted(str(k) for k in table if k not in known)
        if unknown:
            self.fail(f"unknown key {_names(unknown)} (known: {', '.join(known)})")
        self.table: Mapping[object, object] = table

    def fail(self, message: str) -> None:
        raise RulesError(f"rules: {self.where}: {message}", where=self.where)

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.fail(f"{key!r} is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key!r} must be a non-empty string")
        assert isinstance(value, str)
        if len(value) > MAX_TEXT:
            self.fail(f"{key!r} must be at most {MAX_TEXT} characters, not {len(value)}")
        return value.strip()

    def strings(self, key: str, *, one_allowed: bool = False) -> tuple[str, ...] | None:
        value = self.table.get(key)
        if value is None:
            return None
        if one_allowed and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            shape = "a string or a list of strings" if one_allowed else "a list of strings"
            self.fail(f"{key!r} must be {shape}")
        assert isinstance(value, list)
        if len(value) > MAX_LIST:
            self.fail(f"{key!r} must have at most {MAX_LIST} entries, not {len(value)}")
        for text in value:
            if len(text) > MAX_TEXT:
                self.fail(f"{key!r}: {_quoted(text)} is longer than {MAX_TEXT} characters")
        return tuple(str(v).strip() for v in value)

    def paths(self, *, single: bool = False) -> tuple[PathPattern, ...]:
        """`paths` (a list), and with `single` also `path` (one string)."""
        texts = list(self.strings("paths") or ())
        if single and (one := self.string("path")) is not None:
            texts.insert(0, one)
        return tuple(self.path(text) for text in texts)

    def path(self, text: str) -> PathPattern:
        """One compiled path pattern, within `MAX_PATH_STEPS`."""
        try:
            pattern = PathPattern.compile(text)
        except PathSyntaxError as exc:
            self.fail(str(exc))
            raise  # unreachable: fail() raised
        if len(pattern.steps) > MAX_PATH_STEPS:
            self.fail(
                f"path {_quoted(text)} has {len(pattern.steps)} steps (at most {MAX_PATH_STEPS})"
            )
        return pattern

    def headers(self) -> tuple[str, ...]:
        return tuple(name.lower() for name in self.strings("headers") or ())


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(_quoted(name) for name in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _type_name(value: object) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


def _label(kind: str, number: int, name: str | None) -> str:
    return f"{kind}:{name}" if name else f"{kind}:#{number}"


def _ignore(number: int, table: object) -> IgnoreRule:
    r = _Reader(f"[[ignore]] #{number}", table, _IGNORE_KEYS)
    paths, headers = r.paths(), r.headers()
    if not paths and not headers:
        r.fail("needs 'paths' or 'headers'")
    return IgnoreRule(
        label=_label("ignore", number, r.string("name")),
        routes=r.strings("route", one_allowed=True) or (),
        paths=paths,
        headers=headers,
    )


def _placeholder(number: int, table: object) -> PlaceholderRule:
    r = _Reader(f"[[placeholder]] #{number}", table, _PLACEHOLDER_KEYS)
    name = r.string("name", required=True)
    assert name is not None
    if not _PLACEHOLDER_NAME.fullmatch(name):
        r.fail(f"'name' {_quoted(name)} may only use letters, digits and _ . : -")
    shown = name if len(name) <= _SHOWN else name[:_SHOWN] + "…"
    r.where = f"[[placeholder]] #{number} ({shown})"
    text = r.string("pattern", required=True)
    assert text is not None
    try:
        pattern = re.compile(text)
    except re.error as exc:
        r.fail(f"bad regex 'pattern' {_quoted(text)}: {exc}")
        raise  # unreachable: fail() raised
    except (OverflowError, RecursionError) as exc:  # `a{4294967296}`, `((((…))))`
        too_much = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        r.fail(f"bad regex 'pattern' {_quoted(text)}: {too_much}")
        raise  # unreachable: fail() raised
    return PlaceholderRule(
        label=f"placeholder:{name}",
        name=name,
        pattern=pattern,
        routes=r.strings("route", one_allowed=True) or (),
        paths=r.paths(),
        headers=r.headers(),
    )


def _route(number: int, table: object) -> RouteRule:
    r = _Reader(f"[[route]] #{number}", table, _ROUTE_KEYS)
    match, key = r.string("match", required=True), r.string("key", required=True)
    assert match is not None and key is not None
    prefix, _, name = key.partition(":")
    source = _SOURCES.get(prefix)
    if source is None or not name.strip():
        r.fail(f"'key' {_quoted(key)} must be 'json:$.path', 'header:Name' or 'query:name'")
    assert source is not None
    json_path: Parts = ()
    if source == "json":
        try:
            json_path = parse_concrete(name.strip())
        except PathSyntaxError as exc:
            r.fail(str(exc))
        if len(json_path) > MAX_PATH_STEPS:
            r.fail(f"'key' has {len(json_path)} steps (at most {MAX_PATH_STEPS})")
    return RouteRule(match=match, source=source, key=name.strip(), json_path=json_path)


def _array(number: int, table: object) -> ArrayRule:
    r = _Reader(f"[[array]] #{number}", table, _ARRAY_KEYS)
    paths = r.paths(single=True)
    if not paths:
        r.fail("needs 'path' or 'paths'")
    unordered = r.table.get("unordered", False)
    if not isinstance(unordered, bool):
        r.fail("'unordered' must be true or false")
    sort_by = r.string("sort_by")
    if unordered == (sort_by is not None):
        r.fail("needs either 'unordered = true' or 'sort_by = \"key\"'")
    return ArrayRule(
        label=_label("array", number, r.string("name")),
        paths=paths,
        routes=r.strings("route", one_allowed=True) or (),
        sort_by=sort_by,
    )


def _number(number: int, table: object) -> NumberRule:
    r = _Reader(f"[[number]] #{number}", table, _NUMBER_KEYS)
    paths = r.paths(single=True)
    if not paths:
        r.fail("needs 'path' or 'paths'")
    limits = {}
    for key in ("tolerance", "relative"):
        value = r.table.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            r.fail(f"{key!r} must be a number >= 0")
        assert isinstance(value, int | float)
        if value == math.inf or (isinstance(value, int) and value.bit_length() > 1000):
            r.fail(f"{key!r} must be a finite number >= 0")
        assert isinstance(value, int | float)
        limits[key] = float(value)
    if not any(limits.values()):
        r.fail("needs 'tolerance' or 'relative' (> 0)")
    return NumberRule(
        label=_label("number", number, r.string("name")),
        paths=paths,
        routes=r.strings("route", one_allowed=True) or (),
        tolerance=limits["tolerance"],
        relative=limits["relative"],
    )


def _equivalences(data: Mapping[str, object]) -> frozenset[str]:
    """`[profiles] enable` expanded, then `[equivalences]` switches (true adds, false
    removes, so a profile can be taken minus one of its parts)."""
    enabled: set[str] = set()
    if "profiles" in data:
        r = _Reader("[profiles]", data["profiles"], _PROFILES_KEYS)
        for name in r.strings("enable", one_allowed=True) or ():
            if name not in PROFILES:
                r.fail(f"unknown profile {_quoted(name)} (known: {', '.join(sorted(PROFILES))})")
            enabled |= PROFILES[name]
    if "equivalences" in data:
        table = data["equivalences"]
        if not isinstance(table, Mapping):
            raise RulesError(f"rules: [equivalences]: must be a table, not {_type_name(table)}")
        unknown = sorted(str(name) for name in table if name not in EQUIVALENCES)
        if unknown:
            known = ", ".join(sorted(EQUIVALENCES))
            raise RulesError(
                f"rules: [equivalences]: unknown equivalence {_names(unknown)} (known: {known})"
            )
        check(table)
        for name, on in table.items():
            if not isinstance(on, bool):
                raise RulesError(f"rules: [equivalences]: {_quoted(name)} must be true or false")
            if on:
                enabled.add(name)
            else:
                enabled.discard(name)
    return frozenset(enabled)


def _headers(table: object) -> HeaderRules:
    r = _Reader("[headers]", table, _HEADERS_KEYS)

    def names(key: str) -> tuple[str, ...]:
        return tuple(n.lower() for n in r.strings(key) or ())

    only = r.strings("compare_only")
    return HeaderRules(
        ignore=names("ignore"),
        compare=names("compare"),
        compare_only=None if only is None else tuple(n.lower() for n in only),
        shape=names("shape"),
    )


def _serialization(table: object) -> SerializationRules:
    r = _Reader("[serialization]", table, _SERIALIZATION_KEYS)
    gate = r.table.get("gate", False)
    if not isinstance(gate, bool):
        r.fail("'gate' must be true or false")
    assert isinstance(gate, bool)
    return SerializationRules(gate=gate)


def _array_of_tables(data: Mapping[str, object], key: str) -> list[object]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise RulesError(f"rules: '{key}' must be an array of tables, written [[{key}]]")
    if len(value) > MAX_RULES:
        raise RulesError(f"rules: [[{key}]]: at most {MAX_RULES} rules, not {len(value)}")
    return value


def load_rules(data: Mapping[str, object]) -> Rules:
    """Check and compile a parsed rules file (the dict `tomllib` returns); `{}` gives the
    defaults. Raises `RulesError` with one line naming the offending rule."""
    if not isinstance(data, Mapping):
        raise RulesError(f"rules: the file must be a table, not {_type_name(data)}")
    unknown = sorted(str(k) for k in data if k not in _TABLES)
    if unknown:
        raise RulesError(f"rules: unknown key {_names(unknown)} (known: {', '.join(_TABLES)})")

    ignores = tuple(_ignore(n, t) for n, t in enumerate(_array_of_tables(data, "ignore"), 1))
    holders = tuple(
        _placeholder(n, t) for n, t in enumerate(_array_of_tables(data, "placeholder"), 1)
    )
    routes = tuple(_route(n, t) for n, t in enumerate(_array_of_tables(data, "route"), 1))
    headers = _headers(data["headers"]) if "headers" in data else HeaderRules()
    arrays = tuple(_array(n, t) for n, t in enumerate(_array_of_tables(data, "array"), 1))
    numbers = tuple(_number(n, t) for n, t in enumerate(_array_of_tables(data, "number"), 1))
    serialization = (
        _serialization(data["serialization"]) if "serialization" in data else SerializationRules()
    )
    return Rules(
        ignores=ignores,
        placeholders=holders,
        routes=routes,
        headers=headers,
        arrays=arrays,
        numbers=numbers,
        equivalences=_equivalences(data),
        serialization=serialization,
    )
