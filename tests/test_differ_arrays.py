"""Order, sets and numbers: `[[array]]` and `[[number]]` rules, and arrays the baseline
itself does not keep in order compared as multisets automatically."""

from __future__ import annotations

import tomllib

import pytest

from parity.differ import Outcome, RulesError, load_rules
from tests.test_differ_support import compare, kinds, response


def items(*ids: int, **changed: str) -> dict[str, object]:
    return {"items": [{"id": n, "name": changed.get(f"n{n}", f"item {n}")} for n in ids]}


def test_a_change_of_order_alone_is_one_order_changed() -> None:
    verdict = compare(response(items(1, 2, 3, 4)), response(items(4, 3, 2, 1)))
    assert kinds(verdict) == {("body", "$.items", "order_changed")}
    assert len(verdict.differences) == 1
    assert (verdict.differences[0].expected, verdict.differences[0].actual) == (
        [1, 2, 3, 4],
        [4, 3, 2, 1],
    )


def test_unordered_arrays_ignore_order_but_not_content() -> None:
    rules = {"array": [{"path": "$.tags", "unordered": True}]}
    verdict = compare(
        response({"tags": ["a", "b", "c"]}), response({"tags": ["c", "a", "b"]}), rules=rules
    )
    assert verdict.outcome is Outcome.MATCHED and "array:#1" in verdict.rules_applied
    extra = compare(
        response({"tags": ["a", "b", "b"]}), response({"tags": ["b", "x", "a"]}), rules=rules
    )
    assert kinds(extra) == {("body", "$.tags[2]", "removed"), ("body", "$.tags[1]", "added")}


def test_unordered_records_with_an_identity_are_matched_by_it() -> None:
    rules = {"array": [{"name": "results", "paths": ["$..items"], "unordered": True}]}
    verdict = compare(
        response({"page": items(1, 2, 3)}),
        response({"page": items(3, 1, 2, n2="renamed")}),
        rules=rules,
    )
    assert kinds(verdict) == {("body", "$.page.items[1].name", "changed")}
    assert "array:results" in verdict.rules_applied


def test_sort_by_compares_in_key_order_and_reports_original_indices() -> None:
    rules = {"array": [{"path": "$.items", "sort_by": "name"}]}
    expected = response({"items": [{"name": "b", "v": 1}, {"name": "a", "v": 1}]})
    assert (
        compare(
            expected,
            response({"items": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]}),
            rules=rules,
        ).outcome
        is Outcome.MATCHED
    )
    verdict = compare(
        expected, response({"items": [{"name": "a", "v": 2}, {"name": "b", "v": 1}]}), rules=rules
    )
    assert kinds(verdict) == {("body", "$.items[1].v", "changed")}


def test_array_rules_follow_route_globs() -> None:
    rules = {"array": [{"route": "GET /other/*", "path": "$.items", "unordered": True}]}
    verdict = compare(response(items(1, 2)), response(items(2, 1)), rules=rules)
    assert kinds(verdict) == {("body", "$.items", "order_changed")}


def test_number_tolerance_absolute_and_relative() -> None:
    absolute = {"number": [{"path": "$..price", "tolerance": 0.01}]}
    near = compare(
        response({"a": {"price": 10.0}}), response({"a": {"price": 10.004}}), rules=absolute
    )
    assert near.outcome is Outcome.MATCHED and "number:#1" in near.rules_applied
    assert kinds(
        compare(response({"a": {"price": 10.0}}), response({"a": {"price": 10.02}}), rules=absolute)
    ) == {("body", "$.a.price", "changed")}
    # int vs float under a tolerance is a number like any other
    assert compare(response({"price": 3}), response({"price": 3.001}), rules=absolute).outcome is (
        Outcome.MATCHED
    )
    relative = {"number": [{"path": "$.total", "relative": 0.001}]}
    assert compare(
        response({"total": 100000}), response({"total": 100050}), rules=relative
    ).outcome is (Outcome.MATCHED)
    assert kinds(compare(response({"total": 10}), response({"total": 10.5}), rules=relative)) == {
        ("body", "$.total", "changed")
    }
    # elsewhere, strict
    assert kinds(compare(response({"other": 1.0}), response({"other": 1.001}), rules=absolute)) == {
        ("body", "$.other", "changed")
    }


