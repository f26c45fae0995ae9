"""Keys, prompts and a pager for `parity triage`: raw single-key input that keeps
type-ahead (POSIX), click's prompt and pager elsewhere."""

from __future__ import annotations

import os
import sys

import click


def has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def getchar() -> str:
    """One key press. click.getchar switches the terminal to raw mode with TCSAFLUSH,
    which drops a key typed while the screen was redrawing; here raw mode is entered
    without flushing (POSIX), and one byte is read so that type-ahead is kept."""
    if sys.platform == "win32" or not sys.stdin.isatty():
        return click.getchar()
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        key = os.read(fd, 1).decode("latin-1")
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
    if key == "\x03":
        raise KeyboardInterrupt
    if key in ("\x04", ""):
        raise EOFError
    return key


def prompt(label: str) -> str | None:
    try:
        text: str = click.prompt(label, default="", show_default=False)
    except click.Abort:
        return None
    return text


def pager(text: str) -> None:
    click.echo_via_pager(text, color=True)
