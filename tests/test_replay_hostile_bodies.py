"""`parity replay` (the real CLI, a real process) against a backend whose answers are
hostile to a decoder: the run finishes, every exchange is stored, and each answer gets
the verdict it deserves (issue 10: charsets that are no character sets, a brotli bomb,
bytes that differ only where they are not valid UTF-8, a lone surrogate)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from parity.sessions import SessionStore
from tests.factories import make_exchange
from tests.procs import Proc, parity, python

pytestmark = pytest.mark.timeout(120)

NOT_CHARSETS = ["hex", "base64", "zlib", "rot13", "idna", "bz2", "uu", "quopri"]


def _case(content_type: str, recorded: bytes, answered: bytes) -> tuple[str, str, bytes]:
    """(the path that makes the backend answer `answered`, the type, the recorded body)."""
    query = f"type={content_type.replace(' ', '%20').replace(';', '%3B')}&hex={answered.hex()}"
    return f"/body?{query}", content_type, recorded


def _session(root: Path, cases: list[tuple[str, str, bytes]]) -> Path:
    with SessionStore(root).create(label="hostile", upstream="http://127.0.0.1:5000") as writer:
        for seq, (path, content_type, recorded) in enumerate(cases, 1):
            exchange = make_exchange(seq, path=path, body=recorded)
            exchange.request.method = "GET"
            exchange.request.headers = [(b"Host", b"127.0.0.1:5000")]
            exchange.request.body = b""
            exchange.messages = []
            assert exchange.response is not None
            exchange.response.headers = [(b"Content-Type", content_type.encode())]
            writer.append(exchange)
    return root


def _run(*args: str, timeout: float = 90) -> tuple[int, str]:
    with Proc(parity(*args)) as proc:
        code = proc.popen.wait(timeout)
        return code, proc.output()


def _replay(tmp_path: Path, cases: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    """Replays `cases` against the hostile backend; the report, by url."""
    sessions = _session(tmp_path / "sessions", cases)
    db = tmp_path / "parity.db"
    with Proc(python("tests/hostile_bodies.py")) as backend:
        url = backend.wait_for(r"HOSTILE_LISTENING (\S+)", timeout=30).group(1)
        code, output = _run("replay", str(sessions), "--target", url, "--db", str(db))
    assert code in (0, 1), output
    assert "internal error" not in output and "Traceback" not in output, output
    code, output = _run("report", "--db", str(db), "--json")
    assert code == 0, output
    report: dict[str, Any] = json.loads(output)
    assert report["totals"]["exchanges"] == len(cases)  # every exchange stored
    assert report["totals"]["errors"] == 0, report["mismatches"]
    return report


def _differences(report: dict[str, Any], path: str) -> list[tuple[str, object, object]]:
    (mismatch,) = [m for m in report["mismatches"] if m["url"] == path]
    found = mismatch["differences"]
    return [(d["path"], d["expected"], d["actual"]) for d in found if d["where"] == "body"]


def test_charsets_that_name_no_character_set_are_compared_as_utf8(tmp_path: Path) -> None:
    cases = [
        _case(f"text/plain; charset={name}", b"hello 6869", b"hello 686a") for name in NOT_CHARSETS
    ]
    changed_json = _case("application/json; charset=base64", b'{"a": "6869"}', b'{"a": "686a"}')
    respaced_json = _case("application/json; charset=hex", b'{"a": 1}', b'{"a":1}')
    report = _replay(tmp_path, [*cases, changed_json, respaced_json])
    assert report["totals"]["mismatched"] == len(cases) + 1
    assert report["totals"]["matched"] == 1  # the same JSON, spaced otherwise
    for path, _type, _body in cases:
        assert _differences(report, path) == [("$", "hello 6869", "hello 686a")]
    assert _differences(report, changed_json[0]) == [("$.a", "6869", "686a")]


def test_bytes_that_are_not_utf8_are_compared_as_bytes(tmp_path: Path) -> None:
    json_type, text_type = "application/json", "text/plain; charset=utf-8"
    changed = _case(json_type, b'{"name": "caf\xe9"}', b'{"name": "caf\xe8"}')
    respaced = _case(json_type, b'{"name": "caf\xe9", "n": 1}', b'{"name":"caf\xe9","n":1}')
    text = _case(text_type, b"caf\xe9", b"caf\xe8")
    lone = _case("application/json; charset=latin-1", b'{"a": "\\ud800"}', b'{"a": "\\udc00"}')
    report = _replay(tmp_path, [changed, respaced, text, lone])
    assert report["totals"]["mismatched"] == 3 and report["totals"]["matched"] == 1
    assert _differences(report, changed[0]) == [("$.name", "caf\\xe9", "caf\\xe8")]
    assert _differences(report, text[0]) == [("$", "caf\\xe9", "caf\\xe8")]
    assert _differences(report, lone[0]) == [("$.a", "\\ud800", "\\udc00")]


def test_a_brotli_bomb_is_too_large_to_compare_not_inflated(tmp_path: Path) -> None:
    bomb = ("/bomb", "application/json", b'{"ok": true}')
    fine = _case("application/json", b'{"ok": true}', b'{"ok": true}')
    report = _replay(tmp_path, [bomb, fine])
    assert report["totals"]["mismatched"] == 1 and report["totals"]["matched"] == 1
    ((path, expected, actual),) = _differences(report, "/bomb")
    assert path == "$" and expected == {"ok": True}
    assert re.fullmatch(r"body too large to compare \(5[12]\d MB decoded\)", str(actual)), actual
