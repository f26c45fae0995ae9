"""The journal's serialization divergences, produced by its own Wire (no servers): each
one found alone, nothing found when fixed, and nothing from times that merely moved. The
two that only the wire shows (`integral-float`, `unicode-unescaped`) are serialization
differences (`Verdict.serialization`), or differences with `[serialization] gate`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from examples.journal.divergences import DIVERGENCES, Profile
from examples.journal.wire import Wire
from parity.differ import Outcome
from tests.test_differ_support import compare, response

SERIALIZATION = (
    "utc-z-suffix",
    "seven-fraction-digits",
    "integral-float",
    "null-omitted",
    "unicode-unescaped",
)


def entry(moment: datetime) -> dict[str, object]:
    return {
        "id": 1,
        "title": "Café morning in Zürich",
        "section": None,
        "type": "journal",
        "checkbox": None,
        "mood_score": 4.0,
        "created_at": datetime(2026, 1, 5, 7, 0, tzinfo=UTC),
        "updated_at": moment,
    }


def wire(*diverging: str) -> Wire:
    fixes = set(DIVERGENCES) - set(diverging)
    return Wire(Profile.build("candidate", fixes))


def body(w: Wire, moment: datetime) -> bytes:
    return w.dumps(entry(moment))


EXPECTED = body(
    Wire(Profile.build("baseline")), datetime(2026, 1, 4, 8, 15, 30, 120000, tzinfo=UTC)
)
LATER = datetime(2026, 3, 1, 9, 0, 1, 5, tzinfo=UTC)


def test_a_fixed_candidate_matches_although_times_moved() -> None:
    assert compare(response(EXPECTED), response(body(wire(), LATER))).outcome is Outcome.MATCHED


WIRE_ONLY = {"integral-float", "unicode-unescaped"}
GATE = {"serialization": {"gate": True}}


@pytest.mark.parametrize(
    ("name", "path", "kind"),
    [
        ("utc-z-suffix", "$.updated_at", "changed"),
        ("seven-fraction-digits", "$.updated_at", "changed"),
        ("integral-float", "$.mood_score", "changed"),
        ("null-omitted", "$.section", "removed"),
        ("unicode-unescaped", "$.title", "changed"),
    ],
)
def test_each_serialization_divergence_alone(name: str, path: str, kind: str) -> None:
    verdict = compare(response(EXPECTED), response(body(wire(name), LATER)))
    where = verdict.serialization if name in WIRE_ONLY else verdict.differences
    assert (path, kind) in {(d.path, d.kind.value) for d in where}, verdict
    if name in WIRE_ONLY:
        assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
        gated = compare(response(EXPECTED), response(body(wire(name), LATER)), rules=GATE)
        assert gated.outcome is Outcome.MISMATCHED and gated.serialization == []
        assert (path, kind) in {(d.path, d.kind.value) for d in gated.differences}


def test_all_serialization_divergences_together_are_all_found() -> None:
    verdict = compare(response(EXPECTED), response(body(wire(*SERIALIZATION), LATER)))
    found = {(d.path, d.kind.value, str(d.expected), str(d.actual)) for d in verdict.differences}
    assert ("$.created_at", "changed", "<timestamp:0f+00:00>", "<timestamp:7fZ>") in found
    assert ("$.updated_at", "changed", "<timestamp:6f+00:00>", "<timestamp:7fZ>") in found
    assert ("$.section", "removed", "None", "None") in found
    assert ("$.checkbox", "removed", "None", "None") in found
    assert len(found) == 4
    on_the_wire = {
        (d.path, d.kind.value, str(d.expected), str(d.actual)) for d in verdict.serialization
    }
    assert on_the_wire == {
        ("$.mood_score", "changed", "4.0", "4"),
        (
            "$.title",
            "changed",
            '"Caf\\u00e9 morning in Z\\u00fcrich"',
            '"Café morning in Zürich"',
        ),
    }
    gated = compare(response(EXPECTED), response(body(wire(*SERIALIZATION), LATER)), rules=GATE)
    assert {
        (d.path, d.kind.value, str(d.expected), str(d.actual)) for d in gated.differences
    } == found | on_the_wire
