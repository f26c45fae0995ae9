"""Learned noise: how often the reference backend disagrees with itself, per spot.

A spot is a `NoiseKey` = (route, where, templated path), the same templating as
signatures (`$.items[*].took_ms`). Runs with a baseline observe, per route, how many
exchanges were compared against a baseline, and per key how many of them differed there
(recording vs baseline, or between two baselines): `Verdict.baseline_differences` holds
one exchange's observations, `NoiseObservations` one run's, triage keeps the totals. A later run gets them back as a
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from parity.differ.model import Difference, DiffKind, Verdict
from parity.differ.signature import templated

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

    def with_run(
        self,
        route_observations: Mapping[str, int],
        disagreements: Mapping[NoiseKey, int],
        kinds: Mapping[NoiseKey, set[str]] | None = None,
    ) -> LearnedNoise:
        """What was learned plus one run's own baseline observations (the run being
        settled): a spot where the baseline disagreed elsewhere in the run is noise
        evidence for the exchange where, by chance, it agreed with the recording (or
        kept an array in the recorded order). Kinds of spots learned without them stay
        unknown."""
        routes = dict(self.route_observations)
        for route, n in route_observations.items():
            routes[route] = routes.get(route, 0) + n
        counts = {key: stats.disagreements for key, stats in self.stats.items()}
        for key, n in disagreements.items():
            counts[key] = counts.get(key, 0) + n
        stats = {
            key: NoiseStats(observations=routes.get(key[0], 0), disagreements=n)
            for key, n in counts.items()
        }
        merged = dict(self.kinds)
        for key, seen in (kinds or {}).items():
            if key in self.stats and key not in self.kinds:
                continue
            merged[key] = merged.get(key, frozenset()) | frozenset(seen)
        return LearnedNoise(stats, routes, self.policy, merged)

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
    return real_keys_of(learned, suspect_counts(verdicts), route_exchanges)


def suspect_counts(verdicts: Iterable[Verdict]) -> Counter[NoiseKey]:
    """Per key, how many of `verdicts` have a suspect there (once per verdict)."""
    counts: Counter[NoiseKey] = Counter()
    for verdict in verdicts:
        counts.update({noise_key(verdict.route, d) for d in verdict.suspects})
    return counts


def real_keys_of(
    learned: LearnedNoise,
    counts: Mapping[NoiseKey, int],
    route_exchanges: Mapping[str, int],
) -> set[NoiseKey]:
    """`real_keys` from the counts of verdicts with a suspect per key (`suspect_counts`)."""
    real = set()
    for key, count in counts.items():
        exchanges = max(route_exchanges.get(key[0], 0), count)
        noise_rate = learned.rate(key) or 0.0
        if learned.policy.is_real(count / exchanges, noise_rate):
            real.add(key)
    return real


# --- state drift: what a baseline shows that must not be learned ------------------------

AGREES = "candidate agrees with the baseline"
GROWS = "count only grows"
LENGTHENS = "list only lengthens"
FOLLOWS = "flag flips only alongside state drift"

_EPOCH_RANGES = ((1e9, 1e10), (1e12, 1e13), (1e15, 1e16))
"""Unix time in seconds, milliseconds, microseconds (2001 to 2286)."""


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        return float(value)
    return None


def clock_like(*values: object) -> bool:
    """True if every value is a number (or digit string) in one unix-time range: a
    clock reading, which moves by chance of timing, not by state."""
    numbers = [_number(v) for v in values]
    if any(n is None for n in numbers):
        return False
    return any(all(lo <= n < hi for n in numbers if n is not None) for lo, hi in _EPOCH_RANGES)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True)
class _Spot:
    disagreements: int = 0
    agreements: int = 0
    grew: int = 0
    shrank: int = 0
    other_values: int = 0
    added: int = 0
    removed: int = 0
    example: tuple[object, object] | None = None
    flips: set[tuple[bool, bool]] = field(default_factory=set)
    """(recorded, baseline) of boolean changes; any other change empties `flag`."""
    flag: bool = True
    together: Counter[frozenset[NoiseKey]] = field(default_factory=Counter)
    """While `flag` holds: for the exchanges where the baseline disagreed here, the
    spots it disagreed at in each (counted by set: a run's memory does not grow with
    its exchanges, only with the distinct sets)."""


@dataclass(slots=True)
class StateDrift:
    """Tells, over one run, the spots where the baseline disagrees with the recording
    because of state, not chance (a baseline that did not start in the recorded state),
    so that they are not learned as noise:

    - the candidate agrees with the baseline against the recording there, in most of
      the exchanges where the baseline disagreed (both live backends are in the same
      new state; a value that varies by chance would rarely agree);
    - a count (an int, not a clock reading) that the baseline always has higher than
      the recording;
    - a list that the baseline only lengthens (items added, never removed);
    - a boolean the baseline flips one way only, and only in exchanges that show one of
      the above (`has_more` turning true as a list grew).

    Feed it each exchange's `Verdict.baseline_differences` and the candidate's own
    differences there (differences, noise and suspects); `excluded()` at the end.
    Pure arithmetic over the run's differences: no I/O, independent of their order."""

    spots: dict[NoiseKey, _Spot] = field(default_factory=dict)
    exchanges: int = 0

    def observe(
        self,
        route: str,
        baseline: Sequence[Difference],
        candidate: Sequence[Difference] = (),
    ) -> None:
        by_place = {(d.where, d.path, d.kind): d for d in candidate}
        seen: set[NoiseKey] = set()
        self.exchanges += 1
        for b in baseline:
            key = noise_key(route, b)
            spot = self.spots.setdefault(key, _Spot())
            if key not in seen:
                seen.add(key)
                spot.disagreements += 1
            if isinstance(b.expected, bool) and isinstance(b.actual, bool):
                spot.flips.add((b.expected, b.actual))
            else:
                spot.flag = False
            if spot.example is None:
                spot.example = (b.expected, b.actual)
            c = by_place.get((b.where, b.path, b.kind))
            if c is not None and c.actual == b.actual and not clock_like(b.expected, b.actual):
                spot.agreements += 1
            if b.kind is DiffKind.CHANGED:
                old, new = _count(b.expected), _count(b.actual)
                if old is None or new is None or clock_like(old, new):
                    spot.other_values += 1
                elif new > old:
                    spot.grew += 1
                else:
                    spot.shrank += 1
            elif b.kind is DiffKind.ADDED:
                spot.added += 1
            elif b.kind is DiffKind.REMOVED:
                spot.removed += 1
        together = frozenset(seen)
        for key in seen:
            spot = self.spots[key]
            if spot.flag:
                spot.together[together] += 1
            elif spot.together:
                spot.together.clear()  # never a flag again: not needed

    def excluded(self) -> dict[NoiseKey, str]:
        """The spots that look like state drift, each with why (`AGREES`, `GROWS`,
        `LENGTHENS`), in key order."""
        out: dict[NoiseKey, str] = {}
        for key in sorted(self.spots):
            spot = self.spots[key]
            if spot.agreements and spot.agreements * 2 > spot.disagreements:
                out[key] = AGREES
            elif spot.grew and not (spot.shrank or spot.other_values):
                out[key] = GROWS
            elif key[2].endswith("[*]") and spot.added and not spot.removed:
                out[key] = LENGTHENS
        drifting = set(out)
        for key in sorted(self.spots):
            spot = self.spots[key]
            if (
                key not in out
                and spot.flag
                and len(spot.flips) == 1
                and all(not keys.isdisjoint(drifting) for keys in spot.together)
            ):
                out[key] = FOLLOWS
        return dict(sorted(out.items()))

    def example(self, key: NoiseKey) -> tuple[object, object] | None:
        """(recorded, baseline) values of the first disagreement at `key`."""
        spot = self.spots.get(key)
        return spot.example if spot is not None else None


@dataclass(slots=True)
class NoiseObservations:
    """What a run with a baseline teaches about noise: per route, how many exchanges were
    compared against a baseline; per spot, how many of them disagreed, how, and one
    example. Triage adds it whole to the noise table at the end of the run
    (`ResultsDB.add_noise`), but for the spots that look like state drift
    (`exclude_state_drift`): those are not learned."""

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
