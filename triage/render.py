"""Rich rendering of what `triage.queries` returns. Every piece of recorded or replayed
data is escaped (`[` in a URL or a body is text, not markup); secrets were masked when
stored, and previews are masked when made."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from parity.triage.queries import parity_percent
from parity.triage.sent import format_sent
from parity.triage.text import describe_difference

MAX_LINE = 500
"""Characters of one body-diff line shown by `parity show` (minified JSON is one line)."""
MAX_PATHS = 3
"""Paths of a signature shown in the report's table; the rest are counted."""
NARROW = 96
"""Below this many columns the report leaves out the latency columns (JSON has them)."""
SLOWER = 1.5
"""A replayed time above this many times the recorded one is highlighted."""


def _esc(value: Any) -> str:
    return escape("-" if value is None else str(value))


def format_time(timestamp: float | None) -> str:
    """Local wall-clock time, to the second; `-` for none (also `parity sessions`')."""
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def format_duration(started: float | None, finished: float | None) -> str:
    if started is None or finished is None:
        return "running or interrupted"
    seconds = max(0.0, finished - started)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _sessions(sessions: list[str]) -> str:
    if len(sessions) <= 3:
        return ", ".join(sessions) or "none"
    return f"{len(sessions)} ({', '.join(sessions[:2])}, …)"


def _parity_style(parity: float) -> str:
    return "green" if parity >= 100 else "yellow" if parity >= 90 else "red"


def _pct(parity: float) -> str:
    return f"[{_parity_style(parity)}]{parity:.2f} %[/]"


# -- report ---------------------------------------------------------------------------


def report(out: Console, data: dict[str, Any]) -> None:
    run, totals = data["run"], data["totals"]
    label = f"  {_esc(run['label'])}" if run["label"] else ""
    out.print(f"[bold]Run {_esc(run['id'])}[/bold]{label}")
    out.print(f"  target    {_esc(run['target'])}")
    out.print(f"  baseline  {_esc(run['baseline'] or 'none')}")
    out.print(f"  sessions  {_esc(_sessions(run['sessions']))}")
    out.print(
        f"  started   {format_time(run['started_at'])}"
        f", took {format_duration(run['started_at'], run['finished_at'])}"
    )
    total = totals["exchanges"]
    errors = totals["errors"]
    out.print(
        f"  {total} exchanges: [green]{totals['matched']} matched[/green] "
        f"({_pct(parity_percent(totals['matched'], total))}), "
        f"[red]{totals['mismatched']} mismatched[/red], "
        f"[red]{errors} {'error' if errors == 1 else 'errors'}[/red], "
        f"{totals['noise_suppressed']} differences suppressed as noise"
    )
    learned = data.get("learned_noise")
    if learned is not None:
        settled = learned["settled"]
        out.print(
            f"  {settled} {'difference' if settled == 1 else 'differences'} suppressed by "
            f"learned noise ({_esc(_policy(learned['policy']))})"
        )
    if not total:
        out.print("No exchanges stored for this run yet.")
        return

    routes = Table(title="Parity by route (worst first)")
    routes.add_column("route", overflow="fold", min_width=16)
    for name in ("total", "matched", "mismatched", "errors", "parity"):
        routes.add_column(name, justify="right")
    latency = out.width >= NARROW
    if latency:
        routes.add_column("p50 ms\nrec / act", justify="right")
        routes.add_column("p95 ms\nrec / act", justify="right")
    for r in data["routes"]:
        lat = r.get("latency") or {}
        cells = [
            _esc(r["route"]),
            str(r["exchanges"]),
            str(r["matched"]),
            str(r["mismatched"]),
            str(r["errors"]),
            _pct(r["parity"]),
        ]
        if latency:
            cells.append(_times(lat.get("expected_p50"), lat.get("actual_p50")))
            cells.append(_times(lat.get("expected_p95"), lat.get("actual_p95")))
        routes.add_row(*cells)
    out.print(routes)
    if not latency:
        out.print(
            f"[dim]Latency per route: on a terminal of {NARROW}+ columns, or with --json.[/dim]"
        )

    if data.get("findings"):
        _findings(out, data["findings"])

    errors = [m for m in data["mismatches"] if m["error"] is not None]
    if errors:
        reasons = Counter(m["error"] for m in errors)
        first: dict[str, dict[str, Any]] = {}
        for m in errors:
            first.setdefault(m["error"], m)
        table = Table(title="Errors: the target did not answer")
        table.add_column("count", justify="right")
        table.add_column("reason", overflow="fold")
        table.add_column("example", overflow="fold")
        for reason, count in reasons.most_common():
            m = first[reason]
            table.add_row(
                str(count),
                f"[red]{_esc(reason)}[/red]",
                f"[bold]{_esc(m['id'])}[/bold] {_esc(m['method'])} {_esc(m['url'])}",
            )
        out.print(table)


