"""The Differ: two or more responses in, one Verdict out.

    differ = Differ(load_rules(toml_dict), learned=learned_noise, route_keys=detected)
    verdict = differ.compare(request, expected, actual,
                             actual_values={87: 1042},
                             baselines=[b1, b2], baselines_values=[{...}, {...}])
    ...
    differ.settle(verdicts_with_suspects, exchanges_per_route)   # at the end of a run

Cheapest checks first: equal status, equal raw bodies and equal headers (after the
header policy) match without parsing anything; then canonical bytes of the normalized
trees; only then a structural diff that descends into the subtrees that differ.

Differences only on the wire (header-name case, JSON escape and number spellings) are
kept apart in `Verdict.serialization` unless `[serialization] gate = true` makes them
differences like the others.

Then, in order: what a baseline shows against the recording (or two baselines against
each other) is noise, and arrays a baseline reorders are compared as multisets
(`unordered:auto`); differences at spots of learned noise wait in `suspects` for
`settle`; two error responses that differ become one `error_changed`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from parity.differ.bodies import (
    binary_difference,
    family,
    family_difference,
    text_difference,
    too_large_difference,
)
from parity.differ.charsets import has_lone_surrogates, printable, printable_text
from parity.differ.content import (
    Body,
    decode_body,
    has_lossy_float,
    header_values,
    reparse_exact,
    too_large_text,
)
from parity.differ.derived import DerivedHeaders
from parity.differ.errors import error_changed, is_error, summary, with_details
from parity.differ.headers import HeaderPolicy, HeaderView, collect, diff_headers
from parity.differ.jsonpath import PathSyntaxError, get_at, parse_concrete
from parity.differ.model import (
    Difference,
    DiffKind,
    HttpRequest,
    HttpResponse,
    Outcome,
    Verdict,
    Where,
)
from parity.differ.noise import (
    LearnedNoise,
    NoiseKey,
    noise_key,
    real_keys_of,
    suspect_counts,
)
from parity.differ.normalize import IGNORED, Normalizer, Scope
from parity.differ.placeholders import same_instants, substitute
from parity.differ.routekeys import route_for
from parity.differ.rules import RouteRule, Rules
from parity.differ.serialization import literal_differences, number_literal
from parity.differ.signature import shape_key, signature_of, templated
from parity.differ.structure import Leeway, TreeDiff, same_tree
from parity.differ.values import Origins, ValueMap
from parity.differ.xmltree import align_repeated

Values = Mapping[object, object]
Found = tuple[list[Difference], list[Difference]]
"""(differences, serialization differences)."""

_MAX_SCOPES = 4096
_UNSET = object()


class _Side:
    """One response with its decoding and normalization computed on first use."""

    def __init__(
        self,
        response: HttpResponse,
        normalizer: Normalizer,
        policy: HeaderPolicy,
        counterpart: _Side | None = None,
    ):
        self.response = response
        self.normalizer = normalizer
        self.policy = policy
        self.counterpart = counterpart
        """The side this one is compared with: a large body shares its strings with the
        counterpart's tree if that is parsed already (`differ.sharedjson`)."""
        self._body: Body | None = None
        self._value: object = _UNSET
        self._headers: HeaderView | None = None

    @property
    def body(self) -> Body:
        if self._body is None:
            other = self.counterpart
            like = other._body.value if other is not None and other._body is not None else None
            self._body = decode_body(self.response.headers, self.response.body, like)
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

    def bodies(self) -> list[bytes]:
        """The raw body and, if it differs, the decoded one (what a checksum may cover)."""
        raw = self.response.body
        data = self.body.data
        return [raw] if data == raw else [raw, data]

    def error_summary(self) -> dict[str, Any]:
        types = header_values(self.response.headers, "content-type")
        try:
            value = self.value
        except RecursionError:
            value = None
        found = summary(
            self.response.status, types[0] if types else None, value, self.body.media_type
        )
        return {key: printable(item) for key, item in found.items()}


