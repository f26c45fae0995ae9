"""The results database's schema and its migrations.

The schema version is `PRAGMA user_version`; `PRAGMA application_id` marks the file as
parity's, so that another program's SQLite file is refused rather than written into.
Each migration runs in one transaction with the version bump. Every table and column is
documented in `docs/results-db.md`; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

APPLICATION_ID = 0x70617269  # "pari"


def _v1(db: Database) -> None:
    db.table("runs").create(
        {
            "id": str,
            "label": str,
            "target": str,
            "baseline": str,
            "sessions": str,
            "rules_path": str,
            "started_at": float,
            "finished_at": float,
            "exchanges": int,
            "matched": int,
            "mismatched": int,
            "errors": int,
            "noise_suppressed": int,
            "meta": str,
        },
        pk="id",
        not_null=["label", "target", "sessions", "started_at"],
        defaults={
            "label": "",
            "sessions": "[]",
            "meta": "{}",
            "exchanges": 0,
            "matched": 0,
            "mismatched": 0,
            "errors": 0,
            "noise_suppressed": 0,
        },
    )
    db.table("runs").create_index(["started_at"])
    db.table("signatures").create(
        {
            "id": str,
            "route": str,
            "kinds": str,
            "paths": str,
            "first_seen_run": str,
            "last_seen_run": str,
        },
        pk="id",
        not_null=["route", "kinds", "paths"],
        foreign_keys=[("first_seen_run", "runs", "id"), ("last_seen_run", "runs", "id")],
    )
    # Column order matters: the large columns (JSON, rendered text, BLOBs) come last, so
    # that queries reading the small ones never walk a big body's overflow pages.
    db.table("mismatches").create(
        {
            "id": str,
            "run_id": str,
            "session": str,
            "seq": int,
            "method": str,
            "url": str,
            "route": str,
            "outcome": str,
            "signature": str,
            "error": str,
            "expected_status": int,
            "actual_status": int,
            "baseline_status": int,
            "expected_ms": float,
            "actual_ms": float,
            "first_difference": str,
            "differences": str,
            "noise": str,
            "rules_applied": str,
            "request_headers": str,
            "expected_headers": str,
            "actual_headers": str,
            "expected_rendered": str,
            "actual_rendered": str,
            "request_body": bytes,
            "expected_body": bytes,
            "actual_body": bytes,
        },
        pk="id",
        not_null=["run_id", "session", "seq", "method", "url", "route", "outcome"],
        foreign_keys=[("run_id", "runs", "id"), ("signature", "signatures", "id")],
    )
    db.table("mismatches").create_index(["run_id", "session", "seq"], unique=True)
    db.table("mismatches").create_index(["signature", "run_id"])
    db.table("results").create(
        {
            "id": int,
            "run_id": str,
            "session": str,
            "seq": int,
            "method": str,
            "url": str,
            "route": str,
            "outcome": str,
            "signature": str,
            "mismatch_id": str,
            "expected_status": int,
            "actual_status": int,
            "baseline_status": int,
            "expected_ms": float,
            "actual_ms": float,
            "differences": int,
            "noise": int,
            "error": str,
        },
        pk="id",
        not_null=["run_id", "session", "seq", "method", "url", "route", "outcome"],
        defaults={"differences": 0, "noise": 0},
        foreign_keys=[
            ("run_id", "runs", "id"),
            ("signature", "signatures", "id"),
            ("mismatch_id", "mismatches", "id"),
        ],
    )
    db.table("results").create_index(["run_id", "session", "seq"], unique=True)


def _v2(db: Database) -> None:
    """Learned noise: per route, how many exchanges were compared against a baseline;
    per (route, where, path), how many of them disagreed with the recording, and how."""
    db.table("noise_routes").create(
        {"route": str, "observations": int, "first_run": str, "last_run": str},
        pk="route",
        not_null=["observations"],
        defaults={"observations": 0},
        foreign_keys=[("first_run", "runs", "id"), ("last_run", "runs", "id")],
    )
    db.table("noise").create(
        {
            "route": str,
            "where": str,
            "path": str,
            "disagreements": int,
            "kinds": str,
            "example_expected": str,
            "example_baseline": str,
            "first_run": str,
            "last_run": str,
        },
        pk=("route", "where", "path"),
        not_null=["disagreements", "kinds"],
        defaults={"disagreements": 0, "kinds": "[]"},
        foreign_keys=[
            ("route", "noise_routes", "route"),
            ("first_run", "runs", "id"),
            ("last_run", "runs", "id"),
        ],
    )


def _v3(db: Database) -> None:
    """Verdicts: one decision per signature (bug, expected, noise) that applies to every
    run, and every decision ever taken, in order. Plain SQL for the CHECK constraints."""
    db.execute(
        """
        CREATE TABLE verdicts (
            signature TEXT PRIMARY KEY REFERENCES signatures(id),
            verdict TEXT NOT NULL CHECK (verdict IN ('bug', 'expected', 'noise')),
            note TEXT NOT NULL DEFAULT '',
            marked_at REAL NOT NULL,
            marked_by TEXT NOT NULL DEFAULT '',
            run_id TEXT REFERENCES runs(id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE verdict_history (
            id INTEGER PRIMARY KEY,
            signature TEXT NOT NULL REFERENCES signatures(id),
            verdict TEXT NOT NULL CHECK (verdict IN ('bug', 'expected', 'noise')),
            note TEXT NOT NULL DEFAULT '',
            marked_at REAL NOT NULL,
            marked_by TEXT NOT NULL DEFAULT '',
            run_id TEXT REFERENCES runs(id)
        )
        """
    )
    db.execute("CREATE INDEX idx_verdict_history_signature ON verdict_history (signature, id)")
    # What run-to-run comparison reads: which signatures each run has (covering index).
    db.execute("CREATE INDEX idx_mismatches_run_signature ON mismatches (run_id, signature)")


def _v4(db: Database) -> None:
    """Findings (issue 8): one row per root cause, the exchanges linked to each, verdicts
    re-keyed from signatures to findings (carried over, see `triage.findings`), the
    request as sent and ambiguous ids on mismatches, serialization counts on results.
    The signature tables stay, renamed where a new table takes their name, for old data."""
    db.execute(
        """
        CREATE TABLE findings (
            id TEXT PRIMARY KEY,
            scope TEXT NOT NULL CHECK (scope IN ('route', 'cross-route')),
            route TEXT,
            place TEXT NOT NULL,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            transition TEXT NOT NULL,
            category TEXT NOT NULL CHECK (category IN ('difference', 'serialization')),
            first_seen_run TEXT REFERENCES runs(id),
            last_seen_run TEXT REFERENCES runs(id)
        )
        """
    )
    db.execute("CREATE INDEX idx_findings_shape ON findings (place, path, kind, transition)")
    db.execute(
        """
        CREATE TABLE finding_links (
            run_id TEXT NOT NULL REFERENCES runs(id),
            session TEXT NOT NULL,
            seq INTEGER NOT NULL,
            mismatch_id TEXT NOT NULL REFERENCES mismatches(id),
            finding TEXT NOT NULL REFERENCES findings(id),
            PRIMARY KEY (mismatch_id, finding)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_finding_links_run ON finding_links (run_id, finding)")
    db.execute("CREATE INDEX idx_finding_links_finding ON finding_links (finding, run_id)")
    db.execute("ALTER TABLE verdicts RENAME TO signature_verdicts")
    db.execute("ALTER TABLE verdict_history RENAME TO signature_verdict_history")
    db.execute("DROP INDEX idx_verdict_history_signature")
    db.execute(
        "CREATE INDEX idx_signature_verdict_history ON signature_verdict_history (signature, id)"
    )
    db.execute(
        """
        CREATE TABLE verdicts (
            finding TEXT PRIMARY KEY REFERENCES findings(id),
            verdict TEXT NOT NULL CHECK (verdict IN ('bug', 'expected', 'noise')),
            note TEXT NOT NULL DEFAULT '',
            marked_at REAL NOT NULL,
            marked_by TEXT NOT NULL DEFAULT '',
            run_id TEXT REFERENCES runs(id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE verdict_history (
            id INTEGER PRIMARY KEY,
            finding TEXT NOT NULL REFERENCES findings(id),
            verdict TEXT NOT NULL CHECK (verdict IN ('bug', 'expected', 'noise')),
            note TEXT NOT NULL DEFAULT '',
            marked_at REAL NOT NULL,
            marked_by TEXT NOT NULL DEFAULT '',
            run_id TEXT REFERENCES runs(id)
        )
        """
    )
    db.execute("CREATE INDEX idx_verdict_history_finding ON verdict_history (finding, id)")
    db.execute("ALTER TABLE mismatches ADD COLUMN sent TEXT")
    db.execute("ALTER TABLE mismatches ADD COLUMN ambiguous_ids TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE mismatches ADD COLUMN serialization TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE results ADD COLUMN serialization INTEGER NOT NULL DEFAULT 0")
    # Imported here: the carry-over needs the differ's finding identity, the rest does not.
    from parity.triage.findings import carry_over

    carry_over(db)


def _v5(db: Database) -> None:
    """Large bodies of mismatches stored once (issue 10, `triage.bodies`): a table of
    bodies keyed by the SHA-256 of their bytes, zlib-compressed, and on `mismatches`
    one reference per body column. Rows stored before keep their bodies inline."""
    db.execute(
        """
        CREATE TABLE bodies (
            hash TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            encoding TEXT NOT NULL CHECK (encoding IN ('identity', 'zlib')),
            data BLOB NOT NULL
        )
        """
    )
    for column in ("request_body_ref", "expected_body_ref", "actual_body_ref"):
        db.execute(f"ALTER TABLE mismatches ADD COLUMN {column} TEXT REFERENCES bodies(hash)")


def _v6(db: Database) -> None:
    """Stored bodies compressed with zstd (`triage.bodies`: zlib took 5 s per 100 MB):
    `bodies.encoding` no longer has a fixed list in a CHECK, which SQLite cannot alter,
    so the table is rebuilt with its rows (`zlib` rows stay readable)."""
    db.execute(
        """
        CREATE TABLE bodies_v6 (
            hash TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            encoding TEXT NOT NULL,
            data BLOB NOT NULL
        )
        """
    )
    db.execute("INSERT INTO bodies_v6 (hash, size, encoding, data) SELECT * FROM bodies")
    db.execute("DROP TABLE bodies")
    db.execute("ALTER TABLE bodies_v6 RENAME TO bodies")


def _v7(db: Database) -> None:
    """Encrypted bodies (issue 11, `triage.bodies`): `body_keys` holds how their key is
    derived (the KDF and salt; never the key); their `bodies.encoding` ends in
    `+aes-gcm`."""
    db.execute("CREATE TABLE body_keys (name TEXT PRIMARY KEY, kdf TEXT NOT NULL)")


def _v8(db: Database) -> None:
    """Resumable runs (issue 12, `triage.resume`): `run_sessions` has a row per session
    of a run whose every result is stored (written in the transaction of its last
    result), and `runs.interrupted_at` says when a run was stopped by Ctrl-C."""
    db.execute("ALTER TABLE runs ADD COLUMN interrupted_at REAL")
    db.execute(
        """
        CREATE TABLE run_sessions (
            run_id TEXT NOT NULL REFERENCES runs(id),
            session TEXT NOT NULL,
            finished_at REAL NOT NULL,
            PRIMARY KEY (run_id, session)
        ) WITHOUT ROWID
        """
    )


def _v9(db: Database) -> None:
    """A database people can read (issue 13, `triage.views`): `noise."where"`, an SQL
    keyword, renamed `place` (as in `findings`); views showing times as ISO 8601 UTC
    (`runs_iso`, ...) and answering what a team asks (`open_findings`, `run_summary`,
    `mismatches_by_route`)."""
    db.execute('ALTER TABLE noise RENAME COLUMN "where" TO place')
    # Imported here: the views are their own concept (and read the tables as they are).
    from parity.triage.views import create_views

    create_views(db)


MIGRATIONS: list[Callable[[Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]
"""`MIGRATIONS[n]` takes a database from version n to n + 1. Only ever append."""

LATEST = len(MIGRATIONS)
