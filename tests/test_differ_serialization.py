"""Serialization differences that parsed values hide: escapes and number spellings. They
are wire-only: `Verdict.serialization`, outside the outcome, unless `[serialization] gate`
puts them into the differences."""

from __future__ import annotations

import json

import pytest

from parity.differ import DiffKind, Outcome, Verdict
from tests.test_differ_support import compare, kinds, response

GATE = {"serialization": {"gate": True}}


def wire(verdict: Verdict) -> set[tuple[str, str, str]]:
    """{(where, path, kind)} of the serialization differences."""
    return {(d.where.value, d.path, d.kind.value) for d in verdict.serialization}


def test_escaped_versus_raw_unicode_is_one_serialization_change_per_string() -> None:
    data = {"title": "Café morning in Zürich", "plain": "ascii", "tags": ["naïve", "x"], "n": 1}
    escaped = json.dumps(data).encode()
    raw = json.dumps(data, ensure_ascii=False).encode()
    verdict = compare(response(escaped), response(raw))
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    assert verdict.signature is None
    assert wire(verdict) == {("body", "$.title", "changed"), ("body", "$.tags[0]", "changed")}
    title = next(d for d in verdict.serialization if d.path == "$.title")
    assert title.expected == '"Caf\\u00e9 morning in Z\\u00fcrich"'
    assert title.actual == '"Café morning in Zürich"'


def test_with_the_gate_on_serialization_changes_are_differences() -> None:
    expected = json.dumps({"artist": "Björk", "n": 1.50}).encode()
    actual = json.dumps({"artist": "Björk", "n": 1.5}, ensure_ascii=False).encode()
    expected = expected.replace(b"1.5", b"1.50")
    assert compare(response(expected), response(actual)).outcome is Outcome.MATCHED
    verdict = compare(response(expected), response(actual), rules=GATE)
    assert verdict.outcome is Outcome.MISMATCHED and verdict.signature is not None
    assert verdict.serialization == []
    assert kinds(verdict) == {("body", "$.artist", "changed"), ("body", "$.n", "changed")}


def test_other_escapes_of_ascii_characters_are_serialization_changes() -> None:
    python = b'{"url": "a/b", "html": "<b>it\'s</b>", "nl": "a\\nb", "same": "x\\/y"}'
    port = (
        b'{"url": "a\\/b", "html": "\\u003Cb\\u003Eit\\u0027s\\u003C/b\\u003E",'
        b' "nl": "a\\u000ab", "same": "x\\/y"}'
    )
    verdict = compare(response(python), response(port))
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    assert wire(verdict) == {
        ("body", "$.url", "changed"),
        ("body", "$.html", "changed"),
        ("body", "$.nl", "changed"),
    }
    url = next(d for d in verdict.serialization if d.path == "$.url")
    assert (url.expected, url.actual) == ('"a/b"', '"a\\/b"')
    unicode = compare(
        response(python), response(port), rules={"equivalences": {"unicode-escapes": True}}
    )
    assert unicode.outcome is Outcome.MATCHED and unicode.serialization == []
    assert "equivalence:unicode-escapes" in unicode.rules_applied


def test_unicode_escapes_are_found_next_to_other_differences() -> None:
    expected = json.dumps({"title": "Café", "type": "journal"}).encode()
    actual = json.dumps({"title": "Café", "type": "Journal"}, ensure_ascii=False).encode()
    verdict = compare(response(expected), response(actual))
    assert kinds(verdict) == {("body", "$.type", "changed")}
    assert wire(verdict) == {("body", "$.title", "changed")}


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
    (difference,) = verdict.serialization
    assert "\\u00e9" in difference.expected and len(difference.expected) < 300
    assert "é" in difference.actual and len(difference.actual) < 300


@pytest.mark.parametrize(
    ("expected", "actual"),
    [(b"1.5", b"1.50"), (b"100.0", b"1e2"), (b"1e+16", b"1E+16"), (b"0.1", b"1.0e-1")],
)
def test_the_same_number_written_differently_is_a_serialization_change(
    expected: bytes, actual: bytes
) -> None:
    verdict = compare(
        response(b'{"a": "x", "price": ' + expected + b"}"),
        response(b'{"price": ' + actual + b', "a": "x"}'),
    )
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    (difference,) = verdict.serialization
    assert (difference.path, difference.kind) == ("$.price", DiffKind.CHANGED)
    assert (difference.expected, difference.actual) == (expected.decode(), actual.decode())


def test_number_spellings_are_found_next_to_other_differences_in_small_bodies() -> None:
    verdict = compare(
        response(b'{"price": 1.50, "type": "journal"}'),
        response(b'{"price": 1.5, "type": "Journal"}'),
    )
    assert kinds(verdict) == {("body", "$.type", "changed")}
    assert wire(verdict) == {("body", "$.price", "changed")}


def test_integral_float_versus_int_is_a_serialization_change() -> None:
    verdict = compare(response(b'{"mood_score": 4.0}'), response(b'{"mood_score": 4}'))
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    assert [(d.path, d.kind.value, d.expected, d.actual) for d in verdict.serialization] == [
        ("$.mood_score", "changed", "4.0", "4")
    ]
    gated = compare(response(b'{"mood_score": 4.0}'), response(b'{"mood_score": 4}'), rules=GATE)
    assert kinds(gated) == {("body", "$.mood_score", "changed")}
    # Next to other differences too, in an array, and with another value a real change.
    mixed = compare(
        response(b'{"scores": [4.0, 2.5], "type": "journal"}'),
        response(b'{"scores": [4, 3], "type": "Journal"}'),
    )
    assert kinds(mixed) == {("body", "$.scores[1]", "changed"), ("body", "$.type", "changed")}
    assert wire(mixed) == {("body", "$.scores[0]", "changed")}


def test_an_exponent_float_versus_an_int_of_one_value_is_a_serialization_change() -> None:
    verdict = compare(response(b'{"n": 1e2, "m": 1.0E1}'), response(b'{"n": 100, "m": 10}'))
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    # Shown as Python's json module writes the two numbers.
    assert [(d.path, d.expected, d.actual) for d in verdict.serialization] == [
        ("$.n", "100.0", "100"),
        ("$.m", "10.0", "10"),
    ]


def test_numbers_of_another_decimal_value_are_real_changes_even_if_one_float() -> None:
    verdict = compare(response(b'{"p": 0.1}'), response(b'{"p": 0.10000000000000001}'))
    assert kinds(verdict) == {("body", "$.p", "changed")} and verdict.serialization == []


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


def test_large_bodies_still_show_non_ascii_escapes_and_int_float_next_to_changes() -> None:
    items = [{"id": n, "title": f"Café {n}", "score": 4.0, "text": "x" * 200} for n in range(400)]
    expected = json.dumps({"items": items}).encode()
    changed = [{**item, "score": 4} for item in items]
    changed[7]["text"] = "y"
    actual = json.dumps({"items": changed}, ensure_ascii=False).encode()
    assert len(expected) > 64 * 1024
    verdict = compare(response(expected), response(actual))
    assert kinds(verdict) == {("body", "$.items[7].text", "changed")}
    found = wire(verdict)
    assert ("body", "$.items[0].title", "changed") in found
    assert ("body", "$.items[399].score", "changed") in found
    assert len(found) == 800
