"""Redaction on real processes: the journal pilot recorded with the default policy holds
none of the pilot's secrets in any file the record and the replay produced; the redacted
session replays against the candidate with the same findings as an unredacted one; two
recorder runs under the same project key give a secret the same token; without its
originals, a replay says in one line which one it lacks."""

from __future__ import annotations

import base64
import json
import re
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from parity.sessions import SessionStore, read_session
from parity.sessions.keys import KEY_ENV
from tests.journal import record_pilot, start_backend
from tests.procs import Proc, parity

pytestmark = pytest.mark.timeout(180)

TYPED = [b"ana-pilot-2026", b"blue lantern", b"blue+lantern", b"north star", b"north+star"]
"""What the pilot types: the password and the vault passphrases (raw and form-encoded)."""


def record(project: Path, sessions: Path, *extra: str, trace: Path | None = None,
           env: dict[str, str] | None = None) -> Path:  # fmt: skip
    """One pilot day through `parity record` run in `project`; the session file."""
    record_pilot(sessions, project, *extra, trace=trace, env=env)
    (path,) = SessionStore(sessions).paths()
    return path


def replay(project: Path, sessions: Path) -> tuple[int, str, dict[str, Any]]:
    db = project / "parity.db"
    with ExitStack() as stack:
        candidate = start_backend(stack, "candidate")
        baseline = start_backend(stack, "baseline")
        args = ["replay", str(sessions), "--target", candidate, "--baseline", baseline]
        with Proc(parity(*args, "--db", str(db)), cwd=project) as run:
            code = run.popen.wait(120)
            output = run.output()
    if code not in (0, 1):
        return code, output, {}
    with Proc(parity("report", "--db", str(db), "--json")) as report:
        assert report.popen.wait(30) == 0
        return code, output, json.loads(report.output())


def minted(trace: Path) -> set[bytes]:
    """The session token, sid cookie and vault sessions the backend gave the pilot."""
    found: set[bytes] = set()
    for line in trace.read_text(encoding="utf-8").splitlines():
        seen = json.loads(line)
        for name, value in seen["headers"]:
            if name.lower() == "set-cookie":
                cookie = value.split(";", 1)[0].split("=", 1)[1].strip('"')
                if cookie:
                    found.add(cookie.encode())
        try:
            body = json.loads(base64.b64decode(seen["body_b64"]))
        except ValueError:
            continue
        if isinstance(body, dict):
            found.update(str(body[k]).encode() for k in ("token", "vault_session") if k in body)
    return found


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A redacted recording and replay in one project, an unredacted pair in another."""
    project = tmp_path_factory.mktemp("project")
    plain = tmp_path_factory.mktemp("plain")
    trace = tmp_path_factory.mktemp("client") / "trace.jsonl"  # the client's own view
    session = record(project, project / "sessions", trace=trace)
    record(plain, plain / "sessions", "--no-redact")
    return {
        "project": project,
        "session": session,
        "trace": trace,
        "redacted": replay(project, project / "sessions"),
        "plain": replay(plain, plain / "sessions"),
    }


def test_no_secret_of_the_pilot_is_on_disk(pilot: dict[str, Any]) -> None:
    canaries = TYPED + sorted(minted(pilot["trace"]))
    assert len(canaries) >= len(TYPED) + 4  # a token, a sid, two vault sessions at least
    files = [p for p in pilot["project"].rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"key", "secrets", "parity.db", pilot["session"].name} <= names
    for path in files:
        data = path.read_bytes()
        for canary in canaries:
            assert canary not in data, f"{canary!r} in {path}"
    with Proc(parity("secrets", "list", "--json"), cwd=pilot["project"]) as listing:
        assert listing.popen.wait(30) == 0
        listed = listing.output()
    fields = {row["field"] for row in json.loads(listed)}
    assert {"json password", "json passphrase", "json token", "cookie sid"} <= fields, fields
    assert not any(canary.decode() in listed for canary in canaries)
    # The candidate's own secrets (minted on replay) never reach the results either.
    db = b"".join(p.read_bytes() for p in files if p.name.startswith("parity.db"))
    assert not re.search(rb'"(token|vault_session)": ?"(?!PARITY_REDACTED_)[^"]+"', db)


def test_the_redacted_session_replays_with_the_same_findings(pilot: dict[str, Any]) -> None:
    code, output, redacted = pilot["redacted"]
    plain_code, _, plain = pilot["plain"]
    assert code == plain_code == 1, output
    assert {f["id"] for f in redacted["findings"]} == {f["id"] for f in plain["findings"]}
    for key in ("exchanges", "matched", "mismatched", "errors"):
        assert redacted["totals"][key] == plain["totals"][key], key


def _tokens(session: Path) -> dict[str, str]:
    """The login password and each vault passphrase of a session, as recorded."""
    found: dict[str, str] = {}
    for exchange in read_session(session)[1]:
        body = exchange.request.body
        if exchange.request.method == "POST" and body.startswith(b"{"):
            for key, value in json.loads(body).items():
                if key in ("password", "passphrase"):
                    found[f"{exchange.request.path} {key} {len(found)}"] = value
    return found


def test_two_recordings_with_the_same_project_key_give_the_same_tokens(
    pilot: dict[str, Any], tmp_path: Path
) -> None:
    key = (pilot["project"] / ".parity" / "key").read_bytes().hex()
    other = record(tmp_path, tmp_path / "sessions", env={KEY_ENV: key})
    first, second = _tokens(pilot["session"]), _tokens(other)
    assert first and first == second
    assert all(v.startswith("PARITY_REDACTED_") for v in first.values())
    assert not (tmp_path / ".parity" / "key").exists()  # the variable, not a new key


def test_without_its_originals_a_replay_names_the_missing_secret(
    pilot: dict[str, Any], tmp_path: Path
) -> None:
    project = tmp_path / "colleague"
    shutil.copytree(pilot["project"] / "sessions", project / "sessions")
    shutil.copytree(pilot["project"] / ".parity", project / ".parity")
    with Proc(parity("secrets", "forget", "--yes"), cwd=project) as forget:
        assert forget.popen.wait(30) == 0 and "deleted" in forget.output()
    assert not (project / ".parity" / "secrets").exists()
    with Proc(parity("sessions", "list", "--sessions", str(project / "sessions"))) as listing:
        assert listing.popen.wait(30) == 0  # still readable
    code, output, _ = replay(project, project / "sessions")
    assert code == 2, output
    errors = [line for line in output.splitlines() if "error" in line]
    assert errors == [
        "parity: error: replay: no original for the redacted json password "
        "(not in the secret store; set it in [replay.secrets])"
    ]
    for canary in TYPED:
        assert canary.decode() not in output
