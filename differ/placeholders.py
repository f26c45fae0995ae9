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
The `utc-offset` and `fraction-digits` equivalences loosen the timestamp token (`style`):
every spelling of the zero offset becomes `Z`, and the fraction's digit count is dropped
(`<timestamp:sZ>`: with seconds, any fraction). `same_instants` compares fixed
timestamps by the instant they name.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

_TIMESTAMP = (
    r"(?<![\d])(?P<date>\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))(?P<sep>[Tt ])"
    r"(?P<hm>(?:[01]\d|2[0-4]):[0-5]\d)(?P<sec>:(?P<s>[0-5]\d|60)(?:[.,](?P<frac>\d{1,12}))?)?"
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


UTC_OFFSET = 1
"""Style flag: every spelling of the zero offset (`Z`, `z`, `+00:00`, `+0000`, `+00`,
`-00:00`) is written `Z` in the token."""
FRACTION_DIGITS = 2
"""Style flag: the token says `s` (seconds, with or without a fraction) instead of the
number of fraction digits."""

_ZERO_OFFSETS = frozenset({"Z", "z", "+00:00", "+0000", "+00", "-00:00", "-0000", "-00"})


def _timestamp_token(m: re.Match[str], style: int, fired: set[str]) -> str:
    zone = m.group("zone") or ""
    if style & UTC_OFFSET and zone in _ZERO_OFFSETS and zone != "Z":
        fired.add("equivalence:utc-offset")
        zone = "Z"
    if not m.group("sec"):
        shape = "m"
    elif style & FRACTION_DIGITS:
        fired.add("equivalence:fraction-digits")
        shape = "s"
    else:
        shape = f"{len(m.group('frac') or '')}f"
    sep = "" if m.group("sep") in "Tt" else "(space)"
    return f"<timestamp{sep}:{shape}{zone}>"


def _uuid_token(text: str) -> str:
    if text == text.lower():  # every letter lower case (or none)
        return "<uuid>"
    if text == text.upper():
        return "<UUID>"
    return "<Uuid>"


def _http_date_token(m: re.Match[str]) -> str:
    variant = [x for x in ("dashes" if m.group("d1") == "-" else "", m.group("hzone")) if x]
    variant = [x for x in variant if x != "GMT"]
    return f"<http-date:{','.join(variant)}>" if variant else "<http-date>"


def _token(m: re.Match[str], fired: set[str], style: int) -> str:
    if m.group("ts"):
        fired.add("placeholder:timestamp")
        return _timestamp_token(m, style, fired)
    if m.group("uuid"):
        fired.add("placeholder:uuid")
        return _uuid_token(m.group("uuid"))
    fired.add("placeholder:http-date")
    return _http_date_token(m)


def substitute(text: str, fired: set[str], style: int = 0) -> str:
    """`text` with every built-in placeholder replaced; adds what fired to `fired`.
    `style`: UTC_OFFSET and FRACTION_DIGITS flags, loosening the timestamp token."""
    if "-" not in text and "," not in text:  # every placeholder has one of these
        return text
    replace: Callable[[re.Match[str]], str] = lambda m: _token(m, fired, style)  # noqa: E731
    return _BUILTIN.sub(replace, text)


def substitute_value(text: str, fired: set[str], style: int = 0) -> str:
    """`substitute` for a string value in a body (strings over MAX_EMBEDDED are kept)."""
    if len(text) <= MAX_EMBEDDED:
        return substitute(text, fired, style)
    return text


_ONLY_TIMESTAMPS = re.compile(_TIMESTAMP)


def _instant(m: re.Match[str]) -> str:
    """One timestamp as the instant it names: UTC, seconds always, 12 fraction digits
    (`…Z`), or the local time with `(local)` when it has no offset. Unchanged if it does
    not name a valid time (Feb 30, a leap second)."""
    try:
        moment = datetime.datetime.fromisoformat(f"{m.group('date')}T{m.group('hm')}")
        moment += datetime.timedelta(seconds=int(m.group("s") or 0))
    except ValueError:
        return m.group()
    zone = m.group("zone")
    suffix = "(local)"
    if zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "") if zone not in ("Z", "z") else "0000"
        hours, minutes = int(digits[:2] or 0), int(digits[2:4] or 0)
        moment -= sign * datetime.timedelta(hours=hours, minutes=minutes)
        suffix = "Z"
    fraction = (m.group("frac") or "").ljust(12, "0")
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction}{suffix}"


def same_instants(expected: str, actual: str) -> bool:
    """True if the two strings are equal once every timestamp in them is replaced by the
    instant it names (`…08:15:30.12+00:00` = `…09:15:30.1200000+01:00`), and they do hold
    a timestamp."""
    if _ONLY_TIMESTAMPS.search(expected) is None:
        return False
    return _ONLY_TIMESTAMPS.sub(_instant, expected) == _ONLY_TIMESTAMPS.sub(_instant, actual)
