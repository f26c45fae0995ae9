"""Fuzzing the config and rules loaders with random TOML-shaped data: `parse_config`
raises nothing but `ConfigError`, `load_rules` nothing but `RulesError`, and each error
is one line of bounded length."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import pytest
from hypothesis import strategies as st

from parity.config import ConfigError, load_config, parse_config
from parity.differ import RulesError, load_rules
from parity.errors import UserError
from parity.options import load_rules_file
from tests.fuzz.harness import given_target, memory_cap

_WORK = tempfile.TemporaryDirectory(prefix="parity-fuzz-config-")
_BASE = Path(_WORK.name)
(_BASE / "a-file").write_text("x")
(_BASE / "a-dir").mkdir()

_PATH_BITS = (
    "$",
    ".a",
    ".*",
    "[3]",
    "[*]",
    "..",
    "..b",
    '["x y"]',
    "['q']",
    "[",
    "]",
    ".",
    "[" + "9" * 30 + "]",
    "[" + "9" * 5000 + "]",
    "\x00",
    "é",
    " ",
)
_REGEX_BITS = (
    "a",
    "(",
    ")",
    "[",
    "]",
    "*",
    "+",
    "?",
    "{2}",
    "a{4294967296}",
    "{1,2}",
    "\\",
    "\\d",
    "(?P<n>",
    "(?",
    "|",
    "^",
    "$",
    ".",
    "(a+)+",
    "\x00",
    "é",
)
_STRING_BITS = (
    "~nosuchuser/x.db",
    "~",
    "\x00",
    "http://",
    "https://x",
    "python",
    "csharp",
    "a-file",
    "a-dir",
    "a-file/x",
    " ",
    "",
    "ignore",
    "é",
    "\n",
)
_NAMES = (
    "paths",
    "targets",
    "replay",
    "gate",
    "sessions",
    "db",
    "rules",
    "url",
    "reset",
    "target",
    "baseline",
    "concurrency",
    "timeout",
    "reset_timeout",
    "max_open",
    "out",
    "python",
    "csharp",
    "http://x",
)
_RULE_KEYS = (
    "ignore",
    "placeholder",
    "route",
    "array",
    "number",
    "headers",
    "profiles",
    "equivalences",
    "serialization",
    "headers",
    "name",
    "paths",
    "path",
    "route",
    "sort_by",
    "unordered",
    "relative",
    "tolerance",
    "enable",
    "pattern",
    "key",
    "match",
    "compare",
    "compare_only",
    "ignore",
    "shape",
    "gate",
    "python-vs-csharp",
    "int_float",
    "json:$.a",
    "header:X",
    "query:q",
)


def _joined(bits: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(bits) | st.text(max_size=4), max_size=12).map("".join)


_long = st.builds(
    lambda bit, n: bit * n,
    st.sampled_from(("a", "$.a", "[0]", "(", "9")),
    st.sampled_from((1000, 10_000, 100_000)),
)
_scalars = st.one_of(
    st.text(max_size=20),
    _joined(_PATH_BITS),
    _joined(_REGEX_BITS),
    _joined(_STRING_BITS),
    st.sampled_from(_NAMES + _RULE_KEYS),
    _long,
    st.integers(),
    st.sampled_from((0, -1, 1, 2**63 - 1, -(2**63), 2**64, 10**300)),
    st.floats(),
    st.booleans(),
    st.datetimes().map(lambda d: d.replace(tzinfo=datetime.UTC)),
    st.dates(),
    st.times(),
)


def toml_values(keys: tuple[str, ...]) -> st.SearchStrategy[object]:
    key = st.sampled_from(keys) | st.text(max_size=8)
    return st.recursive(
        _scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(key, children, max_size=5),
        ),
        max_leaves=25,
    )


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def one_line(message: str) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert len(message) <= 1000, message[:300]


@given_target(
    st.dictionaries(st.sampled_from(_NAMES) | st.text(max_size=8), toml_values(_NAMES), max_size=5)
)
def test_parse_config_raises_only_config_error(data: dict[str, object]) -> None:
    with memory_cap():
        try:
            parse_config(data, _BASE / "parity.toml")
        except ConfigError as exc:
            one_line(str(exc))


_rule_tables = st.lists(
    st.dictionaries(
        st.sampled_from(_RULE_KEYS) | st.text(max_size=6), toml_values(_RULE_KEYS), max_size=6
    ),
    max_size=4,
)


@given_target(
    st.dictionaries(
        st.sampled_from(_RULE_KEYS) | st.text(max_size=8),
        _rule_tables | toml_values(_RULE_KEYS),
        max_size=5,
    )
)
def test_load_rules_raises_only_rules_error(data: dict[str, object]) -> None:
    with memory_cap():
        try:
            load_rules(data)
        except RulesError as exc:
            one_line(str(exc))


_rule_values = st.one_of(
    _joined(_PATH_BITS),
    _joined(_REGEX_BITS),
    _long,
    st.lists(_joined(_PATH_BITS) | _long, max_size=3),
)


@given_target(
    st.sampled_from(("ignore", "placeholder", "route", "array", "number")),
    st.dictionaries(
        st.sampled_from(_RULE_KEYS), _rule_values | st.floats() | st.booleans(), max_size=6
    ),
)
def test_load_rules_one_rule(table: str, rule: dict[str, object]) -> None:
    """One rule of a kind with plausible-looking (often broken) paths and regexes."""
    with memory_cap():
        try:
            load_rules({table: [rule]})
        except RulesError as exc:
            one_line(str(exc))


@pytest.mark.parametrize("depth", [100, 10_000])
def test_deeply_nested_values_are_rejected_or_read(depth: int) -> None:
    with pytest.raises((ConfigError, RulesError)):
        parse_config({"replay": {"baseline": _nested(depth)}}, _BASE / "parity.toml")
    with pytest.raises(RulesError):
        load_rules({"ignore": [{"paths": _nested(depth)}]})


@pytest.mark.parametrize("depth", [100, 5_000])
def test_deeply_nested_toml_files_are_one_error(depth: int) -> None:
    text = "a = " + "[" * depth + "]" * depth + "\n"
    config = _BASE / f"nested-{depth}.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    one_line(str(raised.value))
    with pytest.raises(UserError) as raised_rules:
        load_rules_file(config)
    one_line(str(raised_rules.value))
