"""The accuracy harness's scoring (accuracy/score.py): pure logic on hand-written
findings in the shape of FINDINGS_SPEC, no servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accuracy import score
from accuracy.score import Entry, Truth


def finding(
    fid: str,
    where: str,
    path: str,
    kind: str = "changed",
    route: str | None = "GET /v1/things",
    routes: list[str] | None = None,
    category: str = "difference",
) -> dict[str, Any]:
    return {
        "id": fid,
        "scope": "route" if route else "cross-route",
        "route": route,
        "routes": routes if routes is not None else [route],
        "where": where,
        "path": path,
        "kind": kind,
        "transition": "text",
        "category": category,
        "count": 1,
        "verdict": None,
        "example": {"id": "m1", "difference": "", "sentence": ""},
    }


TRUTH = Truth(
    pair="demo",
    differences=(
        Entry("title-renamed", "the title field is now name", "body", "$.data[*].name", ("added",)),
        Entry("cors", "CORS header added", "header", "access-control-allow-origin", ("added",)),
        Entry("status", "500 becomes 400", "status", route="POST /v1/things"),
    ),
    noise=(Entry("stamps", "timestamps", "body", "*last_modified"),),
)


def test_glob_treats_brackets_literally_and_star_as_any_run() -> None:
    assert score.glob_match("$.data[*].name", "$.data[*].name")
    assert not score.glob_match("$.data[*].name", "$.data.name")
    assert score.glob_match("*last_modified", "$.data[*].last_modified")
    assert score.glob_match("GET /v1/*", "GET /v1/buckets/{id}")
    assert score.glob_match("a?c", "abc") and not score.glob_match("a?c", "abbc")


def test_every_given_field_must_agree() -> None:
    entry = TRUTH.differences[0]
    assert score.matches(entry, finding("F1", "body", "$.data[*].name", "added"))
    assert not score.matches(entry, finding("F1", "body", "$.data[*].name", "removed"))
    assert not score.matches(entry, finding("F1", "header", "$.data[*].name", "added"))
    kinds = Entry("k", "either kind", kind=("added", "removed"))
    assert score.matches(kinds, finding("F1", "body", "$.x", "removed"))
    category = Entry("c", "wire only", category="serialization")
    assert not score.matches(category, finding("F1", "body", "$.x"))
    assert score.matches(category, finding("F1", "body", "$.x", category="serialization"))


def test_a_cross_route_finding_matches_when_any_of_its_routes_does() -> None:
    entry = Entry("r", "only on posts", "header", "x-thing", route="POST /v1/*")
    across = finding("F1", "header", "x-thing", route=None, routes=["GET /v1/a", "POST /v1/b"])
    elsewhere = finding("F2", "header", "x-thing", route=None, routes=["GET /v1/a", "GET /v1/b"])
    assert score.matches(entry, across)
    assert not score.matches(entry, elsewhere)


def test_recall_noise_share_and_findings_per_root_cause() -> None:
    findings = [
        finding("F1", "body", "$.data[*].name", "added"),
        finding("F2", "body", "$.data[*].name", "added", route="GET /v1/things/{id}"),
        finding("F3", "header", "access-control-allow-origin", "added", route=None,
                routes=["GET /v1/things", "POST /v1/things", "GET /v1/other"]),
        finding("F4", "body", "$.data.last_modified"),  # known noise
        finding("F5", "body", "$.data.color"),  # explained by nothing
    ]  # fmt: skip
    result = score.score(findings, TRUTH)
    assert result.findings == 5
    assert result.recall == pytest.approx(2 / 3)
    assert [e.id for e in result.missed] == ["status"]
    assert result.noise_share == pytest.approx(2 / 5)
    assert result.per_root_cause == pytest.approx(3 / 2)
    assert [f["id"] for f in result.unexplained] == ["F5"]
    assert [f["id"] for f in result.noise] == ["F4", "F5"]
    assert result.matched == {"title-renamed": ["F1", "F2"], "cors": ["F3"]}


def test_a_finding_explained_by_a_difference_is_not_noise_even_if_a_noise_entry_matches() -> None:
    truth = Truth("d", (Entry("t", "stamp format changed", "body", "$.data.last_modified"),),
                  (Entry("n", "stamps", "body", "*last_modified"),))  # fmt: skip
    result = score.score([finding("F1", "body", "$.data.last_modified")], truth)
    assert result.recall == 1.0 and result.noise_share == 0.0 and not result.noise


def test_empty_inputs_give_defined_ratios() -> None:
    result = score.score([], Truth("d", (), ()))
    assert (result.recall, result.noise_share, result.per_root_cause) == (1.0, 0.0, 0.0)
    missed = score.score([], TRUTH)
    assert missed.recall == 0.0 and missed.per_root_cause == 0.0


def mismatch(mid: str, route: str, recorded: int, actual: int, **extra: Any) -> dict[str, Any]:
    differences = [] if recorded == actual else [
        {"where": "status", "path": "", "kind": "changed", "expected": recorded, "actual": actual}
    ]  # fmt: skip
    return {"id": mid, "route": route, "url": "/x", "expected_status": recorded,
            "actual_status": actual, "differences": differences, **extra}  # fmt: skip


def test_id_failures_are_unexplained_404s_and_friends_after_a_recorded_2xx() -> None:
    mismatches = [
        mismatch("m1", "GET /v1/things/{id}", 200, 404),  # failed id mapping
        mismatch("m2", "GET /v1/things/{id}", 200, 410),
        mismatch("m3", "POST /v1/things", 201, 400),  # explained by the `status` difference
        mismatch("m4", "GET /v1/things/{id}", 404, 404),  # the recording failed too
        mismatch("m5", "GET /v1/things/{id}", 200, 500),  # a server error, not an id
        mismatch("m6", "GET /v1/things/{id}", 200, 404, baseline_status=404),  # baseline too
        mismatch("m7", "GET /v1/things", 200, 200, ambiguous_ids=["42"]),
    ]
    failed = score.id_failures(mismatches, TRUTH.differences)
    assert [line.split()[0] for line in failed] == ["m1", "m2", "m7"]
    assert "ambiguous" in failed[2]


def test_goals() -> None:
    good = score.PairScore(10, 1.0, 0.0, 1.0, [])
    assert score.misses_goal(good, stable=True) == []
    bad = score.PairScore(10, 0.9, 0.1, 2.0, ["m1"])
    assert len(score.misses_goal(bad, stable=False)) == 5


def test_truth_files_parse_and_bad_ones_say_why(tmp_path: Path) -> None:
    good = tmp_path / "truth.toml"
    good.write_text(
        'pair = "p"\n[[difference]]\nid = "a"\ndescription = "x"\nkind = ["added", "removed"]\n'
        '[[noise]]\nid = "b"\ndescription = "y"\nwhere = "header"\npath = "date"\n',
        encoding="utf-8",
    )
    truth = score.load_truth(good)
    assert truth.differences[0].kind == ("added", "removed") and truth.noise[0].path == "date"
    for text, why in [
        ('[[difference]]\nid = "a"\n', "description"),
        ('[[difference]]\nid = "a"\ndescription = "x"\npaht = "y"\n', "unknown keys"),
        ('[[difference]]\nid = "a"\ndescription = "x"\n[[noise]]\nid = "a"\ndescription = "y"\n',
         "duplicate"),
        ("[[difference]\n", "truth.toml"),
    ]:  # fmt: skip
        good.write_text(text, encoding="utf-8")
        with pytest.raises(score.TruthError, match=why):
            score.load_truth(good)
    with pytest.raises(score.TruthError):
        score.load_truth(tmp_path / "missing.toml")


def test_every_pair_in_the_repository_has_a_valid_truth_file() -> None:
    pairs = Path(__file__).resolve().parent.parent / "accuracy" / "pairs"
    names = [p.parent.name for p in pairs.glob("*/pair.py")]
    assert "kinto" in names
    for name in names:
        truth = score.load_truth(pairs / name / "truth.toml")
        assert truth.pair == name and truth.differences


def test_diagnostic_groups_count_differences_by_route_where_path_kind() -> None:
    mismatches = [
        {"route": "GET /a", "differences": [{"where": "body", "path": "$.x[3].y", "kind": "changed"},
                                            {"where": "header", "path": "X-Thing", "kind": "added"}]},
        {"route": "GET /a", "differences": [{"where": "body", "path": "$.x[0].y", "kind": "changed"}]},
    ]  # fmt: skip
    assert score.diagnostic_groups(mismatches) == [
        (("GET /a", "body", "$.x[*].y", "changed"), 2),
        (("GET /a", "header", "x-thing", "added"), 1),
    ]


def test_preview_findings_are_one_per_route_group_and_score_like_findings() -> None:
    mismatches = [
        {"route": "POST /v1/things", "differences": [{"where": "status", "path": "", "kind": "changed"}]},
        {"route": "GET /v1/things", "differences": [{"where": "body", "path": "$.data[2].name", "kind": "added"},
                                                    {"where": "body", "path": "$.data[0].name", "kind": "added"}]},
    ]  # fmt: skip
    preview = score.preview_findings(mismatches)
    assert [(f["route"], f["path"], f["count"]) for f in preview] == [
        ("GET /v1/things", "$.data[*].name", 2),
        ("POST /v1/things", "", 1),
    ]
    result = score.score(preview, TRUTH)
    assert [e.id for e in result.missed] == ["cors"] and result.noise_share == 0.0


def test_write_md_replaces_only_the_figures_block(tmp_path: Path) -> None:
    from accuracy import figures

    md = tmp_path / "ACCURACY.md"
    md.write_text("# A\n\nintro\n\n<!-- figures: begin -->\nold\n<!-- figures: end -->\n\ntail\n")
    scored = score.score([finding("F1", "body", "$.data[*].name", "added")], TRUTH)
    outcomes = [
        figures.Outcome("demo", "Demo 1 vs 2", 61, scored, True, {"new": 0}, [], []),
        figures.Outcome("early", "Early 1 vs 2", 62, None, False, {"new": 1},
                    [(("GET /a", "body", "$.x", "changed"), 3)], ["no findings"], scored),
    ]  # fmt: skip
    figures.write_md(outcomes, md)
    figures.write_md(outcomes, md)  # idempotent: one block
    text = md.read_text()
    assert text.startswith("# A\n\nintro\n") and text.rstrip().endswith("tail")
    assert text.count("<!-- figures: begin -->") == 1 and "old\n" not in text
    assert "| demo | 33% | 0.0% | 1.00 | 0 | yes |" in text
    assert "| early | n/a | n/a | n/a | 0 | no |" in text
    assert "3 x `GET /a` body `$.x` changed" in text and "missed: `status`" in text


def test_a_transition_glob_tells_two_errors_of_one_route_apart() -> None:
    reason = finding("F1", "status", "", route="POST /f")
    reason["transition"] = "200 → 400 (-docs +error +reason)"
    message = dict(reason, id="F2", transition="200 → 400 (-docs +error +message)")
    entry = score.parse_truth(
        {
            "difference": [
                {
                    "id": "message",
                    "description": "a 400 whose body has message",
                    "where": "status",
                    "transition": "200 → 400*+message*",
                }
            ]
        }
    ).differences[0]
    assert score.matches(entry, message)
    assert not score.matches(entry, reason)


def test_an_exchange_whose_finding_is_curated_is_no_id_failure() -> None:
    status = finding("F1", "status", "", route="POST /f")
    status["transition"] = "200 → 400 (+error +message)"
    entry = Entry("message", "a 400 with message", "status", route="POST /f")
    explained = dict(entry.__dict__, transition="200 → 400*+message*")
    mismatch = {
        "id": "m1",
        "route": "POST /f",
        "expected_status": 200,
        "actual_status": 400,
        "findings": ["F1"],
    }
    assert score.id_failures([mismatch], [Entry(**explained)], [status]) == []
    assert len(score.id_failures([dict(mismatch, findings=[])], [Entry(**explained)])) == 1
