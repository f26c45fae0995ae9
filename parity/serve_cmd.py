"""`parity serve`: browse the results database in Datasette (the optional extra
`parity[datasette]`), with the metadata that titles its tables, views and columns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from parity.errors import UserError
from parity.options import db_option, results_at

INSTALL_HINT = "parity serve needs Datasette: pip install 'parity[datasette]' (or datasette)"


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 shares your results with the network).",
)
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=8001,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@db_option
@click.argument("datasette_args", nargs=-1, type=click.UNPROCESSED)
def serve(host: str, port: int, db_path: Path, datasette_args: tuple[str, ...]) -> None:
    """Browse the results database in Datasette: tables, the views `run_summary`,
    `open_findings` and `mismatches_by_route`, times as ISO 8601 in the `*_iso` views,
    every table and column described. Writes the metadata next to the database
    (`parity.metadata.json` for `parity.db`) and starts `datasette serve` with it;
    more Datasette options go after `--`.

    \b
    Example:

    \b
        parity serve
        parity serve --port 0 -- --open
    """
    if importlib.util.find_spec("datasette") is None:
        raise UserError(INSTALL_HINT)
    from parity.triage.metadata import write_metadata

    with results_at(db_path) as results_db:  # checked and migrated: the views are there
        try:
            meta = write_metadata(results_db.path, results_db.db.conn)
        except OSError as exc:
            raise UserError(f"cannot write Datasette's metadata: {exc}") from None
    try:
        from datasette.cli import cli as datasette_cli
    except ImportError as exc:  # installed but broken
        raise UserError(f"{INSTALL_HINT} ({exc})") from None
    args = ["serve", str(db_path), "--metadata", str(meta), "-h", host, "-p", str(port)]
    datasette_cli.main([*args, *datasette_args], prog_name="datasette")
