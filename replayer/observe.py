"""What a run with a baseline teaches about noise: per route, how many exchanges were
compared against a baseline; per (route, where, path), how many of them disagreed, how,
and one example. Triage adds it to the noise table at the end of the run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from differ import Difference
from differ.noise import NoiseKey, noise_key


@dataclass(slots=True)
class NoiseObservations:
    route_observations: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[NoiseKey] = field(default_factory=Counter)
    kinds: dict[NoiseKey, set[str]] = field(default_factory=dict)
    examples: dict[NoiseKey, tuple[object, object]] = field(default_factory=dict)

    def observe(self, route: str, differences: Iterable[Difference]) -> None:
        """One exchange compared against the baseline(s), with what differed there."""
        self.route_observations[route] += 1
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
