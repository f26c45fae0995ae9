"""Differences as sentences a developer reads like a bug report, with the values as they
were on the wire rather than the differ's normalized placeholders:

    `$.entry.created_at`: `2026-02-23T20:19:14.1234567Z` where the recording had `2026-02-23T20:19:14.123456+00:00`
    status 400 where the recording had 404
    header `content-type`: `application/json` where the recording had `application/json; charset=utf-8`
    `$.x` is missing (the recording had `1`)
    `$.y` is extra: `"new"`
    `$.results`: the same items in another order
    both rejected it, differently: `400 application/problem+json "…"` where the recording had `422 …`

Raw values come from the stored bodies (decoded and looked up with the differ's public
functions, as the differ does) and the stored (masked) headers. A raw value is used only when it
agrees with what the differ stored (equal, or equal once the built-in placeholders are
applied, or matching the stored value's `<tokens>`); otherwise — a path that cannot be
resolved, an array paired by identity elsewhere, a rule's own normalization — the stored
value is shown. Secrets are masked (`triage.masking`); values are cut at 120 characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from parity.differ import (
    PREVIEW_CHARS,
    Body,
    Part,
    PathSyntaxError,
    body_tree,
    canonical,
    decode_body,
    get_at,
    identity_key,
    json_type,
    message_of,
    parse_concrete,
    printable,
    substitute_value,
)
from parity.sessions.secrets import MASK, is_secret_header
from parity.triage.masking import is_secret_path, mask_text, mask_value
from parity.triage.text import dumps, loads

MAX_VALUE = 120
"""Characters of one value in a sentence (an ellipsis marks the cut)."""
MAX_MESSAGE = 80
"""Characters of an error message quoted in an `error_changed` sentence."""

_TOKEN = re.compile(r"<[A-Za-z][^<>\n]{0,80}>")
_BUILTIN_TOKEN = re.compile(r"<(timestamp[^<>]*|uuid|UUID|Uuid|http-date[^<>]*)>")
_PREVIEW = re.compile(r"<(object with \d+ keys|array of \d+ items), \d+ bytes>")
_MISSING = object()


@dataclass(slots=True)
class Side:
    """One response as stored: status, masked headers (`[[name, value]]`), raw body."""

    status: int | None
    headers: list[list[str]] | None
    body: bytes | None
    _tree: object = field(default=_MISSING, repr=False)
    _decoded: Body | None = field(default=None, repr=False)
    pairings: Pairings = field(default_factory=dict, repr=False)
    """Arrays paired by identity (see `_walk_pair`), for the actual side."""

    @property
    def decoded(self) -> Body:
        if self._decoded is None:
            raw_headers = [
                (name.encode("latin-1", "replace"), value.encode("latin-1", "replace"))
                for name, value in self.headers or []
            ]
            self._decoded = decode_body(raw_headers, self.body or b"")
        return self._decoded

    def tree(self) -> object:
        """The parsed body (`_MISSING` if there is none to look into)."""
        if self._tree is _MISSING and self.body:
            found, tree = body_tree(self.decoded)
            if found:
                self._tree = tree
        return self._tree

    def header(self, name: str) -> str | None:
        """The header's values joined by `, ` (masked as stored), or None if absent."""
        values = [v for n, v in self.headers or [] if n.lower() == name]
        return ", ".join(values) if values else None

    def media_type(self) -> str:
        if self.body:
            return self.decoded.media_type
        return (self.header("content-type") or "").split(";")[0].strip().lower()


def sides_of(row: dict[str, Any]) -> tuple[Side, Side]:
    """(expected, actual) from a `mismatches` row."""
    return (
        Side(row["expected_status"], loads(row["expected_headers"]), row["expected_body"]),
        Side(row["actual_status"], loads(row["actual_headers"]), row["actual_body"]),
    )


# -- values -------------------------------------------------------------------------------


def cut(text: str, limit: int = MAX_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object, *, literal: bool = False) -> str:
    """A value for a sentence: text bare (JSON when `literal`), anything else as JSON;
    secrets in it masked as in shown bodies (a form or JSON text under a secret key);
    bytes that were not valid text written `\\xNN`."""
    value = printable(value)
    if isinstance(value, str) and not literal:
        text = value.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    else:
        text = dumps(value)
    return cut(mask_text(text))


_TYPE_WORDS = {
    "boolean": "a boolean",
    "int": "an integer",
    "number": "a decimal number",
    "string": "a string",
    "object": "an object",
    "array": "an array",
}


def _type_of(value: object) -> str:
    """`json_type` in words: `an integer`, `a string`, `null`."""
    name = json_type(value)
    return _TYPE_WORDS.get(name, name)