def test_the_baselines_own_reordering_makes_an_array_a_multiset() -> None:
    expected = response({"tags": ["a", "b", "c"], "v": 1})
    baseline = response({"tags": ["c", "a", "b"], "v": 1})
    actual = response({"tags": ["b", "c", "a", "d"], "v": 1})
    verdict = compare(expected, actual, baseline)
    # compared as a multiset: only the extra item, not a pile of shifted changes
    assert kinds(verdict) == {("body", "$.tags[3]", "added")}
    assert "unordered:auto" in verdict.rules_applied
    reordered_only = compare(expected, response({"tags": ["b", "a", "c"], "v": 1}), baseline)
    assert reordered_only.outcome is Outcome.MATCHED and not reordered_only.noise


def test_an_ordered_baseline_keeps_order_significant() -> None:
    expected = response(items(1, 2, 3))
    verdict = compare(expected, response(items(3, 2, 1)), response(items(1, 2, 3)))
    assert kinds(verdict) == {("body", "$.items", "order_changed")}
    assert "unordered:auto" not in verdict.rules_applied


def test_array_and_number_rules_load_from_toml() -> None:
    rules = load_rules(
        tomllib.loads(
            """
            [[array]]
            path = "$.items"
            route = "GET /api/*"
            unordered = true

            [[array]]
            name = "by-id"
            paths = ["$.results"]
            sort_by = "id"

            [[number]]
            path = "$..price"
            tolerance = 0.01
            relative = 0.001
            """
        )
    )
    assert [a.sort_by for a in rules.arrays] == [None, "id"]
    assert rules.arrays[1].label == "array:by-id"
    assert (rules.numbers[0].tolerance, rules.numbers[0].relative) == (0.01, 0.001)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"array": [{"path": "$.a"}]},
            "rules: [[array]] #1: needs either 'unordered = true' or 'sort_by = \"key\"'",
        ),
        (
            {"array": [{"path": "$.a", "unordered": True, "sort_by": "id"}]},
            "rules: [[array]] #1: needs either 'unordered = true' or 'sort_by = \"key\"'",
        ),
        ({"array": [{"unordered": True}]}, "rules: [[array]] #1: needs 'path' or 'paths'"),
        (
            {"array": [{"path": "$.a", "unordered": 1}]},
            "rules: [[array]] #1: 'unordered' must be true or false",
        ),
        (
            {"number": [{"path": "$.a"}]},
            "rules: [[number]] #1: needs 'tolerance' or 'relative' (> 0)",
        ),
        (
            {"number": [{"path": "$.a", "tolerance": -1}]},
            "rules: [[number]] #1: 'tolerance' must be a number >= 0",
        ),
        (
            {"number": [{"path": "a", "tolerance": 1}]},
            "rules: [[number]] #1: path 'a' must start with '$'",
        ),
    ],
)
def test_malformed_array_and_number_rules(data: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(data)
    assert str(caught.value) == message


def test_a_multiset_pairs_items_that_differ_only_in_number_spelling() -> None:
    rules = {"array": [{"path": "$.scores", "unordered": True}]}
    verdict = compare(
        response(b'{"scores": [{"v": 4.0}, {"v": 2.5}, {"v": 1.0}]}'),
        response(b'{"scores": [{"v": 2.5}, {"v": 1}, {"v": 4}, {"v": 7}]}'),
        rules=rules,
    )
    assert kinds(verdict) == {("body", "$.scores[3]", "added")}
    assert [(d.path, d.expected, d.actual) for d in verdict.serialization] == [
        ("$.scores[0].v", "4.0", "4"),
        ("$.scores[2].v", "1.0", "1"),
    ]


def test_items_sharing_an_identity_value_pair_by_likeness_not_position() -> None:
    """A listing with a snapshot under its blob's name: the new version lists the snapshot
    first and drops its metadata. One order change and one removal, not every field of
    both items swapped."""
    base = {"Name": "b.txt", "Properties": {"Length": 16, "Type": "text/plain"}}
    snap = {
        "Name": "b.txt",
        "Snapshot": "2026-12-06T02:41:50Z",
        "Properties": {"Length": 18, "Type": "text/markdown"},
        "Metadata": {"snap": "one"},
    }
    other = {"Name": "a.txt", "Properties": {"Length": 3, "Type": "text/plain"}}
    plain_snap = {k: v for k, v in snap.items() if k != "Metadata"}
    verdict = compare(
        response({"Blobs": [other, base, snap]}), response({"Blobs": [other, plain_snap, base]})
    )
    assert kinds(verdict) == {
        ("body", "$.Blobs", "order_changed"),
        ("body", "$.Blobs[2].Metadata", "removed"),
    }


def test_a_name_most_items_share_is_no_identity() -> None:
    same = [{"name": "x", "n": n} for n in range(4)]
    verdict = compare(
        response({"rows": same}), response({"rows": [*same[:3], {"name": "x", "n": 9}]})
    )
    assert kinds(verdict) == {("body", "$.rows[3].n", "changed")}
