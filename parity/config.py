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
    "load_config",
    "parse_config",
]

CONFIG_ENV = "PARITY_CONFIG"

_META_PATH = "parity.config_path"
_META_CONFIG = "parity.config"


def load_config(path: Path | None = None) -> Config:
    """The settings from `path`, else `$PARITY_CONFIG`, else `./parity.toml` if present,
    else the defaults. A file named explicitly (argument or environment) must exist."""
    explicit = path is not None
    if path is None and os.environ.get(CONFIG_ENV):
        path, explicit = Path(os.environ[CONFIG_ENV]), True
    if path is None:
        path = Path(CONFIG_FILE)
        if not path.exists():
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
    return parse_config(loads_toml(text, f"config file {path}", ConfigError), path)


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
