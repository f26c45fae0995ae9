"""Comparison profiles: named equivalences a team switches on deliberately.

Without any, every one of these is reported: as a difference, or, for what only the wire
shows (`int-float`, `unicode-escapes`, `decimal-scale`, `header-case`), as a serialization
difference (`Verdict.serialization`); switched on, not at all. Each can be switched on
alone in the rules file (`[equivalences] int-float = true`) or as part of a profile
(`[profiles] enable = ["python-vs-csharp"]`); `docs/rules.md` says what each accepts and
why a team would.

A registry, as vcrpy's matchers are: each equivalence is a named function that switches on
what it accepts in one `Switches` value, and `switches(names)` applies the named ones,
once per rules (`Rules.switches`). The normalizer, the header policy, the placeholders and
the serialization check read those switches where each takes effect; none of them looks
at names. An unknown name is an error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from parity.differ.placeholders import FRACTION_DIGITS, UTC_OFFSET


@dataclass(frozen=True, slots=True)
class Switches:
    """What the equivalences switched on accept, read where each takes effect."""

    int_float: bool = False
    """Normalizer: an integral float is its integer."""
    null_missing: bool = False
    """Normalizer: a key with `null` is left out."""
    timestamp_style: int = 0
    """Placeholders: timestamp token flags (`UTC_OFFSET`, `FRACTION_DIGITS`)."""
    fraction_digits: bool = False
    """Differ: timestamps that differ only in their spelling of one instant are equal."""
    unicode_escapes: bool = False
    """Serialization check: other escapes in JSON strings are not reported."""
    decimal_scale: bool = False
    """Serialization check: one decimal number with another scale is not reported."""
    header_case: bool = False
    """Header policy: the case of header names is not reported."""
    json_charset: bool = False
    """Header policy: `application/json` equals `application/json; charset=utf-8`."""


ALL_OFF = Switches()
"""No equivalence switched on (the default rules)."""


@dataclass(frozen=True, slots=True)
class Equivalence:
    name: str
    accepts: str
    """One line of what it accepts."""
    switch_on: Callable[[Switches], Switches]


def _int_float(s: Switches) -> Switches:
    return replace(s, int_float=True)


def _utc_offset(s: Switches) -> Switches:
    return replace(s, timestamp_style=s.timestamp_style | UTC_OFFSET)


def _fraction_digits(s: Switches) -> Switches:
    return replace(s, fraction_digits=True, timestamp_style=s.timestamp_style | FRACTION_DIGITS)


def _null_missing(s: Switches) -> Switches:
    return replace(s, null_missing=True)


def _unicode_escapes(s: Switches) -> Switches:
    return replace(s, unicode_escapes=True)


def _decimal_scale(s: Switches) -> Switches:
    return replace(s, decimal_scale=True)


def _header_case(s: Switches) -> Switches:
    return replace(s, header_case=True)


def _json_charset(s: Switches) -> Switches:
    return replace(s, json_charset=True)


EQUIVALENCES: dict[str, Equivalence] = {
    e.name: e
    for e in (
        Equivalence(
            "int-float",
            "`1` vs `1.0`: numbers of equal value, written as an integer or a float",
            _int_float,
        ),
        Equivalence(
            "utc-offset",
            "`Z` vs `+00:00`: spellings of the zero UTC offset in timestamps",
            _utc_offset,
        ),
        Equivalence(
            "fraction-digits",
            "6 vs 7 fraction digits, no fraction vs `.0000000`, other ISO-8601 "
            "spellings of one instant",
            _fraction_digits,
        ),
        Equivalence("null-missing", "a key with `null` vs the key left out", _null_missing),
        Equivalence(
            "unicode-escapes",
            "`\\u00e9` vs `é`, `\\/` vs `/`: other escapes in JSON strings",
            _unicode_escapes,
        ),
        Equivalence(
            "decimal-scale",
            "`1.50` vs `1.5`: one decimal number written with another scale or exponent",
            _decimal_scale,
        ),
        Equivalence(
            "header-case",
            "`Content-Type` vs `content-type`: the case of header names",
            _header_case,
        ),
        Equivalence(
            "json-charset",
            "`application/json` vs `application/json; charset=utf-8`",
            _json_charset,
        ),
    )
}
"""Every equivalence by name."""

PROFILES: dict[str, frozenset[str]] = {
    "python-vs-csharp": frozenset(EQUIVALENCES),
}
"""Named sets of equivalences. `python-vs-csharp`: what a Python (json, datetime) backend
and its ASP.NET Core (System.Text.Json) port write differently for the same data."""


def check(names: Iterable[object]) -> None:
    """ValueError naming every unknown equivalence in `names` and the known ones."""
    unknown = sorted(str(n) for n in names if n not in EQUIVALENCES)
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        raise ValueError(f"unknown equivalence {listed} (known: {', '.join(sorted(EQUIVALENCES))})")


def switches(names: Iterable[str]) -> Switches:
    """The one place equivalences are applied: each named one switches on what it accepts."""
    names = sorted(names)
    check(names)
    out = ALL_OFF
    for name in names:
        out = EQUIVALENCES[name].switch_on(out)
    return out
