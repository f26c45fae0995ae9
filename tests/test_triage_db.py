"""The results database: files, schema, run lifecycle, batched writes, masking, speed.
Real SQLite files in tmp_path; verdicts built directly from `differ.model`."""

from __future__ import annotations

import itertools
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

import parity.triage.db
from parity.differ.model import Difference, DiffKind, HttpResponse, Outcome, Verdict, Where
from parity.sessions.secrets import is_secret_header, is_secret_key
from parity.triage import (
    ExchangeResult,
    NoDatabase,
    NotFound,
    NotResultsDB,
    ResultsDB,
    RunInfo,
    TriageError,
    bench_store,
    schema,
)
from parity.triage.masking import mask_headers, mask_text

JSON = [(b"Content-Type", b"application/json")]


def database_at(path: Path, version: int) -> Database:
    """A results database as parity wrote it at schema `version` (open, no rows yet)."""
    old = Database(path)
    old.enable_wal()
    with old.conn:
        for migration in schema.MIGRATIONS[:version]:
            migration(old)
        old.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        old.execute(f"PRAGMA user_version = {version}")
    return old


def run_info(**overrides: object) -> RunInfo:
    fields: dict[str, object] = {
        "target": "http://127.0.0.1:5001",
        "baseline": "http://127.0.0.1:5000",
        "sessions": ["s1", "s2"],
        "label": "nightly",
        "rules_path": "rules.toml",
        "started_at": 1_700_000_000.0,
    }
    fields.update(overrides)
    return RunInfo(**fields)  # type: ignore[arg-type]


def matched(session: str, seq: int, path: str, route: str, noise: int = 0) -> ExchangeResult:
    body = b'{"ok": true}'
    return ExchangeResult(
        session=session,
        seq=seq,
        method="GET",
        url=path,
        route=route,
        verdict=Verdict(
            Outcome.MATCHED,
            route,
            noise=[Difference(Where.HEADER, "date", DiffKind.CHANGED, "a", "b")] * noise,
        ),
        request_headers=[(b"Host", b"127.0.0.1")],
        expected=HttpResponse(200, JSON, body),
        actual=HttpResponse(200, JSON, body),
        baseline_status=200,
        expected_ms=1.0,
        actual_ms=2.0,
    )


def date_mismatch(session: str, seq: int, entry: int) -> ExchangeResult:
    """The candidate writes `+00:00` where Python wrote `Z`: one signature for all."""
    route = "GET /api/entries/{id}"
    expected = f'{{"id": {entry}, "created": "2026-01-01T10:00:00Z", "title": "t"}}'
    actual = f'{{"id": {entry}, "created": "2026-01-01T10:00:00+00:00", "title": "t"}}'
    rendered_e = "\n".join(f"line {i}" for i in range(100)) + '\n"created": "…Z"\n'
    rendered_a = "\n".join(f"line {i}" for i in range(100)) + '\n"created": "…+00:00"\n'
    return ExchangeResult(
        session=session,
        seq=seq,
        method="GET",
        url=f"/api/entries/{entry}",
        route=route,
        verdict=Verdict(
            Outcome.MISMATCHED,
            route,
            differences=[
                Difference(
                    Where.BODY,
                    "$.created",
                    DiffKind.CHANGED,
                    "2026-01-01T10:00:00Z",
                    "2026-01-01T10:00:00+00:00",
                )
            ],
            noise=[Difference(Where.HEADER, "date", DiffKind.CHANGED, "Mon", "Tue")],
            signature="d4te5163",
            rules_applied=["python-vs-csharp"],
        ),
        request_headers=[(b"Host", b"127.0.0.1")],
        expected=HttpResponse(200, JSON, expected.encode()),
        actual=HttpResponse(200, JSON, actual.encode()),
        baseline_status=200,
        expected_ms=3.0,
        actual_ms=4.5,
        expected_rendered=rendered_e,
        actual_rendered=rendered_a,
    )


