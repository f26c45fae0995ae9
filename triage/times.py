"""The one home of how parity writes a time: ISO 8601 UTC text (`2026-12-01T08:00:01.250Z`).

The results database and the session files keep Unix seconds; what parity prints (the
gate artifact, the soak report, every `--json`, `--nl`, `--csv`, `--tsv` and `-t` of the
CLI) shows them through `iso`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal


def iso(
    timestamp: float | None, timespec: Literal["seconds", "milliseconds"] = "milliseconds"
) -> str | None:
    """`2026-02-23T20:19:14.250Z` (UTC, to the millisecond, or to the second with
    `timespec="seconds"`); None stays None."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")
