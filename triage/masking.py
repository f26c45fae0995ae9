"""Masking secrets in what triage stores for reading and in what it prints.

Which names are secret is `sessions.secrets`' rule (headers and query strings by
`is_secret_header`/`is_secret_name`, body keys by the stricter `is_secret_key`); this module
applies it to headers, bodies, differences and URLs. Request URLs are the caller's job: the
replayer passes them already masked (`sessions.secrets.mask_path`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from parity.differ.model import Difference, Headers, Where
from parity.sessions.secrets import MASK, is_secret_header, is_secret_key, is_secret_name

# "key": "value" or "key": 123 in JSON text, pretty or compact (escaped quotes allowed).
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*)')
_PATH_KEY = re.compile(r"\.([^.\[\]]+)|\[['\"]([^'\"]+)['\"]\]")


def header_text(value: bytes) -> str:
    return value.decode("latin-1")


def mask_headers(headers: Headers) -> list[list[str]]:
    """Headers as `[name, value]` text pairs, in order, secret values as `***`."""
    return [
        [header_text(name), MASK if is_secret_header(name) else header_text(value)]
        for name, value in headers
    ]


def mask_json_text(text: str) -> str:
    """Mask string values under secret keys in JSON text, keeping its layout."""

    def replace(match: re.Match[str]) -> str:
        if is_secret_key(match.group(1)):
            return f'"{match.group(1)}"{match.group(2)}"{MASK}"'
        return match.group(0)

    return _JSON_PAIR.sub(replace, text)


def mask_form_text(text: str) -> str:
    """`user=ana&password=x` -> `user=ana&password=***`; left alone unless it is a form."""
    if "=" not in text or any(c in text for c in "{}[]\n"):
        return text
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return text
    if not any(is_secret_key(name) for name, _ in pairs):
        return text
    parts = []
    for part in text.split("&"):
        name, sep, _ = part.partition("=")
        parts.append(f"{name}={MASK}" if sep and is_secret_key(name) else part)
    return "&".join(parts)


def mask_text(text: str) -> str:
    """Mask a body shown as text: JSON values under secret keys, form fields."""
    return mask_form_text(mask_json_text(text))


def mask_value(value: Any) -> Any:
    """A JSON-like value with everything under a secret key replaced by `***`."""
    if isinstance(value, dict):
        return {
            k: (
                MASK if isinstance(k, str) and is_secret_key(k) and v is not None else mask_value(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    return value


def is_secret_path(path: str) -> bool:
    """True for a body path with a secret key on the way: `$.auth.token`, `$.password`."""
    return any(is_secret_key(a or b) for a, b in _PATH_KEY.findall(path))


def mask_difference(diff: Difference) -> dict[str, Any]:
    """`Difference.to_json()` with secret values masked: secret headers, secret body keys."""
    data = diff.to_json()
    secret = (diff.where == Where.HEADER and is_secret_header(diff.path)) or (
        diff.where == Where.BODY and is_secret_path(diff.path)
    )
    for side in ("expected", "actual"):
        value = data[side]
        if secret and value is not None:
            data[side] = MASK
        else:
            data[side] = mask_value(value)
    return data


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def mask_url(url: str | None) -> str | None:
    """A URL with its password and the values of secret query parameters as `***`:
    `http://ci:pw@host:5001/?token=x&page=2` -> `http://ci:***@host:5001/?token=***&page=2`.
    Text that is not a URL comes back unchanged."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{userinfo}@{host}"
    query = parts.query
    if query:
        pieces = []
        for piece in query.split("&"):
            name, sep, _value = piece.partition("=")
            pieces.append(f"{name}={MASK}" if sep and is_secret_name(name) else piece)
        query = "&".join(pieces)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_urls_in(text: str) -> str:
    """Every URL in free text (an error message, a note) masked as by `mask_url`."""
    return _URL.sub(lambda m: mask_url(m.group(0)) or "", text)
