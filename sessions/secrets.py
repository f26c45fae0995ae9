"""Recognising secrets in recorded requests, so that listings and reports never show them.

Sessions hold credentials; what a command prints may end up in a CI log or a bug report.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode

MASK = "***"

_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[-_]?key|apikey|auth|session|sid|"
    r"signature|sig|credential|private[-_]?key|otp|code_verifier|client_secret)",
    re.IGNORECASE,
)
_SECRET_HEADERS = frozenset(
    {b"authorization", b"proxy-authorization", b"cookie", b"set-cookie", b"x-api-key"}
)


def is_secret_name(name: str) -> bool:
    """True for a query, form or JSON field name that usually holds a credential."""
    return bool(_SECRET_NAME.search(name))


@lru_cache(maxsize=4096)
def is_secret_header(name: bytes) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or is_secret_name(lowered.decode("latin-1"))


def mask_path(path: str) -> str:
    """`/x?token=abc&page=2` -> `/x?token=***&page=2`; the path itself is kept."""
    bare, sep, query = path.partition("?")
    if not sep or not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_name(name) for name, _ in pairs):
        return path
    masked = [(name, MASK if is_secret_name(name) else value) for name, value in pairs]
    return f"{bare}?{urlencode(masked, safe='*/:')}"
