"""What `--pace` / `--max-idle` (and `[replay] pace` / `max_idle` in parity.toml) mean,
read from text. Pure and import-free, so reading parity.toml does not load the replayer;
the schedule itself is `parity.replayer.pacing`.

- pace: `asap` (as fast as possible: None), `recorded` (1.0), `xN` (the recorded gaps
  divided by N: `x10` ten times faster, `x0.5` twice as slow), N from 0.001 to 1000.
- a duration: `5s`, `500ms`, `2m`, `1h`, or a bare number of seconds; from 0 to 1 day.
"""

from __future__ import annotations

import math

PACES = "asap, recorded or xN (e.g. x10, x0.5)"
MIN_FACTOR = 0.001
MAX_FACTOR = 1000.0
MAX_IDLE = 86_400.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_pace(text: str) -> float | None:
    """The speed-up factor of a pace (None: asap); `ValueError` saying what is allowed."""
    value = text.strip().lower()
    if value == "asap":
        return None
    if value == "recorded":
        return 1.0
    factor = _number(value[1:]) if value.startswith("x") else None
    if factor is None:
        raise ValueError(f"must be {PACES}, not {text!r}")
    if not MIN_FACTOR <= factor <= MAX_FACTOR:
        raise ValueError(f"xN needs N from {MIN_FACTOR:g} to {MAX_FACTOR:g}, not {text!r}")
    return factor


def parse_duration(text: str | float) -> float:
    """Seconds from `5s`, `500ms`, `2m`, `1h` or a number; `ValueError` otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"must be a duration such as 5s, 500ms or 2m, not {text!r}")
    if isinstance(text, int | float):
        seconds: float | None = float(text)
    else:
        value = text.strip().lower()
        unit = next((u for u in ("ms", "s", "m", "h") if value.endswith(u)), "")
        number = _number(value[: len(value) - len(unit)] if unit else value)
        seconds = None if number is None else number * _UNITS.get(unit, 1.0)
    if seconds is None or not 0 <= seconds <= MAX_IDLE:
        raise ValueError(f"must be a duration such as 5s, 500ms or 2m (at most 24h), not {text!r}")
    return seconds


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and text.strip() == text and text else None
