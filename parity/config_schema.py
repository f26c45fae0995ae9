"""What a valid `parity.toml` is: each table's keys and their checks, and `parse_config`,
which turns parsed TOML into a `Config` (format: `parity.config`). Each error is one
`ConfigError` naming the file and the key; an unknown table or key lists the known ones."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from parity.config_model import (
    CONFIG_FILE,
    DEFAULT_DB,
    DEFAULT_SESSIONS,
    Config,
    ConfigError,
    GateConfig,
    RecordConfig,
    TargetConfig,
    quoted,
    shown,
)
from parity.pace import parse_duration, parse_pace
from parity.sessions.parts import parse_rotation
from parity.sessions.redact import RedactionPolicy

_Check = Callable[[Any, str], Any]


class _Source(str):
    """The file's name as errors show it, knowing the line of each setting in it."""

    lines: dict[str, int]

    def __new__(cls, name: str, text: str | None) -> _Source:
        self = super().__new__(cls, name)
        self.lines = setting_lines(text) if text is not None else {}
        return self

    def line(self, key: str) -> int | None:
        """The line of `key` as errors spell it (`[replay] concurrency`, `[replay]
        'concurrenc'`, `[targets.x]`, `[gate] soak`, `[paths]`)."""
        table, _, name = key.partition(" ")
        name = name.strip("'\"")
        inner = table.strip("[]")
        for candidate in (f"{table} {name}", f"[{inner}.{name}]", table, f"[] {inner}"):
            if candidate in self.lines:
                return self.lines[candidate]
        return None


