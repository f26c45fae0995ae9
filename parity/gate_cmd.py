"""`parity gate`: pass or fail a run for the migration gate, and write its JSON artifact
(schema: docs/gate.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from parity.errors import ParityError, UserError
from parity.keys import key_file_option
from parity.options import db_option, json_option, results_at
from parity.output import console

DEFAULT_ARTIFACT = Path("logs") / "parity_harness_results.json"
"""`triage.gate.DEFAULT_ARTIFACT`: where the cutover runbook expects the gate's results."""
DEFAULT_SOAK_ARTIFACT = Path("logs") / "parity_soak_results.json"
"""Where `parity gate --soak` writes the soak report (`parity-soak/1`, docs/soak.md)."""


@click.command()
@click.argument("run", required=False, metavar="[RUN]")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the JSON artifact (parent directories are created); default "
    f"[gate] out in parity.toml, else {DEFAULT_ARTIFACT}.",
)
@click.option(
    "--max-open",
    default=None,
    metavar="N",
    help="Open findings (no verdict, or bug) allowed; default [gate] max_open in "
    "parity.toml, else 0.",
)
@click.option(
    "--max-errors",
    default="0",
    show_default=True,
    metavar="N",
    help="Errored exchanges (the target did not answer) allowed.",
)
@click.option(
    "--allow-torn",
    is_flag=True,
    help="Pass a run that replayed torn or partly corrupt session files (bytes skipped, "
    "malformed records passed over); by default such a run fails.",
)
@click.option(
    "--soak",
    "soak_paths",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    metavar="SESSION_FILE_OR_DIR",
    help="Gate a soak instead of a run: its recordings (repeatable) against the "
    "thresholds of [gate.soak] in parity.toml; the artifact is the soak report "
    f"(default [gate.soak] out, else {DEFAULT_SOAK_ARTIFACT}).",
)
@db_option
@key_file_option
@json_option
@click.pass_context
def gate(
    ctx: click.Context,
    run: str | None,
    out: Path | None,
    max_open: str | None,
    max_errors: str,
    allow_torn: bool,
    soak_paths: tuple[Path, ...],
    db_path: Path,
    as_json: bool,
) -> None:
    """Pass or fail a run for the migration gate, and write a JSON artifact.

    Exit 0 when the run finished with at most --max-open open findings (no verdict, or
    `bug`; serialization findings only with `[serialization] gate = true` in the run's
    rules), at most --max-errors errored exchanges and every session file read whole
    (or --allow-torn); 1 otherwise; 2 when the gate
    cannot run (no database, no such run, bad option, artifact not writable), in which
    case an artifact left at --out by an earlier gate is removed. RUN is a run id or
    prefix, the latest run by default. The artifact's schema: docs/gate.md.

    With --soak, the gate passes or fails a soak's recordings instead (the runbook's
    Stage 1: no login loops, no degradation): exit 0 when the soak report finds nothing
    beyond the thresholds of [gate.soak], 1 with the reasons otherwise, 2 when it cannot
    run. The artifact is the report of `parity soak --json` (docs/soak.md).

    Example:

    \b
        parity gate --out logs/parity_harness_results.json --max-open 0
        parity gate --soak soak-day1/
    """
    if soak_paths:
        if run is not None:
            raise click.UsageError("--soak gates soak recordings, not a run: drop RUN")
        _gate_soak(ctx, soak_paths, out, as_json)
        return
    from parity import __version__
    from parity.config import current_config
    from parity.triage import TriageError
    from parity.triage.gate import Thresholds, build_gate, write_artifact

    config = current_config()
    settings = config.gate
    out = out or settings.out or config.root / DEFAULT_ARTIFACT  # beside parity.toml
    if max_open is None:
        max_open = str(settings.max_open) if settings.max_open is not None else "0"
    data: dict[str, Any]
    try:
        thresholds = Thresholds(
            max_open=_count("--max-open", max_open),
            max_errors=_count("--max-errors", max_errors),
            allow_torn=allow_torn,
        )
        with results_at(db_path) as results_db:
            data = build_gate(results_db, run, thresholds, tool_version=__version__)
        write_artifact(out, data)
    except (UserError, TriageError) as exc:
        _failed(out, exc)

    def show() -> None:
        from parity.triage import render

        render.gate(console(), data, str(out))

    _emit(ctx, data, as_json, show)


def _gate_soak(
    ctx: click.Context, paths: tuple[Path, ...], out: Path | None, as_json: bool
) -> None:
    """`parity gate --soak`: the soak report as the artifact, its verdict as the exit."""
    from parity.config import current_config
    from parity.soak_input import run_soak, soak_settings, soak_thresholds
    from parity.triage import TriageError
    from parity.triage.gate import write_artifact

    config = current_config()
    configured = config.gate.soak
    out = out or configured.get("out") or config.root / DEFAULT_SOAK_ARTIFACT
    try:
        settings = soak_settings(configured, None, None, None, None)
        data = run_soak(paths, settings, soak_thresholds(configured), quiet=True)
        write_artifact(out, data)
    except (ParityError, TriageError) as exc:
        _failed(out, exc)

    def show() -> None:
        from parity.triage.soak_view import render

        render(console(), data)
        click.echo(f"soak report: {out}", err=True)

    _emit(ctx, data, as_json, show)


def _failed(out: Path, exc: Exception) -> NoReturn:
    """The gate could not run: no artifact left behind, one red line."""
    _remove_stale(out)
    if isinstance(exc, UserError):
        raise exc
    raise UserError(str(exc)) from None


def _emit(
    ctx: click.Context, data: dict[str, Any], as_json: bool, show: Callable[[], None]
) -> None:
    """The artifact on stdout with --json, else `show` it; exit with its verdict."""
    from parity.triage.gate import artifact_text

    if as_json:
        sys.stdout.write(artifact_text(data))
        sys.stdout.flush()
    else:
        show()
    ctx.exit(int(data["exit_code"]))


def _count(option: str, value: str) -> int:
    """A threshold: a whole number, 0 or more (checked here rather than by click, so that a
    bad value also removes a stale artifact)."""
    try:
        number = int(value.strip())
    except ValueError:
        raise UserError(f"{option} takes a whole number, 0 or more, not {value!r}") from None
    if number < 0:
        raise UserError(f"{option} takes a whole number, 0 or more, not {number}")
    return number


def _remove_stale(out: Path) -> None:
    """A gate that could not run leaves no artifact behind that an older gate wrote."""
    try:
        if out.is_file():
            out.unlink()
    except OSError:
        pass


__all__ = ["gate"]
