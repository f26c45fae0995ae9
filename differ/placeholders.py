"""Built-in placeholders: values that differ on every run but whose FORMAT is part of the
contract. They are replaced by a token that describes the format, not the value:

- ISO-8601 date-times: `2026-01-04T08:15:30.120000+00:00` -> `<timestamp:6f+00:00>`,
  `...30.1200000Z` -> `<timestamp:7fZ>`, `...30+00:00` -> `<timestamp:0f+00:00>`, no
  seconds -> `<timestamp:m+00:00>`, a space instead of `T` -> `<timestamp(space):...>`.
  Date-only values (`2026-01-15`) are data and stay as they are.
- uuids: `<uuid>` (lower case), `<UUID>` (upper case), `<Uuid>` (mixed).
- HTTP dates (RFC 1123): `Sun, 04 Jan 2026 08:15:30 GMT` -> `<http-date>`; other zones or
  the cookie style with dashes get a suffix (`<http-date:dashes,+0000>`).

So a time that moved compares equal, but `Z` vs `+00:00` or 6 vs 7 fraction digits do not.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TIMESTAMP = (
    r"(?<![\d])\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?P<sep>[Tt ])"
    r"(?:[01]\d|2[0-4]):[0-5]\d(?P<sec>:(?:[0-5]\d|60)(?:[.,](?P<frac>\d{1,12}))?)?"
    r"(?P<zone>[Zz]|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?(?![\d])"
)
_UUID = (
    r"(?<![0-9A-Za-z])(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{12})(?![0-9A-Za-z])"
)
_HTTP_DATE = (
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2}(?P<d1>[ -])"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ -]\d{4} \d{2}:\d{2}:\d{2} "
    r"(?P<hzone>GMT|UTC|[+-]\d{4})"
)
_BUILTIN = re.compile(f"(?P<ts>{_TIMESTAMP})|{_UUID}|(?P<http>{_HTTP_DATE})")

MAX_EMBEDDED = 4096
"""Body string values longer than this are left alone: they cannot be a placeholder
themselves, prose does not carry the ids we mean, and searching it would cost time."""


def _timestamp_token(m: re.Match[str]) -> str:
    zone = m.group("zone") or ""
    shape = f"{len(m.group('frac') or '')}f" if m.group("sec") else "m"
    sep = "" if m.group("sep") in "Tt" else "(space)"
    return f"<timestamp{sep}:{shape}{zone}>"


def _uuid_token(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    if all(c.islower() for c in letters):
        return "<uuid>"
    if all(c.isupper() for c in letters):
        return "<UUID>"
    return "<Uuid>"


def _http_date_token(m: re.Match[str]) -> str:
    variant = [x for x in ("dashes" if m.group("d1") == "-" else "", m.group("hzone")) if x]
    variant = [x for x in variant if x != "GMT"]
    return f"<http-date:{','.join(variant)}>" if variant else "<http-date>"


def _token(m: re.Match[str], fired: set[str]) -> str:
    if m.group("ts"):
        fired.add("placeholder:timestamp")
        return _timestamp_token(m)
    if m.group("uuid"):
        fired.add("placeholder:uuid")
        return _uuid_token(m.group("uuid"))
    fired.add("placeholder:http-date")
    return _http_date_token(m)


def substitute(text: str, fired: set[str]) -> str:
    """`text` with every built-in placeholder replaced; adds what fired to `fired`."""
    if "-" not in text and "," not in text:  # every placeholder has one of these
        return text
    replace: Callable[[re.Match[str]], str] = lambda m: _token(m, fired)  # noqa: E731
    return _BUILTIN.sub(replace, text)


def substitute_value(text: str, fired: set[str]) -> str:
    """`substitute` for a string value in a body (strings over MAX_EMBEDDED are kept)."""
    if len(text) <= MAX_EMBEDDED:
        return substitute(text, fired)
    return text
