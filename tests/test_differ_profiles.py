"""Comparison profiles: each equivalence hides exactly what it names, only when switched
on; without them every one of these is reported: a difference, or for what only the wire
shows (header-name case, escapes, number spellings) a serialization difference."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from examples.journal.divergences import DIVERGENCES
from parity.differ import HttpResponse, Outcome, RulesError, Verdict, load_rules
from parity.differ.equivalences import EQUIVALENCES, PROFILES
from tests.test_differ_journal import EXPECTED, LATER, body, wire
from tests.test_differ_support import compare, kinds, response

JSON = "application/json; charset=utf-8"
Case = tuple[HttpResponse, HttpResponse]


def raw(text: str, **kwargs: Any) -> HttpResponse:
    return response(text.encode("utf-8"), **kwargs)


# One pair of responses per equivalence, differing only in what it accepts.
CASES: dict[str, Case] = {
    "int-float": (raw('{"mood": 4.0, "n": [1.0, 2]}'), raw('{"mood": 4, "n": [1, 2.0]}')),
    "utc-offset": (
        raw('{"at": "2026-01-04T08:15:30.120000+00:00"}'),
        raw('{"at": "2026-03-01T09:00:00.654321Z"}'),
    ),
    "fraction-digits": (
        raw('{"at": "2026-01-04T08:15:30.120000+00:00", "fixed": "2026-01-05T07:00:00+00:00"}'),
        raw(
            '{"at": "2026-01-04T08:15:30.1200000+00:00",'
            ' "fixed": "2026-01-05T08:00:00.0000000+01:00"}'
        ),
    ),
    "null-missing": (
        raw('{"a": 1, "section": null, "items": [{"x": null, "y": 2}]}'),
        raw('{"a": 1, "items": [{"y": 2}]}'),
    ),
    "unicode-escapes": (raw('{"t": "Caf\\u00e9"}'), raw('{"t": "Café"}')),
    "decimal-scale": (raw('{"price": 1.50, "big": 1e2}'), raw('{"price": 1.5, "big": 100.0}')),
    "header-case": (
        response({"a": 1}, headers=[("Cache-Control", "no-store")]),
        response({"a": 1}, headers=[("cache-control", "no-store")]),
    ),
    "json-charset": (
        response({"a": 1}, content_type=JSON),
        response({"a": 1}, content_type="application/json"),
    ),
}


def with_only(*names: str) -> dict[str, Any]:
    return {"equivalences": dict.fromkeys(names, True)}


def test_every_equivalence_has_a_case_and_the_profile_has_them_all() -> None:
    assert set(CASES) == set(EQUIVALENCES)
    assert PROFILES["python-vs-csharp"] == frozenset(EQUIVALENCES)


WIRE_ONLY = {"int-float", "unicode-escapes", "decimal-scale", "header-case"}
"""The equivalences whose cases differ only on the wire: `Verdict.serialization`."""


def reported(verdict: Verdict) -> bool:
    return bool(verdict.differences or verdict.serialization)


@pytest.mark.parametrize("name", sorted(CASES))
def test_without_equivalences_each_case_is_reported(name: str) -> None:
    expected, actual = CASES[name]
    verdict = compare(expected, actual)
    if name in WIRE_ONLY:
        assert verdict.outcome is Outcome.MATCHED and verdict.differences == [], name
        assert verdict.serialization, name
        gated = compare(expected, actual, rules={"serialization": {"gate": True}})
        assert gated.outcome is Outcome.MISMATCHED and gated.serialization == [], name
    else:
        assert verdict.outcome is Outcome.MISMATCHED and verdict.serialization == [], name


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_equivalence_alone_hides_its_case(name: str) -> None:
    expected, actual = CASES[name]
    for gate in (False, True):
        rules = {**with_only(name), "serialization": {"gate": gate}}
        verdict = compare(expected, actual, rules=rules)
        assert verdict.outcome is Outcome.MATCHED, verdict.differences
        assert verdict.serialization == [], verdict.serialization
        assert any(label == f"equivalence:{name}" for label in verdict.rules_applied), (
            verdict.rules_applied
        )


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_other_equivalence_leaves_the_case_reported(name: str) -> None:
    """No equivalence hides another one's case (utc-offset's case keeps its digit count
    difference for fraction-digits, so it is left out of that pair)."""
    expected, actual = CASES[name]
    others = [
        n for n in EQUIVALENCES if n != name and {n, name} != {"fraction-digits", "utc-offset"}
    ]
    verdict = compare(expected, actual, rules=with_only(*others))
    assert reported(verdict), name


def test_the_profile_makes_the_journal_serialization_divergences_equal() -> None:
    serialization = [n for n, d in DIVERGENCES.items() if d.kind == "serialization-only"]
    candidate = response(body(wire(*serialization), LATER), content_type="application/json")
    assert compare(response(EXPECTED), candidate).outcome is Outcome.MISMATCHED
    verdict = compare(
        response(EXPECTED), candidate, rules={"profiles": {"enable": ["python-vs-csharp"]}}
    )
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert verdict.serialization == [], verdict.serialization


def test_an_equivalence_can_be_switched_off_from_a_profile() -> None:
    rules = {"profiles": {"enable": ["python-vs-csharp"]}, "equivalences": {"int-float": False}}
    assert load_rules(rules).equivalences == frozenset(EQUIVALENCES) - {"int-float"}
    verdict = compare(raw('{"mood": 4.0}'), raw('{"mood": 4}'), rules=rules)
    assert verdict.differences == []
    assert [(d.path, d.expected, d.actual) for d in verdict.serialization] == [
        ("$.mood", "4.0", "4")
    ]


def test_equivalences_do_not_hide_real_differences() -> None:
    every = with_only(*EQUIVALENCES)
    cases = [
        (raw('{"n": 4.0}'), raw('{"n": 4.5}'), ("body", "$.n", "changed")),
        (raw('{"a": null}'), raw('{"a": 1}'), ("body", "$.a", "added")),
        (raw('{"t": "Caf\\u00e9"}'), raw('{"t": "Cafe"}'), ("body", "$.t", "changed")),
        # the same float after parsing, but another decimal number
        (raw('{"p": 0.1}'), raw('{"p": 0.10000000000000001}'), ("body", "$.p", "changed")),
        (
            raw('{"at": "2026-01-05T07:00:00+00:00"}'),
            raw('{"at": "2026-01-05T07:00:00+01:00"}'),
            ("body", "$.at", "changed"),
        ),
        (
            response({"a": 1}, content_type=JSON),
            response({"a": 1}, content_type="application/json; charset=iso-8859-1"),
            ("header", "content-type", "changed"),
        ),
    ]
    for expected, actual, found in cases:
        assert kinds(compare(expected, actual, rules=every)) == {found}


def test_a_header_name_in_another_case_is_one_serialization_change_at_the_lower_case_name() -> None:
    expected, actual = CASES["header-case"]
    verdict = compare(expected, actual)
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    (difference,) = verdict.serialization
    assert (difference.where.value, difference.path, difference.kind.value) == (
        "header",
        "cache-control",
        "changed",
    )
    assert (difference.expected, difference.actual) == ("Cache-Control", "cache-control")


def test_header_names_compare_case_insensitively_on_http_1_1() -> None:
    """An HTTP/1.1 port that writes `x-amzn-requestid` for `x-amzn-RequestId`, with the
    values and every other header alike: nothing differs but the wire."""
    headers = [("x-amzn-RequestId", "0b6e0b6e-1111-2222-3333-444455556666"), ("ETag", '"v1"')]
    lower = [(name.lower(), value) for name, value in headers]
    expected = HttpResponse(200, response({"a": 1}, headers=headers).headers, b'{"a": 1}')
    actual = HttpResponse(
        200, response({"a": 1}, headers=lower).headers, b'{"a": 1}', http_version="HTTP/1.1"
    )
    verdict = compare(expected, actual)
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    assert [(d.path, d.expected, d.actual) for d in verdict.serialization] == [
        ("etag", "ETag", "etag"),
        ("x-amzn-requestid", "x-amzn-RequestId", "x-amzn-requestid"),
    ]


def test_header_case_is_not_compared_when_a_side_spoke_http2() -> None:
    expected, actual = CASES["header-case"]
    http2 = HttpResponse(actual.status, actual.headers, actual.body, http_version="HTTP/2.0")
    verdict = compare(expected, http2)
    assert verdict.outcome is Outcome.MATCHED and verdict.serialization == []


def test_timestamps_of_one_instant_in_other_offsets_are_equal_with_fraction_digits() -> None:
    expected = raw('{"at": "2026-01-05T07:00:00+00:00"}')
    actual = raw('{"at": "2026-01-05T09:00:00.0000000+02:00"}')
    assert compare(expected, actual).outcome is Outcome.MISMATCHED
    assert compare(expected, actual, rules=with_only("fraction-digits")).outcome is (
        Outcome.MATCHED
    )


def test_profiles_and_equivalences_load_from_toml() -> None:
    rules = load_rules(
        tomllib.loads(
            """
            [profiles]
            enable = ["python-vs-csharp"]

            [equivalences]
            header-case = false
            """
        )
    )
    assert "header-case" not in rules.equivalences and "int-float" in rules.equivalences


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"profiles": {"enable": ["python-vs-java"]}},
            "rules: [profiles]: unknown profile 'python-vs-java' (known: python-vs-csharp)",
        ),
        (
            {"equivalences": {"int-floats": True}},
            "rules: [equivalences]: unknown equivalence 'int-floats' (known: decimal-scale, "
            "fraction-digits, header-case, int-float, json-charset, null-missing, "
            "unicode-escapes, utc-offset)",
        ),
        (
            {"equivalences": {"int-float": "yes"}},
            "rules: [equivalences]: 'int-float' must be true or false",
        ),
        (
            {"profiles": {"use": ["python-vs-csharp"]}},
            "rules: [profiles]: unknown key 'use' (known: enable)",
        ),
    ],
)
def test_unknown_names_are_one_line_listing_the_known_ones(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(data)
    assert str(caught.value) == message


def test_the_order_of_different_headers_is_not_looked_at() -> None:
    headers = [("Cache-Control", "no-store"), ("Vary", "Accept"), ("X-Frame-Options", "DENY")]
    verdict = compare(
        response({"a": 1}, headers=headers), response({"a": 1}, headers=headers[::-1])
    )
    assert verdict.outcome is Outcome.MATCHED
    assert verdict.differences == [] and verdict.serialization == []


def test_equivalences_are_a_registry_of_named_functions_applied_in_one_place() -> None:
    from parity.differ.equivalences import ALL_OFF, switches
    from parity.differ.placeholders import FRACTION_DIGITS, UTC_OFFSET
    from parity.differ.rules import Rules

    assert switches([]) == ALL_OFF == Rules().switches
    every = switches(EQUIVALENCES)
    assert every.int_float and every.null_missing and every.fraction_digits
    assert every.unicode_escapes and every.decimal_scale
    assert every.header_case and every.json_charset
    assert every.timestamp_style == UTC_OFFSET | FRACTION_DIGITS
    assert switches(["utc-offset"]) == type(ALL_OFF)(timestamp_style=UTC_OFFSET)
    assert load_rules({"profiles": {"enable": ["python-vs-csharp"]}}).switches == every
    with pytest.raises(ValueError) as caught:
        switches(["int-float", "int-floats", "z"])
    assert str(caught.value) == (
        "unknown equivalence 'int-floats', 'z' (known: decimal-scale, fraction-digits, "
        "header-case, int-float, json-charset, null-missing, unicode-escapes, utc-offset)"
    )
    with pytest.raises(ValueError, match="unknown equivalence 'bogus'"):
        Rules(equivalences=frozenset({"bogus"}))
