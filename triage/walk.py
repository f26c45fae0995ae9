"""`parity triage`: walk a run's findings in a terminal, one key per decision.

The walk shows each finding as `parity show` does (its first exchange in the run) and
reads one key: `b` bug, `e` expected, `n` noise (each stores the verdict and moves on),
`t` a note (saved at once if the finding has a verdict, else with the next verdict),
`s` skip, `p` back to the previous one, `v` the whole detail in a pager (the screen shows
what fits the terminal), `q` quit. Ctrl-C and Ctrl-D quit too; every
verdict given so far is already stored.

Reading keys and lines is the caller's (`getchar`, `prompt`), so that the walk runs under a
test without a terminal; `parity triage` passes `click.getchar` and `click.prompt`.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.text import Text

from parity.triage import queries, render
from parity.triage.finding_queries import finding_detail, first_mismatch, run_findings
from parity.triage.verdicts import verdict_of

if TYPE_CHECKING:
    from parity.triage.db import ResultsDB

KEYS = {"b": "bug", "e": "expected", "n": "noise"}
HELP = (
    "[bold]b[/bold] bug · [bold]e[/bold] expected · [bold]n[/bold] noise · "
    "[bold]t[/bold] note · [bold]s[/bold] skip · [bold]p[/bold] previous · "
    "[bold]v[/bold] view all · [bold]q[/bold] quit"
)


@dataclass(frozen=True, slots=True)
class Item:
    finding: str
    count: int
    """Exchanges showing this finding in the run walked."""
    title: str = ""
    """One line naming it (`finding_queries.title`)."""


@dataclass(slots=True)
class Walked:
    """What a walk did."""

    total: int
    position: int = 0
    """Items passed (0-based index where the walk stopped; `total` when it got through)."""
    marked: dict[str, str] = field(default_factory=dict)
    """Finding -> the verdict given in this walk (the last one, if given twice)."""
    skipped: set[str] = field(default_factory=set)
    notes: int = 0
    quit: bool = False

    def summary(self) -> str:
        counts = Counter(self.marked.values())
        given = ", ".join(f"{counts[v]} {v}" for v in ("bug", "expected", "noise") if counts[v])
        skipped = len(self.skipped - self.marked.keys())
        where = (
            f"stopped at {min(self.position + 1, self.total)}/{self.total}"
            if self.quit
            else f"walked all {self.total}"
        )
        marked = f"marked {len(self.marked)}" + (f" ({given})" if given else "")
        notes = f", {self.notes} {'note' if self.notes == 1 else 'notes'}" if self.notes else ""
        return f"parity triage: {where}: {marked}, {skipped} skipped{notes}"


def items(rdb: ResultsDB, run_id: str, *, every: bool = False) -> list[Item]:
    """The run's findings to walk, in the report's order (most severe first, then most
    exchanges): those without a verdict, or all of them (`every`)."""
    return [
        Item(row["id"], row["count"], row["title"])
        for row in run_findings(rdb, run_id)
        if every or row["verdict"] is None
    ]


def _esc(value: Any) -> str:
    return escape("-" if value is None else str(value))


def _verdict_text(row: dict[str, Any] | None) -> str:
    if row is None:
        return "[dim]none yet[/dim]"
    note = f" [dim]({_esc(row['note'])})[/dim]" if row["note"] else ""
    return f"[bold]{_esc(row['verdict'])}[/bold]{note}"


def _detail(out: Console, rdb: ResultsDB, run_id: str, item: Item) -> list[str]:
    """The finding and its first exchange in the run, as `parity show` prints them,
    rendered for `out`'s width and colours: a list of lines."""
    found = finding_detail(rdb, item.finding)["finding"]
    first = first_mismatch(rdb, item.finding, run_id)
    buffer = io.StringIO()
    side = Console(
        file=buffer,
        width=out.width,
        force_terminal=out.is_terminal,
        color_system=out.color_system,  # type: ignore[arg-type]
        highlight=False,
    )
    side.print(f"  finding    {_esc(found['title'])}")
    if found["route"] is not None:
        side.print(f"  route      {_esc(found['route'])}")
    else:
        side.print(f"  routes     {_esc(', '.join(found['routes']))}")
    others = [r for r in found["runs"] if r["run"] != run_id]
    if others:
        shown = ", ".join(f"{_esc(r['run'])}: {r['count']}" for r in others[:5])
        side.print(f"  other runs {shown}{', …' if len(others) > 5 else ''}")
    if first is not None:
        side.print()
        render.mismatch(side, queries.mismatch_detail(rdb, first))
    return buffer.getvalue().splitlines()


