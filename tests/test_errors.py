"""One exception tree: every error the rooms define is a `ParityError`, and the CLI shows
any of them as one line with exit code 2."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.exceptions import ParityError
from parity.sessions import SessionFileError, SessionStore

ROOMS = ["sessions", "recorder", "replayer", "differ", "triage", "parity"]


def _defined_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for room in ROOMS:
        package = importlib.import_module(room)
        names = [room] + [
            info.name for info in pkgutil.walk_packages(package.__path__, prefix=f"{room}.")
        ]
        for name in names:
            module = importlib.import_module(name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(value, BaseException)
                    and value.__module__ == name
                    # `_Stop`, `_Misaligned`: control flow inside one module, never raised out
                    and not value.__name__.startswith("_")
                ):
                    found.append(value)
    return found


def test_every_exception_the_rooms_define_is_a_parity_error() -> None:
    found = _defined_exceptions()
    assert len(found) >= 14  # the walk saw the tree
    assert [f"{c.__module__}.{c.__name__}" for c in found if not issubclass(c, ParityError)] == []


def test_each_name_means_one_thing() -> None:
    names = [c.__name__ for c in _defined_exceptions()]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_a_domain_error_a_command_lets_through_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: SessionStore) -> None:
        raise SessionFileError(f"cannot open {tmp_path / 'a.parity'}: Permission denied")

    monkeypatch.setattr(SessionStore, "summaries", broken)
    result = CliRunner().invoke(cli, ["sessions", "list", "--sessions", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        result.output == f"parity: error: cannot open {tmp_path / 'a.parity'}: Permission denied\n"
    )


def test_errors_carry_what_they_are_about(tmp_path: Path) -> None:
    from parity.config import ConfigError, parse_config
    from parity.differ.jsonpath import PathSyntaxError, parse_concrete
    from parity.replayer.reset import ResetError, run_reset
    from parity.sessions import SessionReader

    missing = tmp_path / "missing.parity"
    with pytest.raises(SessionFileError) as file_error:
        SessionReader(missing)
    assert file_error.value.path == missing

    with pytest.raises(ConfigError) as config_error:
        parse_config({"replay": {"concurrency": "8"}})
    assert config_error.value.key == "[replay] concurrency"

    with pytest.raises(PathSyntaxError) as path_error:
        parse_concrete("items[0]")
    assert path_error.value.pattern == "items[0]"

    with pytest.raises(ResetError) as reset_error:
        run_reset("false", "http://127.0.0.1:1", timeout=10)
    assert reset_error.value.program == "false"
