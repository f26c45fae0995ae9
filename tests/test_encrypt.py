"""Encryption at rest on real processes: `parity record --encrypt` leaves no plaintext
exchange bytes in the file, a `kill -9` loses at most the exchange in flight, a wrong key
is one line and exit 2, a flipped byte costs its record only, and a replay of the
encrypted session gives the verdicts of the plain one."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from parity.replayer import Case, save_shrunk
from parity.sessions import (
    KeySource,
    SessionKeyError,
    SessionStore,
    SessionWriter,
    is_encrypted,
    read_session,
)
from tests.factories import make_exchange
from tests.journal import record_pilot, start_backend
from tests.procs import ROOT, Proc, parity
from tests.test_record_integration import kill_9_mid_traffic, start_recorder, upstream  # noqa: F401

pytestmark = pytest.mark.timeout(120)

PASSPHRASE = "correct horse battery"
ENV = {"PARITY_PASSPHRASE": PASSPHRASE}
CANARIES = [
    # the pilot's password, vault passphrases and user name (examples/journal/pilot.py)
    b"ana-pilot-2026",
    b"blue lantern",
    b"north star",
    b"BLUE LANTERN",
    # JSON keys and words every exchange of the journal carries
    b'"passphrase"',
    b'"username"',
    b'"password"',
    b"passphrase",
    b"entries",
    b"vaults",
    b"/api/",
    b"Bearer",
    b"application/json",
    b"HTTP/1.1",
    b"127.0.0.1",
    b"parity-session\x00",
]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        parity(*args),
        env={**os.environ, "COLUMNS": "250", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The journal pilot's day recorded with `--encrypt` (passphrase from the environment)."""
    return record_pilot(tmp_path_factory.mktemp("encrypted"), ROOT, "--encrypt", env=ENV)


def test_an_encrypted_pilot_day_holds_no_plaintext_and_reads_back_whole(pilot: Path) -> None:
    (path,) = SessionStore(pilot).paths()
    data = path.read_bytes()
    assert is_encrypted(path)
    for canary in CANARIES:
        assert canary not in data, canary
    header, exchanges, result = read_session(path, KeySource(passphrase=PASSPHRASE))
    assert result.trailer is not None and result.trailer.exchanges == len(exchanges) >= 60
    assert result.malformed_records == 0 and result.skipped_bytes == 0
    bodies = b"".join(e.request.body for e in exchanges)
    # what the pilot sent, decrypted; its secrets redacted (the default policy)
    assert b'{"username": "ana", "password": "PARITY_REDACTED_' in bodies
    assert b"ana-pilot-2026" not in bodies and b"blue lantern" not in bodies
    assert header.upstream and header.upstream.startswith("http://127.0.0.1:")


def test_listing_without_the_key_shows_encrypted_with_it_reads_and_a_wrong_one_is_one_line(
    pilot: Path,
) -> None:
    (path,) = SessionStore(pilot).paths()
    locked = _cli("sessions", "list", "--sessions", str(pilot), "--json")
    assert locked.returncode == 0, locked.stderr
    (entry,) = json.loads(locked.stdout)
    assert entry["encrypted"] is True and entry["id"] == path.stem
    table = _cli("sessions", "list", "--sessions", str(pilot))
    assert table.returncode == 0 and "encrypted" in table.stdout
    listed = _cli("sessions", "list", "--sessions", str(pilot), "--json", env=ENV)
    (summary,) = json.loads(listed.stdout)
    assert summary["encrypted"] is True and summary["complete"] and summary["exchanges"] >= 60

    for command in (
        ["sessions", "show", path.stem, "--sessions", str(pilot)],
        ["replay", str(pilot), "--target", "http://127.0.0.1:9", "--db", str(pilot / "x.db")],
    ):
        wrong = _cli(*command, env={"PARITY_PASSPHRASE": "not it"})
        assert wrong.returncode == 2, wrong.stderr
        assert wrong.stderr.strip().splitlines() == [
            f"parity: error: wrong passphrase or key file for {path} (its header does not "
            "authenticate)"
        ]
        missing = _cli(*command)
        assert missing.returncode == 2
        (line,) = missing.stderr.strip().splitlines()
        assert "is encrypted with a passphrase: set PARITY_PASSPHRASE" in line


