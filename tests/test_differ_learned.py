"""Learned noise (suspects, settle with Diffy's rule) and several baselines in one compare."""

from __future__ import annotations

from parity.differ import (
    Differ,
    Difference,
    DiffKind,
    LearnedNoise,
    NoisePolicy,
    NoiseStats,
    Outcome,
    Verdict,
    Where,
    noise_key,
)
from tests.test_differ_support import REQUEST, compare, kinds, response

ROUTE = "GET /api/vaults/{id}/entries/{id}"


def learned(rates: dict[str, tuple[int, int]], observations: int = 20) -> LearnedNoise:
    """Noise at body paths: path -> (disagreements, observations)."""
    return LearnedNoise(
        stats={(ROUTE, "body", p): NoiseStats(o, d) for p, (d, o) in rates.items()},
        route_observations={ROUTE: observations},
        policy=NoisePolicy(),
    )


def test_noise_keys_use_the_signature_templating() -> None:
    d = Difference(Where.BODY, "$.items[3].took_ms", DiffKind.CHANGED, 1, 2)
    assert noise_key("GET /x", d) == ("GET /x", "body", "$.items[*].took_ms")
    status = Difference(Where.STATUS, "", DiffKind.CHANGED, 200, 500)
    assert noise_key("GET /x", status) == ("GET /x", "status", "")


def test_rates_need_enough_observations() -> None:
    table = learned({"$.took_ms": (5, 10)}, observations=10)
    assert table.rate((ROUTE, "body", "$.took_ms")) == 0.5
    assert table.rate((ROUTE, "body", "$.other")) == 0.0
    assert table.rate(("GET /unseen", "body", "$.took_ms")) is None
    few = LearnedNoise({}, {ROUTE: 1}, NoisePolicy(min_observations=2))
    assert few.rate((ROUTE, "body", "$.a")) is None
    assert NoisePolicy().is_real(0.9, 0.3) and not NoisePolicy().is_real(0.5, 0.3)
    assert NoisePolicy().is_real(0.15, 0.0)  # 0.15 > 2 x 0 and 0.15 - 0 > 0.1


def test_differences_at_learned_noise_wait_as_suspects_and_settle_decides() -> None:
    differ = Differ(learned=learned({"$.took_ms": (10, 20), "$.rare": (1, 20)}))
    verdicts = [
        differ.compare(
            REQUEST,
            response({"took_ms": 1, "rare": 1, "type": "journal"}),
            response(
                {
                    "took_ms": 2,
                    "rare": 2 if n < 9 else 1,
                    "type": "Journal" if n == 0 else "journal",
                }
            ),
        )
        for n in range(10)
    ]
    first = verdicts[0]
    assert kinds(first) == {("body", "$.type", "changed")}
    assert {d.path for d in first.suspects} == {"$.took_ms", "$.rare"}
    assert verdicts[1].outcome is Outcome.MATCHED and verdicts[1].suspects  # provisional
    differ.settle([v for v in verdicts if v.suspects], {ROUTE: 10})
    # took_ms: candidate 100 % vs noise 50 %: not 2x -> noise. rare: 90 % vs 5 %: real.
    assert all(not v.suspects for v in verdicts)
    assert {d.path for d in first.noise} == {"$.took_ms"}
    assert kinds(first) == {("body", "$.type", "changed"), ("body", "$.rare", "changed")}
    assert verdicts[1].outcome is Outcome.MISMATCHED and verdicts[1].signature
    assert verdicts[9].outcome is Outcome.MATCHED and verdicts[9].signature is None
    assert "noise:learned" in verdicts[9].rules_applied


def test_a_rare_candidate_difference_at_a_noisy_spot_is_noise() -> None:
    differ = Differ(learned=learned({"$.took_ms": (2, 20)}))
    verdicts = [
        differ.compare(REQUEST, response({"took_ms": 1}), response({"took_ms": 1 + (n == 0)}))
        for n in range(10)
    ]
    differ.settle(verdicts, {ROUTE: 10})  # 10 % vs 10 %: noise
    assert all(v.outcome is Outcome.MATCHED for v in verdicts)


