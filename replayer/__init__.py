"""Sending recorded sessions to targets: strict order within a session, sessions
concurrently, the values each target mints carried through, scoped by resource (see
`correlate`, `resources`), reset hooks before each session (`reset`), the request as
sent for mismatches (`explain`), a whole run from the session files to the results
database (`run`), and shrinking a mismatch's session to the requests it
needs (`shrink`).

It decides nothing about differences: every answer goes to the differ, every verdict
to triage.
"""

from replayer.client import Answer, SendError
from replayer.correlate import Substitution, Trace, ValueMap, looks_minted, request_values
from replayer.engine import (
    Replayer,
    ReplaySettings,
    ReplayTotals,
    record_request,
    replay_sequence,
    session_files,
)
from replayer.outgoing import Outgoing, Target, build
from replayer.reset import ResetError, command_for, reset_target, run_reset
from replayer.run import (
    ReplayRun,
    RunOutcome,
    RunPlan,
    Scan,
    ScannedSession,
    replay_settings,
    scan_sessions,
)
from replayer.shrink import ShrinkResult, ddmin, shows_signature

__all__ = [
    "Answer",
    "Outgoing",
    "ReplayRun",
    "ReplaySettings",
    "ReplayTotals",
    "Replayer",
    "ResetError",
    "RunOutcome",
    "RunPlan",
    "Scan",
    "ScannedSession",
    "SendError",
    "ShrinkResult",
    "Substitution",
    "Target",
    "Trace",
    "ValueMap",
    "build",
    "command_for",
    "ddmin",
    "looks_minted",
    "record_request",
    "replay_sequence",
    "replay_settings",
    "request_values",
    "reset_target",
    "run_reset",
    "scan_sessions",
    "session_files",
    "shows_signature",
]