def _rows(line: str, width: int) -> int:
    """Terminal rows a rendered line takes (long lines wrap)."""
    return max(1, -(-Text.from_ansi(line).cell_len // max(1, width)))


def _fit(lines: list[str], rows: int, width: int) -> list[str]:
    """The first lines that fit in `rows` terminal rows, one row kept for `… more`."""
    if sum(_rows(line, width) for line in lines) <= rows:
        return lines
    used = 0
    for count, line in enumerate(lines):
        used += _rows(line, width)
        if used > rows - 1:
            return lines[:count]
    return lines


def _screen(
    out: Console,
    rdb: ResultsDB,
    run_id: str,
    index: int,
    walk_items: list[Item],
    status: str,
    pending: str | None,
) -> list[str]:
    """Clear the terminal and show one finding, cut to the terminal's height; returns
    the detail's lines (for `v`)."""
    item = walk_items[index]
    progress = f"{index + 1}/{len(walk_items)}"
    verdict = verdict_of(rdb, item.finding)
    lines = _detail(out, rdb, run_id, item)
    out.clear()
    if status:
        out.print(status)
    out.print(
        f"[bold]parity triage[/bold]  run {_esc(run_id)}  [bold]{progress}[/bold]  "
        f"finding [bold]{_esc(item.finding)}[/bold]: {item.count} "
        f"{'exchange' if item.count == 1 else 'exchanges'} in this run"
    )
    out.print(f"  verdict    {_verdict_text(verdict)}")
    footer = 3 + (pending is not None)
    room = max(5, out.height - footer - 3 - bool(status))
    shown = _fit(lines, room, out.width)
    for line in shown:
        out.file.write(line + "\n")
    if len(shown) < len(lines):
        more = len(lines) - len(shown)
        out.print(f"[dim]… {more} more lines: press v to read them all[/dim]")
    out.print(Rule(style="dim"))
    if pending is not None:
        out.print(f"  note (saved with the verdict): {_esc(pending)}")
    out.print(f"[bold]{progress}[/bold]  {HELP}")
    return lines


def walk(
    rdb: ResultsDB,
    run_id: str,
    walk_items: list[Item],
    out: Console,
    getchar: Callable[[], str],
    prompt: Callable[[str], str | None],
    pager: Callable[[str], None] | None = None,
) -> Walked:
    """Walk `walk_items` of run `run_id` (see the module doc). `prompt(label)` returns a
    line of text, or None when the user cancelled; `pager(text)` shows a long text (`v`;
    without one, `v` does nothing)."""
    result = Walked(total=len(walk_items))
    pending: dict[str, str] = {}
    index = 0
    status = ""
    while 0 <= index < len(walk_items):
        result.position = index
        finding = walk_items[index].finding
        lines = _screen(out, rdb, run_id, index, walk_items, status, pending.get(finding))
        status = ""
        try:
            key = getchar()
        except (KeyboardInterrupt, EOFError):
            key = "q"
        key = key.lower()
        if key in KEYS:
            verdict = KEYS[key]
            rdb.mark(finding, verdict, note=pending.pop(finding, None), run_id=run_id)
            result.marked[finding] = verdict
            status = f"[green]✓ {_esc(finding)} marked {verdict}[/green]"
            index += 1
        elif key == "t":
            text = prompt("Note")
            if text is None or not text.strip():
                status = "[dim]no note[/dim]"
                continue
            current = verdict_of(rdb, finding)
            result.notes += 1
            if current is None:
                pending[finding] = text.strip()
                status = "[dim]note kept: it is saved with the verdict (b, e or n)[/dim]"
            else:
                rdb.mark(finding, current["verdict"], note=text, run_id=run_id)
                status = f"[green]✓ note saved on {_esc(finding)}[/green]"
        elif key == "s":
            result.skipped.add(finding)
            index += 1
        elif key == "p":
            if index == 0:
                status = "[yellow]this is the first one[/yellow]"
            else:
                index -= 1
        elif key == "q":
            result.quit = True
            break
        elif key == "v" and pager is not None:
            pager("\n".join(lines) + "\n")
        else:
            status = "[yellow]press b, e, n, t, s, p, v or q[/yellow]"
    if not result.quit:
        result.position = len(walk_items)
    return result
