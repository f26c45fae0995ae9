"""The rules file: what loads, and one clear line for everything that does not."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from parity.differ import Rules, RulesError, load_rules
from parity.differ.equivalences import EQUIVALENCES
from parity.differ.jsonpath import PathPattern

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def test_empty_rules_are_the_defaults() -> None:
    assert load_rules({}) == Rules()


def test_a_full_rules_file_loads() -> None:
    rules = load_rules(
        tomllib.loads(
            """
            [headers]
            ignore = ["x-cache-*"]
            compare = ["server"]
            shape = ["x-trace"]

            [[ignore]]
            name = "timing"
            route = "GET /api/*/search"
            paths = ["$.took_ms", "$.items[*].meta.*", "$..etag"]
            headers = ["X-Debug"]

            [[placeholder]]
            name = "order-id"
            pattern = "ORD-[0-9]{6}"
            paths = ["$..order"]

            [[route]]
            match = "POST /api/bridge"
            key = "json:$.method"
            """
        )
    )
    assert rules.ignores[0].label == "ignore:timing"
    assert [p.text for p in rules.ignores[0].paths] == ["$.took_ms", "$.items[*].meta.*", "$..etag"]
    assert rules.ignores[0].headers == ("x-debug",)
    assert rules.placeholders[0].token == "<order-id>"
    assert rules.routes[0].json_path == ("method",)
    assert rules.headers.compare == ("server",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"ignore": [{"paths": ["$.a"]}, {"paths": "$.b"}]},
            "rules: [[ignore]] #2: 'paths' must be a list of strings",
        ),
        (
            {"ignore": [{"pathz": ["$.a"]}]},
            "rules: [[ignore]] #1: unknown key 'pathz' (known: headers, name, paths, route)",
        ),
        ({"ignore": [{"route": "GET /x"}]}, "rules: [[ignore]] #1: needs 'paths' or 'headers'"),
        ({"ignore": [{"paths": ["a.b"]}]}, "rules: [[ignore]] #1: path 'a.b' must start with '$'"),
        (
            {"ignore": {"paths": ["$.a"]}},
            "rules: 'ignore' must be an array of tables, written [[ignore]]",
        ),
        (
            {"profile": {"enable": ["python-vs-csharp"]}},
            "rules: unknown key 'profile' (known: array, equivalences, headers, ignore, number, placeholder, profiles, route, serialization)",
        ),
        (
            {"placeholder": [{"name": "a" * 1500}]},
            f"rules: [[placeholder]] #1 ({'a' * 60}…): 'pattern' is required",
        ),
        (
            {"placeholder": [{"name": "x", "pattern": "(unclosed"}]},
            "rules: [[placeholder]] #1 (x): bad regex 'pattern' '(unclosed': missing ), unterminated subpattern at position 0",
        ),
        ({"placeholder": [{"pattern": "a"}]}, "rules: [[placeholder]] #1: 'name' is required"),
        (
            {"placeholder": [{"name": "a b", "pattern": "a"}]},
            "rules: [[placeholder]] #1: 'name' 'a b' may only use letters, digits and _ . : -",
        ),
        (
            {"route": [{"match": "POST /x", "key": "body:method"}]},
            "rules: [[route]] #1: 'key' 'body:method' must be 'json:$.path', 'header:Name' or 'query:name'",
        ),
        (
            {"route": [{"match": "POST /x", "key": "json:$.items[*]"}]},
            "rules: [[route]] #1: path '$.items[*]' must not contain wildcards or '..'",
        ),
        ({"headers": {"ignore": "date"}}, "rules: [headers]: 'ignore' must be a list of strings"),
        (
            {"headers": {"drop": ["date"]}},
            "rules: [headers]: unknown key 'drop' (known: compare, compare_only, ignore, shape)",
        ),
        ({"ignore": ["$.a"]}, "rules: [[ignore]] #1: must be a table, not a string"),
        (
            {"serialization": {"gate": "yes"}},
            "rules: [serialization]: 'gate' must be true or false",
        ),
        (
            {"serialization": {"gates": True}},
            "rules: [serialization]: unknown key 'gates' (known: gate)",
        ),
        ({"serialization": True}, "rules: [serialization]: must be a table, not bool"),
        # Limits: what a rules file asks for is bounded, and every error stays one short line.
        (
            {"placeholder": [{"name": "big", "pattern": "a{4294967296}"}]},
            "rules: [[placeholder]] #1 (big): bad regex 'pattern' 'a{4294967296}': "
            "the repetition number is too large",
        ),
        (
            {"placeholder": [{"name": "deep", "pattern": "(" * 900 + ")" * 900}]},
            "rules: [[placeholder]] #1 (deep): bad regex 'pattern' '"
            + "(" * 59
            + "…: nested too deeply",
        ),
        (
            {"ignore": [{"paths": ["$.a[" + "9" * 5000 + "]"]}]},
            "rules: [[ignore]] #1: 'paths': '$.a[" + "9" * 55 + "… is longer than 2000 characters",
        ),
        (
            {"ignore": [{"paths": ["$.a[" + "9" * 50 + "]"]}]},
            "rules: [[ignore]] #1: path '$.a[" + "9" * 50 + "]': index of 50 digits (at 3)",
        ),
        (
            {"ignore": [{"paths": ["$" + ".a" * 257]}]},
            "rules: [[ignore]] #1: path '$" + ".a" * 29 + "… has 257 steps (at most 256)",
        ),
        (
            {"route": [{"match": "POST /x", "key": "json:$" + "[0]" * 300}]},
            "rules: [[route]] #1: 'key' has 300 steps (at most 256)",
        ),
        (
            {"ignore": [{"headers": ["x"]}] * 1001},
            "rules: [[ignore]]: at most 1000 rules, not 1001",
        ),
        (
            {"ignore": [{"headers": ["x"] * 1001}]},
            "rules: [[ignore]] #1: 'headers' must have at most 1000 entries, not 1001",
        ),
        (
            {"number": [{"path": "$.a", "tolerance": float("inf")}]},
            "rules: [[number]] #1: 'tolerance' must be a finite number >= 0",
        ),
        (
            {"number": [{"path": "$.a", "relative": float("nan")}]},
            "rules: [[number]] #1: 'relative' must be a number >= 0",
        ),
        (
            {"ignore": [{"paths": ["$.a"], "x\ny" * 40: 1}]},
            "rules: [[ignore]] #1: unknown key 'x\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\nyx\\n… "
            "(known: headers, name, paths, route)",
        ),
        (
            {"equivalences": {"a\nb": True}},
            "rules: [equivalences]: unknown equivalence 'a\\nb' (known: "
            + ", ".join(sorted(EQUIVALENCES))
            + ")",
        ),
    ],
)
def test_every_mistake_is_one_line_naming_the_rule(data: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(data)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_a_path_of_ten_thousand_steps_is_refused_not_a_recursion() -> None:
    with pytest.raises(RulesError, match="longer than 2000 characters"):
        load_rules({"ignore": [{"paths": ["$" + "[0]" * 10_000]}]})
    deep = PathPattern.compile("$" + "[0]" * 10_000)  # the parser itself is not recursive
    assert len(deep.steps) == 10_000 and deep.matches([0] * 10_000)


def test_the_documented_example_loads() -> None:
    text = DOCS.read_text(encoding="utf-8")
    example = text.split("```toml", 1)[1].split("```", 1)[0]
    rules = load_rules(tomllib.loads(example))
    assert rules.ignores and rules.placeholders and rules.routes
    assert rules.arrays and rules.numbers and "int-float" in rules.equivalences
    assert "header-case" not in rules.equivalences
    assert rules.serialization.gate is False


def test_the_serialization_gate_loads_from_toml() -> None:
    assert load_rules({}).serialization.gate is False
    assert load_rules(tomllib.loads("[serialization]\ngate = true\n")).serialization.gate
