"""`parity sessions list|show`: what was captured."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import click

from parity.errors import UserError
from parity.options import json_option, sessions_option
from parity.output import console, format_bytes, print_json
from parity.sessions import Exchange, SessionFileError, SessionReader, SessionStore, SessionSummary
from parity.sessions.secrets import mask_path


@click.group()
def sessions() -> None:
    """Inspect recorded session files.

    Example:

        parity sessions list
    """


def _state(summary: SessionSummary) -> str:
    if summary.complete:
        return "complete"
    if summary.read.skipped_bytes:
        return f"torn ({summary.read.skipped_bytes} B skipped)"
    return "open or killed"


@sessions.command("list")
@sessions_option
@json_option
def list_sessions(sessions_dir: Path, as_json: bool) -> None:
    """List the session files, oldest first.

    Example:

        parity sessions list --json
    """
    store = SessionStore(sessions_dir)
    found = list(store.summaries())
    if as_json:
        print_json(
            [s.to_json() if isinstance(s, SessionSummary) else {"error": str(s)} for s in found]
        )
        return
    from rich.table import Table

    from parity.triage.render import format_time  # lazily, as rich: --help stays fast

    out = console()
    if not found:
        out.print(f"No sessions in {sessions_dir}.")
        return
    table = Table(title=f"Sessions in {sessions_dir}")
    for name, justify in [
        ("id", "left"),
        ("label", "left"),
        ("started", "left"),
        ("exchanges", "right"),
        ("errors", "right"),
        ("size", "right"),
        ("state", "left"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in found:
        if isinstance(s, SessionFileError):
            table.add_row("-", "-", "-", "-", "-", "-", f"[red]{_esc(str(s))}[/red]")
            continue
        table.add_row(
            _esc(s.header.id),
            _esc(s.header.label),
            format_time(s.header.started_at),
            str(s.exchanges),
            str(s.errors),
            format_bytes(s.path.stat().st_size),
            _state(s),
        )
    out.print(table)


def _exchange_json(exchange: Exchange) -> dict[str, Any]:
    from parity.differ.routes import (
        route_of,  # the differ package is heavy to import; --help is not
    )

    response = exchange.response
    duration = None
    if response is not None and response.timestamp_end is not None:
        duration = round((response.timestamp_end - exchange.request.timestamp_start) * 1000, 3)
    return {
        "seq": exchange.seq,
        "method": exchange.request.method,
        "path": mask_path(exchange.request.path),
        "route": route_of(exchange.request.method, exchange.request.path),
        "status": response.status if response else None,
        "error": exchange.error.message if exchange.error else None,
        "started_at": exchange.started_at,
        "duration_ms": duration,
        "request_bytes": len(exchange.request.body),
        "response_bytes": len(response.body) if response else 0,
        "messages": len(exchange.messages),
    }


@sessions.command("show")
@click.argument("session_ref", metavar="ID")
@sessions_option
@click.option(
    "--limit", type=int, default=200, show_default=True, help="Exchanges to list (0: all)."
)
@json_option
def show_session(session_ref: str, sessions_dir: Path, limit: int, as_json: bool) -> None:
    """Show one session: its header, counts by route and status, and its exchanges.

    ID is a session id, a unique prefix of one, or a path to a .parity file.

    Example:

        parity sessions show 20261126-1752
    """
    try:
        path = SessionStore(sessions_dir).resolve(session_ref)
        with SessionReader(path) as reader:
            header = reader.header
            rows: list[dict[str, Any]] = []
            routes: dict[str, Counter[str]] = defaultdict(Counter)
            for exchange in reader:
                row = _exchange_json(exchange)
                routes[row["route"]][str(row["status"] or "error")] += 1
                if not limit or len(rows) < limit:
                    rows.append(row)
            result = reader.result
    except SessionFileError as exc:
        raise UserError(str(exc)) from None

    total = sum(sum(c.values()) for c in routes.values())
    route_rows = [
        {"route": route, "count": sum(c.values()), "statuses": dict(sorted(c.items()))}
        for route, c in sorted(routes.items(), key=lambda item: -sum(item[1].values()))
    ]
    if as_json:
        print_json(
            {
                "session": {**header.to_record(), "path": str(path)},
                "exchanges_total": total,
                "trailer": result.trailer.to_record() if result.trailer else None,
                "skipped_bytes": result.skipped_bytes,
                "skipped_reason": result.skipped_reason or None,
                "malformed_records": result.malformed_records,
                "routes": route_rows,
                "exchanges": rows,
            }
        )
        return
    _render_show(path, header.to_record(), total, result, route_rows, rows)


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _render_show(
    path: Path,
    header: dict[str, Any],
    total: int,
    result: Any,
    route_rows: list[dict[str, Any]],
    rows: list[dict[str, Any]],
) -> None:
    from rich.table import Table

    from parity.triage.render import format_time

    out = console()
    out.print(f"[bold]{_esc(header['id'])}[/bold]  {_esc(header['label'] or '')}")
    out.print(f"  file      {_esc(str(path))}")
    out.print(f"  upstream  {_esc(header['upstream'] or '-')}")
    out.print(f"  started   {format_time(header['started_at'])}")
    if result.trailer:
        out.print(f"  ended     {format_time(result.trailer.ended_at)} (closed cleanly)")
    else:
        out.print("  ended     [yellow]no trailer: the recorder is running or was killed[/yellow]")
    if result.skipped_bytes:
        out.print(
            f"  [yellow]skipped {result.skipped_bytes} bytes: {result.skipped_reason}[/yellow]"
        )
    if result.malformed_records:
        out.print(f"  [yellow]{result.malformed_records} malformed records passed over[/yellow]")
    out.print(f"  exchanges {total}")

    routes = Table(title="By route")
    routes.add_column("route")
    routes.add_column("count", justify="right")
    routes.add_column("statuses")
    for r in route_rows:
        statuses = "  ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        routes.add_row(_esc(r["route"]), str(r["count"]), statuses)
    out.print(routes)

    table = Table(
        title="Exchanges" if len(rows) == total else f"First {len(rows)} of {total} exchanges"
    )
    for name in ("seq", "method", "path", "status", "ms", "bytes"):
        table.add_column(
            name,
            justify="right" if name in ("seq", "ms", "bytes") else "left",
            overflow="fold" if name == "path" else "ellipsis",
        )
    for row in rows:
        status = (
            str(row["status"])
            if row["status"] is not None
            else f"[red]{_esc(row['error'] or '')}[/red]"
        )
        if row["messages"]:
            status += f" +{row['messages']} msgs"
        ms = f"{row['duration_ms']:.1f}" if row["duration_ms"] is not None else "-"
        table.add_row(
            str(row["seq"]),
            _esc(row["method"]),
            _esc(row["path"]),
            status,
            ms,
            format_bytes(row["response_bytes"]),
        )
    out.print(table)