def _header_case(policy: HeaderPolicy, *responses: HttpResponse) -> bool | None:
    """`diff_headers`' `case`: False when a side spoke HTTP/2 or HTTP/3 (names are lower
    case there by the protocol), None when the header-case equivalence is on."""
    for response in responses:
        version = (response.http_version or "").upper()
        if version.startswith(("HTTP/2", "HTTP/3", "H2", "H3")):
            return False
    return None if policy.header_case else True


def _dedupe(differences: Sequence[Difference]) -> list[Difference]:
    """One difference per (where, templated path, kind), the first one."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for d in differences:
        key = (d.where.value, templated(d), d.kind.value)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


class Differ:
    """Compares responses under one set of rules. Holds no state between compares except
    a cache of the rules compiled per route.

    `learned`: noise learned in earlier runs (`differ.noise`); differences where the
    reference itself is known to disagree wait in `Verdict.suspects` until `settle`.
    `route_keys`: rules from `detect_route_keys`, for routes no `[[route]]` rule matches.
    """

    def __init__(
        self,
        rules: Rules | None = None,
        learned: LearnedNoise | None = None,
        route_keys: Sequence[RouteRule] = (),
    ) -> None:
        self.rules = rules if rules is not None else Rules()
        switches = self.rules.switches
        self.policy = HeaderPolicy(self.rules.headers, switches)
        self.learned = learned
        self.route_keys = tuple(route_keys)
        self._scopes: dict[str, Scope] = {}
        self._origins: dict[tuple[str | None, ...], Origins] = {}
        self._fraction = switches.fraction_digits
        self._gate_serialization = self.rules.serialization.gate
        self._unicode = switches.unicode_escapes
        self._scale = switches.decimal_scale

    def with_route_keys(self, route_keys: Sequence[RouteRule]) -> Differ:
        """The same differ (rules, learned noise) with detected route keys."""
        return Differ(self.rules, self.learned, route_keys)

    def route(self, request: HttpRequest) -> str:
        """`METHOD /templated/path`, plus a key if a `[[route]]` rule (or, for routes no
        rule matches, a detected route key) applies."""
        return route_for(request, self.rules.routes, self.route_keys)

    def _scope(self, route: str) -> Scope:
        scope = self._scopes.get(route)
        if scope is None:
            if len(self._scopes) >= _MAX_SCOPES:
                self._scopes.clear()
            scope = self._scopes[route] = Scope.of(self.rules, route)
        return scope

    def _origins_of(self, origins: tuple[str | None, ...]) -> Origins:
        """Origins compiled once per combination (a run has very few)."""
        found = self._origins.get(origins)
        if found is None:
            if len(self._origins) >= _MAX_SCOPES:
                self._origins.clear()
            found = self._origins[origins] = Origins(origins)
        return found

    # --- compare ----------------------------------------------------------------------

    def compare(
        self,
        request: HttpRequest,
        expected: HttpResponse,
        actual: HttpResponse | None,
        baseline: HttpResponse | None = None,
        *,
        actual_values: Values | None = None,
        baseline_values: Values | None = None,
        baselines: Sequence[HttpResponse | None] = (),
        baselines_values: Sequence[Values | None] = (),
        error: str | None = None,
    ) -> Verdict:
        """The verdict on `actual` against `expected`.

        Baselines (live runs of the reference backend): `baseline` with `baseline_values`
        is a one-element `baselines` with `baselines_values` (both may be given; None
        entries, baselines that did not answer, are skipped). Differences that a
        baseline shows against `expected`, or two baselines against each other, at the
        same (where, templated path) are moved to `Verdict.noise`, and all of those are
        in `Verdict.baseline_differences`. The value maps map values the target (or a
        baseline) minted to the values the recording had."""
        route = self.route(request)
        scope = self._scope(route)
        references = self._references(baseline, baseline_values, baselines, baselines_values)
        origins = self._origins_of(
            (
                expected.origin,
                actual.origin if actual is not None else None,
                *(r.origin for r, _values in references),
            )
        )
        applied: set[str] = set()
        expected_side = _Side(
            expected, Normalizer(scope, ValueMap(None), origins, applied), self.policy
        )
        observed = self._observe(scope, expected_side, references, origins)
        if actual is None or error is not None:
            return Verdict(
                Outcome.ERROR,
                route,
                error=error or "the target gave no response",
                baseline_differences=observed,
            )
        actual_side = _Side(
            actual,
            Normalizer(scope, ValueMap(actual_values), origins, applied),
            self.policy,
            expected_side,
        )
        learned_arrays = self.learned.unordered(route) if self.learned is not None else frozenset()
        leeway = self._leeway(scope, learned=learned_arrays)
        differences, serialization = self._found(expected_side, actual_side, applied, leeway)
        noise: list[Difference] = []
        if differences and observed:
            reordered = frozenset(
                templated(d)
                for d in observed
                if d.kind is DiffKind.ORDER_CHANGED and d.where is Where.BODY
            )
            if reordered and any(d.where is Where.BODY for d in differences):
                leeway = self._leeway(scope, reordered, learned_arrays)
                differences, serialization = self._found(
                    expected_side, actual_side, applied, leeway
                )
            volatile = {shape_key(d) for d in observed}
            noise = [d for d in differences if shape_key(d) in volatile]
            differences = [d for d in differences if shape_key(d) not in volatile]
        applied |= leeway.applied
        suspects: list[Difference] = []
        if differences and self.learned is not None:
            learned = self.learned
            suspects = [d for d in differences if learned.suspect(noise_key(route, d))]
            differences = [d for d in differences if not learned.suspect(noise_key(route, d))]
        error_sides = None
        if (differences or suspects) and is_error(expected.status) and is_error(actual.status):
            error_sides = (expected_side.error_summary(), actual_side.error_summary())
            if differences:
                differences = [error_changed(error_sides, differences)]
        return Verdict(
            outcome=Outcome.MISMATCHED if differences else Outcome.MATCHED,
            route=route,
            differences=differences,
            noise=noise,
            signature=signature_of(route, differences) if differences else None,
            rules_applied=sorted(applied),
            suspects=suspects,
            baseline_differences=observed,
            serialization=serialization,
            error_sides=error_sides,
        )

    def _found(self, expected: _Side, actual: _Side, applied: set[str], leeway: Leeway) -> Found:
        """`_differences`, with the serialization ones moved into the differences when
        `[serialization] gate` says they count."""
        differences, serialization = self._differences(expected, actual, applied, leeway)
        if self._gate_serialization and serialization:
            return differences + serialization, []
        return differences, serialization

    def _leeway(
        self,
        scope: Scope,
        reordered: frozenset[str] = frozenset(),
        learned: frozenset[str] = frozenset(),
    ) -> Leeway:
        return Leeway(scope.arrays, scope.numbers, reordered, learned)

    @staticmethod
    def _references(
        baseline: HttpResponse | None,
        baseline_values: Values | None,
        baselines: Sequence[HttpResponse | None],
        baselines_values: Sequence[Values | None],
    ) -> list[tuple[HttpResponse, Values | None]]:
        """The baselines that answered, each with its value map."""
        found: list[tuple[HttpResponse, Values | None]] = []
        if baseline is not None:
            found.append((baseline, baseline_values))
        for n, response in enumerate(baselines):
            if response is not None:
                found.append((response, baselines_values[n] if n < len(baselines_values) else None))
        return found

    def _observe(
        self,
        scope: Scope,
        expected: _Side,
        references: list[tuple[HttpResponse, Values | None]],
        origins: Origins,
    ) -> list[Difference]:
        """Differences of expected vs each baseline and of each pair of baselines,
        deduplicated by (where, templated path, kind). Serialization differences are
        left out: the wire says nothing about what varies by chance."""
        if not references:
            return []
        unused: set[str] = set()
        sides = [
            _Side(
                response,
                Normalizer(scope, ValueMap(values), origins, unused),
                self.policy,
                expected,
            )
            for response, values in references
        ]
        observed: list[Difference] = []
        for n, side in enumerate(sides):
            for other in [expected, *sides[:n]]:
                leeway = self._leeway(scope)
                observed += self._differences(other, side, unused, leeway, observe=True)[0]
        return _dedupe(observed)

    # --- settle -----------------------------------------------------------------------

    def settle(self, verdicts: Sequence[Verdict], route_exchanges: Mapping[str, int]) -> None:
        """Decide the suspects of a run's verdicts, in place (called once at the end of a
        run, with every verdict that has suspects, and the number of exchanges per route
        replayed in the run).

        Per noise key, candidate_rate = (verdicts of the route with a suspect there) /
        route_exchanges[route]. A key is real when candidate_rate > relative * noise_rate
        and candidate_rate - noise_rate > absolute (`NoisePolicy`): its suspects move to
        `differences` (summarized in the `error_changed` if both sides are errors);
        the others move to `noise` (`noise:learned` in `rules_applied`). Outcome and
        signature are recomputed; `suspects` is left empty."""
        with_suspects = [v for v in verdicts if v.suspects]
        if not with_suspects:
            return
        real = self.real_suspects(suspect_counts(with_suspects), route_exchanges)
        for verdict in with_suspects:
            self.settle_one(verdict, real)

    def real_suspects(
        self, counts: Mapping[NoiseKey, int], route_exchanges: Mapping[str, int]
    ) -> set[NoiseKey]:
        """The suspect keys that are real, given how many of the run's verdicts have a
        suspect at each (`suspect_counts`): `settle`'s decision, for a caller that
        streams the verdicts (a long run spills them: `replayer.pending`)."""
        if self.learned is None:
            return set(counts)
        return real_keys_of(self.learned, counts, route_exchanges)

    def settle_one(self, verdict: Verdict, real: set[NoiseKey]) -> None:
        """Decide one verdict's suspects, in place, once the run's `real` keys are known
        (`real_suspects`): what `settle` does to each verdict."""
        if not verdict.suspects:
            return
        confirmed = [d for d in verdict.suspects if noise_key(verdict.route, d) in real]
        quiet = [d for d in verdict.suspects if noise_key(verdict.route, d) not in real]
        verdict.suspects = []
        if quiet:
            verdict.noise.extend(quiet)
            verdict.rules_applied = sorted({*verdict.rules_applied, "noise:learned"})
        if confirmed:
            verdict.differences = self.with_confirmed(verdict, confirmed)
        if verdict.outcome is not Outcome.ERROR:
            verdict.outcome = Outcome.MISMATCHED if verdict.differences else Outcome.MATCHED
        verdict.signature = (
            signature_of(verdict.route, verdict.differences) if verdict.differences else None
        )

    # --- the comparison ---------------------------------------------------------------

    def _differences(
        self,
        expected: _Side,
        actual: _Side,
        applied: set[str],
        leeway: Leeway,
        *,
        observe: bool = False,
    ) -> Found:
        """(differences, serialization differences) of two sides. `observe`: a baseline
        against the recording (or another baseline), where only the differences count:
        the costlier serialization checks are skipped."""
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
        body_differences, body_wire, bodies_speak = self._bodies(
            expected, actual, applied, leeway, observe
        )

        def derived(found: list[Difference], notes: set[str]) -> list[Difference]:
            values = actual.normalizer.values
            return DerivedHeaders(
                (header_values(expected.response.headers, "etag"), expected.bodies),
                (header_values(actual.response.headers, "etag"), actual.bodies),
                lambda etag: values.header(etag) != etag,
            ).drop(found, notes)

        header_differences, header_wire = diff_headers(
            expected.headers,
            actual.headers,
            bodies_speak=bodies_speak,
            applied=applied,
            case=False
            if observe
            else _header_case(self.policy, expected.response, actual.response),
            derived=derived if bodies_speak else None,
        )
        return (
            _printable(out + header_differences + body_differences),
            _printable(header_wire + body_wire),
        )

    def _bodies(
        self, expected: _Side, actual: _Side, applied: set[str], leeway: Leeway, observe: bool
    ) -> tuple[list[Difference], list[Difference], bool]:
        """(body differences, serialization differences, whether the bodies stand in for
        the headers that follow from them)."""
        raw_e, raw_a = expected.response.body, actual.response.body
        if raw_e == raw_a and expected.encodings() == actual.encodings():
            return [], [], bool(raw_e)  # the fast path: nothing parsed
        eb, ab = expected.body, actual.body
        applied.update(eb.notes, ab.notes)
        speak = eb.decoded and ab.decoded and not (eb.kind == ab.kind == "empty")
        if eb.data == ab.data and eb.decoded == ab.decoded:
            return [], [], speak
        if eb.too_large or ab.too_large:  # not compared: decoding stopped at the cap
            return [too_large_difference(eb, ab)], [], speak
        try:
            return (*self._decoded_bodies(expected, actual, applied, leeway, observe), speak)
        except RecursionError:  # absurdly deep nesting: compare the bytes, say so
            applied.add("too-deep:compared-bytes")
            return [binary_difference(eb, ab)], [], speak

    def _decoded_bodies(
        self, expected: _Side, actual: _Side, applied: set[str], leeway: Leeway, observe: bool
    ) -> Found:
        scope = expected.normalizer.scope
        eb, ab = expected.body, actual.body
        if _parsed_alike(eb, ab):
            # Normalization treats both sides alike, and a value map only rewrites what
            # the target minted, which here is what the recording had: equal stays equal.
            return self._literals(scope, eb, ab, applied, otherwise_equal=True, observe=observe)
        ev, av = expected.value, actual.value  # this may re-parse the bodies exactly
        eb, ab = expected.body, actual.body
        if ev is IGNORED or av is IGNORED:
            return [], []
        kinds = (family(eb), family(ab))
        if kinds == ("structured", "structured"):
            if eb.kind == ab.kind == "xml":  # one <Blob> vs two: a list on both sides
                ev, av = align_repeated(ev, av)
            return self._trees(scope, eb, ab, ev, av, applied, leeway, observe)
        if kinds == ("text", "text"):
            assert isinstance(ev, str) and isinstance(av, str)
            return ([] if ev == av else [text_difference(ev, av)]), []
        if kinds == ("binary", "binary"):
            return [binary_difference(eb, ab)], []
        if kinds == ("empty", "empty"):
            return [], []
        return [family_difference(eb, ev, ab, av)], []

    def _trees(
        self,
        scope: Scope,
        eb: Body,
        ab: Body,
        ev: object,
        av: object,
        applied: set[str],
        leeway: Leeway,
        observe: bool,
    ) -> Found:
        # No whole-tree serialization first: the diff compares children lazily (strings
        # by ==, subtrees by their canonical bytes), which is as cheap when all is equal.
        tree = TreeDiff(leeway=leeway)
        out = tree.run(ev, av)
        if tree.truncated:
            applied.add("truncated:differences")
        if out and self._fraction:
            kept = [d for d in out if not _same_instant(d, eb, ab, scope.style)]
            if len(kept) != len(out):
                applied.add("equivalence:fraction-digits")
                out = kept
        respelled = [
            Difference(
                d.where, d.path, d.kind, number_literal(d.expected), number_literal(d.actual)
            )
            for d in tree.respelled
        ]
        real, wire = self._literals(
            scope, eb, ab, applied, otherwise_equal=not out, observe=observe
        )
        seen = {d.path for d in out}
        seen.update(d.path for d in respelled)
        return (
            out + [d for d in real if d.path not in seen],
            respelled + [d for d in wire if d.path not in seen],
        )

    def _literals(
        self,
        scope: Scope,
        eb: Body,
        ab: Body,
        applied: set[str],
        *,
        otherwise_equal: bool,
        observe: bool,
    ) -> Found:
        """What the literals of two JSON bodies show (other kinds: nothing): numbers of
        another decimal value that parse alike, and serialization differences."""
        if not eb.kind == ab.kind == "json":
            return [], []
        wire, real, checked = literal_differences(
            eb.data,
            ab.data,
            eb.value,
            ab.value,
            scope.is_ignored,
            otherwise_equal=otherwise_equal,
            thorough=not observe,
            unicode_escapes=self._unicode,
            decimal_scale=self._scale,
            applied=applied,
        )
        if not checked:
            applied.add("serialization:unchecked")
        return real, wire

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
        if body.too_large:
            return f"<{too_large_text(body.too_large)}>"
        value = normalizer.body(body)
        if value is IGNORED:
            return "<ignored by rules>"
        if family(body) == "structured":
            try:
                return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
            except TypeError:  # big integers, odd leaves, lone surrogates (invalid bytes)
                text = json.dumps(value, indent=2, ensure_ascii=False, default=repr)
                return printable_text(text)
        if family(body) == "text":
            assert isinstance(value, str)
            return printable_text(value)
        if family(body) == "empty":
            return ""
        return body.describe()

    # --- suspects confirmed -------------------------------------------------------------

    def with_confirmed(self, verdict: Verdict, confirmed: Sequence[Difference]) -> list[Difference]:
        """`verdict`'s differences once the `confirmed` suspects count as real, as
        `settle` counts them: between two errors, summarized in the one `error_changed`.
        `verdict` itself is left as it is."""
        if not confirmed:
            return list(verdict.differences)
        if verdict.error_sides is None:
            return [*verdict.differences, *confirmed]
        current = next((d for d in verdict.differences if d.kind is DiffKind.ERROR_CHANGED), None)
        others = [d for d in verdict.differences if d is not current]
        return [*others, with_details(verdict.error_sides, current, confirmed)]


def _same_instant(difference: Difference, eb: Body, ab: Body, style: int) -> bool:
    """True for a body `changed` between two strings whose timestamps name the same
    instants (`fraction-digits`: other ISO-8601 spellings of one instant). Checked on the
    parsed values before normalization, at the difference's path; only when normalizing
    them reproduces the difference (no value map or origin involved)."""
    e, a = difference.expected, difference.actual
    if difference.where is not Where.BODY or difference.kind is not DiffKind.CHANGED:
        return False
    if not isinstance(e, str) or not isinstance(a, str) or "<timestamp" not in e + a:
        return False
    try:
        parts = parse_concrete(difference.path)
    except PathSyntaxError:
        return False
    found_e, raw_e = get_at(eb.value, parts)
    found_a, raw_a = get_at(ab.value, parts)
    if not (found_e and found_a and isinstance(raw_e, str) and isinstance(raw_a, str)):
        return False
    unused: set[str] = set()
    if substitute(raw_e, unused, style) != e or substitute(raw_a, unused, style) != a:
        return False
    return same_instants(raw_e, raw_a)


def _printable(differences: list[Difference]) -> list[Difference]:
    """`differences` with lone surrogates (bytes not valid in a body's charset) written
    out (`differ.charsets.printable`), so that every value leaving the differ is valid
    UTF-8. Runs after the comparison: different bytes were already different."""
    out = differences
    for n, d in enumerate(differences):
        if has_lone_surrogates((d.path, d.expected, d.actual)):
            if out is differences:
                out = list(differences)
            out[n] = Difference(
                d.where, printable_text(d.path), d.kind, printable(d.expected), printable(d.actual)
            )
    return out


def _parsed_alike(expected: Body, actual: Body) -> bool:
    """True if both bodies parsed to strictly equal trees (cheap: two serializations).
    Trees with floats that may be rounded big integers do not count: they need the
    exact parse that normalization triggers."""
    if expected.kind != actual.kind or family(expected) != "structured":
        return False
    if expected.value != actual.value:  # C-level, stops early; == is looser than strict
        return False
    return same_tree(expected.value, actual.value) and not has_lossy_float(expected.value)
