"""Process helpers for tests (shared with the demo)."""

from examples.procs import BIN, ROOT, Proc, parity, python

__all__ = ["BIN", "ROOT", "Proc", "parity", "python"]
