"""Route keys from `[[route]]` rules: `POST /api/bridge` + the JSON-RPC method, an
`X-Amz-Target` header or an `?action=` parameter, so that one URL serving many operations
groups by operation. `detect_route_keys` finds such routes in recorded requests."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from urllib.parse import parse_qsl

from parity.differ.content import decode_body, header_values
from parity.differ.jsonpath import get_at, parse_concrete
from parity.differ.model import HttpRequest
from parity.differ.routes import is_variable_segment, operation_query, template_path
from parity.differ.rules import RouteRule, RouteSource

_MAX_KEY = 120


def key_of(request: HttpRequest, rule: RouteRule) -> str | None:
    """The value `rule.key` names in `request`, or None if it is absent or not a scalar."""
    value: object = None
    if rule.source == "header":
        values = header_values(request.headers, rule.key)
        value = values[0].strip('"') if values else None  # SOAPAction is quoted
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


def route_for(
    request: HttpRequest, rules: tuple[RouteRule, ...], detected: Sequence[RouteRule] = ()
) -> str:
    """`METHOD /templated/path`, plus ` KEY` from the first matching `[[route]]` rule that
    finds its key in the request. `detected` rules (`detect_route_keys`) apply only to
    routes that no explicit rule matches. Rules match the path without its query; with no
    key, the query's operation selectors are the route's (`routes.operation_query`)."""
    route = f"{request.method.upper()} {template_path(request.path)}"
    explicit = False
    for rule in rules:
        if fnmatchcase(route, rule.match):
            explicit = True
            key = key_of(request, rule)
            if key is not None:
                return f"{route} {key}"
    if not explicit:
        for rule in detected:
            if fnmatchcase(route, rule.match):
                key = key_of(request, rule)
                if key is not None:
                    return f"{route} {key}"
    return route + operation_query(request.path)


# --- detection ---------------------------------------------------------------------------

OPERATION_HEADERS: tuple[str, ...] = (
    "x-amz-target",
    "soapaction",
    "x-operation",
    "x-method",
    "x-action",
)
"""Headers that name the operation wherever they appear."""
OPERATION_FIELDS: tuple[str, ...] = ("method", "operation", "op", "action", "command", "type")
"""Top-level JSON body fields that may name the operation, most telling first."""

_OPERATION = re.compile(r"[A-Za-z_][\w.:/-]{1,80}")
_QUALIFIED = re.compile(r".*[.:/_].*|.*[a-z][A-Z].*")
_NOT_OPERATIONS = re.compile(
    r"(accept|content|if|sec|proxy|access-control|x-forwarded|cf|x-amz|x-goog|x-ms)-.*"
    r"|.*(session|token|auth|key|cookie|csrf|xsrf|nonce|signature|date|time|trace|span"
    r"|request-id|correlation|idempotency|etag|version|id)"
    r"|host|user-agent|referer|origin|connection|cache-control|pragma|range|expect|te|dnt"
    r"|upgrade|upgrade-insecure-requests|x-requested-with|via|forwarded|priority|traceparent"
    r"|tracestate|baggage|b3|x-real-ip|x-api-key|accept|authorization|cookie|keep-alive"
)
"""Request headers that carry data, credentials or transport details, never the
operation (checked only for headers outside OPERATION_HEADERS)."""
_MAX_REQUESTS = 5000
"""Requests per route looked at: enough to see the operations, bounded for huge runs."""


def _operation(value: object, *, qualified: bool = False, known: bool = False) -> str | None:
    """`value` if it looks like an operation name (`speech.speak`, `GetItem`,
    `urn:Service/Op`), not like an id or a token (for a `known` operation header, ids are
    not expected: `DynamoDB_20120810.GetItem` passes)."""
    if not isinstance(value, str):
        return None
    value = value.strip().strip('"')
    if not _OPERATION.fullmatch(value) or (not known and is_variable_segment(value)):
        return None
    if qualified and not _QUALIFIED.fullmatch(value):
        return None
    return value


_CACHED_VALUE = 256


@functools.lru_cache(maxsize=4096)  # pure; a run's header values repeat
def _header_operation(value: str, known: bool) -> str | None:
    """`_operation` of a short header value, remembered (bounded)."""
    return _operation(value, known=known)


def _glob_escape(text: str) -> str:
    """`text` as an fnmatch glob that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", text)


