"""Recorded traffic: the `Exchange` model and the msgpack session file (see docs/session-format.md).

This room knows nothing of HTTP clients, SQLite or diffs.
"""

from parity.sessions.crypto import KeySource, SessionKeyError, installed_keys, use_keys
from parity.sessions.file import (
    FORMAT_VERSION,
    SUFFIX,
    ReadResult,
    SessionFileError,
    SessionReader,
    SessionWriter,
    is_encrypted,
    read_session,
)
from parity.sessions.model import (
    Exchange,
    FlowError,
    Headers,
    Message,
    Request,
    Response,
    SessionHeader,
    Trailer,
    header_value,
)
from parity.sessions.parts import (
    PartsReader,
    Rotation,
    SessionParts,
    group_sessions,
    open_session,
    parse_rotation,
)
from parity.sessions.store import (
    Listed,
    SessionStore,
    SessionSummary,
    listed_json,
    new_session_id,
    save_session,
    summarize,
)

__all__ = [
    "FORMAT_VERSION",
    "SUFFIX",
    "Exchange",
    "FlowError",
    "Headers",
    "KeySource",
    "Listed",
    "Message",
    "PartsReader",
    "ReadResult",
    "Request",
    "Response",
    "Rotation",
    "SessionFileError",
    "SessionHeader",
    "SessionKeyError",
    "SessionParts",
    "SessionReader",
    "SessionStore",
    "SessionSummary",
    "SessionWriter",
    "Trailer",
    "group_sessions",
    "header_value",
    "installed_keys",
    "is_encrypted",
    "listed_json",
    "new_session_id",
    "open_session",
    "parse_rotation",
    "read_session",
    "save_session",
    "summarize",
    "use_keys",
]
