"""`parity noise`: what runs with a baseline learned about noise, and forgetting it."""

from __future__ import annotations

from pathlib import Path

import click

from parity.formats import Format, output_options, write_rows
from parity.keys import key_file_option
from parity.options import db_option, results_at
from parity.output import console, print_json
from parity.prompts import confirm


@click.command()
@click.option(
    "--route",
    "route_glob",
    metavar="GLOB",
    help="Only routes matching this glob, whole (`GET /api/vaults/*`) or by path "
    "(`/api/vaults/*`).",
)
@click.option(
    "--path",
    metavar="PATH",
    help="Only this place: a JSON path (`$.took_ms`), a header name, or `status`.",
)
@click.option(
    "--forget", is_flag=True, help="Forget the matching entries (asks first on a terminal)."
)
@click.option(
    "--yes", "-y", is_flag=True, help="With --forget: do not ask (needed without a terminal)."
)
@db_option
@output_options
@key_file_option
def noise(
    route_glob: str | None,
    path: str | None,
    forget: bool,
    yes: bool,
    db_path: Path,
    output: Format | None,
) -> None:
    """List the noise learned from runs with a baseline, or forget some of it.

    Each entry is a place (route, where, path) at which the recording and a live
    baseline disagreed: how often (disagreements / exchanges compared on that route),
    why it was learned, and one example. Later runs suppress it without a baseline.
    What the latest run with a baseline did not learn, because it looked like state
    drift (the baseline not in the recorded state), is listed below the table.
    Forgetting every path of a route also resets how many of its exchanges were
    compared.

    Example:

    \b
        parity noise --route 'GET /api/vaults/*'
        parity noise --csv > noise.csv
        parity noise --forget --route '/api/vaults/*' --path '$.took_ms' --yes
    """
    with results_at(db_path) as results_db:
        rows = results_db.noise_rows(route_glob, path)
        if not forget:
            if output is Format.JSON:
                print_json(rows)
                return
            if output is not None:
                write_rows(rows, output)
                return
            from parity.triage import render
            from parity.triage.noise import excluded_noise

            excluded = excluded_noise(results_db) if route_glob is None and path is None else None
            render.noise(console(), rows, str(db_path), route_glob, excluded)
            return
        if not rows:
            _done(output, 0, "no learned noise matches: nothing forgotten")
            return
        if not yes:
            what = f"{len(rows)} learned noise {'entry' if len(rows) == 1 else 'entries'}"
            scope = []
            if route_glob is not None:
                scope.append(f"routes matching {route_glob!r}")
            if path is not None:
                scope.append(f"path {path!r}")
            where = f" ({', '.join(scope)})" if scope else " (everything learned)"
            refusal = "parity noise --forget deletes learned noise"
            if not confirm(f"Forget {what}{where}?", yes=yes, refusal=refusal):
                _done(output, 0, "nothing forgotten")
                return
        forgotten = results_db.forget_noise(route_glob, path)
    _done(
        output,
        forgotten,
        f"forgot {forgotten} learned noise {'entry' if forgotten == 1 else 'entries'}",
    )


def _done(output: Format | None, forgotten: int, message: str) -> None:
    if output is Format.JSON:
        print_json({"forgotten": forgotten})
    else:
        click.echo(f"parity noise: {message}")
