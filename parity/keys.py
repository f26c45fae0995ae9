"""`--key-file` and the key source behind encrypted session files and stored bodies.

Resolved once per command, from the option (or `$PARITY_KEY_FILE`), else `[record]
key_file` in parity.toml, and `$PARITY_PASSPHRASE`; on a terminal a passphrase is asked
for when a file needs one (never otherwise: CI fails with one line instead of waiting).
The source is installed for the sessions room (`sessions.use_keys`), which every reader
and writer uses; the sessions room never reads parity.toml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from parity.config import current_config
from parity.errors import UserError
from parity.sessions import KeySource, installed_keys, use_keys
from parity.sessions.crypto import KEY_FILE_ENV, PASSPHRASE_ENV, ready_to_write

F = TypeVar("F", bound=Callable[..., Any])


def _ask() -> str:
    return str(click.prompt("parity: passphrase", hide_input=True, err=True))


def resolve_keys(key_file: Path | None) -> KeySource:
    """The key source for this command (see the module docstring)."""
    if key_file is None:
        key_file = current_config().record.key_file
    passphrase = os.environ.get(PASSPHRASE_ENV) or None
    interactive = passphrase is None and sys.stdin.isatty()
    return KeySource(
        passphrase=passphrase,
        key_file=key_file.expanduser() if key_file is not None else None,
        prompt=_ask if interactive else None,
    )


def _install(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    use_keys(resolve_keys(value))
    ctx.call_on_close(lambda: use_keys(None))


def key_file_option(func: F) -> F:
    """`--key-file PATH` (or `$PARITY_KEY_FILE`): the key of encrypted session files and
    stored bodies; installs the command's key source (see `resolve_keys`)."""
    return click.option(
        "--key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar=KEY_FILE_ENV,
        expose_value=False,
        callback=_install,
        help="Key file for encrypted sessions (or $PARITY_KEY_FILE, [record] key_file; "
        "else a passphrase: $PARITY_PASSPHRASE, or asked on a terminal).",
    )(func)


def keys_for_recording(sessions_dir: Path) -> KeySource:
    """The installed key source, ready to encrypt: a passphrase asked now (twice) on a
    terminal, and no key file inside the session directory it protects."""
    keys = installed_keys()
    assert keys is not None, "record has --key-file"
    if keys.key_file is not None:
        ready_to_write(keys, sessions_dir)  # not inside the directory; readable, long enough
        return keys
    if os.environ.get(PASSPHRASE_ENV):
        return keys
    if not sys.stdin.isatty():
        raise UserError(
            "--encrypt needs a key: set PARITY_PASSPHRASE or PARITY_KEY_FILE, pass "
            "--key-file, or run on a terminal to type a passphrase"
        )
    passphrase = click.prompt(
        "parity: passphrase for the new session", hide_input=True, confirmation_prompt=True
    )
    keys = KeySource(passphrase=str(passphrase))
    use_keys(keys)
    return keys
