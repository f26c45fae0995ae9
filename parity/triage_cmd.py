"""`parity mark | compare | triage`: decisions on findings, what changed from run to run,
and walking the open findings in a terminal."""

from __future__ import annotations

from pathlib import Path

import click

from parity.errors import UserError
from parity.formats import Format, iso_times, output_options, write_rows
from parity.keys import key_file_option
from parity.options import db_option, json_option, results_at
from parity.output import console, print_json
from parity.terminal import getchar, has_terminal, pager, prompt

VERDICT_CHOICES = ("bug", "expected", "noise")
"""`triage.verdicts.VERDICTS`, repeated so that `parity --help` does not import triage."""
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
@key_file_option
@json_option
def mark(finding: str, verdict: str, note: str | None, db_path: Path, as_json: bool) -> None:
    """Record a verdict on a finding; it applies to every run, later ones included.

    FINDING_ID is a finding id or a unique prefix of one, in either case (as `parity
    report` prints it). Marking again replaces the verdict; every verdict is kept in the
    history.

    Example:

    \b
        parity mark F3f2a9c --as expected --note "C# writes Z for UTC; accepted"
    """
    from parity.triage.finding_queries import finding_json, title
    from parity.triage.verdicts import find_finding

    with results_at(db_path) as results_db:
        row = find_finding(results_db, finding)
        stored = results_db.mark(row["id"], verdict, note=note)
    if as_json:
        previous = iso_times(stored["previous"])
        shown = {**iso_times(stored), "previous": previous}
        print_json({**shown, **{k: v for k, v in finding_json(row).items() if k != "id"}})
        return
    previous = stored["previous"]
    was = f" (was {previous['verdict']})" if previous and previous["verdict"] != verdict else ""
    said = f": {stored['note']}" if stored["note"] else ""
    where = row["route"] or "across routes"
    click.echo(f"parity mark: {row['id']} {where}: {title(row)} marked {verdict}{was}{said}")


@click.command()
@click.argument("runs", nargs=-1, metavar="[RUN_A] [RUN_B]")
@db_option
@key_file_option
@output_options
def compare(runs: tuple[str, ...], db_path: Path, output: Format | None) -> None:
    """Compare two runs: the findings fixed, new, regressed, recurring and accepted.

    Without RUN: the latest finished run against the finished run before it over the
    same sessions. One RUN: that run against the one before it over the same sessions.
    Two: those two, the older as A. Fixed: in A, not in B. New: in B, not in A, never
    seen fixed. Regressed: in B, not in A, but fixed before. Recurring: in both, with no
    verdict or `bug`; accepted: in both, marked `expected` or `noise`. --json is the
    whole comparison; --nl, --csv, --tsv and -t list the findings, a row each with its
    state.

    Example:

    \b
        parity compare --json
        parity compare --csv > findings.csv
    """
    if len(runs) > 2:
        raise click.UsageError("give at most two runs: RUN_A RUN_B")
    from parity.triage.compare import build_compare

    with results_at(db_path) as results_db:
        data = build_compare(results_db, runs)
    if output is Format.JSON:
        print_json({**data, "a": iso_times(data["a"]), "b": iso_times(data["b"])})
        return
    if output is not None:
        from parity.triage.compare import CATEGORIES

        write_rows([{"state": s, **f} for s in CATEGORIES for f in data[s]], output)
        return
    from parity.triage import render

    render.compare(console(), data)


@click.command(name="triage")
@click.argument("run", required=False, metavar="[RUN]")
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Walk every finding of the run, those with a verdict too.",
)
@db_option
@key_file_option
def triage_walk(run: str | None, every: bool, db_path: Path) -> None:
    """Walk a run's findings without a verdict, most severe first, in the terminal.

    Each is shown as `parity show` shows it; one key decides: b bug, e expected,
    n noise, t add a note, s skip, p previous, v view it all (in a pager), q quit.
    Verdicts are stored as you go.
    RUN is a run id or a unique prefix (the latest run by default). Needs a terminal: in
    scripts, use `parity mark`.

    Example:

    \b
        parity triage 3f2a
    """
    if not has_terminal():
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
        walked = walk.walk(results_db, run_row["id"], walk_items, console(), getchar, prompt, pager)
    click.echo(walked.summary())


triage = triage_walk


__all__ = ["compare", "mark", "triage"]
