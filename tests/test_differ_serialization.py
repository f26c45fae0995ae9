"""Serialization details that parsed values hide: unicode escapes and number literals."""

from __future__ import annotations

import json

import pytest

from differ import DiffKind, Outcome
from tests.test_differ_support import compare, kinds, response


def test_escaped_versus_raw_unicode_is_one_change_per_string() -> None:
    data = {"title": "Café morning in Zürich", "plain": "ascii", "tags": ["naïve", "x"], "n": 1}
    escaped = json.dumps(data).encode()
    raw = json.dumps(data, ensure_ascii=False).encode()
    verdict = compare(response(escaped), response(raw))
    assert kinds(verdict) == {("body", "$.title", "changed"), ("body", "$.tags[0]", "changed")}
    title = next(d for d in verdict.differences if d.path == "$.title")
    assert title.expected == '"Caf\\u00e9 morning in Z\\u00fcrich"'
    assert title.actual == '"Café morning in Zürich"'


def test_unicode_escapes_are_found_next_to_other_differences() -> None:
    expected = json.dumps({"title": "Café", "type": "journal"}).encode()
    actual = json.dumps({"title": "Café", "type": "Journal"}, ensure_ascii=False).encode()
    assert kinds(compare(response(expected), response(actual))) == {
        ("body", "$.type", "changed"),
        ("body", "$.title", "changed"),
    }


def test_escape_case_is_not_a_difference() -> None:
    assert (
        compare(response(b'{"t": "caf\\u00e9"}'), response(b'{"t": "caf\\u00E9"}')).outcome
        is Outcome.MATCHED
    )


def test_a_long_string_shows_an_excerpt_around_the_first_escape() -> None:
    text = "a" * 5000 + "é" + "b" * 5000
    verdict = compare(
        response({"body": text}), response(json.dumps({"body": text}, ensure_ascii=False).encode())
    )
    (difference,) = verdict.differences
    assert "\\u00e9" in difference.expected and len(difference.expected) < 300
    assert "é" in difference.actual


@pytest.mark.parametrize(
    ("expected", "actual"),
    [(b"1.5", b"1.50"), (b"100.0", b"1e2"), (b"1e+16", b"1E+16"), (b"0.1", b"1.0e-1")],
)
def test_the_same_number_written_differently_is_a_change(expected: bytes, actual: bytes) -> None:
    verdict = compare(
        response(b'{"a": "x", "price": ' + expected + b"}"),
        response(b'{"price": ' + actual + b', "a": "x"}'),
    )
    (difference,) = verdict.differences
    assert (difference.path, difference.kind) == ("$.price", DiffKind.CHANGED)
    assert (difference.expected, difference.actual) == (expected.decode(), actual.decode())


def test_integral_float_versus_int_is_a_type_change_not_a_literal() -> None:
    verdict = compare(response(b'{"mood_score": 4.0}'), response(b'{"mood_score": 4}'))
    assert kinds(verdict) == {("body", "$.mood_score", "type_changed")}


def test_numbers_and_strings_that_only_look_alike_are_fine() -> None:
    # A "1.50" inside a string is text, not a number literal.
    same = compare(
        response(b'{"note": "costs 1.50", "v": 1.5}'), response(b'{"v":1.5,"note":"costs 1.50"}')
    )
    assert same.outcome is Outcome.MATCHED
    escaped_quote = compare(
        response(b'{"q": "say \\"1.50\\"", "v": 2.0}'),
        response(b'{"v": 2.0, "q": "say \\"1.50\\""}'),
    )
    assert escaped_quote.outcome is Outcome.MATCHED


def test_ignored_paths_are_not_checked_for_literals() -> None:
    rules = {"ignore": [{"paths": ["$.price"]}]}
    assert (
        compare(response(b'{"price": 1.5}'), response(b'{"price": 1.50}'), rules=rules).outcome
        is Outcome.MATCHED
    )


def test_duplicate_keys_do_not_confuse_the_check() -> None:
    verdict = compare(response(b'{"a": 1.5, "a": 2.5}'), response(b'{"a": 2.50}'))
    assert verdict.outcome is Outcome.MATCHED  # same parsed value; literals cannot be lined up
    assert "serialization:unchecked" in verdict.rules_applied