def _paths(paths: list[str]) -> str:
    """At most MAX_PATHS paths, then `+N more`."""
    shown = ", ".join(paths[:MAX_PATHS])
    if len(paths) > MAX_PATHS:
        shown += f" +{len(paths) - MAX_PATHS} more"
    return shown


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _times(recorded: float | None, replayed: float | None) -> str:
    """`12.0 / 20.5`, the replayed time red when over SLOWER times the recorded one."""
    shown = _ms(replayed)
    if recorded is not None and replayed is not None and replayed > SLOWER * recorded:
        shown = f"[red]{shown}[/red]"
    return f"{_ms(recorded)} / {shown}"


def _policy(policy: dict[str, Any] | None) -> str:
    if not policy:
        return "policy unknown"
    return (
        f"relative {policy.get('relative')}, absolute {policy.get('absolute')}, "
        f"at least {policy.get('min_observations')} observations"
    )


# -- runs -----------------------------------------------------------------------------


def runs(out: Console, rows: list[dict[str, Any]], where: str) -> None:
    if not rows:
        out.print(f"No runs in {_esc(where)}.")
        return
    table = Table(title=f"Runs in {_esc(where)} (newest first)")
    for name, justify in [
        ("id", "left"),
        ("label", "left"),
        ("started", "left"),
        ("took", "right"),
        ("target", "fold"),
        ("sessions", "right"),
        ("exchanges", "right"),
        ("matched", "right"),
        ("mismatched", "right"),
        ("errors", "right"),
        ("parity", "right"),
    ]:
        if justify == "fold":
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        t = r["totals"]
        table.add_row(
            _esc(r["id"]),
            _esc(r["label"]),
            format_time(r["started_at"]),
            r["status"]
            if r["status"] != "finished"
            else format_duration(r["started_at"], r["finished_at"]),
            _esc(r["target"]),
            str(len(r["sessions"])),
            str(t["exchanges"]),
            str(t["matched"]),
            str(t["mismatched"]),
            str(t["errors"]),
            _pct(r["parity"]),
        )
    out.print(table)


# -- show -----------------------------------------------------------------------------


def _scope(f: dict[str, Any]) -> str:
    routes = f["routes"]
    if f["scope"] == "cross-route":
        return f"across {len(routes)} {'route' if len(routes) == 1 else 'routes'}"
    return str(f["route"])


