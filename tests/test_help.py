"""Every command's help shows its examples whole, each on its own line, however narrow
the terminal (click rewraps a paragraph unless `\\b` precedes it; issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from parity.cli import cli


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.commands[name]
        command = found
    return command


def examples(command: click.Command) -> list[str]:
    """The docstring's lines that are a parity command line."""
    return [
        ln.strip() for ln in (command.help or "").splitlines() if ln.strip().startswith("parity ")
    ]


ALL = list(commands(cli))


def test_every_command_is_walked() -> None:
    names = {" ".join(p) for p in ALL}
    assert {"", "replay", "record", "noise", "shrink", "sessions list", "secrets"} <= names
    assert len(names) > 20


@pytest.mark.parametrize("width", [40, 60, 200])
@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "parity")
def test_help_shows_each_example_whole_on_its_own_line(path: tuple[str, ...], width: int) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    shown = {line.strip() for line in result.output.splitlines()}
    missing = [example for example in examples(command_at(path)) if example not in shown]
    assert not missing, (
        f"examples run together or broken in `parity {' '.join(path)} --help`:\n{result.output}"
    )


def test_commands_with_examples_have_them() -> None:
    """The walk finds examples at all (a docstring change cannot make it vacuous)."""
    with_examples = [p for p in ALL if examples(command_at(p))]
    assert len(with_examples) >= 15


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "parity")
def test_examples_sit_under_a_heading_and_a_blank_line(path: tuple[str, ...]) -> None:
    """The line before a command's first example block ends in ':' (`Example:`) and is
    followed by a blank line, as in every other command's help."""
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
    lines = result.output.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip().startswith("parity ")), None)
    if first is None or not examples(command_at(path)):
        return
    assert first >= 2 and lines[first - 1].strip() == "", result.output
    assert lines[first - 2].rstrip().endswith(":"), result.output
