"""The errors a user of the command line sees.

    click.ClickException
     └── UserError          exit 2: bad input, a file that cannot be read, a dead port…

Rooms raise their own domain errors (`sessions.SessionFileError`, `recorder.RecordError`);
the CLI turns them into a `UserError` at the edge, so a user gets one red line, never a
traceback. Exit codes: 0 ok, 1 mismatches or gate failed, 2 usage or input error.
"""

from __future__ import annotations

from typing import IO, Any

import click

EXIT_OK = 0
EXIT_DIFFERENCES = 1
EXIT_USAGE = 2


class UserError(click.ClickException):
    """Something the user can fix: printed as one red line, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"parity: error: {self.format_message()}", fg="red", err=True)
