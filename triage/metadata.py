"""Datasette's metadata for a results database: titles and descriptions of its tables,
views and columns (the `metadata.json` format Datasette reads with `--metadata`).

`write_metadata(db_path)` writes it owner-only next to the database, as
`<database name without suffix>.metadata.json` (`.parity/parity.metadata.json`); the
database opens it migrated or created, and `parity serve` writes it before starting
Datasette. `docs/results-db.md` says the same in prose; a test checks that every column
of every table and view has a description here.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from parity.sessions.private import write_private

TITLE = "parity results"
DESCRIPTION = (
    "What parity replay found: runs, every exchange's outcome, mismatches with their "
    "differences and bodies, findings (root causes) and the team's verdicts, learned "
    "noise. Times are Unix seconds in the tables; the *_iso views and the summaries show "
    "them as ISO 8601 UTC. Start from run_summary, open_findings or mismatches_by_route."
)

_RUN = "a run (runs.id)"
_ISO = "ISO 8601 UTC"

_C: dict[str, str] = {
    # shared by several tables, overridden below where the meaning differs
    "run_id": _RUN,
    "session": "the session id the exchange was recorded in",
    "seq": "the exchange's place in its session (0-based)",
    "method": "the request's HTTP method",
    "url": "the request's URL, secrets masked",
    "route": "the templated route, e.g. GET /api/vaults/{id}",
    "outcome": "matched, mismatched or error",
    "signature": "the pre-v4 signature of the differences (signatures.id)",
    "error": "why the target did not answer (or parity failed on it); NULL otherwise",
    "expected_status": "the recorded status",
    "actual_status": "the candidate's status",
    "baseline_status": "the live baseline's status, NULL without one",
    "expected_ms": "how long the recorded answer took, in milliseconds",
    "actual_ms": "how long the candidate took, in milliseconds",
    "first_run": "the run that first stored it (NULL once that run is purged)",
    "last_run": "the run that last stored it (NULL once that run is purged)",
    "first_seen_run": "the earliest run that showed it",
    "last_seen_run": "the latest run that showed it",
    "verdict": "bug, expected or noise (expected and noise accept it)",
    "note": "free text given with the verdict",
    "marked_at": "when the verdict was given (Unix seconds)",
    "marked_by": "who gave it (the OS user unless --by)",
    "place": "where: status, header or body",
    "path": "the templated place: a JSON path ($.items[*].id), a header name, or status",
    "kind": "how it differs: changed, added, removed, type_changed, order, ...",
    "transition": "the class of the value change: int → string, 404 → 400, text, ...",
    "category": "difference, or serialization (differs only on the wire)",
    "finding": "the finding (findings.id)",
    "scope": "route, or cross-route (the same shape on several routes)",
}

_TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "runs": (
        "Runs",
        "One row per parity replay run; times are Unix seconds (runs_iso shows them as ISO 8601).",
        {
            "id": "8 hex digits; parity report takes a unique prefix",
            "label": "free text from parity replay --label ('' if none)",
            "target": "the candidate's base URL",
            "baseline": "the live baseline's base URL, NULL without one",
            "sessions": "the replayed session ids (JSON list)",
            "rules_path": "the rules file used, NULL if none",
            "started_at": "when the run started",
            "finished_at": "when it finished; NULL while running or if interrupted",
            "interrupted_at": "when Ctrl-C or SIGTERM stopped it; NULL while running, once "
            "finished (a resume clears it), and for a run killed outright",
            "exchanges": "exchanges stored so far",
            "matched": "… of which matched",
            "mismatched": "… of which mismatched",
            "errors": "… of which errors (no answer, or parity failed on it)",
            "noise_suppressed": "differences suppressed as noise, over all exchanges",
            "meta": "anything else kept with the run (JSON): concurrency, pacing, learned "
            "noise, damaged or failed sessions",
        },
    ),
    "run_sessions": (
        "Sessions done",
        "The sessions of a run whose results are all stored: what parity replay --resume skips.",
        {
            "session": "the session id (as in results.session)",
            "finished_at": "when its last result was stored (Unix seconds)",
        },
    ),
    "results": (
        "Results",
        "One row per replayed exchange: its outcome, statuses and timings.",
        {
            "id": "row number",
            "mismatch_id": "its mismatches row, NULL when it matched without findings",
            "differences": "differences found (after rules and noise)",
            "noise": "differences suppressed as noise",
            "serialization": "serialization-only differences",
        },
    ),
    "mismatches": (
        "Mismatches",
        "One row per exchange with a finding or an error: the differences, headers and "
        "bodies on both sides (secrets masked, raw bodies as BLOBs).",
        {
            "id": "8 hex digits; parity show takes it",
            "first_difference": "the first difference, as a sentence",
            "differences": "every difference (JSON list: where, path, kind, expected, actual)",
            "noise": "the differences suppressed as noise (JSON)",
            "rules_applied": "the rules that applied (JSON)",
            "request_headers": "the request's headers (JSON, secrets masked)",
            "expected_headers": "the recorded response's headers (JSON, secrets masked)",
            "actual_headers": "the candidate's response headers (JSON, secrets masked)",
            "expected_rendered": "the recorded body as text (JSON pretty-printed, masked)",
            "actual_rendered": "the candidate's body as text (masked)",
            "request_body": "the request body (raw; NULL when stored in bodies)",
            "expected_body": "the recorded body (raw; NULL when stored in bodies)",
            "actual_body": "the candidate's body (raw; NULL when stored in bodies)",
            "sent": "the request as sent when it differs from the recording (JSON)",
            "ambiguous_ids": "ids the replay could not map for sure (JSON list)",
            "serialization": "the serialization-only differences (JSON list)",
            "request_body_ref": "the request body in bodies (bodies.hash), if over 64 KiB",
            "expected_body_ref": "the recorded body in bodies (bodies.hash), if over 64 KiB",
            "actual_body_ref": "the candidate's body in bodies (bodies.hash), if over 64 KiB",
        },
    ),
    "findings": (
        "Findings",
        "One row per root cause, the unit of triage: where, the templated place, the kind "
        "and class of change; route NULL for a cross-route finding.",
        {
            "id": "the finding's id (parity mark takes a unique prefix)",
            "route": "its route, NULL for a cross-route finding",
        },
    ),
    "finding_links": (
        "Finding links",
        "Which exchange (mismatch) of which run shows which finding.",
        {"mismatch_id": "the mismatch showing it (mismatches.id)"},
    ),
    "verdicts": (
        "Verdicts",
        "The team's current decision on each finding (parity mark, parity triage).",
        {"run_id": "the run being looked at when deciding, NULL if none"},
    ),
    "verdict_history": (
        "Verdict history",
        "Every verdict ever given, oldest first.",
        {"id": "row number", "run_id": "the run being looked at when deciding, NULL if none"},
    ),
    "noise_routes": (
        "Learned noise: routes",
        "Per route, how many exchanges were compared against a live baseline.",
        {"observations": "exchanges compared against a baseline"},
    ),
    "noise": (
        "Learned noise",
        "Per route and place, how often the baseline disagreed with the recording; "
        "runs without a baseline suppress what disagrees often enough.",
        {
            "route": "the route (noise_routes.route)",
            "disagreements": "exchanges on which the baseline disagreed here",
            "kinds": "how they disagreed (JSON list)",
            "example_expected": "one recorded value (masked, compact JSON, cut)",
            "example_baseline": "the baseline's value then",
        },
    ),
    "bodies": (
        "Bodies",
        "Mismatch bodies over 64 KiB, stored once by their SHA-256, compressed (and "
        "encrypted when encoding ends in +aes-gcm).",
        {
            "hash": "SHA-256 of the raw bytes",
            "size": "raw size in bytes",
            "encoding": "identity, zlib or zstd, + aes-gcm when encrypted",
            "data": "the stored bytes",
        },
    ),
    "body_keys": (
        "Body keys",
        "How the key of encrypted bodies is derived (never the key).",
        {"name": "the key's name", "kdf": "the derivation and its salt (JSON)"},
    ),
    "signatures": (
        "Signatures (before v4)",
        "The pre-findings grouping of mismatches, kept for reading old data.",
        {
            "id": "the signature",
            "kinds": "the kinds of differences (JSON)",
            "paths": "the templated paths (JSON)",
        },
    ),
    "signature_verdicts": (
        "Signature verdicts (before v4)",
        "Verdicts given on signatures before findings; carried over to verdicts.",
        {"run_id": "the run being looked at when deciding"},
    ),
    "signature_verdict_history": (
        "Signature verdict history (before v4)",
        "Verdicts on signatures, oldest first; kept for reading.",
        {"id": "row number", "run_id": "the run being looked at when deciding"},
    ),
}

_VIEWS: dict[str, tuple[str, str, dict[str, str]]] = {
    "runs_iso": (
        "Runs (ISO times)",
        "The runs table with started_at, finished_at as " + _ISO,
        {
            "started_at": "when the run started (" + _ISO + ")",
            "finished_at": "when it finished (" + _ISO + "); NULL while running or if interrupted",
        },
    ),
    "run_sessions_iso": (
        "Sessions done (ISO times)",
        "The run_sessions table with finished_at as " + _ISO,
        {"finished_at": "when its last result was stored (" + _ISO + ")"},
    ),
    "verdicts_iso": (
        "Verdicts (ISO times)",
        "The verdicts table with marked_at as " + _ISO,
        {"marked_at": "when the verdict was given (" + _ISO + ")"},
    ),
    "verdict_history_iso": (
        "Verdict history (ISO times)",
        "The verdict_history table with marked_at as " + _ISO,
        {"marked_at": "when the verdict was given (" + _ISO + ")"},
    ),
    "open_findings": (
        "Open findings",
        "Per series of runs (finished runs over the same sessions), the findings its "
        "newest finished run shows that no verdict accepts (no verdict, or bug).",
        {
            "run_id": "the newest finished run of the series",
            "run_started_at": "when it started (" + _ISO + ")",
            "exchanges": "exchanges of that run showing the finding",
            "routes": "the routes of those exchanges (JSON list)",
            "runs_seen": "runs that showed it, over the whole file",
            "first_seen_at": "when the run that first showed it started (" + _ISO + ")",
            "last_seen_at": "when the run that last showed it started (" + _ISO + ")",
        },
    ),
    "run_summary": (
        "Run summary",
        "One row per run: when, against what, its counters and findings; new, regressed "
        "and fixed against the previous finished run over the same sessions (as parity "
        "compare counts them, ambiguous ids aside).",
        {
            "run_id": "the run (runs.id)",
            "started_at": "when the run started (" + _ISO + ")",
            "finished_at": "when it finished (" + _ISO + "); NULL while running or if interrupted",
            "interrupted_at": "when Ctrl-C or SIGTERM stopped it (" + _ISO + ")",
            "sessions": "how many sessions it replays",
            "sessions_done": "how many of them have all their results stored",
            "matched_pct": "matched exchanges, in percent",
            "findings": "findings its mismatches show",
            "previous_run": "the previous finished run over the same sessions",
            "findings_new": "findings not in the previous run nor any earlier one of the series",
            "findings_regressed": "findings not in the previous run but in an earlier one",
            "findings_fixed": "findings of the previous run this run no longer shows",
        },
    ),
    "mismatches_by_route": (
        "Mismatches by route",
        "Per run and route: exchanges, how they came out, findings.",
        {
            "exchanges": "exchanges replayed on the route",
            "matched": "… of which matched",
            "mismatched": "… of which mismatched",
            "errors": "… of which errors",
            "mismatched_pct": "mismatched exchanges, in percent",
            "findings": "findings its mismatches show",
        },
    ),
}


_SHOWS = {"run_summary": "runs", "open_findings": "findings", "mismatches_by_route": "results"}
"""The table whose column descriptions a view's columns of the same name take."""


