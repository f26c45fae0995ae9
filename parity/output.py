"""Output helpers shared by every command: one `--json` flag, one console."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

F = TypeVar("F", bound=Callable[..., Any])


def print_json(value: Any) -> None:
    try:
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # lone surrogates from a hostile answer, integers beyond 64 bits
        from parity.triage.text import storable

        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        data = storable(text).encode("utf-8")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def console() -> Any:
    from rich.console import Console

    return Console()


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
