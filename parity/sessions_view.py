"""How `parity sessions list|show` shows sessions: one session read into an overview
(counts by route and status, its first exchanges), and the rich tables of both."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parity.output import console, escape_markup, format_bytes
from parity.sessions import (
    Exchange,
    Listed,
    ReadResult,
    SessionHeader,
    SessionKeyError,
    SessionParts,
    SessionSummary,
    open_session,
)
from parity.sessions.parts import as_parts
from parity.sessions.secrets import mask_path


@dataclass(slots=True)
class SessionOverview:
    path: Path
    header: SessionHeader
    result: ReadResult
    total: int
    routes: list[dict[str, Any]]
    exchanges: list[dict[str, Any]]
    encrypted: bool = False
    notes: dict[str, int] | None = None
    """What the recorder noted on exchanges (a body not scanned for secrets...) -> count."""
    parts: tuple[Path, ...] = ()
    """The session's files in order (more than one when recorded with `--rotate`)."""

    def to_json(self) -> dict[str, Any]:
        result = self.result
        return {
            "session": {**self.header.to_record(), "path": str(self.path)},
            "encrypted": self.encrypted,
            "exchanges_total": self.total,
            "trailer": result.trailer.to_record() if result.trailer else None,
            "skipped_bytes": result.skipped_bytes,
            "skipped_reason": result.skipped_reason or None,
            "malformed_records": result.malformed_records,
            "routes": self.routes,
            "exchanges": self.exchanges,
            "notes": self.notes or {},
            "parts": [str(p) for p in self.parts or (self.path,)],
            "missing_parts": result.missing_parts,
        }


def session_overview(session: Path | SessionParts, limit: int) -> SessionOverview:
    """One read of the session (all its parts): every exchange counted by route and
    status, the first `limit` (0: all) listed. Raises `SessionFileError`."""
    parts = as_parts(session)
    with open_session(parts) as reader:
        rows: list[dict[str, Any]] = []
        routes: dict[str, Counter[str]] = defaultdict(Counter)
        notes: Counter[str] = Counter()
        for exchange in reader:
            notes.update(exchange.notes)
            row = _exchange_json(exchange)
            routes[row["route"]][str(row["status"] or "error")] += 1
            if not limit or len(rows) < limit:
                rows.append(row)
        header, result, encrypted = reader.header, reader.result, reader.encrypted
    route_rows: list[dict[str, Any]] = [
        {"route": route, "count": sum(c.values()), "statuses": dict(sorted(c.items()))}
        for route, c in sorted(routes.items(), key=lambda item: -sum(item[1].values()))
    ]
    total = sum(r["count"] for r in route_rows)
    return SessionOverview(
        parts.path, header, result, total, route_rows, rows, encrypted, dict(notes), parts.paths
    )


def _exchange_json(exchange: Exchange) -> dict[str, Any]:
    from parity.differ.routes import route_of  # heavy to import; --help is not

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
        "notes": list(exchange.notes),
    }


def _state(summary: SessionSummary) -> str:
    read = summary.read
    if summary.complete:
        state = f"complete, {read.skipped_bytes} B skipped" if read.skipped_bytes else "complete"
    elif read.skipped_bytes:
        state = f"torn ({read.skipped_bytes} B skipped)"
    else:
        state = "open or killed"
    if read.malformed_records:
        state += f", {read.malformed_records} malformed"
    if read.missing_parts:
        state += f", part {', '.join(map(str, read.missing_parts))} missing"
    return state


