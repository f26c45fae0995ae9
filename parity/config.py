"""`parity.toml`: project settings — paths, named targets with their reset hooks, replay
defaults and the gate's thresholds.

Which file: `--config PATH` (a global option, `parity --config F runs`, also accepted
after a command that had it before), else `$PARITY_CONFIG`, else the first `parity.toml`
found in the working directory or one of its parents, up to the filesystem root (as git
finds `.git`, so any subdirectory of a project finds it); none: the built-in defaults,
relative to the working directory, which are the command line's own. A file named
explicitly must exist. Every path in the file, and the default paths when the file does
not set them (`.parity/sessions`, `.parity/parity.db`, `.parity/`, `parity-rules.toml`),
are relative to the file's directory, never to the working directory. Precedence for
every setting: command-line option, then environment variable (`PARITY_DB`,
`PARITY_SESSIONS`), then `parity.toml`, then the default. Messages name where a setting
came from: `parity.toml:12 [replay] target`, `--config F: no such file`,
`PARITY_CONFIG=F: no such file`.

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
    pace = "asap"                     # default --pace: asap, recorded or xN (x10, x0.5)
    max_idle = "5s"                   # default --max-idle: the longest paced gap

    [gate]
    max_open = 0                      # open findings tolerated by `parity gate`
    out = "logs/parity_harness_results.json"

    [gate.soak]                       # `parity soak` and `parity gate --soak` (docs/soak.md)
    max_p95_growth = 1.5              # a route's p95 latency trend, first to last bucket
    max_size_growth = 1.5             # a route's response bytes or top-level JSON array
    max_login_loops = 0               # 401 -> login -> 401 cycles, 3+ in a row
    max_error_rate = 0.01             # 5xx and unanswered, over the whole soak

    [record]
    encrypt = true                    # session files (and stored bodies) encrypted at rest
    key_file = "~/.config/parity/journal.key"   # else a passphrase (PARITY_PASSPHRASE)

A reset hook is a shell command (the user's own, from this file or `--reset`) run before
each replayed session and before each `parity shrink` attempt, so the backend starts from
its fixture state. `{target}` in it is replaced by the target's URL (as written, not
quoted). It runs through the shell (`sh -c` on POSIX, `cmd /c` on Windows) with a
timeout; a non-zero exit or a timeout means the session is not replayed (its exchanges
are errors saying why).

Errors in the file (bad TOML, an unknown table or key, a wrong type) are one
`ConfigError` (a `UserError`: one red line, exit 2) naming the file and the key and, for
unknown keys, listing the known ones.

This module finds and reads the file, once per command; `parity.config_schema` checks
it and builds the `Config` of `parity.config_model`. Every name is importable from here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from parity.config_model import (
    CONFIG_FILE,
    DEFAULT_DB,
    DEFAULT_SESSIONS,
    Config,
    ConfigError,
    GateConfig,
    RecordConfig,
    TargetConfig,
)
from parity.config_schema import KNOWN_TABLES, parse_config
from parity.defaults import DEFAULT_CONCURRENCY, DEFAULT_RESET_TIMEOUT, DEFAULT_TIMEOUT
from parity.errors import UserError

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DB",
    "DEFAULT_RESET_TIMEOUT",
    "DEFAULT_SESSIONS",
    "DEFAULT_TIMEOUT",
    "KNOWN_TABLES",
    "Config",
    "ConfigError",
    "GateConfig",
    "RecordConfig",
    "TargetConfig",
    "config_option",
    "configured_path",
    "current_config",
    "find_config",
    "load_config",
    "origin_of",
    "parse_config",
]

CONFIG_ENV = "PARITY_CONFIG"

_META_PATH = "parity.config_path"
_META_CONFIG = "parity.config"
_META_ORIGIN = "parity.origin."


def find_config(start: Path | None = None) -> Path | None:
    """The first `parity.toml` in `start` (default: the working directory) or one of its
    parents, up to the filesystem root; None when there is none. One in the working
    directory is returned as the relative `parity.toml` (its paths stay as short as
    before); one in a parent as an absolute path."""
    if start is None:
        here = Path(CONFIG_FILE)
        if _exists(here):
            return here
        try:
            start = Path.cwd()
        except OSError:  # the working directory was removed
            return None
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if _exists(candidate):
            return candidate
    return None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def load_config(path: Path | None = None) -> Config:
    """The settings from `path` (`--config`), else `$PARITY_CONFIG`, else the nearest
    `parity.toml` (`find_config`), else the defaults. A file named explicitly (argument or
    environment) must exist."""
    origin = "--config" if path is not None else ""
    if path is None and os.environ.get(CONFIG_ENV):
        path, origin = Path(os.environ[CONFIG_ENV]), CONFIG_ENV
    if path is None:
        path = find_config()
        if path is None:
            return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        named = f"{CONFIG_ENV}={path}" if origin == CONFIG_ENV else f"{origin or 'config'} {path}"
        raise ConfigError(f"{named}: no such file (`parity init` writes one)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    data = loads_toml(text, f"config file {path}", ConfigError)
    return parse_config(data, path, text=text, origin=origin)


def loads_toml(text: str, label: str, error: type[UserError]) -> dict[str, Any]:
    """Parsed TOML; what cannot be read is one `error` line starting with `label`
    ("config file parity.toml", "rules file parity-rules.toml")."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{label} is not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{label} is nested too deeply to read") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise error(f"{label} is not usable TOML: {exc}") from None


# -- the command line ---------------------------------------------------------------------


def _remember(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[_META_PATH] = value
        ctx.meta.pop(_META_CONFIG, None)


F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    """`--config PATH`: which parity.toml; read with `current_config()`. On the group
    (`parity --config F runs`) and, as before, on the commands that had it: the last one
    given wins. `$PARITY_CONFIG` is read by `load_config`, so a message can say which of
    the two named a missing file."""
    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_remember,
        help=f"Settings file (default: ${CONFIG_ENV}, else the nearest {CONFIG_FILE} "
        "in this directory or its parents).",
    )(func)


def configured_path(name: str) -> Callable[[click.Context, click.Parameter, Path | None], Path]:
    """A click callback for a path option: the value given, else the `name` path of the
    settings in effect (`[paths]` in parity.toml, else its default)."""

    def resolve(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
        if value is not None:
            return value
        config = current_config()
        path = getattr(config, name)
        assert isinstance(path, Path)
        origin = config.origin_of(name)
        if origin is not None:
            ctx.meta[_META_ORIGIN + name] = (path, origin)
        return path

    return resolve


def origin_of(name: str, path: Path) -> str | None:
    """Where the running command's `name` path (`db`, `sessions`) came from when
    parity.toml gave it and it is `path` (see `Config.origin_of`); else None."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(_META_ORIGIN + name) if ctx is not None else None
    if isinstance(found, tuple) and found[0] == path:
        return str(found[1])
    return None


def current_config() -> Config:
    """The settings for the running command (`--config`, `$PARITY_CONFIG`, the nearest
    `parity.toml`, defaults), loaded once per invocation."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return load_config()
    cached = ctx.meta.get(_META_CONFIG)
    if isinstance(cached, Config):
        return cached
    config = load_config(ctx.meta.get(_META_PATH))
    ctx.meta[_META_CONFIG] = config
    return config
