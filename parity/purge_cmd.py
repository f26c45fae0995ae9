"""`parity purge`: delete what a pilot left — old session files and old runs."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from parity.errors import EXIT_USAGE, UserError
from parity.options import db_option, json_option, sessions_dir_option
from parity.output import format_bytes, plural, print_json

if TYPE_CHECKING:
    from parity.sessions.purge import SessionPurge
    from parity.triage.purge import ResultsPurge

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d{1,9})([dhms])")


def parse_duration(text: str) -> float:
    """Seconds of `14d`, `12h`, `30m` or `90s`; anything else is a one-line `UserError`."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise UserError(
            f"--older-than {shown!r} is not a duration: a whole number and d, h, m or s "
            "(14d, 12h, 30m, 90s)"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


@click.command()
@click.option(
    "--older-than",
    "older_than",
    default="14d",
    show_default=True,
    metavar="AGE",
    help="Remove what is older than this: 14d, 12h, 30m or 90s (0s: everything).",
)
@click.option("--sessions", "only_sessions", is_flag=True, help="Session files only.")
@click.option("--results", "only_results", is_flag=True, help="Runs in the results database only.")
@sessions_dir_option("--sessions-dir")
@db_option
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (needed without a terminal).")
@json_option
def purge(
    older_than: str,
    only_sessions: bool,
    only_results: bool,
    sessions_dir: Path,
    db_path: Path,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Delete session files and replay runs older than --older-than, for good.

    Without --sessions or --results, both. Session files go with the leftovers beside
    them; runs go with their results, mismatches, stored bodies and finding links, then
    the database is vacuumed and its WAL truncated, so nothing deleted stays in the
    files. Verdicts and learned noise stay (`parity noise --forget` drops the latter).
    Asks first on a terminal; elsewhere --yes is required.

    Example:

    \b
        parity purge --older-than 14d --dry-run
        parity purge --older-than 12h --sessions --yes
    """
    cutoff = time.time() - parse_duration(older_than)
    both = not (only_sessions or only_results)
    what = (both or only_sessions, both or only_results, sessions_dir, db_path, cutoff)
    if not (dry_run or yes):
        if not _on_terminal():
            raise UserError("parity purge deletes data: give --yes (no terminal to ask on)")
        preview = _run(*what, dry_run=True)
        if not preview.removes:
            _render(preview, older_than, as_json)
            return
        _render(preview, older_than, False)
        if not click.confirm("Delete these for good?", default=False, err=True):
            click.echo("parity purge: nothing deleted")
            return
    found = _run(*what, dry_run=dry_run)
    _render(found, older_than, as_json)
    failed = found.sessions.failed if found.sessions else []
    for line in failed:
        click.secho(f"parity: error: {line}", fg="red", err=True)
    if failed:
        sys.exit(EXIT_USAGE)


@dataclass(slots=True)
class _Found:
    sessions: SessionPurge | None
    results: ResultsPurge | None

    @property
    def removes(self) -> bool:
        files = self.sessions is not None and bool(
            self.sessions.sessions or self.sessions.leftovers
        )
        return files or (self.results is not None and self.results.runs > 0)


def _run(
    sessions: bool,
    results: bool,
    sessions_dir: Path,
    db_path: Path,
    cutoff: float,
    *,
    dry_run: bool,
) -> _Found:
    from parity.sessions.purge import purge_sessions
    from parity.triage.purge import purge_results

    return _Found(
        purge_sessions(sessions_dir, cutoff, dry_run=dry_run) if sessions else None,
        purge_results(db_path, cutoff, dry_run=dry_run) if results else None,
    )


def _render(found: _Found, older_than: str, as_json: bool) -> None:
    files, runs = found.sessions, found.results
    if as_json:
        data: dict[str, object] = {"older_than": older_than}
        if files is not None:
            data["sessions"] = files.to_json()
        if runs is not None:
            data["results"] = runs.to_json()
        print_json(data)
        return
    if files is not None:
        verb = "would remove" if files.dry_run else "removed"
        click.echo(
            f"parity purge: {files.root}: {verb} {plural(len(files.sessions), 'session file')}"
            f" and {plural(len(files.leftovers), 'leftover')} older than {older_than}"
            f" ({format_bytes(files.bytes)})"
        )
        if files.dry_run:
            for each in (*files.sessions, *files.leftovers):
                click.echo(f"  {each.path}  {format_bytes(each.size)}")
    if runs is not None:
        verb = "would remove" if runs.dry_run else "removed"
        sizes = format_bytes(runs.bytes_before)
        if not runs.dry_run:
            sizes = f"{sizes} -> {format_bytes(runs.bytes_after)}"
        counts = ", ".join(
            (
                plural(runs.results, "result"),
                plural(runs.mismatches, "mismatch", "mismatches"),
                plural(runs.bodies, "stored body", "stored bodies"),
                plural(runs.findings, "finding"),
            )
        )
        click.echo(
            f"parity purge: {runs.path}: {verb} {plural(runs.runs, 'run')} older than "
            f"{older_than} ({counts}; {sizes})"
        )


def _on_terminal() -> bool:
    return sys.stdin.isatty()