def _strictly_equal(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return canonical(a) == canonical(b)
    return a == b


def _normalized(value: object) -> object:
    """`value` with the built-in placeholders applied to every string in it."""
    if isinstance(value, str):
        return substitute_value(value, set())
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _token_pattern(stored: str) -> re.Pattern[str]:
    """`stored` as a pattern in which tokens other than the built-in placeholders (which
    the raw value gets too) stand for any text: `<origin>`, a rule's own placeholders."""
    out = []
    position = 0
    for match in _TOKEN.finditer(stored):
        out.append(re.escape(stored[position : match.start()]))
        token = match.group()
        out.append(re.escape(token) if _BUILTIN_TOKEN.fullmatch(token) else ".+?")
        position = match.end()
    out.append(re.escape(stored[position:]))
    return re.compile("".join(out), re.DOTALL)


def agrees(raw: object, stored: object) -> bool:
    """True if `stored` (what the differ kept, masked) can be `raw` normalized."""
    if _strictly_equal(raw, stored):
        return True
    if isinstance(raw, str) and isinstance(stored, str):
        normalized = substitute_value(raw, set())
        if normalized == stored:
            return True
        if len(raw) > PREVIEW_CHARS and stored.endswith(" chars)"):
            return normalized[:PREVIEW_CHARS] == stored[:PREVIEW_CHARS]
        return "<" in stored and _token_pattern(stored).fullmatch(normalized) is not None
    if isinstance(raw, dict | list):
        if isinstance(stored, str) and (match := _PREVIEW.fullmatch(stored)):
            return match.group(1).startswith("object" if isinstance(raw, dict) else "array")
        if type(stored) is type(raw):
            return canonical(_normalized(raw)) == canonical(stored)
    return False


def _walk(tree: object, parts: Sequence[Part]) -> tuple[bool, object]:
    return get_at(tree, parts) if tree is not _MISSING else (False, None)


Identities = dict[tuple[str, object], list[object]]
Pairings = dict[tuple[int, int], tuple[str, Identities] | None]
"""Per pair of arrays (by id): their identity key and the actual side's items by
identity, or None when they have no identity key. Kept per mismatch, so that a
2,000-item array is indexed once, not once per difference."""


def _pairing(e: list[object], a: list[object], pairings: Pairings) -> tuple[str, Identities] | None:
    slot = (id(e), id(a))
    if slot not in pairings:
        key = identity_key(e, a)
        if key is None:
            pairings[slot] = None
        else:
            index: Identities = {}
            for item in a:
                if isinstance(item, dict):
                    value = item.get(key)
                    index.setdefault((type(value).__name__, value), []).append(item)
            pairings[slot] = (key, index)
    return pairings[slot]


def _walk_pair(
    expected: object, actual: object, parts: Sequence[Part], pairings: Pairings | None = None
) -> tuple[tuple[bool, object], tuple[bool, object]]:
    """The nodes at `parts` on both sides, where the path's indices are the expected
    side's: an item of an array of objects with an identity key (`id`, …) is looked up
    on the actual side by that identity, as the differ paired them."""
    pairings = {} if pairings is None else pairings
    e, a = expected, actual
    e_ok, a_ok = e is not _MISSING, a is not _MISSING
    for part in parts:
        if (
            e_ok
            and a_ok
            and isinstance(part, int)
            and isinstance(e, list)
            and isinstance(a, list)
            and 0 <= part < len(e)
        ):
            paired = _pairing(e, a, pairings)
            if paired is not None:
                key, index = paired
                item = e[part]
                ident = item.get(key) if isinstance(item, dict) else None
                match = index.get((type(ident).__name__, ident), [])
                e = item
                a_ok = len(match) == 1
                a = match[0] if a_ok else None
                continue
        e_ok, e = get_at(e, (part,)) if e_ok else (False, None)
        a_ok, a = get_at(a, (part,)) if a_ok else (False, None)
    return (e_ok, e), (a_ok, a)


@dataclass(slots=True)
class _Values:
    expected: object
    actual: object
    raw: bool
    """True when both values came from the wire (they agree with the stored ones)."""
    same_value: bool = False
    """Both sides hold strictly equal values: written differently (a serialization
    detail, which only the stored literals show)."""


def _body_values(diff: dict[str, Any], expected: Side, actual: Side) -> _Values:
    stored_e, stored_a = diff.get("expected"), diff.get("actual")
    path = diff.get("path") or "$"
    if is_secret_path(path):
        return _Values(
            MASK if stored_e is not None else None, MASK if stored_a is not None else None, False
        )
    try:
        parts = parse_concrete(path)
    except PathSyntaxError:
        return _Values(stored_e, stored_a, False)
    kind = diff.get("kind")
    nothing: tuple[bool, object] = (False, None)
    found_e, found_a = nothing, nothing
    if kind == "added":
        found_a = _walk(actual.tree(), parts)
    elif kind == "removed":
        found_e = _walk(expected.tree(), parts)
    else:
        found_e, found_a = _walk_pair(expected.tree(), actual.tree(), parts, actual.pairings)
    if (
        kind in ("changed", "type_changed")
        and found_e[0]
        and found_a[0]
        and _strictly_equal(found_e[1], found_a[1])
    ):
        return _Values(stored_e, stored_a, False, same_value=True)
    raw_e = _checked(found_e, stored_e)
    raw_a = _checked(found_a, stored_a)
    return _Values(
        stored_e if raw_e is _MISSING else raw_e,
        stored_a if raw_a is _MISSING else raw_a,
        raw_e is not _MISSING and raw_a is not _MISSING,
    )


def _checked(found: tuple[bool, object], stored: object) -> object:
    present, value = found
    if not present or isinstance(value, bytes | bytearray):
        return _MISSING
    masked = mask_value(value)
    return masked if agrees(masked, stored) else _MISSING


def _header_values(diff: dict[str, Any], expected: Side, actual: Side) -> _Values:
    name = str(diff.get("path") or "").lower()
    stored_e, stored_a = diff.get("expected"), diff.get("actual")
    if is_secret_header(name):
        return _Values(
            MASK if stored_e is not None else None, MASK if stored_a is not None else None, False
        )
    raw_e, raw_a = expected.header(name), actual.header(name)
    use_e = raw_e is not None and agrees(raw_e, stored_e)
    use_a = raw_a is not None and agrees(raw_a, stored_a)
    return _Values(raw_e if use_e else stored_e, raw_a if use_a else stored_a, use_e and use_a)


# -- sentences ----------------------------------------------------------------------------


def error_summary(side: Side) -> str:
    """`400 application/problem+json "One or more validation errors occurred."`: status,
    media type and message (found as the differ finds it, `differ.errors.message_of`)."""
    parts = [str(side.status) if side.status is not None else "no status"]
    media = side.media_type()
    if media:
        parts.append(media)
    tree = side.tree() if side.body else _MISSING
    message = message_of(mask_value(tree), media) if tree is not _MISSING else None
    if message:
        parts.append(dumps(cut(message, MAX_MESSAGE)))
    return " ".join(parts)


def _stored_summary(stored: object) -> str:
    """An `error_changed` side as the differ summarized it (when the body is not there)."""
    if not isinstance(stored, dict) or "status" not in stored:
        return shown(stored)
    parts = [str(stored["status"])]
    content_type = stored.get("content_type")
    if isinstance(content_type, str) and content_type:
        parts.append(content_type.split(";")[0].strip())
    message = stored.get("message")
    if isinstance(message, str) and message:
        parts.append(dumps(cut(message, MAX_MESSAGE)))
    return " ".join(parts)


def _place(diff: dict[str, Any]) -> str:
    where, path = diff.get("where"), diff.get("path") or ""
    if where == "status":
        return "status"
    if where == "header":
        return f"header `{path}`"
    if path in ("", "$"):
        return "the body"
    return f"`{path}`"


def sentence(diff: dict[str, Any], expected: Side, actual: Side) -> str:
    """One difference (as stored: `{"where", "path", "kind", "expected", "actual"}`) as
    a sentence."""
    kind = diff.get("kind")
    where = diff.get("where")
    place = _place(diff)
    if kind == "error_changed":
        e_text = error_summary(expected) if expected.status is not None else None
        a_text = error_summary(actual) if actual.status is not None else None
        return (
            f"both rejected it, differently: "
            f"`{cut(a_text or _stored_summary(diff.get('actual')))}` "
            f"where the recording had `{cut(e_text or _stored_summary(diff.get('expected')))}`"
        )
    if kind == "order_changed":
        return f"{place}: the same items in another order"
    if where == "status":
        e = expected.status if expected.status is not None else diff.get("expected")
        a = actual.status if actual.status is not None else diff.get("actual")
        if kind == "changed":
            return f"status {a} where the recording had {e}"
        values = _Values(e, a, True)
    elif where == "header":
        values = _header_values(diff, expected, actual)
    else:
        values = _body_values(diff, expected, actual)
    e, a = values.expected, values.actual
    if kind == "added":
        if place == "the body":
            return f"there is a body where the recording had none: `{shown(a)}`"
        return f"{place} is extra: `{shown(a)}`"
    if kind == "removed":
        return f"{place} is missing (the recording had `{shown(e)}`)"
    if kind == "type_changed":
        text = f"{place}: `{shown(a, literal=True)}`"
        if values.raw:
            text += f" ({_type_of(a)})"
        text += f" where the recording had `{shown(e, literal=True)}`"
        return text + (f" ({_type_of(e)})" if values.raw else "")
    if kind == "changed":
        if values.same_value:
            return (
                f"{place}: the same value written differently: `{shown(a)}` "
                f"where the recording had `{shown(e)}`"
            )
        return f"{place}: `{shown(a)}` where the recording had `{shown(e)}`"
    return f"{place}: {kind}: `{shown(a)}` where the recording had `{shown(e)}`"


def sentences(differences: Sequence[dict[str, Any]], expected: Side, actual: Side) -> list[str]:
    """One sentence per difference, in order."""
    return [sentence(d, expected, actual) for d in differences]
