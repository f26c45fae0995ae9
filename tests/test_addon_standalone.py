"""`mitmdump -s recorder/addon.py` as a plain mitmproxy user runs it (issue 13): the repo
out of reach (a copy of the file, another working directory, no PYTHONPATH), parity
installed in mitmproxy's environment or not, and the warning when mitmproxy listens on
all interfaces. Real mitmdump processes, loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from parity.sessions import SessionStore, read_session
from tests.procs import BIN, ROOT, Proc, python

pytestmark = pytest.mark.timeout(60)

WIDE = "parity: mitmproxy listens on all interfaces"

# mitmproxy's own entry point, with `parity` made unimportable as if never installed.
WITHOUT_PARITY = """
import sys
class NoParity:
    def find_spec(self, name, path=None, target=None):
        if name == "parity" or name.startswith("parity."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoParity())
from mitmproxy.tools.main import mitmdump
sys.argv[0] = "mitmdump"
sys.exit(mitmdump())
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with Proc(python("tests/upstream.py")) as proc:
        yield proc.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)


def plain_env() -> dict[str, str]:
    """The environment without PYTHONPATH or parity's variables."""
    return {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PARITY_")
    }


def addon_copy(tmp_path: Path) -> Path:
    """The addon file alone, away from the repository's folders."""
    copy = tmp_path / "elsewhere" / "parity_addon.py"
    copy.parent.mkdir()
    shutil.copy(ROOT / "recorder" / "addon.py", copy)
    return copy


def test_the_repository_is_out_of_reach(tmp_path: Path) -> None:
    """What the next tests rely on: from there, only the installed parity imports."""
    check = "import importlib.util as u; print(u.find_spec('recorder'), u.find_spec('parity'))"
    out = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout.startswith("None ModuleSpec(name='parity'"), out


def test_a_copy_of_the_addon_records_with_parity_installed_beside_mitmproxy(
    upstream: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "sessions"
    cmd = [str(BIN / "mitmdump"), "--mode", f"reverse:{upstream}", "--listen-host", "127.0.0.1"]
    cmd += ["--listen-port", "0", "-s", str(addon_copy(tmp_path))]
    cmd += ["--set", f"parity_sessions={sessions}", "--set", "parity_label=plain-mitmdump"]
    with Proc(cmd, cwd=tmp_path, env=plain_env()) as proc:
        port = proc.wait_for(r"listening at 127\.0\.0\.1:(\d+)").group(1)
        proc.wait_for(r"parity: recording to")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dup", timeout=10) as answer:
            assert answer.read() == b"ok"
        assert proc.terminate() == 0
        output = proc.output()
    assert WIDE not in output and "Traceback" not in output
    header, exchanges, result = read_session(SessionStore(sessions).paths()[0])
    assert header.label == "plain-mitmdump"
    assert [e.request.path for e in exchanges] == ["/dup"]
    assert result.trailer is not None
    assert (tmp_path / ".parity").is_dir()  # its state beside where it ran, as documented


def test_listening_on_all_interfaces_is_warned_once(upstream: str, tmp_path: Path) -> None:
    cmd = [str(BIN / "mitmdump"), "--mode", f"reverse:{upstream}", "--listen-port", "0"]
    cmd += ["-s", str(addon_copy(tmp_path)), "--set", f"parity_sessions={tmp_path / 's'}"]
    with Proc(cmd, cwd=tmp_path, env=plain_env()) as proc:
        proc.wait_for(r"parity: recording to")
        assert proc.terminate() == 0
        output = proc.output()
    warned = [line for line in output.splitlines() if WIDE in line]
    assert len(warned) == 1, output
    assert warned[0].endswith("--listen-host 127.0.0.1 keeps it to this machine")


def test_without_parity_the_addon_says_what_to_install_in_one_line(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", WITHOUT_PARITY, "--listen-host", "127.0.0.1"]
    cmd += ["--listen-port", "0", "-s", str(addon_copy(tmp_path))]
    with Proc(cmd, cwd=tmp_path, env=plain_env()) as proc:
        code = proc.popen.wait(timeout=30)
        output = proc.output()
    assert code != 0, output
    assert "Traceback" not in output and "ModuleNotFoundError" not in output
    said = [line for line in output.splitlines() if "parity: " in line]
    assert len(said) == 1, output
    assert "needs the parity package in mitmproxy's Python" in said[0]
    assert "pipx inject mitmproxy parity" in said[0]
