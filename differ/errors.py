"""Error parity: when both the recording and the candidate answer with an error (status
>= 400) but not the same one (400 vs 422, an HTML page vs a JSON problem, another
message), the verdict holds ONE `error_changed` difference at the status instead of a
pile of header and body differences: "both reject, differently" is another finding
than "one accepts, one rejects" (which stays a status `changed` plus the body).

Its expected/actual summarize each side:
`{"status": 404, "content_type": "application/json", "message": "No entry 1042",
"details": [{"where", "path", "kind", "value"}, ...], "more": 3}` with the detailed
differences (this side's values) bounded to MAX_DETAILS, `more` counting the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from parity.differ.model import Difference, DiffKind, Where

ERROR_STATUS = 400
MAX_DETAILS = 10
MAX_MESSAGE = 300
MAX_VALUE = 200

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def is_error(status: int) -> bool:
    return status >= ERROR_STATUS


def _short(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


def message_of(value: object, media_type: str) -> str | None:
    """The error message of a body (its normalized value), in the common shapes:
    `{"error": {"message"}}`, `{"error": "..."}`, `{"message"}`, RFC 7807/9457
    `title` / `detail`, an HTML `<title>` (else the first text), plain text."""
    if isinstance(value, dict):
        error = value.get("error")
        if isinstance(error, dict):
            found = _text(error.get("message")) or _text(error.get("detail"))
            if found:
                return _short(found)
        if (found := _text(error)) is not None:
            return _short(found)
        title, detail = _text(value.get("title")), _text(value.get("detail"))
        if title or detail:
            return _short(": ".join(t for t in (title, detail) if t))
        for key in ("message", "error_description", "errorMessage", "msg", "reason"):
            if (found := _text(value.get(key))) is not None:
                return _short(found)
        return None
    if isinstance(value, str):
        if "html" in media_type or value.lstrip()[:1] == "<":
            heading = _TITLE.search(value)
            text = heading.group(1) if heading else _TAGS.sub(" ", value)
            return _short(text) if text.strip() else None
        return _short(value) if value.strip() else None
    return None


def summary(
    status: int, content_type: str | None, value: object, media_type: str
) -> dict[str, Any]:
    """One side of an `error_changed`: status, content type and message (if found)."""
    out: dict[str, Any] = {"status": status, "content_type": content_type}
    message = message_of(value, media_type)
    if message is not None:
        out["message"] = message
    return out


def _shown(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[: MAX_VALUE - 1] + "…"
    if isinstance(value, dict | list):
        text = repr(value)
        return value if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
    return value


def _detail(difference: Difference, value: object) -> dict[str, Any]:
    return {
        "where": difference.where.value,
        "path": difference.path,
        "kind": difference.kind.value,
        "value": _shown(value),
    }


def error_changed(
    sides: tuple[dict[str, Any], dict[str, Any]], details: Sequence[Difference]
) -> Difference:
    """The one difference standing for `details` between two error responses."""
    expected, actual = dict(sides[0]), dict(sides[1])
    shown = list(details)[:MAX_DETAILS]
    expected["details"] = [_detail(d, d.expected) for d in shown]
    actual["details"] = [_detail(d, d.actual) for d in shown]
    if len(details) > MAX_DETAILS:
        expected["more"] = actual["more"] = len(details) - MAX_DETAILS
    return Difference(Where.STATUS, "", DiffKind.ERROR_CHANGED, expected, actual)


def with_details(
    sides: tuple[dict[str, Any], dict[str, Any]],
    current: Difference | None,
    details: Sequence[Difference],
) -> Difference:
    """`current` (an `error_changed`, or None) with more detailed differences summarized."""
    if current is None:
        return error_changed(sides, details)
    expected, actual = dict(current.expected), dict(current.actual)
    total = len(expected.get("details", [])) + expected.get("more", 0) + len(details)
    room = max(0, MAX_DETAILS - len(expected.get("details", [])))
    expected["details"] = [
        *expected.get("details", []),
        *(_detail(d, d.expected) for d in details[:room]),
    ]
    actual["details"] = [
        *actual.get("details", []),
        *(_detail(d, d.actual) for d in details[:room]),
    ]
    if total > len(expected["details"]):
        expected["more"] = actual["more"] = total - len(expected["details"])
    return Difference(Where.STATUS, "", DiffKind.ERROR_CHANGED, expected, actual)
