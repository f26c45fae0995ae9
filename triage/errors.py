"""Triage's domain errors (their place in the tree: `parity.exceptions`). The CLI turns
each into one red line (`UserError`, exit 2)."""

from __future__ import annotations

from pathlib import Path

from parity.exceptions import ParityError


class TriageError(ParityError):
    """A results database that cannot be used, or a lookup that found nothing. `path` is
    the file it is about: the database (the gate artifact, for `parity gate`)."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class NoDatabase(TriageError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"no results database at {path}: run `parity replay` first", path=path)


class NotResultsDB(TriageError):
    """Not SQLite, another program's SQLite file, or a newer schema than this parity's."""


class NotFound(TriageError):
    """No run, mismatch or signature with that id."""


class Ambiguous(TriageError):
    """An id prefix that matches more than one thing."""