def _findings(out: Console, findings: list[dict[str, Any]]) -> None:
    """The findings table, most severe first (status, body, headers, serialization)."""
    table = Table(title="Findings, most severe first (`parity show ID` for one in full)")
    room = max(40, out.width - 36)
    table.add_column("finding", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("what", overflow="fold", max_width=max(16, room * 3 // 10))
    table.add_column("where", overflow="fold", max_width=max(12, room // 4))
    table.add_column("example", overflow="fold", min_width=min(60, room * 4 // 10))
    for f in findings:
        example = f["example"]
        said = example.get("sentence") or example.get("difference") or ""
        what = _esc(f["title"])
        if f.get("verdict"):
            what += f"\n[dim]{_esc(f['verdict'])}[/dim]"
        if f.get("ambiguous_only"):
            what += "\n[yellow]depends on an ambiguous id[/yellow]"
        table.add_row(
            _esc(f["id"]),
            str(f["count"]),
            what,
            _esc(_scope(f)),
            f"[bold]{_esc(example['id'])}[/bold] {_esc(said)}",
        )
    out.print(table)


def _finding(out: Console, f: dict[str, Any]) -> None:
    count = f["count"]
    routes = f["routes"]
    where = (
        f"on {count} {'exchange' if count == 1 else 'exchanges'} across {len(routes)} "
        f"{'route' if len(routes) == 1 else 'routes'}"
    )
    out.print(f"[bold]Finding {_esc(f['id'])}[/bold]  {_esc(f['title'])} — {where}")
    out.print(f"  scope      {_esc(f['scope'])}" + (f" ({_esc(f['route'])})" if f["route"] else ""))
    out.print(f"  category   {_esc(f['category'])}")
    out.print(f"  routes     {_esc(_listed(routes[:10], len(routes)))}")
    out.print(f"  verdict    {_esc(f['verdict'] or 'none (open)')}")
    runs = f["runs"]
    if len(runs) > 1:
        rest = ", ".join(f"{_esc(r['run'])}: {r['count']}" for r in runs[1:6])
        out.print(f"  earlier    {rest}{', …' if len(runs) > 6 else ''}")
    out.print(f"  first seen {_esc(f['first_seen_run'])}, last seen {_esc(f['last_seen_run'])}")


def show(out: Console, data: dict[str, Any]) -> None:
    if "finding" in data:
        _finding(out, data["finding"])
        if data["mismatch"] is not None:
            out.print()
            out.print("[bold]Its first exchange in the latest run:[/bold]")
            _mismatch(out, data["mismatch"])
        return
    if "signature" in data:
        _signature(out, data["signature"])
        if data["mismatch"] is not None:
            out.print()
            out.print("[bold]Its first mismatch in the latest run:[/bold]")
            _mismatch(out, data["mismatch"])
        return
    _mismatch(out, data["mismatch"])


def _listed(items: list[str], total: int) -> str:
    shown = ", ".join(items)
    return f"{shown} +{total - len(items)} more" if total > len(items) else shown


def _signature(out: Console, sig: dict[str, Any]) -> None:
    out.print(f"[bold]Signature {_esc(sig['id'])}[/bold]  route {_esc(sig['route'])}")
    if sig["routes"] and sig["routes"] != [sig["route"]]:
        out.print(f"  routes     {_esc(', '.join(sig['routes']))}")
    out.print(f"  kinds      {_esc(', '.join(sig['kinds']))}")
    out.print(f"  paths      {_esc(', '.join(sig['paths']))}")
    runs = sig["runs"]
    if runs:
        latest = runs[0]
        count = latest["count"]
        urls, sessions = sig.get("urls") or [], sig.get("sessions") or []
        out.print(
            f"  count      {count} in run {_esc(latest['run'])} (latest seen): "
            f"{count} {'exchange' if count == 1 else 'exchanges'}, "
            f"{sig.get('url_count', len(urls))} distinct URLs, "
            f"{sig.get('session_count', len(sessions))} sessions"
        )
        out.print(f"  urls       {_esc(_listed(urls, sig.get('url_count', len(urls))))}")
        out.print(
            f"  sessions   {_esc(_listed(sessions, sig.get('session_count', len(sessions))))}"
        )
        if len(runs) > 1:
            rest = ", ".join(f"{_esc(r['run'])}: {r['count']}" for r in runs[1:6])
            out.print(f"  earlier    {rest}{', …' if len(runs) > 6 else ''}")
    out.print(f"  first seen {_esc(sig['first_seen_run'])}, last seen {_esc(sig['last_seen_run'])}")


def _headers_cell(headers: list[list[str]]) -> str:
    return "\n".join(f"{_esc(n)}: {_esc(v)}" for n, v in headers) or "-"


def _mismatch(out: Console, m: dict[str, Any]) -> None:
    kind = "[red]error[/red]" if m["outcome"] == "error" else "[yellow]mismatch[/yellow]"
    out.print(
        f"[bold]{_esc(m['id'])}[/bold] {kind}  {_esc(m['method'])} {_esc(m['url'])}"
        f"  route {_esc(m['route'])}"
    )
    out.print(
        f"  run {_esc(m['run_id'])}  session {_esc(m['session'])}  seq {m['seq']}"
        f"  findings {_esc(', '.join(m.get('findings') or []) or 'none')}"
    )
    if m.get("ambiguous_ids"):
        ids = ", ".join(str(i) for i in m["ambiguous_ids"])
        out.print(f"  [yellow]depends on an ambiguous id: {_esc(ids)}[/yellow]")
    for line in format_sent(m.get("sent")):  # the request as sent to each target
        out.print(f"  {_esc(line)}")
    if m["error"]:
        out.print(f"  [red]the target did not answer: {_esc(m['error'])}[/red]")

    said = m.get("sentences") or []
    if said:
        out.print()
        out.print(f"[bold]What differs[/bold] ({len(said)})")
        for line in said:
            out.print(f"  • {_esc(line)}", soft_wrap=True)

    if m["body_diff"]:
        out.print()
        out.print("[bold]Body diff[/bold] (normalized; only the hunks around differences)")
        for line in m["body_diff"]:
            shown = line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…"
            style = (
                "bold"
                if line.startswith(("---", "+++"))
                else "cyan"
                if line.startswith("@@")
                else "red"
                if line.startswith("-")
                else "green"
                if line.startswith("+")
                else None
            )
            out.print(Text(shown, style=style or ""), soft_wrap=True)
        if m["body_diff_more_lines"]:
            out.print(f"[dim]… {m['body_diff_more_lines']} more diff lines[/dim]")

    req = m["request"]
    out.print()
    out.print("[bold]Request[/bold]")
    out.print(f"  {_esc(req['method'])} {_esc(req['url'])}")
    for name, value in req["headers"]:
        out.print(f"  {_esc(name)}: {_esc(value)}")
    if req["body"]:
        out.print(Text(req["body"], style="dim"))

    expected, actual = m["expected"], m["actual"]
    table = Table(title="Expected (recorded) vs actual (target)", show_lines=True)
    table.add_column("", style="bold")
    table.add_column("expected", overflow="fold")
    table.add_column("actual", overflow="fold")

    def cell(side: dict[str, Any] | None, key: str) -> str:
        if side is None:
            return "[red]no response[/red]" if key == "status" else "-"
        if key == "headers":
            return _headers_cell(side["headers"])
        if key == "ms":
            return "-" if side["ms"] is None else f"{side['ms']:.1f} ms"
        if key == "body":
            return f"{side['body_bytes']} bytes"
        return _esc(side[key])

    for key in ("status", "headers", "body", "ms"):
        left, right = cell(expected, key), cell(actual, key)
        if key == "status" and expected and actual and expected["status"] != actual["status"]:
            left, right = f"[red]{left}[/red]", f"[red]{right}[/red]"
        table.add_row(key, left, right)
    if m["baseline_status"] is not None:
        table.add_row("baseline", _esc(m["baseline_status"]), "")
    out.print(table)

    _differences(out, "Differences as compared (normalized)", m["differences"], dim=True)
    _differences(out, "Noise suppressed", m["noise"], dim=True)
    if m["rules_applied"]:
        out.print(f"[bold]Rules applied[/bold]: {_esc(', '.join(m['rules_applied']))}")


def _differences(out: Console, title: str, items: list[dict[str, Any]], dim: bool = False) -> None:
    if not items:
        return
    out.print(f"[bold]{title}[/bold] ({len(items)})")
    for item in items:
        line = _esc(describe_difference(item))
        out.print(f"  [dim]{line}[/dim]" if dim else f"  {line}")


# -- noise ----------------------------------------------------------------------------


def noise(
    out: Console,
    rows: list[dict[str, Any]],
    where: str,
    route_glob: str | None,
    excluded: dict[str, Any] | None = None,
) -> None:
    """`parity noise`: what was learned, most frequent first, each with why; then what
    the latest run with a baseline did not learn because it looked like state drift."""
    scope = f" for routes matching {route_glob!r}" if route_glob else ""
    if not rows:
        out.print(
            f"No learned noise{_esc(scope)} in {_esc(where)} "
            "(`parity replay --baseline URL` learns it)."
        )
    else:
        _noise_table(out, rows, scope)
    if excluded and excluded["excluded"]:
        out.print(
            f"Not learned in run {_esc(excluded['run_id'])}, state drift of the baseline "
            "(it must start in the recorded state):"
        )
        for e in excluded["excluded"]:
            place = f"{e.get('where', '')} {e.get('path', '')}".rstrip()
            out.print(f"  {_esc(str(e.get('route')))}  {_esc(place)}: {_esc(str(e.get('reason')))}")


def _noise_table(out: Console, rows: list[dict[str, Any]], scope: str) -> None:
    table = Table(title=f"Learned noise{_esc(scope)} (most frequent first)")
    table.add_column("route", overflow="fold", ratio=2)
    table.add_column("where")
    table.add_column("path", overflow="fold", ratio=2)
    table.add_column("rate", justify="right")
    table.add_column("why learned", overflow="fold", ratio=3)
    table.add_column("example (recording → baseline)", overflow="fold", ratio=2)
    for r in rows:
        rate = "-" if r["rate"] is None else f"{r['rate']:.2f} %"
        example = r["example"]
        shown = (
            f"{example['expected']} → {example['baseline']}"
            if example["expected"] is not None or example["baseline"] is not None
            else "-"
        )
        table.add_row(
            _esc(r["route"]),
            _esc(r["where"]),
            _esc(r["path"] or "-"),
            f"{rate} [dim]({r['disagreements']}/{r['observations']})[/dim]",
            _esc(r.get("why") or ", ".join(r["kinds"])),
            _esc(shown),
        )
    out.print(table)


# -- compare ----------------------------------------------------------------------------

_STATE_STYLE = {
    "regressed": "bold red",
    "new": "yellow",
    "fixed": "green",
    "still_open": "",
    "accepted": "dim",
}
_STATE_LABEL = {
    "regressed": "regressed",
    "new": "new",
    "fixed": "fixed",
    "still_open": "recurring",
    "accepted": "accepted",
}
COMPARE_ORDER = ("regressed", "new", "fixed", "still_open", "accepted")
"""The order of the sections of `parity compare`'s table."""


def _run_line(name: str, run: dict[str, Any]) -> str:
    label = f" {_esc(run['label'])}" if run["label"] else ""
    t = run["totals"]
    return (
        f"  {name}  [bold]{_esc(run['id'])}[/bold]{label}  started {format_time(run['started_at'])}"
        f"  {t['exchanges']} exchanges, {t['mismatched']} mismatched, {t['errors']} errors"
        f", parity {_pct(run['parity'])}"
    )


def _cell_break(out: Console) -> str:
    """Between two values of one table cell: a new line on a terminal; off one (`| cat`,
    a file) ` · `, so that a row stays one line."""
    return "\n" if out.is_terminal else " · "


def _verdict_cell(verdict: str | None, note: str | None, sep: str = "\n") -> str:
    if verdict is None:
        return "[dim]-[/dim]"
    style = {"bug": "red", "expected": "cyan", "noise": "dim"}.get(verdict, "")
    shown = f"[{style}]{verdict}[/]" if style else verdict
    return f"{shown}{sep}[dim]{_esc(note)}[/dim]" if note else shown


def compare(out: Console, data: dict[str, Any]) -> None:
    """`parity compare`: what changed from run A to run B, finding by finding."""
    a, b = data["a"], data["b"]
    out.print("[bold]Run to run[/bold]")
    out.print(_run_line("A", a))
    out.print(_run_line("B", b))
    if not data["same_sessions"]:
        out.print(
            "[yellow]  The two runs replayed different sessions: a finding missing from one "
            "may simply not have been exercised.[/yellow]"
        )
    counts = data["counts"]
    out.print(
        "  "
        + ", ".join(
            f"[{_STATE_STYLE[name] or 'bold'}]{counts[name]} {_STATE_LABEL[name]}[/]"
            for name in ("fixed", "new", "regressed", "still_open", "accepted")
        )
    )
    if not any(counts.values()):
        out.print("No findings in either run.")
        return
    table = Table(title=f"Findings from run {_esc(a['id'])} to run {_esc(b['id'])}")
    room = max(40, out.width - 40)
    sep = _cell_break(out)
    table.add_column("state, verdict", max_width=14 if out.is_terminal else None)
    table.add_column("finding", no_wrap=True)
    table.add_column("A → B", justify="right", no_wrap=True)
    table.add_column("where, what", overflow="fold", ratio=2, min_width=min(30, room // 3))
    table.add_column("example", overflow="fold", ratio=3)
    for name in COMPARE_ORDER:
        style = _STATE_STYLE[name]
        for item in data[name]:
            state = f"[{style}]{_STATE_LABEL[name]}[/]" if style else _STATE_LABEL[name]
            if item["fixed_in"]:
                state += f"{sep}[dim]fixed in {_esc(item['fixed_in'])}[/dim]"
            if item["verdict"]:
                state += sep + _verdict_cell(item["verdict"], item["note"], sep)
            example = item["example"]
            said = (example.get("sentence") or example["difference"]) if example else ""
            table.add_row(
                state,
                _esc(item["id"]),
                f"{item['count_a']} → {item['count_b']}",
                _finding_cell(item, sep),
                _esc(said),
            )
    out.print(table)


def _finding_cell(item: dict[str, Any], sep: str = "\n") -> str:
    """The route (or how many routes a cross-route finding spans) over the title."""
    if item["route"] is not None:
        where = item["route"]
    else:
        where = f"across {len(item.get('routes') or [])} routes"
    return f"{_esc(where)}{sep}[dim]{_esc(item.get('title') or '')}[/dim]"


# -- gate -------------------------------------------------------------------------------

GATE_ROWS = 20
"""Open findings listed by `parity gate` in the terminal; the artifact has them all."""


def gate(out: Console, data: dict[str, Any], artifact: str) -> None:
    """`parity gate`: the verdict, why, and what is still open."""
    run, totals, limits = data["run"], data["totals"], data["thresholds"]
    label = f" {_esc(run['label'])}" if run["label"] else ""
    verdict = "[bold green]PASSED[/]" if data["passed"] else "[bold red]FAILED[/]"
    out.print(f"parity gate: {verdict}  run [bold]{_esc(run['id'])}[/bold]{label}")
    for reason in data["reasons"]:
        out.print(f"  [red]✗ {_esc(reason)}[/red]")
    out.print(
        f"  {totals['exchanges']} exchanges, parity {_pct(totals['parity'])}; "
        f"{totals['open']} open findings (at most {limits['max_open']}), "
        f"{totals['accepted']} accepted, {totals['errors']} errors "
        f"(at most {limits['max_errors']})"
    )
    if totals.get("serialization"):
        out.print(
            f"  {totals['serialization']} open serialization findings (wire only), outside "
            "the gate (`\\[serialization] gate = true` in the rules counts them)"
        )
    damaged = data.get("damaged_sessions") or []
    if damaged and limits.get("allow_torn"):
        out.print(
            f"  [yellow]{len(damaged)} torn or partly corrupt session files replayed "
            "(allowed by --allow-torn)[/yellow]"
        )
    previous = data["previous_run"]
    if previous is not None:
        out.print(
            f"  since run {_esc(previous['id'])}: {totals['fixed']} fixed, "
            f"{totals['regressed']} regressed, {totals['new']} new"
        )
    else:
        out.print("  no earlier finished run over the same sessions to compare with")
    if data["open"]:
        table = Table(title="Open findings (no verdict, or bug)")
        table.add_column("finding", no_wrap=True)
        table.add_column("count", justify="right")
        table.add_column("state", no_wrap=True)
        table.add_column("where, what", overflow="fold", ratio=2)
        table.add_column("verdict", overflow="fold")
        table.add_column("example", overflow="fold", ratio=3)
        for item in data["open"][:GATE_ROWS]:
            state = item["state"]
            style = _STATE_STYLE.get(item["state"], "")
            example = item["example"]
            table.add_row(
                _esc(item["id"]),
                str(item["count"]),
                f"[{style}]{state}[/]" if style else state,
                _finding_cell(item),
                _verdict_cell(item["verdict"], item["note"]),
                _esc(example["difference"]) if example else "",
            )
        out.print(table)
        if len(data["open"]) > GATE_ROWS:
            out.print(f"[dim]… {len(data['open']) - GATE_ROWS} more in the artifact[/dim]")
    for name, title in (("regressed", "Regressed"), ("fixed", "Fixed")):
        if data[name]:
            ids = ", ".join(
                f"{_esc(item['id'])} ({_esc(item['title'])})" for item in data[name][:GATE_ROWS]
            )
            more = f" +{len(data[name]) - GATE_ROWS} more" if len(data[name]) > GATE_ROWS else ""
            out.print(f"  [{_STATE_STYLE[name]}]{title}[/]: {ids}{more}", soft_wrap=True)
    out.print(f"  artifact: {_esc(artifact)}", soft_wrap=True)


def mismatch(out: Console, m: dict[str, Any]) -> None:
    """One mismatch in full, as `parity show` prints it."""
    _mismatch(out, m)
