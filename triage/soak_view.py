"""The soak health report rendered: rich tables on a terminal (`render`) and one
self-contained HTML file with a latency-over-time chart per route (`html`, plotly; its
JavaScript embedded once, so the file opens offline and can be attached to a bug)."""

from __future__ import annotations

import html as html_escape
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

ROUTE_ROWS = 40
"""Routes shown on a terminal (the most used first; all of them in --json and --html)."""


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%" if rate else "0"


def _growth(trend: dict[str, Any] | None, key: str = "growth") -> str:
    return "-" if trend is None else f"{trend[key]:.2f}x"


def render(out: Console, data: dict[str, Any]) -> None:
    """`parity soak`: the verdict, the hours, the routes, the login loops."""
    span, totals = data["span"], data["totals"]
    verdict = "[bold green]HEALTHY[/]" if data["passed"] else "[bold red]DEGRADED[/]"
    out.print(
        f"parity soak: {verdict}  {totals['exchanges']} exchanges, {totals['routes']} routes, "
        f"{len(data['sessions'])} session file{'s' if len(data['sessions']) != 1 else ''}, "
        f"{span['started_at'] or '-'} .. "
        f"{span['ended_at'] or '-'}"
    )
    for reason in data["reasons"]:
        out.print(f"  [red]✗ {escape(reason)}[/red]")
    damaged = [s for s in data["sessions"] if s["skipped_bytes"] or s["malformed_records"]]
    for item in damaged:
        out.print(
            f"  [yellow]{escape(item['path'])}: read past "
            f"{item['skipped_bytes']} bytes, {item['malformed_records']} malformed records "
            f"({escape(item['skipped_reason'] or 'malformed records')})[/yellow]"
        )
    for item in data["sessions"]:
        if item.get("missing_parts"):
            missing = ", ".join(map(str, item["missing_parts"]))
            out.print(f"  [yellow]{escape(item['path'])}: part {missing} missing[/yellow]")
    bucket = data["settings"]["bucket_seconds"]
    hours = Table(title=f"Per {'hour' if bucket == 3600 else f'{bucket:g} s'}")
    for name, justify in (
        ("from (UTC)", "left"),
        ("exchanges", "right"),
        ("5xx", "right"),
        ("no answer", "right"),
        ("4xx", "right"),
        ("error rate", "right"),
        ("p50 ms", "right"),
        ("p95 ms", "right"),
        ("p99 ms", "right"),
    ):
        hours.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in data["buckets"]:
        hours.add_row(
            row["start"],
            str(row["exchanges"]),
            str(row["server_errors"]),
            str(row["transport_errors"]),
            str(row["client_errors"]),
            _pct(row["error_rate"]),
            _ms(row["p50_ms"]),
            _ms(row["p95_ms"]),
            _ms(row["p99_ms"]),
        )
    out.print(hours)
    routes = Table(title="Per route (trends: first to last bucket, Theil-Sen)")
    routes.add_column("route", overflow="fold", ratio=3)
    for name in ("exchanges", "error rate", "4xx", "p50", "p95", "p99", "p95 trend"):
        routes.add_column(name, justify="right")
    routes.add_column("size trend", justify="right")
    routes.add_column("degraded", overflow="fold", ratio=3)
    for route in data["routes"][:ROUTE_ROWS]:
        size = _growth(route["size_trend"])
        array = route["array_trend"]
        if array is not None:
            size += f"\n{escape(array['key'])} {array['growth']:.2f}x"
        degraded = "\n".join(escape(why) for why in route["degraded"])
        routes.add_row(
            escape(route["route"]),
            str(route["exchanges"]),
            _pct(route["error_rate"]),
            str(route["client_errors"]),
            _ms(route["p50_ms"]),
            _ms(route["p95_ms"]),
            _ms(route["p99_ms"]),
            _growth(route["p95_trend"]),
            size,
            f"[red]{degraded}[/red]" if degraded else "",
        )
    out.print(routes)
    if len(data["routes"]) > ROUTE_ROWS:
        out.print(f"[dim]… {len(data['routes']) - ROUTE_ROWS} more routes in --json[/dim]")
    if data["login_loops"]:
        loops = Table(title="Login loops (401 -> login -> 401)")
        for name in ("session", "cycles", "from", "to", "401 on", "login"):
            loops.add_column(name, overflow="fold")
        for loop in data["login_loops"]:
            loops.add_row(
                escape(loop["session"]),
                str(loop["cycles"]),
                loop["started_at"],
                loop["ended_at"],
                escape(loop["unauthorized_route"]),
                escape(loop["login_route"]),
            )
        out.print(loops)
    else:
        out.print("no login loops")