def login_mismatch(session: str, seq: int) -> ExchangeResult:
    route = "POST /api/login"
    return ExchangeResult(
        session=session,
        seq=seq,
        method="POST",
        url="/api/login?next=%2F&token=***",
        route=route,
        verdict=Verdict(
            Outcome.MISMATCHED,
            route,
            differences=[
                Difference(Where.STATUS, "", DiffKind.CHANGED, 200, 500),
                Difference(Where.HEADER, "set-cookie", DiffKind.REMOVED, "sid=s3cr3t", None),
                Difference(Where.BODY, "$.token", DiffKind.REMOVED, "tok-s3cr3t", None),
            ],
            signature="5ta7u500",
        ),
        request_headers=[
            (b"Host", b"127.0.0.1"),
            (b"Authorization", b"Bearer s3cr3t-bearer"),
            (b"Cookie", b"sid=s3cr3t-cookie"),
            (b"X-Vault-Session", b"s3cr3t-vault"),
            (b"Content-Type", b"application/json"),
        ],
        request_body=b'{"user": "ana", "password": "hunter2", "author": "ana"}',
        expected=HttpResponse(
            200,
            [*JSON, (b"Set-Cookie", b"sid=s3cr3t")],
            b'{"token": "tok-s3cr3t", "user": "ana"}',
        ),
        actual=HttpResponse(500, [(b"Content-Type", b"text/plain")], b"Internal Server Error"),
        expected_ms=5.0,
        actual_ms=1.0,
    )


def error_result(session: str, seq: int, reason: str = "connection refused") -> ExchangeResult:
    route = "GET /api/vaults"
    return ExchangeResult(
        session=session,
        seq=seq,
        method="GET",
        url="/api/vaults",
        route=route,
        verdict=Verdict(Outcome.ERROR, route, error=reason),
        expected=HttpResponse(200, JSON, b"[]"),
        actual=None,
        expected_ms=1.0,
    )


def fill(db: ResultsDB, started_at: float = 1_700_000_000.0, **info: object) -> str:
    """One run of 7 exchanges over 4 routes; see the CLI tests for what it adds up to."""
    run_id = db.start_run(run_info(started_at=started_at, **info))
    with db.writer(run_id) as w:
        w.add(matched("s1", 1, "/api/entries/1", "GET /api/entries/{id}", noise=2))
        w.add(date_mismatch("s1", 2, 2))
        w.add(date_mismatch("s1", 3, 3))
        w.add(login_mismatch("s1", 4))
        w.add(matched("s2", 1, "/api/vaults", "GET /api/vaults"))
        w.add(error_result("s2", 2))
        w.add(matched("s2", 3, "/api/health", "GET /api/health"))
    db.finish_run(run_id, finished_at=started_at + 12.5)
    return run_id


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ResultsDB]:
    results_db = ResultsDB(tmp_path / "state" / "parity.db")
    yield results_db
    results_db.close()


