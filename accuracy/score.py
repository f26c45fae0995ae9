"""Scoring a pair's findings against its curated truth (pure functions, no I/O but
reading truth.toml).

A truth entry matches a finding when every field the entry gives agrees: `where`,
`category` and `kind` (one or a list) by equality, `path`, `route` and `transition` (`"200 → 400*+message*"`) as globs where
only `*` (any run) and `?` (one character) are wildcards — `[*]` in a body path is
literal, so `$.data[*].id` is written as it is reported. A cross-route finding
matches a `route` glob when any of its routes does.

- recall: curated differences matched by at least one finding / curated differences;
- noise share: findings matching a [[noise]] entry or no [[difference]] / findings;
- findings per root cause: findings matching a [[difference]] / differences recalled;
- id failures: exchanges whose candidate answered 400/404/409/410/412 where the
  recording (and the baseline, when the report has its status) answered 2xx, that no
  curated status difference explains, plus exchanges marked as depending on an
  ambiguous id.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

Finding = Mapping[str, Any]
Mismatch = Mapping[str, Any]

ID_FAILURE_STATUSES = frozenset({400, 404, 409, 410, 412})
FIELDS = ("where", "path", "kind", "route", "category", "transition")


class TruthError(ValueError):
    """truth.toml is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Entry:
    """One [[difference]] (a root cause) or [[noise]] table of truth.toml."""

    id: str
    description: str
    where: str | None = None
    path: str | None = None
    kind: tuple[str, ...] = ()
    route: str | None = None
    category: str | None = None
    transition: str | None = None


@dataclass(frozen=True)
class Truth:
    pair: str
    differences: tuple[Entry, ...]
    noise: tuple[Entry, ...]


@dataclass
class PairScore:
    """The figures of one pair, and what a human must read."""

    findings: int
    recall: float
    noise_share: float
    per_root_cause: float
    id_failures: list[str]
    missed: list[Entry] = field(default_factory=list)
    unexplained: list[Finding] = field(default_factory=list)
    noise: list[Finding] = field(default_factory=list)
    matched: dict[str, list[str]] = field(default_factory=dict)  # difference id -> finding ids


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    """`*` any run, `?` one character, everything else literal (brackets included)."""
    return _glob(pattern).fullmatch(text) is not None


def _entry(table: Mapping[str, Any], section: str, n: int) -> Entry:
    unknown = set(table) - {"id", "description", *FIELDS}
    if unknown:
        raise TruthError(f"[[{section}]] #{n}: unknown keys {sorted(unknown)}")
    if not isinstance(table.get("id"), str) or not table["id"]:
        raise TruthError(f"[[{section}]] #{n}: needs an id")
    if not isinstance(table.get("description"), str) or not table["description"].strip():
        raise TruthError(f"[[{section}]] {table['id']}: needs a description")
    kind = table.get("kind", ())
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    for name in ("where", "path", "route", "category", "transition"):
        if name in table and not isinstance(table[name], str):
            raise TruthError(f"[[{section}]] {table['id']}: {name} must be a string")
    return Entry(
        id=table["id"],
        description=table["description"].strip(),
        where=table.get("where"),
        path=table.get("path"),
        kind=kinds,
        route=table.get("route"),
        category=table.get("category"),
        transition=table.get("transition"),
    )


def parse_truth(data: Mapping[str, Any]) -> Truth:
    """A Truth from the parsed TOML; TruthError on a malformed entry or duplicate id."""
    differences = tuple(
        _entry(t, "difference", n) for n, t in enumerate(data.get("difference", []))
    )
    noise = tuple(_entry(t, "noise", n) for n, t in enumerate(data.get("noise", [])))
    ids = [e.id for e in (*differences, *noise)]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise TruthError(f"duplicate ids {duplicates}")
    return Truth(pair=str(data.get("pair", "")), differences=differences, noise=noise)


def load_truth(path: Path) -> Truth:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TruthError(f"{path}: {exc}") from exc
    try:
        return parse_truth(data)
    except TruthError as exc:
        raise TruthError(f"{path}: {exc}") from exc


def _routes(finding: Finding) -> list[str]:
    if finding.get("scope") == "cross-route" or finding.get("route") is None:
        return [str(r) for r in finding.get("routes") or []]
    return [str(finding["route"])]


def matches(entry: Entry, finding: Finding) -> bool:
    """Does this truth entry explain this finding?"""
    if entry.where is not None and finding.get("where") != entry.where:
        return False
    if entry.category is not None and finding.get("category") != entry.category:
        return False
    if entry.kind and finding.get("kind") not in entry.kind:
        return False
    if entry.path is not None and not glob_match(entry.path, str(finding.get("path") or "")):
        return False
    if entry.transition is not None and not glob_match(
        entry.transition, str(finding.get("transition") or "")
    ):
        return False
    if entry.route is not None:
        route = entry.route
        return any(glob_match(route, r) for r in _routes(finding))
    return True


def _ratio(part: float, whole: float, empty: float) -> float:
    return part / whole if whole else empty


