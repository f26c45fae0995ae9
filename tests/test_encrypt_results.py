"""The results database of an encrypting project on real processes: an encrypted session
whose recorded answers carry a user's entry text and whose URLs carry a search query is
replayed (the real CLI) against a real backend that answers otherwise; no canary is left
in plain text in the database file (nor its -wal/-shm), every reader prints the values
with the key, and without it (or with a wrong one) says so in one line, exit 2."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from parity.differ.noise import NoiseObservations
from parity.sessions import KeySource, SessionStore
from parity.triage import ResultsDB, RunInfo
from tests.factories import make_exchange
from tests.procs import Proc, python
from tests.test_encrypt import ENV, PASSPHRASE, _cli

pytestmark = pytest.mark.timeout(120)

ENTRY_TEXT = "Dear diary, c4n4ry-entry-7 is what I typed today"
"""A user's journal text: the recorded value of `$.n` (the candidate answers another)."""
QUERY = "c4n4ry-query-5"
"""A search query the user typed, in the URL's query string."""
WORD = "c4n4ryword9"
"""A one-word value: a finding's transition quotes such values (`"a" → "b"`)."""
HEADER = "c4n4ry-header-3"
CANARIES = [ENTRY_TEXT.encode(), b"c4n4ry-entry-7", QUERY.encode(), WORD.encode(), HEADER.encode()]


def _answer(n: str) -> bytes:
    """What tests/upstream.py's `/json?size=100` answers, but with `n` as recorded."""
    items = [{"id": 0, "title": "Zürich café", "text": "x" * 64}]
    return json.dumps({"items": items, "n": n}).encode()


def _session(root: Path, *, encrypt: bool = True) -> Path:
    """An encrypted session of two GETs whose recorded `$.n` the candidate will not
    give back: the entry text (its URL carrying the query) and a one-word value."""
    writer = SessionStore(root).create(
        label="t",
        upstream="http://127.0.0.1:5000",
        encrypt=KeySource(passphrase=PASSPHRASE) if encrypt else None,
    )
    with writer:
        for seq, path, n in (
            (1, f"/json?size=100&q={QUERY}&n=plain", ENTRY_TEXT),
            (2, "/json?size=100&n=fresh", WORD),
        ):
            base = make_exchange(seq)
            assert base.response is not None
            request = dataclasses.replace(
                base.request,
                method="GET",
                path=path,
                body=b"",
                headers=[(b"Host", b"127.0.0.1:5000"), (b"X-Note", HEADER.encode())],
            )
            response = dataclasses.replace(
                base.response,
                body=_answer(n),
                headers=[(b"Content-Type", b"application/json; charset=utf-8")],
            )
            writer.append(dataclasses.replace(base, request=request, response=response))
    return root


def _files(db: Path) -> list[Path]:
    return [p for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
            if p.exists()]  # fmt: skip


def test_an_encrypting_projects_results_hold_no_plaintext_and_read_back_with_the_key(
    tmp_path: Path,
) -> None:
    sessions = _session(tmp_path / "sessions")
    db = tmp_path / "results.db"
    with Proc(python("tests/upstream.py")) as upstream:
        target = upstream.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)
        run = _cli("replay", str(sessions), "--target", target, "--db", str(db), "--quiet",
                   env=ENV)  # fmt: skip
        assert run.returncode == 1, run.stderr
        # a second run, with a baseline (that agrees with the candidate)
        learn = _cli("replay", str(sessions), "--target", target, "--baseline", target,
                     "--db", str(db), "--quiet", env=ENV)  # fmt: skip
        assert learn.returncode in (0, 1), learn.stderr

    for path in _files(db):
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary not in data, (path.name, canary)
    assert _files(db)

    # With the key every reader gives the values back.
    first = _cli("report", _first_run(db), "--db", str(db), "--json", env=ENV)
    assert first.returncode == 0, first.stderr
    assert ENTRY_TEXT in first.stdout and QUERY in first.stdout and WORD in first.stdout
    mismatches = json.loads(first.stdout)["mismatches"]
    by_seq = {m["seq"]: m for m in mismatches}
    assert QUERY in by_seq[1]["url"]
    assert any(d["expected"] == ENTRY_TEXT for d in by_seq[1]["differences"])
    shown = _cli("show", by_seq[1]["id"], "--db", str(db), "--json", env=ENV)
    assert shown.returncode == 0, shown.stderr
    mismatch = json.loads(shown.stdout)["mismatch"]
    assert any(d["expected"] == ENTRY_TEXT for d in mismatch["differences"])
    assert QUERY in mismatch["url"]
    assert HEADER in json.dumps(mismatch["request"])
    table = _cli("show", by_seq[1]["id"], "--db", str(db), env=ENV)
    assert table.returncode == 0 and ENTRY_TEXT in table.stdout and QUERY in table.stdout
    plain_report = _cli("report", _first_run(db), "--db", str(db), env=ENV)
    assert plain_report.returncode == 0 and "c4n4ry" in plain_report.stdout
    gate = _cli("gate", _first_run(db), "--db", str(db), "--out", str(tmp_path / "g.json"),
                env=ENV)  # fmt: skip
    assert gate.returncode == 1, gate.stderr
    artifact = (tmp_path / "g.json").read_text()
    assert "sealed:v1:" not in artifact
    repro = _cli("repro", by_seq[1]["id"], "--db", str(db), "--sessions", str(sessions),
                 "--shell", "posix", env=ENV)  # fmt: skip
    assert repro.returncode == 0, repro.stderr
    assert QUERY in repro.stdout and "sealed:v1:" not in repro.stdout
    csv = _cli("report", _first_run(db), "--db", str(db), "--csv", env=ENV)
    assert csv.returncode == 0 and "sealed:v1:" not in csv.stdout, csv.stderr
    runs = _cli("runs", "--db", str(db))  # the runs table is plain: no key needed
    assert runs.returncode == 0, runs.stderr
    compared = _cli("compare", *_runs(db), "--db", str(db), "--json", env=ENV)
    assert compared.returncode in (0, 1), compared.stderr
    assert "sealed:v1:" not in compared.stdout

    # Without the key, or with a wrong one: one line, exit 2.
    for command in (
        ["show", by_seq[1]["id"], "--db", str(db)],
        ["report", _first_run(db), "--db", str(db)],
        ["report", _first_run(db), "--db", str(db), "--json"],
        ["compare", *_runs(db), "--db", str(db)],
    ):
        missing = _cli(*command)
        assert missing.returncode == 2, (command, missing.stdout, missing.stderr)
        (line,) = missing.stderr.strip().splitlines()
        assert line.startswith("parity: error: stored bodies are encrypted: "), line
        wrong = _cli(*command, env={"PARITY_PASSPHRASE": "not it"})
        assert wrong.returncode == 2, (command, wrong.stderr)
        (line,) = wrong.stderr.strip().splitlines()
        assert "wrong passphrase or key file" in line, line


