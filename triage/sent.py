"""The request as sent after correlation, as lines for `parity show`.

`ExchangeResult.sent` holds, per target, the request the replayer sent and each recorded
value it replaced by a value that target minted. A wrong mapping (a request for post 13
sent to comment 13's new id) is found by reading these lines:

    sent to target: GET /posts/41/comments
      /posts/13 → /posts/41: `13` minted as `41` by exchange 3 at $.id
      query postId: `13` minted as `41` by exchange 3 at $.id

Pure: no terminal, no database. Secret values are masked here too (`triage.masking`),
whatever the stored record holds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from parity.sessions.secrets import MASK, is_secret_header, is_secret_key
from parity.triage.masking import is_secret_path, mask_url

SIDES = ("target", "baseline")


def format_sent(sent: dict[str, Any] | None) -> list[str]:
    """Lines for each side that has a request: `sent to target: GET /posts/41`, then one
    line per substitution (or `  sent as recorded`)."""
    lines: list[str] = []
    for side in SIDES:
        request = (sent or {}).get(side)
        if not isinstance(request, dict):
            continue
        url = mask_url(str(request.get("url", ""))) or ""
        lines.append(f"sent to {side}: {request.get('method', '?')} {url}")
        substitutions = request.get("substitutions") or []
        if not substitutions:
            lines.append("  sent as recorded")
        for sub in substitutions:
            if isinstance(sub, dict):
                lines.append("  " + format_substitution(sub, url))
    return lines


def format_substitution(sub: dict[str, Any], url: str = "") -> str:
    """`/posts/13 → /posts/41: `13` minted as `41` by exchange 3 at $.id`."""
    at = str(sub.get("at", ""))
    secret = _secret_place(at)
    minted_by = sub.get("minted_by") or {}
    if isinstance(minted_by, dict) and _secret_place(str(minted_by.get("path", ""))):
        secret = True
    recorded = MASK if secret else _text(sub.get("recorded"))
    sent = MASK if secret else _text(sub.get("sent"))
    line = f"{_place(at, url, sub)}: `{recorded}` minted as `{sent}`"
    if isinstance(minted_by, dict):
        if minted_by.get("seq") is not None:
            line += f" by exchange {minted_by['seq']}"
        if minted_by.get("path"):
            line += f" at {minted_by['path']}"
    return line


def _place(at: str, url: str, sub: dict[str, Any]) -> str:
    """Where the value was: a path segment shown as the path up to it, before and after
    (`/posts/13 → /posts/41`); anything else as stored (`query postId`, `$.post.id`)."""
    kind, _, number = at.rpartition(" ")
    if kind != "path segment" or not number.isdigit():
        return at
    index = int(number)
    segments = url.partition("?")[0].split("/")
    if index >= len(segments) or segments[index] != quote(_text(sub.get("sent")), safe=""):
        return at  # a URL that does not carry it there: say where, not what
    after = "/".join(segments[: index + 1])
    segments[index] = quote(_text(sub.get("recorded")), safe="")
    before = "/".join(segments[: index + 1])
    return f"{before} → {after}"


def _secret_place(at: str) -> bool:
    if at.startswith("$"):
        return is_secret_path(at)
    kind, _, name = at.partition(" ")
    if kind == "header":
        return is_secret_header(name.partition(" ")[0])
    if kind in ("query", "form"):
        return is_secret_key(name) or mask_url(f"/?{name}=x") != f"/?{name}=x"
    return False


def _text(value: object) -> str:
    return "" if value is None else str(value)