class _RouteSample:
    """What the requests of one default route say about a possible operation key."""

    def __init__(self) -> None:
        self.requests = 0
        self.headers: dict[str, list[str]] = {}
        """Lower-case header name -> the operation-like value of each request, for names
        present once on every request so far with an operation-like value."""
        self.fields: dict[str, list[str]] = {}
        """The same for the top-level JSON fields of `OPERATION_FIELDS`."""
        self.names: dict[str, str] = {}

    def add(self, request: HttpRequest) -> None:
        """Note what `request` says. A header or field that is once absent, repeated or
        not operation-like can never be the key (`key` wants a name on every request),
        so it is dropped at once and not looked at again: most routes have nothing left
        to look at after their first request."""
        first = self.requests == 0
        self.requests += 1
        if not first and not self.headers and not self.fields:
            return
        seen: dict[str, str | None] = {}
        for raw_name, raw_value in request.headers:
            name = raw_name.decode("latin-1").strip()
            lower = name.lower()
            if not first and lower not in self.headers:
                continue
            if lower in seen:
                seen[lower] = None  # repeated: not one operation name
                continue
            self.names.setdefault(lower, name)
            text, known = raw_value.decode("latin-1"), lower in OPERATION_HEADERS
            seen[lower] = (
                _header_operation(text, known)
                if len(text) <= _CACHED_VALUE
                else _operation(text, known=known)
            )
        if first:
            self.headers = {k: [v] for k, v in seen.items() if v is not None}
            self.fields = {field: [] for field in OPERATION_FIELDS}
        else:
            for name, values in list(self.headers.items()):
                value = seen.get(name)
                if value is None:
                    del self.headers[name]  # absent once, or not an operation: not a key
                else:
                    values.append(value)
        if not self.fields:
            return
        body: object = None
        if request.body:
            decoded = decode_body(request.headers, request.body)
            body = decoded.value if decoded.kind == "json" else None
        for field, values in list(self.fields.items()):
            raw = body.get(field) if isinstance(body, dict) else None
            value = _operation(raw, qualified=field == "type")
            if value is None:
                del self.fields[field]
            else:
                values.append(value)

    def key(self) -> tuple[RouteSource, str] | None:
        """The source and name of the operation key, if the requests show one."""

        def carries(values: list[str], *, repeats: bool) -> bool:
            distinct = set(values)
            return len(distinct) >= 2 and (not repeats or len(distinct) < len(values))

        for name in OPERATION_HEADERS:
            if name in self.headers and carries(self.headers[name], repeats=False):
                return "header", self.names[name]
        for field in OPERATION_FIELDS:
            if carries(self.fields.get(field, []), repeats=False):
                return "json", f"$.{field}"
        for name in sorted(self.headers):
            if _NOT_OPERATIONS.fullmatch(name) or name in OPERATION_HEADERS:
                continue
            if carries(self.headers[name], repeats=True):
                return "header", self.names[name]
        return None


def detect_route_keys(requests: Iterable[HttpRequest]) -> list[RouteRule]:
    """Routes where one URL carries many operations, and the rule that keys them.

    Per default route (`METHOD /templated/path`), in this order:
    1. a known operation header (`X-Amz-Target`, `SOAPAction`, `X-Operation`,
       `X-Method`, `X-Action`) present on every request with 2+ distinct values;
    2. a top-level JSON body field `method`, `operation`, `op`, `action`, `command` or
       `type` that every request has, with 2+ distinct operation-like string values
       (`type` only with qualified names like `user/create` or `Order.Create`: a plain
       `"type": "note"` is data);
    3. any other header (not one that carries data, credentials or transport) present on
       every request, with 2+ distinct operation-like values that repeat.

    Operation-like: `^[A-Za-z_][\\w.:/-]{1,80}$` (quotes around it dropped), and, but
    for the known headers, not an id, uuid, hex digest or long token. Returns rules
    equivalent to `[[route]] match = ROUTE, key = ...`, sorted by route; a route with a
    single request is never keyed.
    """
    samples: dict[str, _RouteSample] = {}
    for request in requests:
        route = f"{request.method.upper()} {template_path(request.path)}"  # as rules match
        sample = samples.setdefault(route, _RouteSample())
        if sample.requests < _MAX_REQUESTS:
            sample.add(request)
    rules = []
    for route in sorted(samples):
        found = samples[route].key()
        if found is None:
            continue
        source, name = found
        json_path = parse_concrete(name) if source == "json" else ()
        rules.append(RouteRule(_glob_escape(route), source, name, json_path))
    return rules
