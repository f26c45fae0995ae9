"""What a run with a baseline teaches about noise: per route, how many exchanges were
compared against a baseline; per (route, where, path), how many of them disagreed, how,
and one example. Triage adds it to the noise table at the end of the run, but for the
spots that look like state drift (`differ.noise.StateDrift`): those are not learned."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from differ import Difference
from differ.noise import NoiseKey, StateDrift, noise_key


@dataclass(slots=True)
class NoiseObservations:
    route_observations: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[NoiseKey] = field(default_factory=Counter)
    kinds: dict[NoiseKey, set[str]] = field(default_factory=dict)
    examples: dict[NoiseKey, tuple[object, object]] = field(default_factory=dict)
    drift: StateDrift = field(default_factory=StateDrift)

    def observe(
        self,
        route: str,
        differences: Sequence[Difference],
        candidate: Sequence[Difference] = (),
    ) -> None:
        """One exchange compared against the baseline(s), with what differed there
        (`Verdict.baseline_differences`) and what the candidate showed (its
        differences, noise and suspects)."""
        self.route_observations[route] += 1
        self.drift.observe(route, differences, candidate)
        seen: set[NoiseKey] = set()
        for difference in differences:
            key = noise_key(route, difference)
            self.kinds.setdefault(key, set()).add(difference.kind.value)
            self.examples.setdefault(key, (difference.expected, difference.actual))
            if key not in seen:
                seen.add(key)
                self.disagreements[key] += 1

    def __bool__(self) -> bool:
        return bool(self.route_observations)

    def exclude_state_drift(self) -> list[dict[str, object]]:
        """Drop the spots that look like state drift from what is learned; what was
        dropped, as `{route, where, path, reason}` (for `runs.meta`; no values: they
        could be secrets)."""
        excluded: list[dict[str, object]] = []
        for key, reason in self.drift.excluded().items():
            if key not in self.disagreements:
                continue
            del self.disagreements[key]
            self.kinds.pop(key, None)
            self.examples.pop(key, None)
            route, where, path = key
            excluded.append({"route": route, "where": where, "path": path, "reason": reason})
        return excluded
