"""The header policy: which response headers are compared, which only by shape, which
not at all. The reasons for each default are in `docs/rules.md`.

Names are matched case-insensitively (kept lower-case), as HTTP says (RFC 9110 §5.1). The
case of a compared header's name is a *serialization* difference (one `changed` at the
lower-case name, the two spellings as expected/actual, in `Verdict.serialization`), unless
the `header-case` equivalence is on or either side spoke HTTP/2 or HTTP/3 (which lower-case
every name). The order of different headers is not looked at. Repeated headers are joined
with ", " as HTTP allows, except Set-Cookie, compared as a list (order-insensitive,
attributes in a canonical order). With `json-charset`, a JSON Content-Type's
`charset=utf-8` is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import translate
from typing import Literal

from parity.differ.equivalences import ALL_OFF, Switches
from parity.differ.model import Difference, DiffKind, Where
from parity.differ.rules import HeaderRules

Action = Literal["ignore", "shape", "compare", "body"]

DEFAULT_IGNORE: tuple[str, ...] = (
    # the transport and the hop, not the resource
    "date", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
    "proxy-connection", "proxy-authenticate", "via", "alt-svc",
    # the software stack: the port runs on another one by definition
    "server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version",
    # caches and CDNs in front of the backend: their state, not the backend's answer
    "age", "x-cache", "x-cache-hits", "x-cache-status", "cf-cache-status", "x-served-by",
    "x-timer", "x-amz-cf-pop", "x-amz-cf-id", "x-fastly-request-id", "x-akamai-*",
    "x-edge-*", "x-azure-ref", "x-msedge-ref", "cdn-*", "nel", "report-to",
    # timing and tracing: different on every request by nature
    "server-timing", "x-runtime", "x-response-time", "x-envoy-upstream-service-time",
    "traceparent", "tracestate", "b3", "x-b3-*", "x-amzn-trace-id", "x-cloud-trace-context",
    "x-datadog-*", "x-trace-id", "x-span-id",
    # follows from the body, which is compared itself (any encoding undone)
    "content-length",
)  # fmt: skip
"""Never compared (unless `[headers] compare` names them)."""

DEFAULT_SHAPE: tuple[str, ...] = (
    # per-request ids: the value is new every time, but whether it is there (and looks
    # like a uuid or like something else) is part of the API
    "x-request-id", "request-id", "x-correlation-id", "correlation-id", "x-amzn-requestid",
    "x-amz-request-id", "x-amz-id-2", "x-ms-request-id", "x-github-request-id", "cf-ray",
    "apigw-requestid", "fly-request-id", "x-vercel-id", "x-goog-request-id",
    # rate-limit counters: the numbers move, the presence of the headers does not
    "x-ratelimit-*", "x-rate-limit-*", "ratelimit", "ratelimit-*", "retry-after",
)  # fmt: skip
"""Compared by shape: every run of letters and digits becomes `x` (after placeholders,
so a uuid is `<uuid>` first), so `<uuid>` vs `0HMV:00000001` still differs."""

BODY_BOUND: tuple[str, ...] = ("content-encoding",)
"""Follows from the body, which is compared decoded; compared only when the bodies cannot
speak for themselves (both empty, or a Content-Encoding could not be undone)."""

_WORD = re.compile(r"[A-Za-z0-9]+")
_MAX_NAMES = 4096
"""Header names whose action is remembered (a bound against odd traffic)."""
_JSON_TYPE = re.compile(r"\s*(application/json|[^;\s]+\+json|text/json)\s*(;|$)", re.IGNORECASE)
_UTF8 = re.compile(r"""\s*charset\s*=\s*"?utf-?8"?\s*""", re.IGNORECASE)


def _globs(names: Iterable[str]) -> re.Pattern[str] | None:
    names = [n.lower() for n in names]
    return re.compile("|".join(translate(n) for n in names)) if names else None


def _hit(pattern: re.Pattern[str] | None, name: str) -> bool:
    return pattern is not None and pattern.match(name) is not None


class HeaderPolicy:
    """Decides per (lower-case) header name what happens to it."""

    def __init__(self, rules: HeaderRules, switches: Switches = ALL_OFF) -> None:
        self.json_charset = switches.json_charset
        self.header_case = switches.header_case
        self._only = None if rules.compare_only is None else _globs(rules.compare_only)
        self._only_given = rules.compare_only is not None
        self._ignore = _globs(rules.ignore)
        self._shape = _globs(rules.shape)
        self._compare = _globs(rules.compare)
        self._default_ignore = _globs(DEFAULT_IGNORE)
        self._default_shape = _globs(DEFAULT_SHAPE)
        self._actions: dict[str, Action] = {}

    def action(self, name: str) -> Action:
        """ "ignore", "shape", "compare", or "body" (Content-Encoding)."""
        found = self._actions.get(name)
        if found is None:
            if len(self._actions) >= _MAX_NAMES:
                self._actions.clear()
            found = self._actions[name] = self._decide(name)
        return found

    def _decide(self, name: str) -> Action:
        if self._only_given:
            return "compare" if _hit(self._only, name) else "ignore"
        if _hit(self._ignore, name):
            return "ignore"
        if _hit(self._shape, name):
            return "shape"
        if _hit(self._compare, name):
            return "compare"
        if name in BODY_BOUND:
            return "body"
        if _hit(self._default_ignore, name):
            return "ignore"
        if _hit(self._default_shape, name):
            return "shape"
        return "compare"


def shape_of(value: str) -> str:
    """`<uuid>` -> `<x>`, `8a1b2c-FRA` -> `x-x`, `59` -> `x`."""
    return _WORD.sub("x", value)


def canonical_cookie(value: str) -> str:
    """`sid=a; Path=/; HttpOnly` and `sid=a; httponly; path=/` -> the same text:
    attribute names are case-insensitive and their order carries no meaning."""
    first, *attributes = (part.strip() for part in value.split(";"))
    canonical = []
    for attribute in attributes:
        if not attribute:
            continue
        name, eq, rest = attribute.partition("=")
        name = name.strip().lower()
        rest = rest.strip().lower() if name == "samesite" else rest.strip()
        canonical.append(f"{name}{eq}{rest}")
    return "; ".join([first, *sorted(canonical)])


def without_utf8_charset(value: str) -> str:
    """`application/json; charset=utf-8` -> `application/json` (JSON types only: RFC 8259
    makes UTF-8 the only encoding, so the parameter says nothing)."""
    if _JSON_TYPE.match(value) is None or ";" not in value:
        return value
    main, *params = value.split(";")
    kept = [p for p in params if not _UTF8.fullmatch(p)]
    return ";".join([main.rstrip(), *kept])


@dataclass(slots=True)
class HeaderView:
    """One response's headers as compared: lower-case name -> normalized values."""

    compared: dict[str, list[str]] = field(default_factory=dict)
    body_bound: dict[str, list[str]] = field(default_factory=dict)
    ignored: dict[str, list[str]] = field(default_factory=dict)
    spelling: dict[str, str] = field(default_factory=dict)
    """The name as sent (first occurrence) of every compared header."""
    notes: set[str] = field(default_factory=set)
    """Equivalences that changed a value of this side (`equivalence:json-charset`)."""


