"""`parity.toml`: project settings — paths, named targets with their reset hooks, replay
defaults and the gate's thresholds.

Which file: `--config PATH`, else `$PARITY_CONFIG`, else `parity.toml` in the working
directory when there is one (none: the built-in defaults, which are the command line's
own). A file named explicitly must exist. Relative paths in the file are relative to the
file's directory. Precedence for every setting: command-line option, then environment
variable (`PARITY_DB`, `PARITY_SESSIONS`), then `parity.toml`, then the default.

    [paths]
    sessions = ".parity/sessions"     # session files (record writes, replay reads)
    db = ".parity/parity.db"          # results database
    rules = "parity-rules.toml"       # differ rules (default: that file when present)

    [targets.python]                  # a named backend: --target python, --baseline python
    url = "http://127.0.0.1:5000"
    reset = "curl -s -X POST {target}/_admin/reset"   # optional, see below

    [replay]
    target = "csharp"                 # default --target (a name or a URL)
    baseline = ["python"]             # default --baseline (names or URLs; --no-baseline)
    concurrency = 8                   # sessions at once (1 when a reset hook is in use)
    timeout = 30                      # seconds per answer
    reset_timeout = 60                # seconds per reset command

    [gate]
    max_open = 0                      # open findings tolerated by `parity gate`
    out = "logs/parity_harness_results.json"

A reset hook is a shell command (the user's own, from this file or `--reset`) run before
each replayed session and before each `parity shrink` attempt, so the backend starts from
its fixture state. `{target}` in it is replaced by the target's URL (as written, not
quoted). It runs through the shell (`sh -c` on POSIX, `cmd /c` on Windows) with a
timeout; a non-zero exit or a timeout means the session is not replayed (its exchanges
are errors saying why).

Errors in the file (bad TOML, an unknown table or key, a wrong type) are one
`ConfigError` (a `UserError`: one red line, exit 2) naming the file and the key and, for
unknown keys, listing the known ones.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from parity.errors import UserError

CONFIG_FILE = "parity.toml"
CONFIG_ENV = "PARITY_CONFIG"
DEFAULT_SESSIONS = Path(".parity") / "sessions"
DEFAULT_DB = Path(".parity") / "parity.db"
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT = 30.0
DEFAULT_RESET_TIMEOUT = 60.0

_META_PATH = "parity.config_path"
_META_CONFIG = "parity.config"


class ConfigError(UserError):
    """`parity.toml` cannot be used: the message names the file and the key (`key`)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """A backend named in `[targets.NAME]`, or a bare URL (then `name` is the URL)."""

    name: str
    url: str
    reset: str | None = None


@dataclass(frozen=True, slots=True)
class GateConfig:
    """`[gate]`: read by `parity gate`. None: not set (the command's own default)."""

    max_open: int | None = None
    out: Path | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The settings in effect. `path` is the file they came from (None: defaults only)."""

    path: Path | None = None
    sessions: Path = DEFAULT_SESSIONS
    db: Path = DEFAULT_DB
    rules: Path | None = None
    """None: `parity-rules.toml` when present (the replay's own default)."""
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)
    target: str | None = None
    """The default `--target` (a name or a URL), if any."""
    baseline: tuple[str, ...] = ()
    """The default `--baseline`s (names or URLs)."""
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    reset_timeout: float = DEFAULT_RESET_TIMEOUT
    gate: GateConfig = field(default_factory=GateConfig)

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else CONFIG_FILE

    def resolve(self, name_or_url: str, option: str = "--target") -> TargetConfig:
        """A configured target by name, or a URL. A URL that is a configured target's URL
        brings that target's name and reset hook along. Unknown names are a
        `ConfigError` listing the configured ones."""
        value = name_or_url.strip()
        if value.startswith(("http://", "https://")):
            url = value.rstrip("/")
            for known in self.targets.values():
                if known.url == url:
                    return known
            return TargetConfig(url, url)
        found = self.targets.get(value)
        if found is not None:
            return found
        if self.targets:
            names = ", ".join(sorted(self.targets))
            raise ConfigError(
                f"{option} {value!r}: not a URL (http://…) nor a target in {self.where} "
                f"(configured: {names})"
            )
        raise ConfigError(
            f"{option} {value!r}: not a URL (http://…), and there are no [targets] "
            f"in {self.where} to name"
        )

    def resolve_target(self, name_or_url: str) -> tuple[str, str | None]:
        """`(url, reset command or None)` for a target name or a URL (see `resolve`)."""
        found = self.resolve(name_or_url)
        return found.url, found.reset


# -- loading ------------------------------------------------------------------------------

_Check = Callable[[Any, str], Any]


