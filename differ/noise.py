"""Learned noise: how often the reference backend disagrees with itself, per spot.

A spot is a `NoiseKey` = (route, where, templated path), the same templating as
signatures (`$.items[*].took_ms`). Runs with a baseline observe, per route, how many
exchanges were compared against a baseline, and per key how many of them differed there
(recording vs baseline, or between two baselines): `Verdict.baseline_differences` holds
one exchange's observations, triage keeps the totals. A later run gets them back as a
`LearnedNoise`:

- `Differ.compare` moves a difference at a key with a learned rate > 0 to
  `Verdict.suspects` (the outcome is computed without it, provisionally), and compares
  arrays at such keys as multisets (`unordered:learned`): the reference reorders them;
- `Differ.settle` (at the end of the run, when the candidate's own rate per key is known)
  applies Diffy's rule: a key is real for the candidate only when
  `candidate_rate > relative * noise_rate` AND `candidate_rate - noise_rate > absolute`.
  Real suspects go back to `differences`, the rest to `noise`.

Pure data and arithmetic: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from differ.model import Difference, Verdict
from differ.signature import templated

NoiseKey = tuple[str, str, str]
"""(route, where, templated path): `("GET /api/x", "body", "$.items[*].took_ms")`."""


def noise_key(route: str, difference: Difference) -> NoiseKey:
    """Where `difference` is, as learned noise counts it (indices and instance-like keys
    templated, header names lower case, the status path empty)."""
    return (route, difference.where.value, templated(difference))


@dataclass(frozen=True, slots=True)
class NoiseStats:
    observations: int
    """Exchanges of the key's route that were compared against a baseline."""
    disagreements: int
    """How many of them differed at the key (recording vs a baseline, or two baselines)."""


@dataclass(frozen=True, slots=True)
class NoisePolicy:
    """Diffy's thresholds, and how much evidence a rate needs."""

    relative: float = 2.0
    absolute: float = 0.1
    min_observations: int = 2

    def is_real(self, candidate_rate: float, noise_rate: float) -> bool:
        """True if the candidate differs clearly more often than the reference does."""
        return (
            candidate_rate > self.relative * noise_rate
            and candidate_rate - noise_rate > self.absolute
        )


@dataclass(slots=True)
class LearnedNoise:
    stats: dict[NoiseKey, NoiseStats]
    route_observations: dict[str, int]
    policy: NoisePolicy
    kinds: dict[NoiseKey, frozenset[str]] = field(default_factory=dict)
    """Optional: the kinds of disagreement seen at each key. Only used to tell arrays
    the reference reorders (`order_changed`) from others; without it, an array at a
    noisy key counts as reordered (a disagreement at an array's own path is an order
    change but for the array missing or null, where the order does not matter)."""
    _arrays: dict[str, frozenset[str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def unordered(self, route: str) -> frozenset[str]:
        """Templated body paths of `route` with a learned rate > 0 that may be arrays the
        reference answers in any order: the differ compares arrays there as multisets."""
        if self._arrays is None:
            found: dict[str, set[str]] = {}
            for key in self.stats:
                kinds = self.kinds.get(key)
                reordered = not kinds or "order_changed" in kinds
                if key[1] == "body" and reordered and self.suspect(key):
                    found.setdefault(key[0], set()).add(key[2])
            self._arrays = {r: frozenset(paths) for r, paths in found.items()}
        return self._arrays.get(route, frozenset())

    def rate(self, key: NoiseKey) -> float | None:
        """How often the reference disagreed at `key` (0.0 to 1.0); None when its route
        was observed fewer than `policy.min_observations` times."""
        stats = self.stats.get(key)
        observations = max(
            stats.observations if stats is not None else 0,
            self.route_observations.get(key[0], 0),
        )
        if observations < self.policy.min_observations or observations <= 0:
            return None
        disagreements = stats.disagreements if stats is not None else 0
        return min(1.0, disagreements / observations)

    def suspect(self, key: NoiseKey) -> bool:
        """True if differences at `key` must wait for `settle` (a learned rate > 0)."""
        rate = self.rate(key)
        return rate is not None and rate > 0


def real_keys(
    learned: LearnedNoise,
    verdicts: Sequence[Verdict],
    route_exchanges: Mapping[str, int],
) -> set[NoiseKey]:
    """The suspect keys where the candidate differs clearly more often than the reference:
    candidate_rate = (verdicts of the route with a suspect at the key) / exchanges of the
    route in the run."""
    counts: Counter[NoiseKey] = Counter()
    for verdict in verdicts:
        counts.update({noise_key(verdict.route, d) for d in verdict.suspects})
    real = set()
    for key, count in counts.items():
        exchanges = max(route_exchanges.get(key[0], 0), count)
        noise_rate = learned.rate(key) or 0.0
        if learned.policy.is_real(count / exchanges, noise_rate):
            real.add(key)
    return real
