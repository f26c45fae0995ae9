"""`parity soak`: the soak health report over recordings (`triage/soak.py`; the report's
schema in docs/soak.md). Its thresholds and settings come from `[gate.soak]` in
parity.toml, which `parity gate --soak` applies too."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from parity.config import config_option, current_config
from parity.errors import EXIT_DIFFERENCES, EXIT_USAGE, UserError
from parity.formats import Format, output_options, write_rows
from parity.keys import key_file_option
from parity.options import quiet_option, rules_option
from parity.output import console, print_json
from parity.soak_input import run_soak, soak_settings, soak_thresholds

PLOTLY_MISSING = "--html needs plotly: pip install 'parity[report]' (or pip install plotly)"


@click.command()
@click.argument(
    "sessions",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, exists=True),
    metavar="SESSION_FILE_OR_DIR...",
)
@click.option(
    "--bucket",
    metavar="DURATION",
    help="Time bucket of the report: 1h (the default, or [gate.soak] bucket), 30m, 90s, 250ms.",
)
@click.option(
    "--loop-window",
    metavar="DURATION",
    help="A 401 within this time of the last one continues a login loop (default 5m).",
)
@click.option(
    "--loop-cycles",
    type=click.IntRange(1, 100_000),
    help="401 -> login -> 401 cycles in a row that make a login loop (default 3).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write one self-contained HTML report with a latency chart per route "
    "(needs plotly: the `report` extra).",
)
@rules_option(
    "[paths] rules in parity.toml, else parity-rules.toml if present; its [[route]] rules"
)
@output_options
@quiet_option
@config_option
@key_file_option
def soak(
    sessions: tuple[Path, ...],
    bucket: str | None,
    loop_window: str | None,
    loop_cycles: int | None,
    html_path: Path | None,
    rules: Path | None,
    output: Format | None,
    quiet: bool,
) -> None:
    """Report a soak's health: per hour and per route, volume, error rate, p50/p95/p99
    latency and its trend, response-size growth, and login loops.

    Reads the recordings (session files or directories, encrypted ones with their key)
    once, in constant memory. A route whose p95 grows across the soak, a response (or a
    top-level JSON list) that keeps growing, a session going 401 -> login -> 401 again
    and again, or too many 5xx answers is degradation: exit 1, with the reasons. The
    thresholds are `[gate.soak]` in parity.toml (docs/soak.md), as for `parity gate
    --soak`. Exit 0 when healthy, 2 on bad input. --json is the whole report; --nl,
    --csv, --tsv and -t list its routes (without their buckets).

    Example:

    \b
        parity soak .parity/sessions/ --html soak-report.html
        parity soak soak-day1/ --bucket 30m --json > soak.json
        parity soak soak-day1/ --csv > routes.csv
    """
    configured = current_config().gate.soak
    if html_path is not None:
        _need_plotly()
    settings = soak_settings(configured, rules, bucket, loop_window, loop_cycles)
    data = run_soak(
        sessions, settings, soak_thresholds(configured), quiet=quiet or output is not None
    )
    if html_path is not None:
        from parity.sessions.private import write_private
        from parity.triage.soak_view import html

        try:
            write_private(html_path, html(data).encode("utf-8"))
        except OSError as exc:
            raise UserError(f"cannot write {html_path}: {exc.strerror or exc}") from None
    if output is Format.JSON:
        print_json(data)
    elif output is not None:
        routes = [{k: v for k, v in r.items() if k != "buckets"} for r in data["routes"]]
        write_rows(routes, output)
    else:
        from parity.triage.soak_view import render

        render(console(), data)
        if html_path is not None:
            click.echo(f"HTML report: {html_path}", err=True)
    if not data["passed"]:
        sys.exit(EXIT_DIFFERENCES)


def _need_plotly() -> None:
    try:
        import plotly.graph_objects  # noqa: F401
    except ImportError:
        click.echo(PLOTLY_MISSING, err=True)
        sys.exit(EXIT_USAGE)


__all__ = ["soak"]
