"""`make lint`'s type check: mypy on the package as it is installed.

The rooms live at the top of the repository (`differ/`, `triage/`, ...) and are installed
as `parity.differ`, `parity.triage`, ... (pyproject's package-dir). mypy cannot follow
setuptools' editable import hook, so this builds the installed layout under
`.typecheck/parity` (symlinks where the platform allows them, else copies) and runs mypy
on it with the settings of pyproject.toml. Errors name the real files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".typecheck"


def _package_dirs() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapped = config["tool"]["setuptools"]["package-dir"]
    return {name.split(".", 1)[1]: ROOT / path for name, path in mapped.items()}


def _link(target: Path, link: Path) -> None:
    try:
        link.symlink_to(target, target_is_directory=target.is_dir())
    except OSError:  # Windows without the symlink privilege
        if target.is_dir():
            shutil.copytree(target, link, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(target, link)


def build_tree() -> Path:
    shutil.rmtree(TREE, ignore_errors=True)
    package = TREE / "parity"
    package.mkdir(parents=True)
    for item in sorted((ROOT / "parity").iterdir()):
        if item.name != "__pycache__":
            _link(item, package / item.name)
    for name, source in _package_dirs().items():
        _link(source, package / name)
    return package


def main() -> int:
    package = build_tree()
    others = ["examples", "bench", "accuracy", "tools"]
    command = [sys.executable, "-m", "mypy", str(package.relative_to(ROOT)), *others]
    done = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True)
    real = {
        str(Path(".typecheck") / "parity" / n) + os.sep: str(p.relative_to(ROOT)) + os.sep
        for n, p in _package_dirs().items()
    }
    real[str(Path(".typecheck") / "parity") + os.sep] = "parity" + os.sep
    out = done.stdout
    for fake, true in sorted(real.items(), key=lambda kv: -len(kv[0])):
        out = out.replace(fake, true)
    sys.stdout.write(out)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
