"""Sending recorded sessions to targets: strict order within a session, sessions
concurrently, the values each target mints carried through (see `correlate`).

It decides nothing about differences: every answer goes to the differ, every verdict
to triage.
"""

from replayer.client import Answer, SendError
from replayer.correlate import ValueMap, looks_minted, request_values
from replayer.engine import Replayer, ReplaySettings, ReplayTotals, session_files
from replayer.outgoing import Outgoing, Target, build

__all__ = [
    "Answer",
    "Outgoing",
    "ReplaySettings",
    "ReplayTotals",
    "Replayer",
    "SendError",
    "Target",
    "ValueMap",
    "build",
    "looks_minted",
    "request_values",
    "session_files",
]