def html(data: dict[str, Any]) -> str:
    """One self-contained HTML page: the verdict, the routes' table and a chart per route
    (p50/p95/p99 per bucket, volume and errors on a second axis). Needs plotly."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    esc = html_escape.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>parity soak report {esc(data['span']['started_at'] or '')}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
        "td:first-child{text-align:left}.bad{color:#b00}.ok{color:#070}</style>",
        "</head><body>",
        "<h1>parity soak report</h1>",
    ]
    totals, span = data["totals"], data["span"]
    verdict = '<b class="ok">HEALTHY</b>' if data["passed"] else '<b class="bad">DEGRADED</b>'
    parts.append(
        f"<p>{verdict}: {totals['exchanges']} exchanges on {totals['routes']} routes, "
        f"{esc(str(span['started_at']))} to {esc(str(span['ended_at']))}; error rate "
        f"{totals['error_rate'] * 100:.2f}%, {totals['login_loops']} login loops.</p>"
    )
    if data["reasons"]:
        parts.append("<ul>")
        parts.extend(f'<li class="bad">{esc(reason)}</li>' for reason in data["reasons"])
        parts.append("</ul>")
    parts.append(
        "<table><tr><th>route</th><th>exchanges</th><th>error rate</th><th>4xx</th>"
        "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>p95 trend</th>"
        "<th>size trend</th><th>array trend</th></tr>"
    )
    for route in data["routes"]:
        array = route["array_trend"]
        parts.append(
            f"<tr><td>{esc(route['route'])}</td><td>{route['exchanges']}</td>"
            f"<td>{route['error_rate'] * 100:.2f}%</td><td>{route['client_errors']}</td>"
            f"<td>{_ms(route['p50_ms'])}</td><td>{_ms(route['p95_ms'])}</td>"
            f"<td>{_ms(route['p99_ms'])}</td><td>{_growth(route['p95_trend'])}</td>"
            f"<td>{_growth(route['size_trend'])}</td>"
            f"<td>{esc(array['key']) + ' ' + _growth(array) if array else '-'}</td></tr>"
        )
    parts.append("</table>")
    if data["login_loops"]:
        parts.append("<h2>Login loops</h2><ul>")
        parts.extend(
            f"<li>{esc(loop['session'])}: {loop['cycles']} cycles, {loop['started_at']} to "
            f"{loop['ended_at']} (401 on {esc(loop['unauthorized_route'])}, login "
            f"{esc(loop['login_route'])})</li>"
            for loop in data["login_loops"]
        )
        parts.append("</ul>")
    parts.append("<h2>Latency over time, per route</h2>")
    first = True
    for route in data["routes"]:
        rows = route["buckets"]
        times = [row["start"] for row in rows]
        figure = make_subplots(specs=[[{"secondary_y": True}]])
        figure.add_trace(
            go.Bar(x=times, y=[r["exchanges"] for r in rows], name="exchanges", opacity=0.25),
            secondary_y=True,
        )
        errors = [r["server_errors"] + r["transport_errors"] for r in rows]
        if any(errors):
            figure.add_trace(go.Bar(x=times, y=errors, name="5xx + no answer"), secondary_y=True)
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            figure.add_trace(
                go.Scatter(x=times, y=[r[key] for r in rows], name=key[:3], mode="lines+markers"),
                secondary_y=False,
            )
        title = route["route"] + ("  (degraded)" if route["degraded"] else "")
        figure.update_layout(title=title, height=340, margin={"t": 50, "b": 30})
        figure.update_yaxes(title_text="ms", secondary_y=False)
        figure.update_yaxes(title_text="exchanges", secondary_y=True)
        parts.append(
            f'<section class="route" data-route="{esc(route["route"])}">'
            + figure.to_html(full_html=False, include_plotlyjs=first)
            + "</section>"
        )
        first = False
    parts.append("</body></html>")
    return "\n".join(parts)
