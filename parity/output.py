"""Output helpers shared by every command: JSON out, one console (its width set by
whether stdout is a terminal), and a quiet exit when the reader of stdout goes away."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import orjson

F = TypeVar("F", bound=Callable[..., Any])


def json_text(value: Any, indent: bool = False) -> str:
    """JSON text of `value` (orjson's; the standard library's for what orjson refuses:
    lone surrogates from a hostile answer, integers beyond 64 bits)."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(value, option=option).decode("utf-8")
    except TypeError:
        from parity.triage.text import storable

        separators = None if indent else (",", ":")
        text = json.dumps(
            value,
            indent=2 if indent else None,
            separators=separators,
            ensure_ascii=False,
            default=str,
        )
        return storable(text)


def plural(count: int, word: str, words: str = "") -> str:
    """`1 session`, `2 sessions`, `1,200 exchanges`; `words` for an irregular plural."""
    return f"{count:,} {word if count == 1 else words or word + 's'}"


def print_json(value: Any) -> None:
    sys.stdout.buffer.write(json_text(value, indent=True).encode("utf-8"))
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


UNLIMITED_WIDTH = 100_000
"""The console's width when stdout is not a terminal: wide enough that no table column
is folded or cut and no line wrapped (rich pads a table to its content, not to this)."""


def on_terminal(stream: Any = None) -> bool:
    """Whether `stream` (stdout) is a terminal; False for a replaced or closed stream."""
    try:
        return bool((stream if stream is not None else sys.stdout).isatty())
    except (AttributeError, ValueError):
        return False


def console() -> Any:
    """The rich console of the human views: the terminal's width on a terminal, else
    unlimited, so `parity runs | cat` keeps an id or a URL whole on its line ($COLUMNS,
    when exported, still sets the width: asked for, not guessed)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich's own exits 1
            self.quiet = True
            exit_on_broken_pipe()

    if on_terminal() or os.environ.get("COLUMNS", "").strip().isdigit():
        return _Console()
    return _Console(width=UNLIMITED_WIDTH)


def exit_on_broken_pipe() -> NoReturn:
    """The reader of stdout went away (`parity report --json | head -1`): exit 0 quietly.
    stdout is pointed at the null device first, so the interpreter's last flush at exit
    does not fail again (the recipe of Python's signal docs; SIGPIPE is not used, so it
    works on Windows too)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):  # no file descriptor (a test's stream)
        pass
    raise SystemExit(0)


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def escape_markup(text: str) -> str:
    """`text` shown literally by rich (its `[...]` not taken for markup)."""
    from rich.markup import escape

    return escape(text)