def _fail(where: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {key} {message}", key=key)


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    return value


def _nonempty(value: Any, key: str) -> str:
    text = _string(value, key)
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _url(value: Any, key: str) -> str:
    text = _string(value, key).strip()
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must be a URL starting with http:// or https://, not {text!r}")
    return text.rstrip("/")


def _int_range(low: int, high: int | None) -> _Check:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, not {_kind(value)}")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"must be an integer {bound}, not {value}")
        return value

    return check


def _seconds(low: float, high: float) -> _Check:
    def check(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number of seconds, not {_kind(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be from {low:g} to {high:g} seconds, not {value}")
        return float(value)

    return check


def _names(value: Any, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"must be a target name or URL, or a list of them, not {_kind(value)}")
    return tuple(v.strip() for v in items)


def _kind(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


_SCHEMA: dict[str, dict[str, _Check]] = {
    "paths": {"sessions": _nonempty, "db": _nonempty, "rules": _nonempty},
    "replay": {
        "target": _nonempty,
        "baseline": _names,
        "concurrency": _int_range(1, 256),
        "timeout": _seconds(0.1, 3600),
        "reset_timeout": _seconds(0.1, 3600),
    },
    "gate": {"max_open": _int_range(0, None), "out": _nonempty},
}
_TARGET_KEYS: dict[str, _Check] = {"url": _url, "reset": _nonempty}
KNOWN_TABLES = ("paths", "targets", "replay", "gate")


def _known(keys: Any) -> str:
    return ", ".join(sorted(keys))


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
            raise _fail(where, f"{name} {key!r}", f"is not a known key (known: {_known(schema)})")
        try:
            checked[key] = check(value, key)
        except ValueError as exc:
            raise _fail(where, f"{name} {key}", str(exc)) from None
    return checked


def _relative(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> Config:
    """A `Config` from parsed TOML (`path` names the file in errors and anchors relative
    paths)."""
    where = str(path) if path is not None else CONFIG_FILE
    base = path.parent if path is not None else Path()
    for name in data:
        if name not in KNOWN_TABLES:
            raise _fail(where, f"[{name}]", f"is not a known table (known: {_known(KNOWN_TABLES)})")
    tables = {
        name: _section(_table(data[name], where, f"[{name}]"), where, f"[{name}]", schema)
        for name, schema in _SCHEMA.items()
        if name in data
    }
    targets: dict[str, TargetConfig] = {}
    for name, raw in _table(data.get("targets", {}), where, "[targets]").items():
        label = f"[targets.{name}]"
        if name.startswith(("http://", "https://")) or not name.strip():
            raise _fail(where, label, "needs a name, not a URL, e.g. [targets.csharp]")
        values = _section(_table(raw, where, label), where, label, _TARGET_KEYS)
        if "url" not in values:
            raise _fail(where, label, 'needs url = "http://…"')
        targets[name] = TargetConfig(name, values["url"], values.get("reset"))
    paths, replay, gate = (tables.get(n, {}) for n in ("paths", "replay", "gate"))
    config = Config(
        path=path,
        sessions=_relative(base, paths["sessions"]) if "sessions" in paths else DEFAULT_SESSIONS,
        db=_relative(base, paths["db"]) if "db" in paths else DEFAULT_DB,
        rules=_relative(base, paths["rules"]) if "rules" in paths else None,
        targets=targets,
        target=replay.get("target"),
        baseline=replay.get("baseline", ()),
        concurrency=replay.get("concurrency", DEFAULT_CONCURRENCY),
        timeout=replay.get("timeout", DEFAULT_TIMEOUT),
        reset_timeout=replay.get("reset_timeout", DEFAULT_RESET_TIMEOUT),
        gate=GateConfig(
            max_open=gate.get("max_open"),
            out=_relative(base, gate["out"]) if "out" in gate else None,
        ),
    )
    # Names used as defaults must exist: say so now, not at the first replay.
    if config.target is not None:
        _check_reference(config, config.target, "[replay] target")
    for name in config.baseline:
        _check_reference(config, name, "[replay] baseline")
    return config


def _check_reference(config: Config, name: str, key: str) -> None:
    config.resolve(name, key)  # a ConfigError names the key, the file and the known names


def load_config(path: Path | None = None) -> Config:
    """The settings from `path`, else `$PARITY_CONFIG`, else `./parity.toml` if present,
    else the defaults. A file named explicitly (argument or environment) must exist."""
    explicit = path is not None
    if path is None and os.environ.get(CONFIG_ENV):
        path, explicit = Path(os.environ[CONFIG_ENV]), True
    if path is None:
        path = Path(CONFIG_FILE)
        if not path.is_file():
            return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        what = "--config" if explicit else "config"
        raise ConfigError(f"no config file {path} ({what}; `parity init` writes one)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return parse_config(data, path)


# -- the command line ---------------------------------------------------------------------


def _remember(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[_META_PATH] = value
        ctx.meta.pop(_META_CONFIG, None)


F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    """`--config PATH` (or `$PARITY_CONFIG`): which parity.toml; read with
    `current_config()`. Usable on the group and on commands alike."""
    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar=CONFIG_ENV,
        expose_value=False,
        is_eager=True,
        callback=_remember,
        help=f"Settings file (default: ./{CONFIG_FILE} when present; or ${CONFIG_ENV}).",
    )(func)


def configured_path(name: str) -> Callable[[click.Context, click.Parameter, Path | None], Path]:
    """A click callback for a path option: the value given, else the `name` path of the
    settings in effect (`[paths]` in parity.toml, else its default)."""

    def resolve(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
        if value is not None:
            return value
        path = getattr(current_config(), name)
        assert isinstance(path, Path)
        return path

    return resolve


def current_config() -> Config:
    """The settings for the running command (`--config`, `$PARITY_CONFIG`,
    `./parity.toml`, defaults), loaded once per invocation."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return load_config()
    cached = ctx.meta.get(_META_CONFIG)
    if isinstance(cached, Config):
        return cached
    config = load_config(ctx.meta.get(_META_PATH))
    ctx.meta[_META_CONFIG] = config
    return config