def test_settled_suspects_of_two_errors_become_one_error_changed() -> None:
    differ = Differ(learned=learned({"$.error": (1, 20)}))
    verdict = differ.compare(
        REQUEST, response({"error": "a"}, status=404), response({"error": "b"}, status=404)
    )
    assert verdict.outcome is Outcome.MATCHED and verdict.error_sides is not None
    differ.settle([verdict], {ROUTE: 1})
    (difference,) = verdict.differences
    assert difference.kind is DiffKind.ERROR_CHANGED
    assert difference.expected["details"][0]["path"] == "$.error"
    assert (difference.expected["message"], difference.actual["message"]) == ("a", "b")


def test_settle_without_suspects_changes_nothing() -> None:
    differ = Differ()
    verdict = differ.compare(REQUEST, response({"a": 1}), response({"a": 2}))
    before = (verdict.outcome, list(verdict.differences), verdict.signature)
    differ.settle([verdict], {ROUTE: 1})
    assert (verdict.outcome, verdict.differences, verdict.signature) == before
    assert verdict.suspects == [] and verdict.baseline_differences == []


def test_two_baselines_disagreeing_with_each_other_are_noise() -> None:
    expected = response({"took_ms": 5, "v": 1})
    # The first baseline equals the recording by chance; the second one does not.
    verdict = compare(
        expected,
        response({"took_ms": 7, "v": 2}),
        baselines=[response({"took_ms": 5, "v": 1}), response({"took_ms": 9, "v": 1})],
    )
    assert kinds(verdict) == {("body", "$.v", "changed")}
    assert [d.path for d in verdict.noise] == ["$.took_ms"]
    assert [(d.path, d.kind.value) for d in verdict.baseline_differences] == [
        ("$.took_ms", "changed")
    ]


def test_baseline_differences_are_deduplicated_and_kept_on_errors() -> None:
    verdict = compare(
        response({"items": [{"t": 1}, {"t": 2}]}),
        None,
        baselines=[response({"items": [{"t": 3}, {"t": 4}]}), None],
        baselines_values=[None, None],
        error="connection refused",
    )
    assert verdict.outcome is Outcome.ERROR
    assert [d.path for d in verdict.baseline_differences] == ["$.items[0].t"]


def test_the_single_baseline_arguments_are_a_one_element_list() -> None:
    expected, actual = response({"id": 1042, "v": 1}), response({"id": 87, "v": 1})
    one = compare(
        expected,
        actual,
        response({"id": 555, "v": 1}),
        actual_values={87: 1042},
        baseline_values={555: 1042},
    )
    many = compare(
        expected,
        actual,
        actual_values={87: 1042},
        baselines=[response({"id": 555, "v": 1})],
        baselines_values=[{555: 1042}],
    )
    assert one.outcome is many.outcome is Outcome.MATCHED
    assert one.baseline_differences == many.baseline_differences == []


def test_verdict_defaults() -> None:
    verdict = Verdict(Outcome.MATCHED, "GET /")
    assert verdict.suspects == [] and verdict.baseline_differences == []
    assert verdict.error_sides is None


def test_arrays_the_reference_reorders_stay_multisets_without_a_baseline() -> None:
    table = learned({"$.tags": (6, 20)})
    differ = Differ(learned=table)
    verdict = differ.compare(
        REQUEST, response({"tags": ["a", "b", "c", "d"]}), response({"tags": ["d", "b", "a"]})
    )
    # one removed item, not a pile of index-shifted changes, and no order_changed
    assert kinds(verdict) == {("body", "$.tags[2]", "removed")} and not verdict.suspects
    assert "unordered:learned" in verdict.rules_applied
    # with the kinds known, only spots where the order changed count
    timing = LearnedNoise(
        table.stats,
        table.route_observations,
        table.policy,
        kinds={(ROUTE, "body", "$.tags"): frozenset({"changed"})},
    )
    shifted = Differ(learned=timing).compare(
        REQUEST, response({"tags": ["a", "b"]}), response({"tags": ["b", "a"]})
    )
    assert [d.kind for d in shifted.suspects] == [DiffKind.ORDER_CHANGED]
