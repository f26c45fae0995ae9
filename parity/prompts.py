"""Asking before something is deleted for good: on a terminal, a yes/no question; without
one (a script, a pipe, CI), never a hang on stdin or click's `Aborted!` (exit 1), but one
line saying `--yes` is needed, exit 2."""

from __future__ import annotations

import sys

import click

from parity.errors import UserError


def confirm(question: str, *, yes: bool, refusal: str) -> bool:
    """True with `yes` (`--yes` given); on a terminal, the user's answer to `question`
    (default no); else `refusal` as one error line, exit 2. `refusal` names what would be
    lost, e.g. `parity noise --forget deletes learned noise`."""
    if yes:
        return True
    if not _stdin_is_terminal():
        raise UserError(f"{refusal}: give --yes (no terminal to ask on)")
    return click.confirm(question, default=False, err=True)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False
