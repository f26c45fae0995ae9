"""Route keys from `[[route]]` rules: `POST /api/bridge` + the JSON-RPC method, an
`X-Amz-Target` header or an `?action=` parameter, so that one URL serving many operations
groups by operation."""

from __future__ import annotations

from fnmatch import fnmatchcase
from urllib.parse import parse_qsl

from differ.content import decode_body, header_values
from differ.jsonpath import get_at
from differ.model import HttpRequest
from differ.routes import route_of
from differ.rules import RouteRule

_MAX_KEY = 120


def key_of(request: HttpRequest, rule: RouteRule) -> str | None:
    """The value `rule.key` names in `request`, or None if it is absent or not a scalar."""
    value: object = None
    if rule.source == "header":
        values = header_values(request.headers, rule.key)
        value = values[0] if values else None
    elif rule.source == "query":
        query = request.path.split("?", 1)[1] if "?" in request.path else ""
        value = next(
            (v for k, v in parse_qsl(query, keep_blank_values=True) if k == rule.key), None
        )
    else:
        body = decode_body(request.headers, request.body)
        if body.kind == "json":
            _found, value = get_at(body.value, rule.json_path)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        return None
    return " ".join(str(value).split())[:_MAX_KEY]


def route_for(request: HttpRequest, rules: tuple[RouteRule, ...]) -> str:
    """`METHOD /templated/path`, plus ` KEY` from the first matching `[[route]]` rule that
    finds its key in the request."""
    route = route_of(request.method, request.path)
    for rule in rules:
        if fnmatchcase(route, rule.match):
            key = key_of(request, rule)
            if key is not None:
                return f"{route} {key}"
    return route
