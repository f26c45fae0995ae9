"""The command line's side of the exception tree (drawn in `parity.exceptions`).

Exit codes: 0 ok, 1 mismatches or gate failed, 2 usage or input error. A command that
can say better than a room's message (`cannot record: …`) raises a `UserError` at the
edge; any other `ParityError` that reaches the CLI is shown the same way by `exit_line`,
the one mapping from the tree to what a user sees: one red line, never a traceback.
"""

from __future__ import annotations

from typing import IO, Any

import click

from parity.exceptions import ParityError

EXIT_OK = 0
EXIT_DIFFERENCES = 1
EXIT_USAGE = 2

__all__ = ["EXIT_DIFFERENCES", "EXIT_OK", "EXIT_USAGE", "ParityError", "UserError", "exit_line"]


def exit_line(error: ParityError) -> tuple[str, int]:
    """What a user sees for an error of the tree, and the exit code: one line, 2."""
    return f"parity: error: {error}", EXIT_USAGE


class UserError(ParityError, click.ClickException):
    """Something the user can fix: printed as one red line, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        line, _ = exit_line(self)
        click.secho(line, fg="red", err=True)
