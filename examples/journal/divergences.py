"""The candidate's documented divergences from the baseline contract.

``baseline`` mode is the Python backend and has no divergences. ``candidate`` mode plays
the C# (ASP.NET, System.Text.Json) port: every divergence below is on unless the team
"fixed" it with ``--fix NAME`` or ``JOURNAL_FIX=name,other``. Code asks
``profile.diverges(NAME)`` at exactly one place per divergence; DIVERGENCES.md describes
each one and the pilot request that shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["serialization-only", "behaviour"]
MODES = ("baseline", "candidate")


@dataclass(frozen=True)
class Divergence:
    """One way the candidate differs from baseline."""

    name: str
    kind: Kind
    summary: str


_ALL = (
    Divergence("missing-entry-status", "behaviour", "a missing entry answers 400, not 404"),
    Divergence("utc-z-suffix", "serialization-only", "timestamps end in Z, not +00:00"),
    Divergence("seven-fraction-digits", "serialization-only", "timestamps carry 7 fraction digits"),
    Divergence("integral-float", "serialization-only", "mood_score 4.0 is written as 4"),
    Divergence("null-omitted", "serialization-only", "keys whose value is null are left out"),
    Divergence("search-order", "behaviour", "search ties on date are broken by id ascending"),
    Divergence("problem-details", "behaviour", "validation errors are 400 problem+json, not 422"),
    Divergence(
        "content-type-charset", "serialization-only", "GET /api/vaults omits ; charset=utf-8"
    ),
    Divergence("speech-failure-http-status", "behaviour", "speech.speak failure is HTTP 502"),
    Divergence(
        "pagination-off-by-one", "behaviour", "entry list pages after the first skip one item"
    ),
    Divergence("enum-casing", "behaviour", 'entry type is "Journal", not "journal"'),
    Divergence("unicode-unescaped", "serialization-only", "non-ASCII is written raw, not \\uXXXX"),
    Divergence("checkbox-filter", "behaviour", "the search checkbox filter is ignored"),
    Divergence("sse-done-event", "behaviour", "the ai.chat stream ends without event: done"),
)
DIVERGENCES: dict[str, Divergence] = {d.name: d for d in _ALL}


def parse_fixes(values: Iterable[str]) -> frozenset[str]:
    """Split ``--fix`` values and ``JOURNAL_FIX`` text (comma separated) into known names.

    Raises ValueError naming any unknown divergence, so a typo never passes silently.
    """
    names = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(names - DIVERGENCES.keys())
    if unknown:
        raise ValueError(
            f"unknown divergence(s): {', '.join(unknown)}; known: {', '.join(DIVERGENCES)}"
        )
    return frozenset(names)


@dataclass(frozen=True)
class Profile:
    """Which divergences a running backend exhibits."""

    mode: str
    active: frozenset[str]

    @classmethod
    def build(cls, mode: str, fixes: Iterable[str] = ()) -> Profile:
        """Baseline has no divergences; candidate has all of them except the fixed ones."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        fixed = parse_fixes(fixes)
        active = frozenset() if mode == "baseline" else frozenset(DIVERGENCES) - fixed
        return cls(mode, active)

    def diverges(self, name: str) -> bool:
        """True when divergence ``name`` is switched on (KeyError for unknown names)."""
        if name not in DIVERGENCES:
            raise KeyError(name)
        return name in self.active
