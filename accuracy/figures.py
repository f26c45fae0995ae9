"""What an accuracy run measured per pair, and how it is shown: the terminal table and
lists, and the figures block of ACCURACY.md (between its markers)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from accuracy import score

COMMAND = "make accuracy   (python -m accuracy.run [--pair NAME ...] [--write-md] [--keep])"
BEGIN, END = "<!-- figures: begin -->", "<!-- figures: end -->"


@dataclass
class Outcome:
    name: str
    description: str
    exchanges: int
    result: score.PairScore | None
    stable: bool
    compare: dict[str, int]
    diagnostic: list[tuple[tuple[str, str, str, str], int]]
    misses: list[str]
    preview: score.PairScore | None = None
    """Before findings exist: the mismatches' differences scored as per-route findings."""


def _finding_line(f: score.Finding) -> str:
    where = f.get("route") or f"{len(f.get('routes') or [])} routes"
    return (
        f"  {f.get('id')} {f.get('where')} {f.get('path')!r} {f.get('kind')} "
        f"{f.get('transition')!r} [{f.get('category')}] on {where} x{f.get('count')}"
    )


def _figures(r: score.PairScore) -> str:
    return (
        f"recall {r.recall:.0%}, noise share {r.noise_share:.1%} of {r.findings}, "
        f"{r.per_root_cause:.2f} per root cause, {len(r.id_failures)} id failures"
    )


def _print_lists(r: score.PairScore) -> None:
    for entry in r.missed:
        print(f"  missed: {entry.id}: {entry.description}")
    for finding in r.unexplained:
        print("  unexplained:" + _finding_line(finding)[1:])
    for line in r.id_failures:
        print(f"  id failure: {line}")


def print_outcome(out: Outcome) -> None:
    print(f"\n== {out.name}: {out.description} ({out.exchanges} exchanges)")
    if out.result is None:
        print("diagnostic (no findings yet): differences by route, where, path, kind")
        for (route, where, path, kind), count in out.diagnostic:
            print(f"  {count:4d}  {route}  {where} {path} {kind}")
        if out.preview is not None:
            print(f"  preview, the groups scored as per-route findings: {_figures(out.preview)}")
            _print_lists(out.preview)
    else:
        _print_lists(out.result)
    print(f"  stability (second replay, compare): {out.compare}")


def table_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        r = o.result
        if r is None:
            rows.append(
                [
                    o.name,
                    "n/a",
                    "n/a",
                    "n/a",
                    str(len(o.preview.id_failures)) if o.preview else "n/a",
                    "yes" if o.stable else "no",
                    f"no findings; {sum(c for _, c in o.diagnostic)} differences in "
                    f"{len(o.diagnostic)} (route, where, path, kind) groups",
                ]
            )
            continue
        rows.append(
            [
                o.name,
                f"{r.recall:.0%}",
                f"{r.noise_share:.1%}",
                f"{r.per_root_cause:.2f}",
                str(len(r.id_failures)),
                "yes" if o.stable else "no",
                "; ".join(o.misses) or "all goals met",
            ]
        )
    return rows


HEADERS = ["pair", "recall", "noise share", "findings/root cause", "id failures", "stable", "goals"]


def print_table(outcomes: Sequence[Outcome]) -> None:
    rows = [HEADERS, *table_rows(outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def write_md(outcomes: Sequence[Outcome], path: Path) -> None:
    """Replace the figures section of ACCURACY.md (between its markers) with this run's."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(outcomes)]
    for o in outcomes:
        lines.append("")
        lines.append(
            f"**{o.name}** — {o.description}; {o.exchanges} exchanges; "
            f"second replay vs first: {o.compare}."
        )
        if o.result is None:
            lines.append("")
            lines.append(
                "`parity report --json` has no `findings` yet (another branch of issue 8): "
                "recall, noise share and findings per root cause are not measured."
            )
            lines.append("")
            lines.append(
                "Diagnostic (the report's differences by route, where, templated path, kind):"
            )
            lines.append("")
            lines += [f"- {c} x `{r}` {w} `{p}` {k}" for (r, w, p, k), c in o.diagnostic]
            if o.preview is not None:
                lines.append("")
                lines.append(
                    "Preview, each group scored as a per-route finding (not the goal's "
                    f"figures): {_figures(o.preview)}."
                )
                lines += [f"- missed: `{e.id}` — {e.description}" for e in o.preview.missed]
                lines += ["- unexplained:" + _finding_line(f)[1:] for f in o.preview.unexplained]
                lines += [f"- id failure: {x}" for x in o.preview.id_failures]
        else:
            lines += [f"- missed: `{e.id}` — {e.description}" for e in o.result.missed]
            lines += ["- unexplained:" + _finding_line(f)[1:] for f in o.result.unexplained]
            lines += [f"- id failure: {x}" for x in o.result.id_failures]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = "\n".join(
        [
            f"{BEGIN}\nMeasured {stamp} with `{COMMAND}`.\n",
            *lines,
            END,
        ]
    )
    text = path.read_text(encoding="utf-8") if path.exists() else "# Accuracy\n\n"
    begin, end = text.find(BEGIN), text.find(END)
    if begin >= 0 and end > begin:
        text = text[:begin] + block + text[end + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
