"""Sending recorded sessions to targets: strict order within a session, sessions
concurrently, the values each target mints carried through, scoped by resource (see
`correlate`, `resources`), reset hooks before each session (`reset`), resuming an interrupted run (`resume`,
`interrupt`), the request as
sent for mismatches (`explain`), a whole run from the session files to the results
database (`run`); one mismatch loaded back (`case`), printed as curl (`curl`), sent
again and shrunk to the requests of its session it needs (`repro`, `shrink`).

It decides nothing about differences: every answer goes to the differ, every verdict
to triage.
"""

from parity.replayer.case import Case, build_differ, load_case
from parity.replayer.client import Answer, SendError
from parity.replayer.correlate import Substitution, Trace, ValueMap, looks_minted, request_values
from parity.replayer.curl import curl_command
from parity.replayer.engine import (
    Replayer,
    ReplaySettings,
    ReplayTotals,
    RunCounts,
    replay_sequence,
    session_files,
)
from parity.replayer.outgoing import Outgoing, Target, build
from parity.replayer.pacing import Pace, RequestSchedule, session_offsets
from parity.replayer.repro import (
    Retry,
    Shrunk,
    request_row,
    retry,
    save_shrunk,
    settings_for,
    shrink_mismatch,
    shrunk_json,
)
from parity.replayer.reset import ResetError, command_for, reset_target, run_reset
from parity.replayer.resume import ResumeError, ResumePoint, resume_line, resume_point
from parity.replayer.run import (
    ReplayRun,
    RunOutcome,
    RunPlan,
    Scan,
    ScannedSession,
    replay_settings,
    scan_sessions,
)
from parity.replayer.secrets import MissingSecret, ReplaySecrets
from parity.replayer.shrink import ShrinkResult, ddmin, shows_signature

__all__ = [
    "Answer",
    "Case",
    "MissingSecret",
    "Outgoing",
    "Pace",
    "ReplayRun",
    "ReplaySecrets",
    "ReplaySettings",
    "ReplayTotals",
    "Replayer",
    "RequestSchedule",
    "ResetError",
    "ResumeError",
    "ResumePoint",
    "Retry",
    "RunCounts",
    "RunOutcome",
    "RunPlan",
    "Scan",
    "ScannedSession",
    "SendError",
    "ShrinkResult",
    "Shrunk",
    "Substitution",
    "Target",
    "Trace",
    "ValueMap",
    "build",
    "build_differ",
    "command_for",
    "curl_command",
    "ddmin",
    "load_case",
    "looks_minted",
    "replay_sequence",
    "replay_settings",
    "request_row",
    "request_values",
    "reset_target",
    "resume_line",
    "resume_point",
    "retry",
    "run_reset",
    "save_shrunk",
    "scan_sessions",
    "session_files",
    "session_offsets",
    "settings_for",
    "shows_signature",
    "shrink_mismatch",
    "shrunk_json",
]