def render_list(sessions_dir: Path, found: list[Listed]) -> None:
    from rich.table import Table

    from parity.triage.render import format_time  # lazily, as rich: --help stays fast

    out = console()
    if not found:
        out.print(f"No sessions in {sessions_dir}.")
        return
    table = Table(title=f"Sessions in {sessions_dir}")
    for name in ("id", "label", "started", "exchanges", "errors", "size", "state"):
        table.add_column(
            name, justify="right" if name in ("exchanges", "errors", "size") else "left"
        )
    for s in found:
        if isinstance(s, SessionKeyError) and s.path is not None:
            state = "encrypted" if s.missing else "[red]encrypted: wrong key[/red]"
            size = format_bytes(s.path.stat().st_size) if s.path.exists() else "-"
            table.add_row(escape_markup(s.path.stem), "-", "-", "-", "-", size, state)
            continue
        if not isinstance(s, SessionSummary):
            table.add_row("-", "-", "-", "-", "-", "-", f"[red]{escape_markup(str(s))}[/red]")
            continue
        parts = s.parts or (s.path,)
        shown = s.header.id + (f" ({len(parts)} parts)" if len(parts) > 1 else "")
        table.add_row(
            escape_markup(shown),
            escape_markup(s.header.label),
            format_time(s.header.started_at),
            str(s.exchanges),
            str(s.errors),
            format_bytes(sum(p.stat().st_size for p in parts if p.exists())),
            _state(s),
        )
    out.print(table)


def render_show(overview: SessionOverview) -> None:
    from parity.triage.render import format_time

    out = console()
    header, result = overview.header, overview.result
    out.print(f"[bold]{escape_markup(header.id)}[/bold]  {escape_markup(header.label or '')}")
    encrypted = " (encrypted, AES-256-GCM)" if overview.encrypted else ""
    out.print(f"  file      {escape_markup(str(overview.path))}{encrypted}")
    if len(overview.parts) > 1:
        out.print(
            f"  parts     {len(overview.parts)} (to {escape_markup(overview.parts[-1].name)})"
        )
    if result.missing_parts:
        missing = ", ".join(map(str, result.missing_parts))
        out.print(f"  [yellow]missing   part {missing}: read without it[/yellow]")
    out.print(f"  upstream  {escape_markup(header.upstream or '-')}")
    out.print(f"  started   {format_time(header.started_at)}")
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
    out.print(f"  exchanges {overview.total}")
    for line in imported_lines(header.meta.get("imported")):
        out.print(f"  {escape_markup(line)}")
    for note, count in (overview.notes or {}).items():
        out.print(f"  [yellow]noted     {count} x {escape_markup(note)}[/yellow]")
    out.print(_routes_table(overview.routes))
    out.print(_exchanges_table(overview.exchanges, overview.total))


def imported_lines(note: Any) -> list[str]:
    """An imported session's `meta.imported` as text: where it came from and what the
    file could not hold (docs/session-format.md)."""
    if not isinstance(note, dict):
        return []
    lines = [f"imported  from {note.get('from', '?')} ({note.get('format', '?')}, "
             f"written by {note.get('creator', '?')})"]  # fmt: skip
    if note.get("page") is not None:
        lines.append(f"          page {note['page']}: {note.get('title', '')}")
    if note.get("client_conn") is not None:
        lines.append(f"          client connection {note['client_conn']}")
    for kind, count in (note.get("skipped") or {}).items():
        lines.append(f"          skipped {count} x {kind}")
    for what in note.get("cannot_hold") or []:
        lines.append(f"          not held  {what}")
    return lines


def _routes_table(route_rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    routes = Table(title="By route")
    routes.add_column("route")
    routes.add_column("count", justify="right")
    routes.add_column("statuses")
    for r in route_rows:
        statuses = "  ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        routes.add_row(escape_markup(r["route"]), str(r["count"]), statuses)
    return routes


def _exchanges_table(rows: list[dict[str, Any]], total: int) -> Any:
    from rich.table import Table

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
            else f"[red]{escape_markup(row['error'] or '')}[/red]"
        )
        if row["messages"]:
            status += f" +{row['messages']} msgs"
        ms = f"{row['duration_ms']:.1f}" if row["duration_ms"] is not None else "-"
        table.add_row(
            str(row["seq"]),
            escape_markup(row["method"]),
            escape_markup(row["path"]),
            status,
            ms,
            format_bytes(row["response_bytes"]),
        )
    return table
