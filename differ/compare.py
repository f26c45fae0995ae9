"""The Differ: two or three responses in, one Verdict out.

    differ = Differ(load_rules(toml_dict))
    verdict = differ.compare(request, expected, actual, baseline,
                             actual_values={87: 1042}, baseline_values={...})

Cheapest checks first: equal status, equal raw bodies and equal headers (after the
header policy) match without parsing anything; then canonical bytes of the normalized
trees; only then a structural diff that descends into the subtrees that differ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import orjson

from differ.bodies import binary_difference, family, family_difference, text_difference
from differ.content import Body, decode_body, has_lossy_float, header_values, reparse_exact
from differ.headers import HeaderPolicy, HeaderView, collect, diff_headers
from differ.model import Difference, DiffKind, HttpRequest, HttpResponse, Outcome, Verdict, Where
from differ.normalize import IGNORED, Normalizer, Scope
from differ.routekeys import route_for
from differ.rules import Rules
from differ.serialization import literal_differences
from differ.signature import shape_key, signature_of
from differ.structure import canonical, diff_trees
from differ.values import Origins, ValueMap

_MAX_SCOPES = 4096
_UNSET = object()


class _Side:
    """One response with its decoding and normalization computed on first use."""

    def __init__(self, response: HttpResponse, normalizer: Normalizer, policy: HeaderPolicy):
        self.response = response
        self.normalizer = normalizer
        self.policy = policy
        self._body: Body | None = None
        self._value: object = _UNSET
        self._headers: HeaderView | None = None

    @property
    def body(self) -> Body:
        if self._body is None:
            self._body = decode_body(self.response.headers, self.response.body)
        return self._body

    @property
    def value(self) -> object:
        """The normalized body (this may replace `body` by an exact re-parse)."""
        if self._value is _UNSET:
            self._value = self.normalizer.body(self.body)
            if self.normalizer.lossy and self.body.kind == "json":
                self._body = reparse_exact(self.body)
                self._value = self.normalizer.body(self._body)
        return self._value

    @property
    def headers(self) -> HeaderView:
        if self._headers is None:
            self._headers = collect(self.response.headers, self.policy, self.normalizer.header)
        return self._headers

    def encodings(self) -> list[str]:
        return header_values(self.response.headers, "content-encoding")


class Differ:
    """Compares responses under one set of rules. Holds no state between compares except
    a cache of the rules compiled per route."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules if rules is not None else Rules()
        self.policy = HeaderPolicy(self.rules.headers)
        self._scopes: dict[str, Scope] = {}

    def route(self, request: HttpRequest) -> str:
        """`METHOD /templated/path`, plus a key if a `[[route]]` rule applies."""
        return route_for(request, self.rules.routes)

    def _scope(self, route: str) -> Scope:
        scope = self._scopes.get(route)
        if scope is None:
            if len(self._scopes) >= _MAX_SCOPES:
                self._scopes.clear()
            scope = self._scopes[route] = Scope.of(self.rules, route)
        return scope

    # --- compare ----------------------------------------------------------------------

    def compare(
        self,
        request: HttpRequest,
        expected: HttpResponse,
        actual: HttpResponse | None,
        baseline: HttpResponse | None = None,
        *,
        actual_values: Mapping[object, object] | None = None,
        baseline_values: Mapping[object, object] | None = None,
        error: str | None = None,
    ) -> Verdict:
        """The verdict on `actual` against `expected`. Differences that `baseline` (a live
        run of the reference backend) shows against `expected` at the same place are
        moved to `Verdict.noise`. The value maps map values the target (or baseline)
        minted to the values the recording had."""
        route = self.route(request)
        if actual is None or error is not None:
            return Verdict(Outcome.ERROR, route, error=error or "the target gave no response")
        scope = self._scope(route)
        origins = Origins([expected.origin, actual.origin, baseline.origin if baseline else None])
        applied: set[str] = set()
        expected_side = _Side(
            expected, Normalizer(scope, ValueMap(None), origins, applied), self.policy
        )
        actual_side = _Side(
            actual, Normalizer(scope, ValueMap(actual_values), origins, applied), self.policy
        )
        differences = self._differences(scope, expected_side, actual_side, applied)
        noise: list[Difference] = []
        if differences and baseline is not None:
            unused: set[str] = set()
            baseline_side = _Side(
                baseline, Normalizer(scope, ValueMap(baseline_values), origins, unused), self.policy
            )
            volatile = {
                shape_key(d) for d in self._differences(scope, expected_side, baseline_side, unused)
            }
            noise = [d for d in differences if shape_key(d) in volatile]
            differences = [d for d in differences if shape_key(d) not in volatile]
        return Verdict(
            outcome=Outcome.MISMATCHED if differences else Outcome.MATCHED,
            route=route,
            differences=differences,
            noise=noise,
            signature=signature_of(route, differences) if differences else None,
            rules_applied=sorted(applied),
        )

    def _differences(
        self, scope: Scope, expected: _Side, actual: _Side, applied: set[str]
    ) -> list[Difference]:
        out = []
        if expected.response.status != actual.response.status:
            out.append(
                Difference(
                    Where.STATUS,
                    "",
                    DiffKind.CHANGED,
                    expected.response.status,
                    actual.response.status,
                )
            )
        body_differences, bodies_speak = self._bodies(scope, expected, actual, applied)
        out += diff_headers(
            expected.headers, actual.headers, bodies_speak=bodies_speak, applied=applied
        )
        return out + body_differences

    def _bodies(
        self, scope: Scope, expected: _Side, actual: _Side, applied: set[str]
    ) -> tuple[list[Difference], bool]:
        """(body differences, whether the bodies stand in for Content-Length/-Encoding)."""
        raw_e, raw_a = expected.response.body, actual.response.body
        if raw_e == raw_a and expected.encodings() == actual.encodings():
            return [], bool(raw_e)  # the fast path: nothing parsed
        eb, ab = expected.body, actual.body
        applied.update(eb.notes, ab.notes)
        speak = eb.decoded and ab.decoded and not (eb.kind == ab.kind == "empty")
        if eb.data == ab.data and eb.decoded == ab.decoded:
            return [], speak
        try:
            return self._decoded_bodies(scope, expected, actual, applied), speak
        except RecursionError:  # absurdly deep nesting: compare the bytes, say so
            applied.add("too-deep:compared-bytes")
            return [binary_difference(eb, ab)], speak

    def _decoded_bodies(
        self, scope: Scope, expected: _Side, actual: _Side, applied: set[str]
    ) -> list[Difference]:
        eb, ab = expected.body, actual.body
        if _parsed_alike(eb, ab):
            # Normalization treats both sides alike, and a value map only rewrites what
            # the target minted, which here is what the recording had: equal stays equal.
            return self._literals(scope, eb, ab, [], applied, numbers=True)
        ev, av = expected.value, actual.value  # this may re-parse the bodies exactly
        eb, ab = expected.body, actual.body
        if ev is IGNORED or av is IGNORED:
            return []
        kinds = (family(eb), family(ab))
        if kinds == ("structured", "structured"):
            return self._trees(scope, eb, ab, ev, av, applied)
        if kinds == ("text", "text"):
            assert isinstance(ev, str) and isinstance(av, str)
            return [] if ev == av else [text_difference(ev, av)]
        if kinds == ("binary", "binary"):
            return [binary_difference(eb, ab)]
        if kinds == ("empty", "empty"):
            return []
        return [family_difference(eb, ev, ab, av)]

    def _trees(
        self, scope: Scope, eb: Body, ab: Body, ev: object, av: object, applied: set[str]
    ) -> list[Difference]:
        # No whole-tree serialization first: the diff compares children lazily (strings
        # by ==, subtrees by their canonical bytes), which is as cheap when all is equal.
        out, truncated = diff_trees(ev, av)
        if truncated:
            applied.add("truncated:differences")
        return self._literals(scope, eb, ab, out, applied, numbers=not out)

    @staticmethod
    def _literals(
        scope: Scope,
        eb: Body,
        ab: Body,
        out: list[Difference],
        applied: set[str],
        *,
        numbers: bool,
    ) -> list[Difference]:
        """`out` plus the serialization details of two JSON bodies (other kinds: `out`)."""
        if not eb.kind == ab.kind == "json":
            return out
        literal, checked = literal_differences(
            eb.data, ab.data, eb.value, ab.value, scope.is_ignored, numbers=numbers
        )
        if not checked:
            applied.add("serialization:unchecked")
        seen = {d.path for d in out}
        return out + [d for d in literal if d.path not in seen]

    # --- render -----------------------------------------------------------------------

    def render(
        self,
        response: HttpResponse,
        values: Mapping[object, object] | None = None,
        *,
        request: HttpRequest | None = None,
    ) -> str:
        """The body as the differ compares it (decoded, normalized), pretty-printed: JSON
        indented, text as is, binary as `<N bytes of TYPE>`. Route-specific rules apply
        only when `request` is given."""
        scope = (
            self._scope(self.route(request)) if request is not None else Scope.of(self.rules, "")
        )
        normalizer = Normalizer(scope, ValueMap(values), Origins([response.origin]), set())
        body = decode_body(response.headers, response.body)
        value = normalizer.body(body)
        if value is IGNORED:
            return "<ignored by rules>"
        if family(body) == "structured":
            try:
                return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
            except TypeError:
                return json.dumps(value, indent=2, ensure_ascii=False, default=repr)
        if family(body) == "text":
            assert isinstance(value, str)
            return value
        if family(body) == "empty":
            return ""
        return body.describe()


def _parsed_alike(expected: Body, actual: Body) -> bool:
    """True if both bodies parsed to strictly equal trees (cheap: two serializations).
    Trees with floats that may be rounded big integers do not count: they need the
    exact parse that normalization triggers."""
    if expected.kind != actual.kind or family(expected) != "structured":
        return False
    if expected.value != actual.value:  # C-level, stops early; == is looser than strict
        return False
    return canonical(expected.value) == canonical(actual.value) and not has_lossy_float(
        expected.value
    )
