"""`parity gate`: pass or fail a run for the migration gate, and write its JSON artifact
(schema: docs/gate.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from parity.errors import UserError
from parity.keys import key_file_option
from parity.options import db_option, json_option, results_at
from parity.output import console

DEFAULT_ARTIFACT = Path("logs") / "parity_harness_results.json"
"""`triage.gate.DEFAULT_ARTIFACT`: where the cutover runbook expects the gate's results."""


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

    Example:

        parity gate --out logs/parity_harness_results.json --max-open 0
    """
    from parity import __version__
    from parity.config import current_config
    from parity.triage import TriageError
    from parity.triage.gate import Thresholds, artifact_text, build_gate, write_artifact

    settings = current_config().gate
    out = out or settings.out or DEFAULT_ARTIFACT
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
        _remove_stale(out)
        if isinstance(exc, UserError):
            raise
        raise UserError(str(exc)) from None
    if as_json:
        sys.stdout.write(artifact_text(data))
        sys.stdout.flush()
    else:
        from parity.triage import render

        render.gate(console(), data, str(out))
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
