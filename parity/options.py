"""The options commands share, each defined and resolved one way: `--db`, `--sessions`,
`--rules`, `--json`, `--timeout`, `--target`, `--reset`; and the values behind them (the results database, the rules file,
a target named in parity.toml or given as a URL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from parity.config import (
    DEFAULT_DB,
    Config,
    TargetConfig,
    configured_path,
    current_config,
    loads_toml,
    origin_of,
)
from parity.errors import UserError

if TYPE_CHECKING:
    from parity.triage import ResultsDB

F = TypeVar("F", bound=Callable[..., Any])


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="PARITY_DB",
    callback=configured_path("db"),
    help=f"The results database (default: [paths] db in parity.toml, else {DEFAULT_DB}).",
)


def sessions_dir_option(name: str) -> Callable[[F], F]:
    """The directory of session files as option `name` (parameter `sessions_dir`)."""
    return click.option(
        name,
        "sessions_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        envvar="PARITY_SESSIONS",
        callback=configured_path("sessions"),
        help="Directory of session files (default: [paths] sessions in parity.toml, "
        "else .parity/sessions).",
    )


sessions_option = sessions_dir_option("--sessions")


timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    help="Seconds to wait for one answer (default: [replay] timeout, else 30).",
)


def rules_option(default: str) -> Callable[[F], F]:
    """`--rules PATH`: the differ's rules file; `default` says what applies without it."""
    return click.option(
        "--rules",
        type=click.Path(path_type=Path, dir_okay=False),
        help=f"Rules file (default: {default}).",
    )


def target_option(help_text: str) -> Callable[[F], F]:
    """`--target NAME|URL`: a target of parity.toml or a URL (see `resolve_target`)."""
    return click.option("--target", metavar="NAME|URL", help=help_text)


def reset_option(help_text: str) -> Callable[[F], F]:
    """`--reset CMD`: a reset hook given on the command line (parameter `reset_cmd`)."""
    return click.option("--reset", "reset_cmd", metavar="CMD", help=help_text)


quiet_option = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print nothing but the final summary (no start lines, no progress bar).",
)


def json_option(func: F) -> F:
    """`--json`: machine-readable output on stdout instead of rich tables."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables."
    )(func)


@contextmanager
def results_at(path: Path) -> Iterator[ResultsDB]:
    """The results database at `path`; any triage error becomes one red line, naming
    where the path came from when parity.toml gave it (`parity.toml:3 [paths] db`, or
    the default beside the file)."""
    from parity.triage import TriageError, open_results

    try:
        with open_results(path) as results_db:
            yield results_db
    except TriageError as exc:
        origin = origin_of("db", path)
        raise UserError(f"{exc} ({origin})" if origin else str(exc)) from None


def load_rules_file(path: Path | None) -> tuple[Any, str | None]:
    """The differ's rules from a TOML file (default `parity-rules.toml` when present)."""
    from parity.differ import RulesError, load_rules

    if path is None:
        default = current_config().default_rules  # beside parity.toml
        if not default.is_file():
            return load_rules({}), None
        path = default
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read rules file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"rules file {path} is not valid TOML: {exc}") from None
    except ValueError as exc:  # a NUL in the name
        raise UserError(f"cannot read rules file {path!r}: {exc}") from None
    data = loads_toml(text, f"rules file {path}", UserError)
    try:
        return load_rules(data), str(path)
    except RulesError as exc:
        raise UserError(f"{path}: {exc}") from None


def resolve_target(config: Config, value: str, option: str) -> TargetConfig:
    """A target named in parity.toml or a URL (with its reset hook, if configured)."""
    if not value.startswith(("http://", "https://")) and not config.targets:
        raise click.BadParameter(
            "must start with http:// or https:// (or name a target of parity.toml)",
            param_hint=option,
        )
    return config.resolve(value, option)
