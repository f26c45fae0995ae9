"""Triage's domain errors. The CLI turns each into one red line (`UserError`, exit 2)."""

from __future__ import annotations

from pathlib import Path


class TriageError(Exception):
    """A results database that cannot be used, or a lookup that found nothing."""


class NoDatabase(TriageError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"no results database at {path}: run `parity replay` first")
        self.path = path


class NotResultsDB(TriageError):
    """Not SQLite, another program's SQLite file, or a newer schema than this parity's."""


class NotFound(TriageError):
    """No run, mismatch or signature with that id."""


class Ambiguous(TriageError):
    """An id prefix that matches more than one thing."""
