"""One installed name: the rooms live at the top of the repository but install as
`parity.sessions`, `parity.differ`, ... so that `pip install` never puts a generic
top-level package (`differ`, `triage`, `recorder`, `replayer`: all names of other PyPI
projects) into site-packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.procs import ROOT

pytestmark = pytest.mark.timeout(180)

ROOMS = ("sessions", "recorder", "replayer", "differ", "triage")


def _sources(into: Path) -> Path:
    """The files git tracks (the tree a fresh clone builds from), copied to `into`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            target = into / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the sources")
def test_the_wheel_installs_one_top_level_name(tmp_path: Path) -> None:
    source = _sources(tmp_path / "src")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("parity-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if ".dist-info/" not in n}
    assert top == {"parity"}
    for room in ROOMS:
        assert f"parity/{room}/__init__.py" in names
    assert "parity/differ/compare.py" in names and "parity/cli.py" in names


def test_every_module_imports_under_parity_alone(tmp_path: Path) -> None:
    """Outside the repository (where the room folders are not importable by their own
    names), every module of the package imports, and none of them pulled in a top-level
    room: no import was left unrenamed."""
    script = (
        "import importlib, pkgutil, sys\n"
        f"for name in ('parity', *('parity.' + room for room in {ROOMS!r})):\n"
        "    package = importlib.import_module(name)\n"
        "    for info in pkgutil.iter_modules(package.__path__, name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        f"stray = sorted(n for n in sys.modules if n.split('.')[0] in {ROOMS!r})\n"
        "print(len([n for n in sys.modules if n.startswith('parity.')]), stray)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    count, stray = done.stdout.split(" ", 1)
    assert stray.strip() == "[]"
    assert int(count) > 60
