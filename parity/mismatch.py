"""What `parity repro` and `parity shrink` share: one mismatch loaded as a
`replayer.Case` (`--db`, `--sessions`), a differ like its run's (`--rules`, learned
noise), and the target to send it to (`--target`, `--reset`, `--timeout`). Errors of the
rooms become one red line here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from parity.config import Config, TargetConfig
from parity.errors import UserError
from parity.options import (
    db_option,
    load_rules_file,
    resolve_target,
    results_at,
    rules_option,
    sessions_option,
    timeout_option,
)

if TYPE_CHECKING:
    from parity.differ import Differ
    from parity.replayer import Case, ReplaySettings

F = TypeVar("F", bound=Callable[..., Any])


def case_options(func: F) -> F:
    """`--db`, `--sessions`, `--rules` and `--timeout`, as both commands take them."""
    for option in (
        timeout_option,
        rules_option("the run's, else [paths] rules, else parity-rules.toml"),
        sessions_option,
        db_option,
    ):
        func = option(func)
    return func


def load_mismatch(ref: str, db_path: Path, sessions_dir: Path, *, earlier: bool = True) -> Case:
    """The mismatch `ref` names, its exchange and (with `earlier`) the ones before it."""
    from parity.replayer import load_case
    from parity.sessions import SessionFileError

    try:
        with results_at(db_path) as rdb:
            return load_case(rdb, ref, sessions_dir, earlier=earlier)
    except SessionFileError as exc:
        raise UserError(str(exc)) from None


def differ_like_run(
    case: Case, rules: Path | None, config: Config, db_path: Path, sessions_dir: Path
) -> Differ:
    """A differ like the case's run: its rules file (`--rules` wins; then the run's own
    when it is still there; then parity.toml's), the database's learned noise, route keys
    detected over the run's session files."""
    from parity.replayer import build_differ

    differ_rules, _ = load_rules_file(rules or case.rules_file() or config.rules)
    with results_at(db_path) as rdb:
        learned = rdb.learned_noise()
    return build_differ(case, differ_rules, learned, sessions_dir)


def chosen_target(
    case: Case, config: Config, target: str | None, reset: str | None
) -> TargetConfig:
    """`--target` (else the run's target), with `--reset` instead of its own hook when
    given (`--reset ""`: none)."""
    chosen = (
        resolve_target(config, target, "--target") if target else config.resolve(case.run_target)
    )
    if reset is not None:
        return TargetConfig(chosen.name, chosen.url, reset or None)
    return chosen


def replay_settings(chosen: TargetConfig, config: Config, timeout: float | None) -> ReplaySettings:
    """Settings to send to `chosen` one request at a time (`--timeout`, else parity.toml's)."""
    import dataclasses

    from parity.replayer import ReplaySecrets, settings_for

    settings = settings_for(
        chosen.url,
        chosen.name,
        chosen.reset,
        timeout=timeout if timeout is not None else config.timeout,
        reset_timeout=config.reset_timeout,
    )
    secrets = ReplaySecrets.load(config.state, config.redact, config.secrets)
    return dataclasses.replace(settings, secrets=secrets)
