"""`parity report | show | runs`: what a replay found, from the results database."""

from __future__ import annotations

from pathlib import Path

import click

from parity.formats import Format, iso_times, output_options, write_rows
from parity.keys import key_file_option
from parity.options import db_option, json_option, results_at
from parity.output import console, print_json


@click.command()
@click.argument("run", required=False, metavar="[RUN]")
@db_option
@key_file_option
@output_options
def report(run: str | None, db_path: Path, output: Format | None) -> None:
    """Summarize a replay run: parity per route, mismatches grouped by signature.

    RUN is a run id or a unique prefix of one; the latest run by default. --json is the
    whole report; --nl, --csv, --tsv and -t list its routes (parity and latency per
    route).

    Example:

    \b
        parity report --json
        parity report --csv > routes.csv
    """
    from parity.triage import queries

    with results_at(db_path) as results_db:
        data = queries.build_report(results_db, run)
    if output is Format.JSON:
        print_json({**data, "run": iso_times(data["run"])})
        return
    if output is not None:
        write_rows(data["routes"], output)
        return
    from parity.triage import render

    render.report(console(), data)


@click.command()
@click.argument("ref", metavar="ID")
@db_option
@key_file_option
@json_option
def show(ref: str, db_path: Path, as_json: bool) -> None:
    """Show one mismatch in full, or a signature with its first mismatch.

    ID is a mismatch id or a signature id, or a unique prefix of either (as printed by
    `parity report`).

    Example:

    \b
        parity show 3f2a
    """
    from parity.triage import queries

    with results_at(db_path) as results_db:
        data = queries.show(results_db, ref)
    if as_json:
        runs_of = {  # the runs a finding or a signature shows in, with their start times
            key: {**data[key], "runs": iso_times(data[key]["runs"])}
            for key in ("finding", "signature")
            if data.get(key) is not None
        }
        print_json({**data, **runs_of})
        return
    from parity.triage import render

    render.show(console(), data)


@click.command()
@db_option
@output_options
def runs(db_path: Path, output: Format | None) -> None:
    """List the replay runs, newest first, with their totals.

    Example:

    \b
        parity runs --json
        parity runs --csv > runs.csv
    """
    from parity.triage import queries

    with results_at(db_path) as results_db:
        rows = queries.list_runs(results_db)
    if output is Format.JSON:
        print_json(iso_times(rows))
        return
    if output is not None:
        write_rows(rows, output)
        return
    from parity.triage import render

    render.runs(console(), rows, str(db_path))
