"""parity: record real traffic against one backend, replay it against its port, see what differs.

This package is the front door (the click CLI, settings, the error hierarchy); the work
is done by the rooms `sessions`, `recorder`, `replayer`, `differ` and `triage`.
"""

__version__ = "0.1.0"
