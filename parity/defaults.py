"""The replay defaults, in one place below every room (it imports nothing): what the
replayer does when nothing says otherwise, and what `parity.toml` falls back to."""

DEFAULT_CONCURRENCY = 8
"""Sessions replayed at once."""
DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for one answer."""
DEFAULT_RESET_TIMEOUT = 60.0
"""Seconds a reset hook may run."""
