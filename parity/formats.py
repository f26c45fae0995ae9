"""How a listing leaves parity, as sqlite-utils' `output_options` has it: one decorator
gives a command `--json`, `--nl`, `--csv`, `--tsv` and `-t/--table` (one of them at
most), and one renderer, `write_rows`, writes rows (dicts, columns in a fixed order) in
the chosen format.

`--json` stays each command's own document (`parity report --json` is the whole report);
the other formats write the command's rows: the same rows whatever the format, nested
objects flattened to `parent.child` columns, lists kept as lists in `--nl` and written as
compact JSON in a cell. Nothing is ever cut or wrapped: an id, a URL, a long route stay
whole on their line. Times (`started_at`, `finished_at`, ... kept as Unix seconds in the
results database and the session files) are written as ISO 8601 UTC text, as the gate
artifact writes them (`iso_times`, with `parity.triage.times.iso`).

Without a format the command draws its human view; `parity.output.console()` draws it at
the terminal's width on a terminal and at unlimited width elsewhere (`| cat`, a file).
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO, TypeVar

import click

from parity.output import json_text

F = TypeVar("F", bound=Callable[..., Any])


class Format(enum.StrEnum):
    """An output format chosen on the command line."""

    JSON = "json"
    NL = "nl"
    CSV = "csv"
    TSV = "tsv"
    TABLE = "table"


_FLAGS: tuple[tuple[Format, tuple[str, ...], str], ...] = (
    (Format.JSON, ("--json",), "Print JSON for scripts instead of tables."),
    (Format.NL, ("--nl",), "Print the rows as newline-delimited JSON (one object a line)."),
    (Format.CSV, ("--csv",), "Print the rows as CSV, with a header row."),
    (Format.TSV, ("--tsv",), "Print the rows as TSV, with a header row."),
    (Format.TABLE, ("-t", "--table"), "Print the rows as a plain text table, nothing cut."),
)
FLAG_NAMES = ", ".join("/".join(names) for _, names, _ in _FLAGS)
"""`--json, --nl, --csv, --tsv, -t/--table`: how the usage error names them."""


def output_options(func: F) -> F:
    """`--json`, `--nl`, `--csv`, `--tsv`, `-t/--table` on a command, passed to it as one
    parameter `output: Format | None` (None: the human view). Two of them given is one
    usage error (exit 2)."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        chosen = [fmt for fmt in Format if kwargs.pop(f"output_{fmt.value}")]
        if len(chosen) > 1:
            given = " and ".join(_flag(fmt) for fmt in chosen)
            raise click.UsageError(f"{given}: give one output format ({FLAG_NAMES})")
        return func(*args, output=chosen[0] if chosen else None, **kwargs)

    for fmt, names, help_text in reversed(_FLAGS):
        command = click.option(*names, f"output_{fmt.value}", is_flag=True, help=help_text)(command)
    return command  # type: ignore[return-value]


def _flag(fmt: Format) -> str:
    return next(names[-1] for f, names, _ in _FLAGS if f is fmt)


TIME_KEYS = frozenset(
    {"started_at", "finished_at", "ended_at", "interrupted_at", "marked_at", "generated_at"}
)
"""The keys under which parity's documents hold a time."""


def iso_times(value: Any) -> Any:
    """A row (or a list of rows) with each number under a `TIME_KEYS` key as ISO 8601 UTC
    text (`2026-12-01T08:00:01.250Z`). Only the row's own keys: what is nested in it (a
    recorded body, a difference's values) is the user's data and stays as it is."""
    from parity.triage.times import iso

    if isinstance(value, list | tuple):
        return [iso_times(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    return {
        key: iso(sub) if key in TIME_KEYS and _is_number(sub) else sub for key, sub in value.items()
    }


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"totals": {"matched": 3}}` -> `{"totals.matched": 3}`; lists stay as they are."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every key of `rows`, in the order first seen."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def write_rows(
    rows: Sequence[Mapping[str, Any]],
    fmt: Format,
    columns: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> None:
    """`rows` in format `fmt` on `out` (stdout): `--json` as one array, the others as
    flattened rows with `columns` (default: every key, in the order first seen); times
    as ISO 8601 text (`iso_times`)."""
    stream = out if out is not None else sys.stdout
    rows = iso_times(list(rows))
    if fmt is Format.JSON:
        stream.write(json_text(rows, indent=True) + "\n")
        stream.flush()
        return
    flat = [flatten(row) for row in rows]
    names = list(columns) if columns is not None else columns_of(flat)
    if not names:  # no rows and no columns named: nothing to write, not even a header
        return
    if fmt is Format.NL:
        for row in flat:
            stream.write(json_text({name: row.get(name) for name in names}) + "\n")
    elif fmt is Format.TABLE:
        stream.write(format_table(flat, names))
    else:
        buffer = io.StringIO()
        dialect = "excel-tab" if fmt is Format.TSV else "excel"
        writer = csv.writer(buffer, dialect=dialect, lineterminator="\n")
        writer.writerow(names)
        for row in flat:
            writer.writerow([cell_text(row.get(name)) for name in names])
        stream.write(buffer.getvalue())
    stream.flush()


def cell_text(value: Any) -> str:
    """One cell of CSV, TSV or the table: empty for null, JSON for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json_text(value)
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table: a header, a rule, a line per row, columns two spaces apart,
    numbers to the right; a newline inside a cell written `\\n`, so a row is one line."""
    cells = [[_one_line(cell_text(row.get(name))) for name in columns] for row in rows]
    numeric = [
        all(_is_number(row.get(name)) for row in rows if row.get(name) is not None)
        for name in columns
    ]
    widths = [max([len(name), *(len(line[i]) for line in cells)]) for i, name in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip() + "\n"

    text = line(list(columns)) + line(["-" * w for w in widths])
    return text + "".join(line(values) for values in cells)


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
