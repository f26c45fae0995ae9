"""Fuzzing the differ: random JSON pairs, content types, encodings and charsets.
`Differ().compare` never raises, equal inputs are MATCHED, and a changed byte inside a
JSON string value is a difference."""

from __future__ import annotations

import json

from hypothesis import assume
from hypothesis import strategies as st

from parity.differ import Differ, HttpRequest, HttpResponse, Outcome, Verdict
from tests.fuzz.harness import given_target, memory_cap
from tests.fuzz.strategies import NON_TEXT_CHARSETS, TEXT_CHARSETS, bodies, json_values

_DIFFER = Differ()
_REQUEST = HttpRequest("GET", "/api/entries/1")
_JSON = [(b"Content-Type", b"application/json")]


def compare(
    expected: tuple[list[tuple[bytes, bytes]], bytes],
    actual: tuple[list[tuple[bytes, bytes]], bytes],
    status: tuple[int, int] = (200, 200),
) -> Verdict:
    with memory_cap():
        verdict = _DIFFER.compare(
            _REQUEST,
            HttpResponse(status[0], *expected),
            HttpResponse(status[1], *actual),
        )
        for difference in verdict.differences:
            difference.to_json()
    assert verdict.outcome in (Outcome.MATCHED, Outcome.MISMATCHED)
    return verdict


_statuses = st.tuples(st.sampled_from((200, 201, 204, 400, 404, 500)), st.sampled_from((200, 404)))


@given_target(json_values(), json_values(), _statuses)
def test_compare_json_pairs_never_raises(a: object, b: object, status: tuple[int, int]) -> None:
    verdict = compare((_JSON, json.dumps(a).encode()), (_JSON, json.dumps(b).encode()), status)
    if a == b and json.dumps(a) == json.dumps(b) and status[0] == status[1]:
        assert verdict.outcome is Outcome.MATCHED, verdict.differences


@given_target(bodies(TEXT_CHARSETS), bodies(TEXT_CHARSETS))
def test_compare_hostile_bodies_never_raises(
    expected: tuple[list[tuple[bytes, bytes]], bytes],
    actual: tuple[list[tuple[bytes, bytes]], bytes],
) -> None:
    compare(expected, actual)


@given_target(bodies(TEXT_CHARSETS + NON_TEXT_CHARSETS), bodies(TEXT_CHARSETS + NON_TEXT_CHARSETS))
def test_compare_any_charset_never_raises(
    expected: tuple[list[tuple[bytes, bytes]], bytes],
    actual: tuple[list[tuple[bytes, bytes]], bytes],
) -> None:
    compare(expected, actual)


@given_target(bodies(TEXT_CHARSETS))
def test_equal_inputs_are_matched(case: tuple[list[tuple[bytes, bytes]], bytes]) -> None:
    verdict = compare(case, case)
    assert verdict.outcome is Outcome.MATCHED, verdict.differences


# A JSON string value's bytes: no quote, backslash or control character, so changing one
# of them keeps the document JSON.
_PLAIN = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\')


def _document(key: str, before: bytes, value: bytes) -> bytes:
    return b'{"id": 7, "' + key.encode() + b'": "' + value + b'", "tail": [1, 2]}' + before


@given_target(st.text(_PLAIN, min_size=1, max_size=40), st.data())
def test_changed_character_in_a_string_is_a_difference(text: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(text) - 1), label="at")
    other = data.draw(_PLAIN.filter(lambda c: c != text[at]), label="other")
    changed = text[:at] + other + text[at + 1 :]
    verdict = compare(
        (_JSON, _document("title", b"", text.encode())),
        (_JSON, _document("title", b"", changed.encode())),
    )
    assert verdict.outcome is Outcome.MISMATCHED


_BYTE = st.integers(0x20, 0xFF).filter(lambda b: b not in (0x22, 0x5C, 0x7F))


@given_target(st.lists(_BYTE, min_size=1, max_size=40), st.data())
def test_changed_byte_in_a_string_is_a_difference(raw: list[int], data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(raw) - 1), label="at")
    other = data.draw(_BYTE.filter(lambda b: b != raw[at]), label="other")
    value = bytes(raw)
    changed = value[:at] + bytes([other]) + value[at + 1 :]
    assume(value != changed)
    verdict = compare(
        (_JSON, _document("title", b"", value)), (_JSON, _document("title", b"", changed))
    )
    assert verdict.outcome is Outcome.MISMATCHED
