"""`parity mark | compare | triage | gate`: decisions on findings, what changed from run
to run, walking the open findings in a terminal, and the migration gate."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from parity.errors import UserError
from parity.options import db_option, json_option, results_at
from parity.output import console, print_json

VERDICT_CHOICES = ("bug", "expected", "noise")
"""`triage.verdicts.VERDICTS`, repeated so that `parity --help` does not import triage."""
DEFAULT_ARTIFACT = Path("logs") / "parity_harness_results.json"
"""`triage.gate.DEFAULT_ARTIFACT`: where the cutover runbook expects the gate's results."""
NO_TERMINAL = "parity triage needs a terminal; use `parity mark` in scripts"


@click.command()
@click.argument("finding", metavar="FINDING_ID")
@click.option(
    "--as",
    "verdict",
    type=click.Choice(VERDICT_CHOICES),
    required=True,
    help="bug: must be fixed (stays open); expected, noise: accepted, no longer counted "
    "against the gate.",
)
@click.option(
    "--note",
    metavar="TEXT",
    default=None,
    help="Why (kept with the verdict). Without it a re-marked finding keeps its note; "
    '--note "" clears it.',
)
@db_option
@json_option
def mark(finding: str, verdict: str, note: str | None, db_path: Path, as_json: bool) -> None:
    """Record a verdict on a finding; it applies to every run, later ones included.

    FINDING_ID is a finding id or a unique prefix of one, in either case (as `parity
    report` prints it). Marking again replaces the verdict; every verdict is kept in the
    history.

    Example:

        parity mark F3f2a9c --as expected --note "C# writes Z for UTC; accepted"
    """
    from parity.triage.finding_queries import finding_json, title
    from parity.triage.verdicts import find_finding

    with results_at(db_path) as results_db:
        row = find_finding(results_db, finding)
        stored = results_db.mark(row["id"], verdict, note=note)
    if as_json:
        print_json({**stored, **{k: v for k, v in finding_json(row).items() if k != "id"}})
        return
    previous = stored["previous"]
    was = f" (was {previous['verdict']})" if previous and previous["verdict"] != verdict else ""
    said = f": {stored['note']}" if stored["note"] else ""
    where = row["route"] or "across routes"
    click.echo(f"parity mark: {row['id']} {where}: {title(row)} marked {verdict}{was}{said}")


@click.command()
@click.argument("runs", nargs=-1, metavar="[RUN_A] [RUN_B]")
@db_option
@json_option
def compare(runs: tuple[str, ...], db_path: Path, as_json: bool) -> None:
    """Compare two runs: the findings fixed, new, regressed, still open and accepted.

    Without RUN: the latest finished run against the finished run before it over the
    same sessions. One RUN: that run against the one before it over the same sessions.
    Two: those two, the older as A. Fixed: in A, not in B. New: in B, not in A, never
    seen fixed. Regressed: in B, not in A, but fixed before. Still open: in both, with no
    verdict or `bug`; accepted: in both, marked `expected` or `noise`.

    Example:

        parity compare --json
    """
    if len(runs) > 2:
        raise click.UsageError("give at most two runs: RUN_A RUN_B")
    from parity.triage.compare import build_compare

    with results_at(db_path) as results_db:
        data = build_compare(results_db, runs)
    if as_json:
        print_json(data)
        return
    from parity.triage import render

    render.compare(console(), data)


def _has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def _getchar() -> str:
    """One key press. click.getchar switches the terminal to raw mode with TCSAFLUSH,
    which drops a key typed while the screen was redrawing; here raw mode is entered
    without flushing (POSIX), and one byte is read so that type-ahead is kept."""
    if sys.platform == "win32" or not sys.stdin.isatty():
        return click.getchar()
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        key = os.read(fd, 1).decode("latin-1")
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
    if key == "\x03":
        raise KeyboardInterrupt
    if key in ("\x04", ""):
        raise EOFError
    return key


def _prompt(label: str) -> str | None:
    try:
        text: str = click.prompt(label, default="", show_default=False)
    except click.Abort:
        return None
    return text


def _pager(text: str) -> None:
    click.echo_via_pager(text, color=True)


@click.command(name="triage")
@click.argument("run", required=False, metavar="[RUN]")
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Walk every finding of the run, those with a verdict too.",
)
@db_option
def triage_walk(run: str | None, every: bool, db_path: Path) -> None:
    """Walk a run's findings without a verdict, most severe first, in the terminal.

    Each is shown as `parity show` shows it; one key decides: b bug, e expected,
    n noise, t add a note, s skip, p previous, v view it all (in a pager), q quit.
    Verdicts are stored as you go.
    RUN is a run id or a unique prefix (the latest run by default). Needs a terminal: in
    scripts, use `parity mark`.

    Example:

        parity triage 3f2a
    """
    if not _has_terminal():
        raise UserError(NO_TERMINAL)
    from parity.triage import queries, walk

    with results_at(db_path) as results_db:
        run_row = queries.find_run(results_db, run)
        walk_items = walk.items(results_db, run_row["id"], every=every)
        if not walk_items:
            scope = "findings" if every else "findings without a verdict"
            hint = "" if every else " (`parity triage --all` walks the others again)"
            click.echo(f"parity triage: run {run_row['id']} has no {scope}{hint}")
            return
        walked = walk.walk(
            results_db, run_row["id"], walk_items, console(), _getchar, _prompt, _pager
        )
    click.echo(walked.summary())


triage = triage_walk


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
@db_option
@json_option
@click.pass_context
def gate(
    ctx: click.Context,
    run: str | None,
    out: Path | None,
    max_open: str | None,
    max_errors: str,
    db_path: Path,
    as_json: bool,
) -> None:
    """Pass or fail a run for the migration gate, and write a JSON artifact.

    Exit 0 when the run finished with at most --max-open open findings (no verdict, or
    `bug`; serialization findings only with `[serialization] gate = true` in the run's
    rules) and at most --max-errors errored exchanges; 1 otherwise; 2 when the gate
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


__all__ = ["compare", "gate", "mark", "triage"]