Normalize = Callable[[str, str], str | None]
"""(lower-case name, value) -> normalized value, or None if a rule ignores the header."""


def collect(
    headers: Iterable[tuple[bytes, bytes]], policy: HeaderPolicy, normalize: Normalize
) -> HeaderView:
    """Sort one response's headers by the policy and normalize the compared ones."""
    view = HeaderView()
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").strip().lower()
        value = raw_value.decode("latin-1").strip()
        action = policy.action(name)
        if action == "ignore":
            view.ignored.setdefault(name, []).append(value)
            continue
        if action == "body":
            view.body_bound.setdefault(name, []).append(value)
            continue
        normalized = normalize(name, value)
        if normalized is None:
            continue
        if name == "content-type" and policy.json_charset:
            plain = without_utf8_charset(normalized)
            if plain != normalized:
                view.notes.add("equivalence:json-charset")
                normalized = plain
        if action == "shape":
            normalized = shape_of(normalized)
        if name == "set-cookie":
            normalized = canonical_cookie(normalized)
        view.compared.setdefault(name, []).append(normalized)
        view.spelling.setdefault(name, raw_name.decode("latin-1").strip())
    return view


def _joined(name: str, values: Sequence[str]) -> str | list[str]:
    if name == "set-cookie":
        return sorted(values)
    return ", ".join(values)


def _compare_case(expected: dict[str, str], actual: dict[str, str], out: list[Difference]) -> bool:
    """Name case differences of headers both sides have (into `out`); True if there was
    one."""
    found = False
    for name, spelled in sorted(expected.items()):
        other = actual.get(name)
        if other is not None and other != spelled:
            out.append(Difference(Where.HEADER, name, DiffKind.CHANGED, spelled, other))
            found = True
    return found


def _compare(
    expected: dict[str, list[str]], actual: dict[str, list[str]], out: list[Difference]
) -> None:
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            out.append(
                Difference(Where.HEADER, name, DiffKind.REMOVED, _joined(name, expected[name]))
            )
        elif name not in expected:
            out.append(
                Difference(Where.HEADER, name, DiffKind.ADDED, None, _joined(name, actual[name]))
            )
        else:
            e, a = _joined(name, expected[name]), _joined(name, actual[name])
            if e != a:
                out.append(Difference(Where.HEADER, name, DiffKind.CHANGED, e, a))


def diff_headers(
    expected: HeaderView,
    actual: HeaderView,
    *,
    bodies_speak: bool,
    applied: set[str],
    case: bool | None = True,
    derived: Callable[[list[Difference], set[str]], list[Difference]] | None = None,
) -> tuple[list[Difference], list[Difference]]:
    """(differences, serialization differences) between two collected header sets.
    `bodies_speak` is False when the bodies cannot stand in for Content-Encoding (both
    empty, or undecodable). `case`: look at the case of names (a serialization
    difference; False: not at all, None: the header-case equivalence hides it).
    `derived` drops the value differences that follow from the body."""
    out: list[Difference] = []
    wire: list[Difference] = []
    _compare(expected.compared, actual.compared, out)
    if derived is not None and out:
        out = derived(out, applied)
    if expected.spelling != actual.spelling and case is not False:
        if case is None:
            if _compare_case(expected.spelling, actual.spelling, []):
                applied.add("equivalence:header-case")
        else:
            _compare_case(expected.spelling, actual.spelling, wire)
    applied.update(expected.notes ^ actual.notes)
    if bodies_speak:
        _note_unequal(expected.body_bound, actual.body_bound, applied)
    else:
        _compare(expected.body_bound, actual.body_bound, out)
    _note_unequal(expected.ignored, actual.ignored, applied)
    return out, wire


def _note_unequal(
    expected: dict[str, list[str]], actual: dict[str, list[str]], applied: set[str]
) -> None:
    """Record `header-policy:NAME` for the ignored headers that did differ."""
    for name in expected.keys() | actual.keys():
        if expected.get(name) != actual.get(name):
            applied.add(f"header-policy:{name}")
