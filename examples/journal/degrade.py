"""``--degrade``: the journal backend wearing out over a soak, on a simulated clock.

Simulated time advances with the requests served (``requests_per_hour`` of them make an
hour), so an eight-hour soak runs in seconds and the same traffic degrades the same way
on any machine:

- **latency creep**: search answers ``creep_ms`` later per simulated hour;
- **a growing list**: every save appends the entry to the entry list's ``recent`` (the
  sidebar), which is never trimmed;
- **a login loop**: after ``loop_after`` simulated hours, a login mints a session that has
  already expired, so the next call is 401, the client logs in again, 401 again ...

Nothing here knows HTTP; ``server.py`` asks at each of those three places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Degrade:
    requests_per_hour: int = 200
    loop_after: float = 5.0
    creep_ms: float = 10.0
    served: int = 0
    recent: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Vault id -> the summaries of every entry saved (the leak)."""

    @property
    def hours(self) -> float:
        """Simulated hours since start (or the last reset)."""
        return self.served / max(1, self.requests_per_hour)

    def tick(self) -> None:
        self.served += 1

    def search_delay(self) -> float:
        """Seconds to hold a search answer back."""
        return self.creep_ms * self.hours / 1000

    def saved(self, vault: str, summary: dict[str, Any]) -> None:
        self.recent.setdefault(vault, []).append(summary)

    def recent_of(self, vault: str) -> list[dict[str, Any]]:
        return list(self.recent.get(vault, []))

    @property
    def logins_loop(self) -> bool:
        return self.hours >= self.loop_after

    def reset(self) -> None:
        self.served = 0
        self.recent.clear()