def _runs(db: Path) -> list[str]:
    """The run ids, oldest first."""
    listed = _cli("runs", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    return [str(r["id"]) for r in sorted(json.loads(listed.stdout), key=lambda r: r["started_at"])]


def _first_run(db: Path) -> str:
    return _runs(db)[0]


def test_learned_noise_examples_are_sealed_and_noise_lists_them_with_the_key(
    tmp_path: Path,
) -> None:
    keys = KeySource(passphrase=PASSPHRASE)
    path = tmp_path / "results.db"
    with ResultsDB(path) as rdb:
        rdb.encrypt_bodies(keys)
        run_id = rdb.start_run(RunInfo(target="http://127.0.0.1:1", sessions=[], started_at=1.0))
        key = ("GET /json", "body", "$.n")
        rdb.add_noise(run_id, NoiseObservations(
            Counter({"GET /json": 2}), Counter({key: 2}), {key: {"changed"}},
            {key: (ENTRY_TEXT, WORD)},
        ))  # fmt: skip
        stored = rdb.query("SELECT example_expected FROM noise")
        assert stored == [{"example_expected": json.dumps(ENTRY_TEXT)}]  # opened on reading
    data = b"".join(p.read_bytes() for p in _files(path))
    assert ENTRY_TEXT.encode() not in data and WORD.encode() not in data
    raw = sqlite3.connect(path).execute("SELECT example_expected FROM noise").fetchone()[0]
    assert raw.startswith("sealed:v1:")
    listed = _cli("noise", "--db", str(path), "--json", env=ENV)
    assert listed.returncode == 0, listed.stderr
    assert ENTRY_TEXT in listed.stdout and WORD in listed.stdout
    missing = _cli("noise", "--db", str(path))
    assert missing.returncode == 2
    (line,) = missing.stderr.strip().splitlines()
    assert line.startswith("parity: error: stored bodies are encrypted: ")


def test_a_plain_session_replayed_into_an_encrypting_database_needs_the_key_first(
    tmp_path: Path,
) -> None:
    """Once the results database encrypts, every run written into it does, even of plain
    sessions; without the key the replay stops before it records a run (no ghost
    unfinished run for `report` and `gate` to take as the latest)."""
    db = tmp_path / "results.db"
    plain = _session(tmp_path / "plain", encrypt=False)
    with Proc(python("tests/upstream.py")) as upstream:
        target = upstream.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)
        first = _cli("replay", str(_session(tmp_path / "sealed")), "--target", target,
                     "--db", str(db), "--quiet", env=ENV)  # fmt: skip
        assert first.returncode == 1, first.stderr
        keyless = _cli("replay", str(plain), "--target", target, "--db", str(db), "--quiet")
        assert keyless.returncode == 2, keyless.stderr
        (line,) = keyless.stderr.strip().splitlines()
        assert line.startswith("parity: error: stored bodies are encrypted: ") and db.name in line
        assert len(_runs(db)) == 1
        again = _cli("replay", str(plain), "--target", target, "--db", str(db), "--quiet",
                     env=ENV)  # fmt: skip
        assert again.returncode == 1, again.stderr
    assert len(_runs(db)) == 2
    for path in _files(db):
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary not in data, (path.name, canary)


def test_short_sealed_values_open_again(tmp_path: Path) -> None:
    """A sealed `/` (a URL) or empty text is 40 base64 characters, a nonce and a tag with
    at most two bytes between: it is opened like any other."""
    db = ResultsDB(tmp_path / "r.db")
    db.encrypt_bodies(KeySource(passphrase=PASSPHRASE))
    values = ["", "/", "ab", "abc", "/api/entries?q=x"]
    assert db.sealer is not None
    sealed = [db.sealer(v) for v in values]  # "" too, as a finding's transition would be
    assert all(s.startswith("sealed:v1:") for s in sealed)
    conn = db.db.conn
    conn.execute("CREATE TABLE t (a, b, c, d, e, n)")
    conn.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, 1)", sealed)
    assert conn.execute("SELECT * FROM t").fetchone() == (*values, 1)
