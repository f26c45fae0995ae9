"""The rules file: what loads, and one clear line for everything that does not."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from parity.differ import Rules, RulesError, load_rules

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
    ],
)
def test_every_mistake_is_one_line_naming_the_rule(data: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(data)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


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
