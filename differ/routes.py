"""Route keys: `METHOD /path/{id}`, so that exchanges of one endpoint group together
whatever ids, tokens or uuids their URLs carry."""

from __future__ import annotations

import functools
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
    if len(segment) > _CACHED_SEGMENT:
        return _variable(segment)
    return _variable_cached(segment)


def _variable(segment: str) -> bool:
    return bool(
        _NUMBER.match(segment)
        or _UUID.match(segment)
        or _HEX.match(segment)
        or _TOKEN.match(segment)
    )


_CACHED_SEGMENT = 128
_variable_cached = functools.lru_cache(maxsize=8192)(_variable)
"""A run's segments repeat (ids, names): short ones are remembered (bounded)."""


def template_path(path: str) -> str:
    """`/api/vaults/0b6e…/entries/1042?x=1` -> `/api/vaults/{id}/entries/{id}` (query dropped)."""
    bare = path.split("?", 1)[0].split("#", 1)[0]
    return "/".join("{id}" if is_variable_segment(s) else s for s in bare.split("/"))


OPERATION_PARAMS = frozenset({"comp", "restype", "action", "op", "operation"})
"""Query parameters that select an operation rather than filter one (Azure Storage's
`comp=list`, `restype=container`; AWS query APIs' `Action=...`; `op=`)."""
_OPERATION_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,39}$")
_MAX_SELECTORS = 3


def operation_query(path: str) -> str:
    """The part of a query that names the operation, as `?comp=list&restype=container` or
    `?tagging` (sorted), or "" when there is none: an S3-style subresource (a key with no
    `=` at all: `GET /bucket?tagging`, `POST /key?uploads`) and an OPERATION_PARAMS value
    that reads like a name. Filters (`?page=2`, `?q=`), ids and tokens never enter it,
    so a route stays one endpoint whatever values its queries carry."""
    query = path.partition("?")[2].partition("#")[0]
    if not query:
        return ""
    found: set[str] = set()
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        if not eq:
            if _OPERATION_VALUE.match(name):
                found.add(name)
        elif name.lower() in OPERATION_PARAMS and _OPERATION_VALUE.match(value):
            found.add(f"{name}={value}")
    if not found or len(found) > _MAX_SELECTORS:
        return ""
    return "?" + "&".join(sorted(found))


def route_of(method: str, path: str) -> str:
    """The default route key of a request: `METHOD /templated/path`, plus the query's
    operation selectors if it has any (`GET /{id}/photos?comp=list&restype=container`,
    `GET /bucket?tagging`): one path that serves several operations is several routes."""
    return f"{method.upper()} {template_path(path)}{operation_query(path)}"
