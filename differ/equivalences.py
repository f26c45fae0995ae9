"""Comparison profiles: named equivalences a team switches on deliberately.

Without any, every one of these is reported: as a difference, or, for what only the wire
shows (`int-float`, `unicode-escapes`, `decimal-scale`, `header-case`), as a serialization
difference (`Verdict.serialization`); switched on, not at all. Each can be switched on
alone in the rules file (`[equivalences] int-float = true`) or as part of a profile
(`[profiles] enable = ["python-vs-csharp"]`); `docs/rules.md` says what each accepts and
why a team would.
"""

from __future__ import annotations

INT_FLOAT = "int-float"
UTC_OFFSET = "utc-offset"
FRACTION_DIGITS = "fraction-digits"
NULL_MISSING = "null-missing"
UNICODE_ESCAPES = "unicode-escapes"
DECIMAL_SCALE = "decimal-scale"
HEADER_CASE = "header-case"
JSON_CHARSET = "json-charset"

EQUIVALENCES: dict[str, str] = {
    INT_FLOAT: "`1` vs `1.0`: numbers of equal value, written as an integer or a float",
    UTC_OFFSET: "`Z` vs `+00:00`: spellings of the zero UTC offset in timestamps",
    FRACTION_DIGITS: "6 vs 7 fraction digits, no fraction vs `.0000000`, other ISO-8601 "
    "spellings of one instant",
    NULL_MISSING: "a key with `null` vs the key left out",
    UNICODE_ESCAPES: "`\\u00e9` vs `é`, `\\/` vs `/`: other escapes in JSON strings",
    DECIMAL_SCALE: "`1.50` vs `1.5`: one decimal number written with another scale or exponent",
    HEADER_CASE: "`Content-Type` vs `content-type`: the case of header names",
    JSON_CHARSET: "`application/json` vs `application/json; charset=utf-8`",
}
"""Every equivalence by name, with one line of what it accepts."""

PROFILES: dict[str, frozenset[str]] = {
    "python-vs-csharp": frozenset(EQUIVALENCES),
}
"""Named sets of equivalences. `python-vs-csharp`: what a Python (json, datetime) backend
and its ASP.NET Core (System.Text.Json) port write differently for the same data."""