def _columns(table: str, own: dict[str, str]) -> dict[str, str]:
    """Descriptions of a table's columns: its own, else the shared ones, else those of
    the table a view shows (`runs_iso` -> `runs`)."""
    base = _SHOWS.get(table, table.removesuffix("_iso"))
    merged = dict(_C)
    if base in _TABLES:
        merged.update(_TABLES[base][2])
    merged.update(own)
    return merged


def metadata(database: str, columns: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Datasette's metadata for a results database Datasette names `database` (the file
    name without its suffix); with `columns` (table or view -> its columns, as the file
    has them), each table's column descriptions are of those columns only."""
    tables: dict[str, Any] = {}
    for name, (title, description, own) in {**_TABLES, **_VIEWS}.items():
        described = _columns(name, own)
        if columns is not None:
            described = {c: described[c] for c in columns.get(name, []) if c in described}
        tables[name] = {"title": title, "description": description, "columns": described}
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "databases": {database: {"title": TITLE, "description": DESCRIPTION, "tables": tables}},
    }


def columns_of(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Every table's and view's columns in the database on `conn`."""
    names = [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    ]
    return {n: [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}


def metadata_path(db_path: Path) -> Path:
    """Where `write_metadata` puts the metadata of the database at `db_path`."""
    return db_path.with_name(f"{db_path.stem}.metadata.json")


def write_metadata(db_path: Path, conn: sqlite3.Connection) -> Path:
    """Write the metadata of the database at `db_path`, open on `conn`, next to it,
    owner-only; its path. Raises OSError."""
    path = metadata_path(db_path)
    data = metadata(db_path.stem, columns_of(conn))
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_private(path, text.encode("utf-8"))
    return path
