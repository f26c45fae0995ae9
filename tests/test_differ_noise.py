"""Noise from the baseline, and signatures."""

from __future__ import annotations

from parity.differ import Difference, DiffKind, Outcome, Where, signature_of
from tests.test_differ_support import compare, kinds, response


def test_differences_the_baseline_shows_too_are_noise() -> None:
    expected = response({"took_ms": 0.07, "items": [{"score": 1}, {"score": 2}], "type": "journal"})
    actual = response({"took_ms": 0.05, "items": [{"score": 9}, {"score": 8}], "type": "Journal"})
    baseline = response({"took_ms": 0.09, "items": [{"score": 1}, {"score": 3}], "type": "journal"})
    verdict = compare(expected, actual, baseline)
    assert kinds(verdict) == {("body", "$.type", "changed")}
    # The baseline differed at $.items[1].score: the same spot in every item is noise.
    assert {d.path for d in verdict.noise} == {"$.took_ms", "$.items[0].score", "$.items[1].score"}
    assert verdict.outcome is Outcome.MISMATCHED


def test_all_noise_is_a_match() -> None:
    verdict = compare(
        response({"took_ms": 0.07}), response({"took_ms": 0.05}), response({"took_ms": 0.09})
    )
    assert verdict.outcome is Outcome.MATCHED and verdict.signature is None
    assert len(verdict.noise) == 1


def test_a_status_difference_is_noise_only_if_the_baseline_status_differed() -> None:
    verdict = compare(
        response({"m": "No entry 1"}, status=404),
        response({"m": "No entry 2"}, status=400),
        response({"m": "No entry 3"}, status=404),
    )
    # Both are errors: what remains after noise is one error_changed (error parity).
    assert kinds(verdict) == {("status", "", "error_changed")}
    assert verdict.differences[0].expected["details"] == [
        {"where": "status", "path": "", "kind": "changed", "value": 404}
    ]
    assert [d.path for d in verdict.noise] == ["$.m"]
    flaky = compare(response({}, status=200), response({}, status=503), response({}, status=502))
    assert flaky.outcome is Outcome.MATCHED and flaky.noise[0].where is Where.STATUS


def test_serialization_differences_are_not_noise_observations() -> None:
    """A baseline that writes the recording's values with other escapes, numbers and
    header-name case observes nothing (wire-only); the candidate's own serialization
    differences stay serialization differences, and its real ones are still checked
    against the noise the baseline does show."""
    recorded = b'{"title": "Caf\\u00e9", "score": 4.0, "took_ms": 0.07, "type": "journal"}'
    baseline = b'{"title": "Caf\xc3\xa9", "score": 4, "took_ms": 0.09, "type": "journal"}'
    candidate = b'{"title": "Caf\xc3\xa9", "score": 4, "took_ms": 0.05, "type": "Journal"}'
    verdict = compare(
        response(recorded, headers=[("Cache-Control", "no-store")]),
        response(candidate, headers=[("cache-control", "no-store")]),
        response(baseline, headers=[("cache-control", "no-store")]),
    )
    assert [(d.where.value, d.path, d.kind.value) for d in verdict.baseline_differences] == [
        ("body", "$.took_ms", "changed")
    ]
    assert kinds(verdict) == {("body", "$.type", "changed")}
    assert [d.path for d in verdict.noise] == ["$.took_ms"]
    assert {(d.where.value, d.path) for d in verdict.serialization} == {
        ("header", "cache-control"),
        ("body", "$.title"),
        ("body", "$.score"),
    }
    gated = compare(
        response(recorded),
        response(candidate),
        response(baseline),
        rules={"serialization": {"gate": True}},
    )
    assert kinds(gated) == {
        ("body", "$.type", "changed"),
        ("body", "$.title", "changed"),
        ("body", "$.score", "changed"),
    }
    assert [d.path for d in gated.baseline_differences] == ["$.took_ms"]


def test_without_a_baseline_nothing_is_noise() -> None:
    verdict = compare(response({"took_ms": 0.07}), response({"took_ms": 0.05}), None)
    assert verdict.noise == [] and verdict.outcome is Outcome.MISMATCHED


def test_the_baseline_value_map_is_used_for_the_baseline() -> None:
    verdict = compare(
        response({"id": 1042, "v": 1}),
        response({"id": 87, "v": 2}),
        response({"id": 555, "v": 1}),
        actual_values={87: 1042},
        baseline_values={555: 1042},
    )
    assert kinds(verdict) == {("body", "$.v", "changed")} and verdict.noise == []


def _d(
    path: str,
    kind: DiffKind = DiffKind.CHANGED,
    where: Where = Where.BODY,
    e: object = 1,
    a: object = 2,
) -> Difference:
    return Difference(where, path, kind, e, a)


def test_signatures_ignore_values_and_indices() -> None:
    route = "GET /api/vaults/{id}/entries"
    one = signature_of(route, [_d("$.items[0].type", e="journal", a="Journal")])
    many = signature_of(route, [_d(f"$.items[{n}].type", e="note", a="Note") for n in range(30)])
    assert one == many and len(one) == 12 and int(one, 16) >= 0
    assert signature_of(route, [_d("$.a"), _d("$.b")]) == signature_of(
        route, [_d("$.b"), _d("$.a")]
    )


def test_signatures_differ_by_kind_path_where_and_route() -> None:
    route = "GET /x"
    base = signature_of(route, [_d("$.a")])
    assert base != signature_of(route, [_d("$.a", DiffKind.TYPE_CHANGED)])
    assert base != signature_of(route, [_d("$.b")])
    assert base != signature_of(route, [_d("$.a", where=Where.HEADER)])
    assert base != signature_of("GET /y", [_d("$.a")])
    assert base != signature_of(route, [_d("$.a"), _d("$.b")])


def test_instance_like_keys_are_templated_in_signatures() -> None:
    route = "GET /x"
    assert signature_of(
        route, [_d('$.by_id["0b6e0b6e-1111-2222-3333-444455556666"].name')]
    ) == signature_of(route, [_d('$.by_id["11111111-2222-3333-4444-555555555555"].name')])


def test_the_verdict_signature_is_stable_across_values() -> None:
    first = compare(response({"items": [{"t": "a"}] * 3}), response({"items": [{"t": "b"}] * 3}))
    second = compare(response({"items": [{"t": "x"}]}), response({"items": [{"t": "y"}]}))
    assert first.signature == second.signature