_HEADER = re.compile(r"\[\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"""(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")


def setting_lines(text: str) -> dict[str, int]:
    """`"[table] key"` -> its line (1-based), `"[table]"` -> its header's, top-level keys
    as `"[] key"`; the first of each. A plain scan of the TOML text (tomllib keeps no
    positions): good for naming a line in a message, never for reading values."""
    lines: dict[str, int] = {}
    table = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("[") and not line.startswith("[["):
            header = _HEADER.match(line)
            if header:
                table = ".".join(p.strip().strip("\"'") for p in header.group(1).split("."))
                lines.setdefault(f"[{table}]", number)
            continue
        key = _KEY.match(line)
        if key:
            name = next(g for g in key.groups() if g is not None)
            lines.setdefault(f"[{table}] {name}", number)
    return lines


def _fail(where: str, key: str, message: str) -> ConfigError:
    line = where.line(key) if isinstance(where, _Source) else None
    at = f"{where}:{line} {key}" if line else f"{where}: {key}"
    return ConfigError(f"{at} {message}", key=key)


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    return value


def _nonempty(value: Any, key: str) -> str:
    text = _string(value, key)
    if not text.strip():
        raise ValueError("must not be empty")
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    return text


def _url(value: Any, key: str) -> str:
    text = _string(value, key).strip()
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must be a URL starting with http:// or https://, not {quoted(text)}")
    return text.rstrip("/")


def _int_range(low: int, high: int | None) -> _Check:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, not {_kind(value)}")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"must be an integer {bound}, not {quoted(value)}")
        return value

    return check


def _seconds(low: float, high: float) -> _Check:
    def check(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number of seconds, not {_kind(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be from {low:g} to {high:g} seconds, not {quoted(value)}")
        return float(value)

    return check


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_kind(value)}")
    return value


def _names(value: Any, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"must be a target name or URL, or a list of them, not {_kind(value)}")
    return tuple(v.strip() for v in items)


def _secrets(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('must be a table of names to "env:VAR" or a value')
    return dict(value)


def _rotation(value: Any, key: str) -> str:
    text = _string(value, key)
    try:
        parse_rotation(text)
    except ValueError as exc:
        raise ValueError(f"must be an age or a size: {exc}") from None
    return text.strip()


def _kind(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


def _pace(value: Any, key: str) -> float | None:
    return parse_pace(_string(value, key))


def _max_idle(value: Any, key: str) -> float:
    if not isinstance(value, str | int | float):
        raise ValueError(
            f'must be a duration such as "5s" or a number of seconds, not {_kind(value)}'
        )
    return parse_duration(value)


def _positive_duration(value: Any, key: str) -> float:
    seconds = _max_idle(value, key)
    if seconds < 0.001:
        raise ValueError(f"must be at least 1ms, not {quoted(value)}")
    return seconds


def _number(low: float, high: float | None) -> _Check:
    def check(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {_kind(value)}")
        if not low <= value <= (high if high is not None else float("inf")):
            bound = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
            raise ValueError(f"must be a number {bound}, not {quoted(value)}")
        return float(value)

    return check


_SOAK_KEYS: dict[str, _Check] = {
    "max_p95_growth": _number(1, None),
    "p95_floor_ms": _number(0, None),
    "max_size_growth": _number(1, None),
    "size_floor_bytes": _number(0, None),
    "size_floor_items": _number(0, None),
    "max_login_loops": _int_range(0, None),
    "max_error_rate": _number(0, 1),
    "bucket": _positive_duration,
    "loop_window": _positive_duration,
    "loop_cycles": _int_range(1, 100_000),
    "out": _nonempty,
}
"""`[gate.soak]`: the soak report's thresholds and settings (`triage.soak`)."""


def _soak(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"must be a table ([gate.soak]), not {_kind(value)}")
    checked: dict[str, Any] = {}
    for name, item in value.items():
        check = _SOAK_KEYS.get(name)
        if check is None:
            known = ", ".join(sorted(_SOAK_KEYS))
            raise ValueError(f"{quoted(name)} is not a known key (known: {known})")
        try:
            checked[name] = check(item, name)
        except ValueError as exc:
            raise ValueError(f"{name} {exc}") from None
    return checked


_SCHEMA: dict[str, dict[str, _Check]] = {
    "paths": {"sessions": _nonempty, "db": _nonempty, "rules": _nonempty},
    "replay": {
        "target": _nonempty,
        "baseline": _names,
        "concurrency": _int_range(1, 256),
        "timeout": _seconds(0.1, 3600),
        "reset_timeout": _seconds(0.1, 3600),
        "secrets": _secrets,
        "pace": _pace,
        "max_idle": _max_idle,
    },
    "gate": {"max_open": _int_range(0, None), "out": _nonempty, "soak": _soak},
    "record": {"encrypt": _bool, "key_file": _nonempty, "rotate": _rotation},
}
_TARGET_KEYS: dict[str, _Check] = {"url": _url, "reset": _nonempty}
KNOWN_TABLES = ("paths", "targets", "replay", "gate", "record", "redact")


def _table(data: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(where, key, f"must be a table, not {_kind(data)}")
    return data


def _section(
    data: dict[str, Any], where: str, name: str, schema: Mapping[str, _Check]
) -> dict[str, Any]:
    """The checked values of one table (unknown keys and wrong types are errors)."""
    checked: dict[str, Any] = {}
    for key, value in data.items():
        check = schema.get(key)
        if check is None:
            known = ", ".join(sorted(schema))
            raise _fail(where, f"{name} {quoted(key)}", f"is not a known key (known: {known})")
        try:
            checked[key] = check(value, key)
        except ValueError as exc:
            raise _fail(where, f"{name} {key}", str(exc)) from None
    return checked


def _relative(base: Path, value: str, where: str, key: str) -> Path:
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # `~user` of no such user
        raise _fail(
            where, key, f"names a home directory that does not exist: {quoted(value)}"
        ) from None
    return path if path.is_absolute() else base / path


_KINDS_OF_PATH = {"sessions": (Path.is_dir, "a directory"), "db": (Path.is_file, "a file")}
"""What each `[paths]` entry must be when it already exists."""


def _located(base: Path, paths: Mapping[str, str], where: str) -> dict[str, Path]:
    located = {}
    for key, value in paths.items():
        path = located[key] = _relative(base, value, where, f"[paths] {key}")
        kind = _KINDS_OF_PATH.get(key)
        try:
            wrong = kind is not None and path.exists() and not kind[0](path)
        except OSError:  # unreadable, or a name too long: the command says so when used
            wrong = False
        if wrong and kind is not None:
            raise _fail(where, f"[paths] {key}", f"must be {kind[1]}: {quoted(str(path))} is not")
    return located


def parse_config(
    data: Mapping[str, Any], path: Path | None = None, *, text: str | None = None, origin: str = ""
) -> Config:
    """A `Config` from parsed TOML (`path` names the file in errors and anchors relative
    paths, the default ones too; `text`, the file as read, gives errors and the `Config`
    their line numbers; `origin` says how the file was chosen)."""
    where = _Source(str(path) if path is not None else CONFIG_FILE, text)
    base = path.parent if path is not None else Path()
    for name in data:
        if name not in KNOWN_TABLES:
            known = ", ".join(sorted(KNOWN_TABLES))
            raise _fail(where, f"[{shown(name)}]", f"is not a known table (known: {known})")
    tables = {
        name: _section(_table(data[name], where, f"[{name}]"), where, f"[{name}]", schema)
        for name, schema in _SCHEMA.items()
        if name in data
    }
    targets: dict[str, TargetConfig] = {}
    for name, raw in _table(data.get("targets", {}), where, "[targets]").items():
        label = f"[targets.{shown(name)}]"
        if name.startswith(("http://", "https://")) or not name.strip():
            raise _fail(where, label, "needs a name, not a URL, e.g. [targets.csharp]")
        values = _section(_table(raw, where, label), where, label, _TARGET_KEYS)
        if "url" not in values:
            raise _fail(where, label, 'needs url = "http://…"')
        targets[name] = TargetConfig(name, values["url"], values.get("reset"))
    paths, replay, gate, record = (tables.get(n, {}) for n in ("paths", "replay", "gate", "record"))
    try:
        redact = RedactionPolicy.from_table(_table(data.get("redact", {}), where, "[redact]"))
    except ValueError as exc:
        raise _fail(where, "[redact]", str(exc)) from None
    # The keys of [paths] and [replay] are Config's field names; a key not set keeps its default.
    located: dict[str, Any] = {
        "sessions": base / DEFAULT_SESSIONS,
        "db": base / DEFAULT_DB,
        **_located(base, paths, where),
    }
    config = Config(
        path=path,
        origin=origin,
        lines=where.lines,
        **located,
        **replay,
        targets=targets,
        redact=redact,
        gate=GateConfig(
            gate.get("max_open"),
            _path_in(base, gate, "out", where, "[gate]"),
            _soak_settings(base, gate.get("soak", {}), where),
        ),
        record=RecordConfig(
            record.get("encrypt", False),
            _path_in(base, record, "key_file", where, "[record]"),
            record.get("rotate", ""),
        ),
    )
    # Names used as defaults must exist: say so now, not at the first replay.
    if config.target is not None:
        _check_reference(config, config.target, config.setting("[replay] target"))
    for name in config.baseline:
        _check_reference(config, name, config.setting("[replay] baseline"))
    return config


def _soak_settings(base: Path, soak: dict[str, Any], where: str) -> dict[str, Any]:
    """`[gate.soak]` as checked, its `out` relative to the file."""
    settings = dict(soak)
    if "out" in settings:
        settings["out"] = _path_in(base, soak, "out", where, "[gate.soak]")
    return settings


def _path_in(base: Path, table: Mapping[str, Any], key: str, where: str, name: str) -> Path | None:
    return _relative(base, table[key], where, f"{name} {key}") if key in table else None


def _check_reference(config: Config, name: str, key: str) -> None:
    config.resolve(name, key)  # a ConfigError names the key, the file and the known names