def count(db: ResultsDB, table: str, where: str = "1") -> int:
    return int(db.db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


# -- the file ---------------------------------------------------------------------------


def test_the_file_is_owner_only_in_wal_mode_with_a_versioned_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "parity.db"
    with ResultsDB(path) as db:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert db.schema_version == schema.LATEST == 9
        assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.db.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        assert set(db.db.table_names()) >= {
            "runs",
            "results",
            "mismatches",
            "signatures",
            "noise_routes",
            "noise",
            "bodies",
        }
        fill(db)
    for extra in ("-wal", "-shm"):
        side = path.with_name(path.name + extra)
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0
    # Reopening does not migrate again and keeps the data.
    with ResultsDB(path, create=False) as again:
        assert count(again, "results") == 7


def test_missing_foreign_and_newer_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NoDatabase) as missing:
        ResultsDB(tmp_path / "none.db", create=False)
    assert str(missing.value) == (
        f"no results database at {tmp_path / 'none.db'}: run `parity replay` first"
    )
    assert not (tmp_path / "none.db").exists()

    text = tmp_path / "notes.db"
    text.write_text("this is not sqlite, it is a shopping list " * 10)
    with pytest.raises(NotResultsDB, match="is not a parity results database"):
        ResultsDB(text)

    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(NotResultsDB) as exc:
        ResultsDB(foreign)
    assert str(exc.value) == f"{foreign} is not a parity results database"
    assert sqlite3.connect(foreign).execute("PRAGMA application_id").fetchone()[0] == 0

    newer = tmp_path / "newer.db"
    ResultsDB(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    conn.close()
    with pytest.raises(NotResultsDB, match="written by a newer parity"):
        ResultsDB(newer)

    with pytest.raises(NotResultsDB, match="is a directory"):
        ResultsDB(tmp_path)


def test_an_empty_file_is_adopted_by_the_writer_but_not_by_readers(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(NotResultsDB):
        ResultsDB(empty, create=False)
    with ResultsDB(empty) as db:
        assert db.schema_version == schema.LATEST


# -- runs and writes ----------------------------------------------------------------------


def test_run_lifecycle(db: ResultsDB) -> None:
    run_id = db.start_run(run_info(meta={"concurrency": 16}))
    assert len(run_id) == 8 and int(run_id, 16) >= 0
    row = db.query("SELECT * FROM runs WHERE id = ?", [run_id])[0]
    assert row["finished_at"] is None and row["exchanges"] == 0
    assert row["sessions"] == '["s1","s2"]' and row["meta"] == '{"concurrency":16}'
    assert row["target"] == "http://127.0.0.1:5001" and row["rules_path"] == "rules.toml"
    db.finish_run(run_id, finished_at=1_700_000_100.0)
    assert db.query("SELECT finished_at FROM runs")[0]["finished_at"] == 1_700_000_100.0
    with pytest.raises(NotFound):
        db.finish_run("nope")
    with pytest.raises(NotFound):
        db.writer("nope")


def test_counters_results_mismatches_and_signatures(db: ResultsDB) -> None:
    run_id = fill(db)
    run = db.query("SELECT * FROM runs")[0]
    assert (run["exchanges"], run["matched"], run["mismatched"], run["errors"]) == (7, 3, 3, 1)
    assert run["noise_suppressed"] == 2 + 1 + 1
    assert count(db, "results") == 7
    assert count(db, "mismatches") == 4  # 3 mismatched + 1 error
    assert count(db, "results", "mismatch_id IS NOT NULL") == 4
    joined = db.query(
        "SELECT r.seq, m.id FROM results r JOIN mismatches m ON m.id = r.mismatch_id "
        "WHERE r.session = 's1' ORDER BY r.seq"
    )
    assert [r["seq"] for r in joined] == [2, 3, 4]
    sigs = {s["id"]: s for s in db.query("SELECT * FROM signatures")}
    assert set(sigs) == {"d4te5163", "5ta7u500"}
    assert sigs["5ta7u500"]["kinds"] == '["changed","removed"]'
    assert sigs["5ta7u500"]["paths"] == '["$.token","header set-cookie","status"]'
    assert sigs["d4te5163"]["first_seen_run"] == sigs["d4te5163"]["last_seen_run"] == run_id
    error = db.query("SELECT * FROM mismatches WHERE outcome = 'error'")[0]
    assert error["actual_status"] is None and error["error"] == "connection refused"
    assert error["signature"] is None and error["first_difference"] == "error: connection refused"
    # a second run keeps first_seen_run and moves last_seen_run
    second = fill(db, started_at=1_700_000_500.0)
    sig = db.query("SELECT * FROM signatures WHERE id = 'd4te5163'")[0]
    assert (sig["first_seen_run"], sig["last_seen_run"]) == (run_id, second)


def test_secrets_are_masked_in_what_is_stored_for_reading(db: ResultsDB) -> None:
    fill(db)
    row = db.query("SELECT * FROM mismatches WHERE route = 'POST /api/login'")[0]
    readable = " ".join(
        str(row[c])
        for c in (
            "request_headers",
            "expected_headers",
            "differences",
            "first_difference",
            "expected_rendered",
        )
    )
    assert "s3cr3t" not in readable
    assert '["Authorization","***"]' in row["request_headers"]
    assert '["Cookie","***"]' in row["request_headers"]
    assert '["X-Vault-Session","***"]' in row["request_headers"]
    assert '["Content-Type","application/json"]' in row["request_headers"]
    assert '["Set-Cookie","***"]' in row["expected_headers"]
    # the raw bodies stay as they were (BLOBs; the file is owner-only like session files)
    assert row["expected_body"] == b'{"token": "tok-s3cr3t", "user": "ana"}'
    assert row["url"] == "/api/login?next=%2F&token=***"  # the caller's masking, kept


def test_rows_are_written_in_batches_each_in_one_transaction(
    db: ResultsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = db.start_run(run_info())
    commits: list[int] = []
    real_flush = parity.triage.db.ResultWriter.flush

    def spy(self: parity.triage.db.ResultWriter) -> None:
        before = count(db, "results")
        real_flush(self)
        commits.append(count(db, "results") - before)

    monkeypatch.setattr(parity.triage.db.ResultWriter, "flush", spy)
    with db.writer(run_id, batch_size=10, flush_interval=3600) as w:
        for seq in range(25):
            w.add(matched("s1", seq, f"/api/x/{seq}", "GET /api/x/{id}"))
            if seq == 14:
                assert count(db, "results") == 10  # the first batch, nothing of the second
    assert commits == [10, 10, 5]
    assert count(db, "results") == 25 and w.written == 25


def test_a_slow_run_is_flushed_by_time(db: ResultsDB) -> None:
    run_id = db.start_run(run_info())
    with db.writer(run_id, batch_size=1000, flush_interval=0.0) as w:
        w.add(matched("s1", 1, "/a", "GET /a"))
        assert count(db, "results") == 1


def test_an_exception_inside_the_block_keeps_every_added_result(db: ResultsDB) -> None:
    """Each added exchange was replayed and judged: a crash later must not lose it."""
    run_id = db.start_run(run_info())
    with pytest.raises(RuntimeError, match="replayer bug"), db.writer(run_id, batch_size=4) as w:
        for seq in range(6):
            w.add(date_mismatch("s1", seq, seq))
        raise RuntimeError("replayer bug")
    assert count(db, "results") == 6 and count(db, "mismatches") == 6
    assert db.query("SELECT exchanges, mismatched FROM runs")[0] == {
        "exchanges": 6,
        "mismatched": 6,
    }


def test_a_failing_batch_leaves_nothing_half_written(db: ResultsDB) -> None:
    """A batch is one transaction: results, mismatches, signatures and counters together."""
    run_id = db.start_run(run_info())
    with db.writer(run_id, batch_size=100) as w:
        w.add(matched("s1", 1, "/a", "GET /a"))
    with pytest.raises(TriageError, match="stored twice"), db.writer(run_id) as w:
        w.add(date_mismatch("s1", 2, 2))
        w.add(error_result("s1", 3))
        w.add(matched("s1", 1, "/a", "GET /a"))  # seq 1 again: the batch fails
    assert count(db, "results") == 1
    assert count(db, "mismatches") == 0 and count(db, "signatures") == 0
    assert db.query("SELECT exchanges, matched FROM runs")[0] == {"exchanges": 1, "matched": 1}


def test_a_flush_failure_during_an_exception_is_noted_not_hidden(db: ResultsDB) -> None:
    run_id = db.start_run(run_info())
    with pytest.raises(KeyError) as exc, db.writer(run_id) as w:
        w.add(matched("s1", 1, "/a", "GET /a"))
        w.add(matched("s1", 1, "/a", "GET /a"))
        raise KeyError("original")
    assert any("results were not stored" in note for note in exc.value.__notes__)


def test_mismatch_ids_are_unique_even_when_the_generator_repeats(
    db: ResultsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = itertools.chain(["0000aaaa"], ["0000aaaa", "0000aaaa", "0000bbbb"], ["0000bbbb"])
    fresh = (f"{n:08x}" for n in itertools.count(0xC0000000))
    monkeypatch.setattr(parity.triage.db, "random_id", lambda: next(ids, None) or next(fresh))
    run_id = db.start_run(run_info())  # takes 0000aaaa
    with db.writer(run_id) as w:
        w.add(date_mismatch("s1", 1, 1))
        w.add(date_mismatch("s1", 2, 2))
    with db.writer(run_id) as w:
        w.add(date_mismatch("s1", 3, 3))
    got = sorted(r["id"] for r in db.query("SELECT id FROM mismatches"))
    # a repeat within the batch is drawn again; so is an id already in the database
    assert got == ["0000aaaa", "0000bbbb", "c0000000"]


def test_a_mismatch_without_a_signature_gets_one_from_its_shape(db: ResultsDB) -> None:
    run_id = db.start_run(run_info())
    with db.writer(run_id) as w:
        for seq in (1, 2):
            result = date_mismatch("s1", seq, seq)
            result.verdict.signature = None
            result.verdict.differences = [
                Difference(Where.BODY, f"$.items[{seq}].at", DiffKind.CHANGED, 1, 2)
            ]
            w.add(result)
    sigs = db.query("SELECT * FROM signatures")
    assert len(sigs) == 1 and sigs[0]["paths"] == '["$.items[*].at"]'
    assert count(db, "results", f"signature = '{sigs[0]['id']}'") == 2


# -- masking -----------------------------------------------------------------------------


def test_triage_masks_exactly_the_headers_sessions_calls_secret() -> None:
    """triage masks by `sessions.secrets`' header rule: the same names, no more, no fewer."""
    names = [
        b"Authorization",
        b"Proxy-Authorization",
        b"Cookie",
        b"Set-Cookie",
        b"X-Api-Key",
        b"X-Vault-Session",
        b"X-Auth-Token",
        b"Content-Type",
        b"Host",
        b"ETag",
        b"Accept",
        b"X-Request-Id",
    ]
    secret = names[:7]
    assert [n for n in names if is_secret_header(n)] == secret
    assert [is_secret_header(n.decode()) for n in names] == [n in secret for n in names]
    assert mask_headers([(n, b"v") for n in names]) == [
        [n.decode(), "***" if n in secret else "v"] for n in names
    ]
    assert mask_headers([(b"Authorization", b"Bearer x"), (b"Host", b"h")]) == [
        ["Authorization", "***"],
        ["Host", "h"],
    ]


def test_body_keys_are_masked_by_whole_words() -> None:
    secret = ["password", "access_token", "sessionId", "apiKey", "X-Auth", "client_secret", "otp"]
    plain = ["author", "design", "considered", "title", "tokens_count", "id", "sessions"]
    assert all(is_secret_key(k) for k in secret), [k for k in secret if not is_secret_key(k)]
    assert not any(is_secret_key(k) for k in plain), [k for k in plain if is_secret_key(k)]
    assert (
        mask_text('{\n  "password": "hun\\"ter2",\n  "author": "ana", "otp": 123456\n}')
        == '{\n  "password": "***",\n  "author": "ana", "otp": "***"\n}'
    )
    assert mask_text("user=ana&password=hunter2") == "user=ana&password=***"
    assert mask_text("plain text = fine") == "plain text = fine"


# -- speed -------------------------------------------------------------------------------


def test_100k_results_are_stored_fast() -> None:
    """Goal: >= 50k rows/s (see `python -m parity.triage.bench`); asserted loosely for noisy CI."""
    rate = bench_store(100_000)
    print(f"\ntriage: stored 100000 results at {rate:,.0f} rows/s")
    assert rate >= 10_000


def test_a_v5_database_keeps_its_zlib_bodies_and_stores_new_ones_with_zstd(
    tmp_path: Path,
) -> None:
    import zlib

    from sqlite_utils import Database

    from parity.triage.bodies import body_key, body_of, packed

    path = tmp_path / "v5.db"
    old = Database(path)
    for migration in schema.MIGRATIONS[:5]:
        migration(old)
    old.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    old.execute("PRAGMA user_version = 5")
    body = b'{"items": ["' + b"journal entry " * 10_000 + b'"]}'
    old.execute(
        "INSERT INTO bodies (hash, size, encoding, data) VALUES (?, ?, 'zlib', ?)",
        [body_key(body), len(body), zlib.compress(body)],
    )
    old.conn.commit()
    old.close()
    with ResultsDB(path, create=False) as db:
        assert db.schema_version == 9
        row = {"expected_body": None, "expected_body_ref": body_key(body)}
        assert body_of(db.db.conn, row, "expected_body") == body
        encoding, data = packed(body)
        assert encoding == "zstd" and len(data) < len(body) // 10
        db.db.execute(
            "INSERT INTO bodies (hash, size, encoding, data) VALUES (?, ?, ?, ?)",
            ["other", len(body), encoding, data],
        )
        assert body_of(db.db.conn, {"actual_body_ref": "other"}, "actual_body") == body
