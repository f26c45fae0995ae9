"""Route keys: `METHOD /path/{id}`, so that exchanges of one endpoint group together
whatever ids, tokens or uuids their URLs carry."""

from __future__ import annotations

import re

_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_NUMBER = re.compile(r"^[+-]?\d+$")
_HEX = re.compile(r"^(?=.*\d)[0-9a-fA-F]{8,}$")
_TOKEN = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_\-.~=]{16,}$")


def is_variable_segment(segment: str) -> bool:
    """True for path segments that name an instance rather than an endpoint:
    numbers, uuids, hex digests of 8+ digits and long mixed tokens."""
    return bool(
        _NUMBER.match(segment)
        or _UUID.match(segment)
        or _HEX.match(segment)
        or _TOKEN.match(segment)
    )


def template_path(path: str) -> str:
    """`/api/vaults/0b6e…/entries/1042?x=1` -> `/api/vaults/{id}/entries/{id}` (query dropped)."""
    bare = path.split("?", 1)[0].split("#", 1)[0]
    return "/".join("{id}" if is_variable_segment(s) else s for s in bare.split("/"))


def route_of(method: str, path: str) -> str:
    """The default route key of a request: `METHOD /templated/path`."""
    return f"{method.upper()} {template_path(path)}"
