"""`parity sessions list|show`: what was captured."""

from __future__ import annotations

from pathlib import Path

import click

from parity.errors import UserError
from parity.formats import Format, iso_times, output_options, write_rows
from parity.keys import key_file_option
from parity.options import sessions_option
from parity.output import print_json
from parity.sessions import SessionFileError, SessionStore, listed_json
from parity.sessions_view import render_list, render_show, session_overview


@click.group()
def sessions() -> None:
    """Inspect recorded session files.

    Example:

    \b
        parity sessions list
    """


@sessions.command("list")
@sessions_option
@key_file_option
@output_options
def list_sessions(sessions_dir: Path, output: Format | None) -> None:
    """List the sessions, oldest first (a rotated session once, with its parts).

    Example:

    \b
        parity sessions list --json
        parity sessions list --tsv | cut -f1
    """
    store = SessionStore(sessions_dir)
    found = list(store.summaries())
    if output is Format.JSON:
        print_json(iso_times([listed_json(s) for s in found]))
        return
    if output is not None:
        write_rows([listed_json(s) for s in found], output)
        return
    render_list(sessions_dir, found)


@sessions.command("show")
@click.argument("session_ref", metavar="ID")
@sessions_option
@key_file_option
@click.option(
    "--limit", type=int, default=200, show_default=True, help="Exchanges to list (0: all)."
)
@output_options
def show_session(session_ref: str, sessions_dir: Path, limit: int, output: Format | None) -> None:
    """Show one session: its header, counts by route and status, and its exchanges.

    ID is a session id, a unique prefix of one (all its parts, when it was recorded
    with --rotate), or a path to a .parity file. --json is the whole overview; --nl,
    --csv, --tsv and -t list its exchanges.

    Example:

    \b
        parity sessions show 20261126-1752
    """
    try:
        session = SessionStore(sessions_dir).find(session_ref)
        overview = session_overview(session, limit)
    except SessionFileError as exc:
        raise UserError(str(exc)) from None
    if output is Format.JSON:
        data = overview.to_json()
        times = {key: iso_times(data[key]) for key in ("session", "trailer", "exchanges")}
        print_json({**data, **times})
        return
    if output is not None:
        write_rows(overview.exchanges, output)
        return
    render_show(overview)
