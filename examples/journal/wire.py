"""JSON on the wire: Python's ``json.dumps`` contract, bent by serialization divergences.

Baseline writes exactly what ``json.dumps(value)`` writes (``ensure_ascii=True``, floats like
``4.0``, keys in insertion order) and timestamps as ``datetime.isoformat()`` in UTC. The
candidate's System.Text.Json habits are switched on per divergence.
"""

from __future__ import annotations

import json
from datetime import datetime

from examples.journal.divergences import Profile

JSON_TYPE = "application/json; charset=utf-8"


class Wire:
    """Turns handler data (dicts, lists, datetimes, floats, ...) into response bytes."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def dumps(self, value: object) -> bytes:
        """Serialize ``value``; datetimes become timestamp strings."""
        ensure_ascii = not self.profile.diverges("unicode-unescaped")
        return json.dumps(self._shape(value), ensure_ascii=ensure_ascii).encode("utf-8")

    def text(self, value: object) -> str:
        """``dumps`` as a str, for WebSocket text frames."""
        return self.dumps(value).decode("utf-8")

    def timestamp(self, moment: datetime) -> str:
        """``2026-01-04T08:15:30.120000+00:00`` in baseline (fraction dropped when zero)."""
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if self.profile.diverges("seven-fraction-digits"):
            text += f".{moment.microsecond:06d}0"
        elif moment.microsecond:
            text += f".{moment.microsecond:06d}"
        return text + ("Z" if self.profile.diverges("utc-z-suffix") else "+00:00")

    def _shape(self, value: object) -> object:
        if isinstance(value, dict):
            omit_nulls = self.profile.diverges("null-omitted")
            return {
                key: self._shape(item)
                for key, item in value.items()
                if not (omit_nulls and item is None)
            }
        if isinstance(value, (list, tuple)):
            return [self._shape(item) for item in value]
        if isinstance(value, datetime):
            return self.timestamp(value)
        if isinstance(value, float) and value.is_integer():
            return int(value) if self.profile.diverges("integral-float") else value
        return value