def _findings(db: Path) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    shown = _cli("report", "--db", str(db), "--json", env=ENV)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    # What a baseline teaches may vary by an observation between any two runs
    # (tests/test_identical_replays.py compares the same): the verdicts may not.
    report["totals"].pop("noise_suppressed", None)
    mismatches = sorted(
        (m["seq"], m["route"], m["signature"], json.dumps(m["differences"], sort_keys=True))
        for m in report["mismatches"]
    )
    return report["totals"], mismatches


def test_an_encrypted_session_replays_with_the_verdicts_of_the_plain_one(
    pilot: Path, tmp_path: Path
) -> None:
    (encrypted,) = SessionStore(pilot).paths()
    # The same exchanges, written plain: the only difference is the encryption.
    (tmp_path / "plain").mkdir()
    header, exchanges, _ = read_session(encrypted, KeySource(passphrase=PASSPHRASE))
    with SessionWriter(tmp_path / "plain" / f"{header.id}.parity", header) as plain:
        for exchange in exchanges:
            plain.append(exchange)
    results = []
    for name, sessions in (("plain", tmp_path / "plain"), ("encrypted", pilot)):
        with ExitStack() as stack:  # fresh backends for each run: the same start state
            candidate = start_backend(stack, "candidate")
            baseline = start_backend(stack, "baseline")
            db = tmp_path / f"{name}.db"
            run = _cli(
                "replay", str(sessions), "--target", candidate, "--baseline", baseline,
                "--db", str(db), "--quiet", env=ENV,
            )  # fmt: skip
            assert run.returncode == 1, run.stderr
            assert "warning" not in run.stderr, run.stderr
            results.append(_findings(db))
    assert results[0] == results[1]
    assert results[0][0]["mismatched"] > 0

    # The mismatches' bodies from the encrypted session are stored encrypted, every one;
    # `parity show` opens them with the key, and says in one line that it needs it.
    with sqlite3.connect(tmp_path / "encrypted.db") as conn:
        inline = conn.execute(
            "SELECT count(*) FROM mismatches WHERE coalesce(request_body, expected_body, "
            "actual_body) IS NOT NULL"
        ).fetchone()[0]
        encodings = {row[0] for row in conn.execute("SELECT encoding FROM bodies")}
        rendered = conn.execute(
            "SELECT count(*), count(expected_rendered) FROM mismatches WHERE "
            "expected_rendered IS NOT NULL AND expected_rendered NOT LIKE 'sealed:h%'"
        ).fetchone()
        plain_encodings = {row[0] for row in sqlite3.connect(tmp_path / "plain.db").execute(
            "SELECT encoding FROM bodies")}  # fmt: skip
        mismatch, seq = conn.execute(
            "SELECT id, seq FROM mismatches WHERE expected_body_ref IS NOT NULL LIMIT 1"
        ).fetchone()
        (twin,) = (
            sqlite3.connect(tmp_path / "plain.db")
            .execute("SELECT id FROM mismatches WHERE seq = ?", [seq])
            .fetchone()
        )
    assert inline == 0 and encodings and encodings <= {"zstd+aes-gcm", "identity+aes-gcm"}
    assert rendered == (0, 0)
    assert not any(e.endswith("aes-gcm") for e in plain_encodings)
    db = str(tmp_path / "encrypted.db")
    opened = _cli("show", mismatch, "--db", db, "--json", env=ENV)
    assert opened.returncode == 0, opened.stderr
    shown = json.loads(opened.stdout)["mismatch"]
    twin_db = str(tmp_path / "plain.db")
    twin_shown = json.loads(_cli("show", twin, "--db", twin_db, "--json").stdout)["mismatch"]
    assert shown["expected"]["body_bytes"] > 0
    for side in ("request", "expected"):  # as recorded (the candidate's answers vary)
        assert shown[side] == twin_shown[side], side
    assert shown["body_diff"] and bool(shown["body_diff"]) == bool(twin_shown["body_diff"])
    locked = _cli("show", mismatch, "--db", db)
    assert locked.returncode == 2
    (line,) = locked.stderr.strip().splitlines()
    assert line.startswith("parity: error: stored bodies are encrypted")
    wrong = _cli("show", mismatch, "--db", db, env={"PARITY_PASSPHRASE": "not it"})
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_of_an_encrypting_recorder_loses_at_most_the_exchange_in_flight(
    upstream: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "keys" / "session.key"
    key_file.parent.mkdir()
    key_file.write_bytes(os.urandom(32))
    proc, url = start_recorder(upstream, tmp_path / "s", "--encrypt", "--key-file", str(key_file))
    completed = kill_9_mid_traffic(proc, url)

    (path,) = SessionStore(tmp_path / "s").paths()
    assert b"/json?size=4096" not in path.read_bytes()
    _header, exchanges, result = read_session(path, KeySource(key_file=key_file))
    assert result.trailer is None and result.malformed_records == 0
    recorded = [e.request.path.encode() for e in exchanges]
    assert recorded[: len(completed)] == completed
    assert len(completed) <= len(recorded) <= len(completed) + 1
    listed = _cli("sessions", "list", "--sessions", str(tmp_path / "s"), "--json",
                  env={"PARITY_KEY_FILE": str(key_file)})  # fmt: skip
    (summary,) = json.loads(listed.stdout)
    assert summary["exchanges"] == len(exchanges) and summary["encrypted"]


def test_a_key_file_inside_the_session_directory_is_refused(upstream: str, tmp_path: Path) -> None:  # noqa: F811
    sessions = tmp_path / "s"
    sessions.mkdir()
    (sessions / "k.key").write_bytes(os.urandom(32))
    args = ["record", "--upstream", upstream, "--listen", "127.0.0.1:0", "--sessions"]
    refused = _cli(*args, str(sessions), "--encrypt", "--key-file", str(sessions / "k.key"))
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "is inside the session directory" in line
    no_key = _cli(*args, str(sessions), "--encrypt")
    assert no_key.returncode == 2
    (line,) = no_key.stderr.strip().splitlines()
    assert "--encrypt needs a key: set PARITY_PASSPHRASE" in line
    assert list(sessions.glob("*.parity")) == []


def _encrypted(root: Path, count: int, keys: KeySource) -> tuple[Path, list[int]]:
    writer = SessionStore(root).create(label="t", upstream="http://127.0.0.1:5000", encrypt=keys)
    ends = [writer.path.stat().st_size]
    with writer:
        for seq in range(1, count + 1):
            writer.append(make_exchange(seq, body=b'{"canary": "%d"}' % seq))
            ends.append(writer.path.stat().st_size)
    return writer.path, ends


def test_a_flipped_byte_in_the_middle_costs_that_record_and_the_rest_still_read(
    tmp_path: Path,
) -> None:
    keys = KeySource(passphrase=PASSPHRASE)
    path, ends = _encrypted(tmp_path / "s", 5, keys)
    data = bytearray(path.read_bytes())
    data[(ends[2] + ends[3]) // 2] ^= 0x20  # inside record 3's ciphertext
    path.write_bytes(bytes(data))
    _header, exchanges, result = read_session(path, keys)
    assert [e.seq for e in exchanges] == [1, 2, 4, 5]
    assert result.trailer is not None and result.skipped_bytes == 0
    assert result.malformed_records == 1
    assert result.first_malformed == (
        f"record 3 at byte {ends[2]} does not authenticate (damaged or altered)"
    )
    shown = _cli("sessions", "show", path.stem, "--sessions", str(path.parent), "--json", env=ENV)
    assert shown.returncode == 0, shown.stderr
    overview = json.loads(shown.stdout)
    assert (
        overview["encrypted"] is True
        and overview["malformed_records"] == 1
        and overview["exchanges_total"] == 4
    )

    # A flipped byte in a frame's length: reading stops there and says where.
    data = bytearray(path.read_bytes())
    data[ends[3] + 1] ^= 0x01
    path.write_bytes(bytes(data))
    _header, exchanges, result = read_session(path, keys)
    assert [e.seq for e in exchanges] == [1, 2]
    assert result.skipped_reason == f"corrupt frame length at byte {ends[3]}: reading stopped there"
    assert result.skipped_bytes == len(data) - ends[3]


def test_a_damaged_encrypted_file_warns_once_in_replay_and_fails_the_gate(
    upstream: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    keys = KeySource(passphrase=PASSPHRASE)
    path, ends = _encrypted(tmp_path / "s", 4, keys)
    data = bytearray(path.read_bytes())
    data[ends[1] + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    db = tmp_path / "parity.db"
    run = _cli("replay", str(path.parent), "--target", upstream, "--db", str(db), env=ENV)
    assert run.returncode in (0, 1), run.stderr
    warnings = [line for line in run.stderr.splitlines() if "warning: session" in line]
    assert len(warnings) == 1 and "1 malformed record passed over" in warnings[0], run.stderr
    assert "does not authenticate" in warnings[0]
    out = str(tmp_path / "g.json")
    gate = _cli("gate", run.stdout.strip(), "--db", str(db), "--out", out, env=ENV)
    assert gate.returncode == 1
    damaged = json.loads((tmp_path / "g.json").read_text())["damaged_sessions"]
    assert [d["malformed_records"] for d in damaged] == [1]


def test_a_shrunk_session_keeps_the_encryption_of_its_source(tmp_path: Path) -> None:
    keys = KeySource(passphrase=PASSPHRASE)
    path, _ = _encrypted(tmp_path / "s", 3, keys)
    header, exchanges, _ = read_session(path, keys)
    case = Case(
        mismatch_id="m1", run_id="r1", session=header.id, seq=3, route="GET /x",
        outcome="mismatch", signature=None, actual_status=500, shapes=frozenset(),
        run_target="http://127.0.0.1:9", run_baselines=[], run_rules=None,
        run_sessions=[header.id], session_path=path, header=header, before=exchanges[:2],
        earlier=2, exchange=exchanges[2],
    )  # fmt: skip
    from parity.sessions import use_keys

    use_keys(keys)
    try:
        saved = save_shrunk(str(tmp_path / "shrunk") + "/", case, exchanges[:1])
    finally:
        use_keys(None)
    assert is_encrypted(saved) and b"canary" not in saved.read_bytes()
    assert [e.seq for e in read_session(saved, keys)[1]] == [1, 3]
    with pytest.raises(SessionKeyError):
        read_session(saved, KeySource(passphrase="other"))
    plain, _ = SessionStore(tmp_path / "p").create(label="p"), None
    plain.close()
    assert not is_encrypted(plain.path)


def test_parity_toml_record_encrypt_and_key_file_encrypt_the_recording(
    upstream: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "team.key").write_bytes(os.urandom(32))
    config = tmp_path / "parity.toml"
    config.write_text('[record]\nencrypt = true\nkey_file = "keys/team.key"\n')
    args = ["record", "--upstream", upstream, "--listen", "127.0.0.1:0", "--sessions"]
    with Proc(parity(*args, str(tmp_path / "s")), env={"PARITY_CONFIG": str(config)}) as proc:
        url = proc.wait_for(r"listening on (http://\S+)").group(1)
        proc.wait_for("recording to")
        with urllib.request.urlopen(url + "/json?size=300&canary=c4n4ry", timeout=10) as answer:
            assert answer.status == 200
        assert proc.terminate() == 0
    (path,) = SessionStore(tmp_path / "s").paths()
    assert is_encrypted(path) and b"c4n4ry" not in path.read_bytes()
    keys = KeySource(key_file=tmp_path / "keys" / "team.key")
    (exchange,) = read_session(path, keys)[1]
    assert exchange.request.path == "/json?size=300&canary=c4n4ry"

    # An unreadable or short key file is one line before the proxy starts.
    (tmp_path / "keys" / "short.key").write_bytes(b"tiny")
    for bad in ("missing.key", "short.key"):
        failed = _cli(*args, str(tmp_path / "s"), "--encrypt", "--key-file",
                      str(tmp_path / "keys" / bad))  # fmt: skip
        assert failed.returncode == 2
        (line,) = failed.stderr.strip().splitlines()
        assert "key file" in line, line
    assert SessionStore(tmp_path / "s").paths() == [path]


def test_purge_takes_an_encrypted_file_without_its_key_by_its_last_write(tmp_path: Path) -> None:
    keys = KeySource(passphrase=PASSPHRASE)
    old, _ = _encrypted(tmp_path / "s", 1, keys)
    recent, _ = _encrypted(tmp_path / "s", 1, keys)
    day = 24 * 3600
    os.utime(old, (time.time() - 20 * day,) * 2)
    args = ["purge", "--sessions", "--sessions-dir", str(tmp_path / "s"), "--older-than", "14d"]
    done = _cli(*args, "-y")
    assert done.returncode == 0, done.stderr
    assert SessionStore(tmp_path / "s").paths() == [recent]