def id_failures(
    mismatches: Iterable[Mismatch],
    differences: Sequence[Entry],
    findings: Sequence[Finding] = (),
) -> list[str]:
    """Exchanges that failed only because of id mapping (see the module docstring). An
    exchange one of whose findings a curated difference explains is not one."""
    by_id = {f.get("id"): f for f in findings}
    failed: list[str] = []
    for m in mismatches:
        label = f"{m.get('id')} {m.get('route')} {m.get('url', '')}".rstrip()
        if m.get("ambiguous_ids") or m.get("ambiguous"):
            failed.append(f"{label}: depends on an ambiguous id")
            continue
        actual, recorded = m.get("actual_status"), m.get("expected_status")
        baseline = m.get("baseline_status", recorded)
        if not (isinstance(actual, int) and actual in ID_FAILURE_STATUSES):
            continue
        if not (isinstance(recorded, int) and 200 <= recorded < 300 and baseline == recorded):
            continue
        shown = [by_id[i] for i in m.get("findings") or [] if i in by_id]
        if any(matches(entry, f) for f in shown for entry in differences):
            continue
        as_finding = {
            "scope": "route",
            "route": m.get("route"),
            "routes": [m.get("route")],
            "where": "status",
            "path": "",
            "kind": next(
                (d.get("kind") for d in m.get("differences") or [] if d.get("where") == "status"),
                "changed",
            ),
            "category": "difference",
        }
        if not any(matches(entry, as_finding) for entry in differences):
            failed.append(f"{label}: {recorded} recorded, {actual} from the candidate")
    return failed


def score(
    findings: Sequence[Finding], truth: Truth, mismatches: Iterable[Mismatch] = ()
) -> PairScore:
    """The pair's figures; a finding matching both a difference and a noise entry counts
    as a difference (the curated cause wins)."""
    matched: dict[str, list[str]] = {e.id: [] for e in truth.differences}
    true_findings = 0
    noise: list[Finding] = []
    unexplained: list[Finding] = []
    for finding in findings:
        hits = [e for e in truth.differences if matches(e, finding)]
        for entry in hits:
            matched[entry.id].append(str(finding.get("id")))
        if hits:
            true_findings += 1
            continue
        noise.append(finding)
        if not any(matches(e, finding) for e in truth.noise):
            unexplained.append(finding)
    recalled = sum(1 for ids in matched.values() if ids)
    return PairScore(
        findings=len(findings),
        recall=_ratio(recalled, len(truth.differences), 1.0),
        noise_share=_ratio(len(noise), len(findings), 0.0),
        per_root_cause=_ratio(true_findings, recalled, 0.0),
        id_failures=id_failures(mismatches, truth.differences, findings),
        missed=[e for e in truth.differences if not matched[e.id]],
        unexplained=unexplained,
        noise=noise,
        matched={k: v for k, v in matched.items() if v},
    )


@dataclass(frozen=True)
class Goals:
    recall: float = 0.95
    noise_share: float = 0.02
    per_root_cause: float = 1.5


def misses_goal(result: PairScore, stable: bool, goals: Goals = Goals()) -> list[str]:
    """The goals this pair misses, as short phrases (empty: all met)."""
    misses = []
    if result.recall < goals.recall:
        misses.append(f"recall {result.recall:.0%} < {goals.recall:.0%}")
    if result.noise_share > goals.noise_share:
        misses.append(f"noise {result.noise_share:.1%} > {goals.noise_share:.0%}")
    if result.per_root_cause > goals.per_root_cause:
        misses.append(
            f"{result.per_root_cause:.2f} findings per root cause > {goals.per_root_cause}"
        )
    if result.id_failures:
        misses.append(f"{len(result.id_failures)} id failures")
    if not stable:
        misses.append("two identical replays disagree")
    return misses


def diagnostic_groups(
    mismatches: Iterable[Mismatch],
) -> list[tuple[tuple[str, str, str, str], int]]:
    """Stopgap before `findings`: the report's differences counted by (route, where,
    templated path, kind), most frequent first."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for m in mismatches:
        for d in m.get("differences") or []:
            key = (
                str(m.get("route")),
                str(d.get("where")),
                template_path(str(d.get("path") or "")),
                str(d.get("kind")),
            )
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def preview_findings(mismatches: Iterable[Mismatch]) -> list[dict[str, Any]]:
    """Stopgap before `findings`: one per-route pseudo-finding per (route, where,
    templated path, kind) group, so truth can be checked against today's reports."""
    out: list[dict[str, Any]] = []
    for n, ((route, where, path, kind), count) in enumerate(diagnostic_groups(mismatches)):
        out.append(
            {
                "id": f"G{n + 1}",
                "scope": "route",
                "route": route,
                "routes": [route],
                "where": where,
                "path": path,
                "kind": kind,
                "transition": None,
                "category": "difference",
                "count": count,
            }
        )
    return out


_INDEX = re.compile(r"\[\d+\]")


def template_path(path: str) -> str:
    """Body indices as [*]; header names lower-case (the rest is left to the differ)."""
    if path.startswith("$"):
        return _INDEX.sub("[*]", path)
    return path.lower()
