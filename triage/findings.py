"""Findings in the results database (tables `findings`, `finding_links`; schema v4).

The writer links each stored exchange to the per-route finding of each of its
differences, or straight to a cross-route finding whose shape is already cross-route in
the database (sticky). At the end of the run, `group_run` applies the cross-route rule
(`differ.findings.cross_route_shapes`) to what the run showed and re-points the run's
links to the cross-route findings in one transaction.

`carry_over` is the v4 migration's data step: findings and links for every stored
mismatch, recomputed from its `differences` JSON, and the verdicts given on signatures
carried to the findings their mismatches show (`bug` wins, else the most recent).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from parity.differ.findings import (
    CROSS_ROUTE,
    DIFFERENCE,
    FindingKey,
    Shape,
    cross_route_shapes,
    finding_id,
    grouped,
    keys_of,
)
from parity.differ.model import Difference, DiffKind, Where
from parity.triage.bodies import Sealer
from parity.triage.text import loads, storable

UPSERT_FINDING = (
    "INSERT INTO findings (id, scope, route, place, path, kind, transition, category, "
    "first_seen_run, last_seen_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET last_seen_run = excluded.last_seen_run"
)
INSERT_LINK = (
    "INSERT OR IGNORE INTO finding_links (run_id, session, seq, mismatch_id, finding) "
    "VALUES (?, ?, ?, ?, ?)"
)


def finding_row(key: FindingKey, run_id: str, seal: Sealer | None = None) -> tuple[Any, ...]:
    """The `UPSERT_FINDING` parameters of `key`, seen in `run_id`; its transition (which
    may quote short values) sealed with `seal` when the database encrypts (the id is
    computed from the plain key)."""
    route = None if key.route is None else storable(key.route)
    place, path, kind, transition, category = (storable(part) for part in key.shape)
    if seal is not None:
        transition = seal(transition)
    shape = (place, path, kind, transition, category)
    return (finding_id(key), key.scope, route, *shape, run_id, run_id)


def sticky_shapes(db: Database) -> frozenset[Shape]:
    """Shapes that already have a cross-route finding: later runs map them to it."""
    rows = db.conn.execute(
        "SELECT place, path, kind, transition, category FROM findings WHERE scope = ?",
        [CROSS_ROUTE],
    )
    return frozenset((r[0], r[1], r[2], r[3], r[4]) for r in rows)


def _key(row: Iterable[Any]) -> FindingKey:
    return FindingKey(*row)


def group_run(db: Database, run_id: str, seal: Sealer | None = None) -> int:
    """Apply the cross-route rule to run `run_id`; returns how many links moved.
    `seal`: as in `finding_row` (rows are read opened, by the connection's row factory).

    Idempotent. Runs its own transaction when none is open."""
    conn = db.conn
    run_routes = conn.execute(
        "SELECT COUNT(DISTINCT route) FROM results WHERE run_id = ?", [run_id]
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT DISTINCT f.scope, f.route, f.place, f.path, f.kind, f.transition, "
        "f.category FROM finding_links l JOIN findings f ON f.id = l.finding "
        "WHERE l.run_id = ? AND f.scope = 'route'",
        [run_id],
    ).fetchall()
    keys = [_key(row) for row in rows]
    cross = cross_route_shapes([(k.route or "", k) for k in keys], run_routes, sticky_shapes(db))
    moved = 0
    with db.atomic():
        for key in keys:
            if key.shape not in cross:
                continue
            target = grouped(key, cross)
            conn.execute(UPSERT_FINDING, finding_row(target, run_id, seal))
            old, new = finding_id(key), finding_id(target)
            # A mismatch linked to two route keys of one shape cannot happen (one route per
            # exchange), so the re-pointed primary keys stay distinct.
            moved += conn.execute(
                "UPDATE OR IGNORE finding_links SET finding = ? WHERE run_id = ? AND finding = ?",
                [new, run_id, old],
            ).rowcount
            conn.execute(
                "DELETE FROM finding_links WHERE run_id = ? AND finding = ?", [run_id, old]
            )
        _drop_orphans(db)
    return moved


def _drop_orphans(db: Database) -> None:
    """Per-route findings no link and no verdict points at any more."""
    db.conn.execute(
        "DELETE FROM findings WHERE scope = 'route' "
        "AND NOT EXISTS (SELECT 1 FROM finding_links l WHERE l.finding = findings.id) "
        "AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.finding = findings.id)"
    )


def _difference(raw: dict[str, Any]) -> Difference | None:
    try:
        return Difference(
            Where(raw["where"]),
            str(raw["path"]),
            DiffKind(raw["kind"]),
            raw.get("expected"),
            raw.get("actual"),
        )
    except (KeyError, ValueError, TypeError):
        return None


def stored_keys(route: str, differences_json: str | None) -> list[FindingKey]:
    """The per-route finding keys of a stored mismatch (its `differences` column)."""
    raw = loads(differences_json, [])
    parsed = [d for d in (_difference(r) for r in raw if isinstance(r, dict)) if d]
    return keys_of(route, parsed, DIFFERENCE)


def carry_over(db: Database) -> None:
    """The v4 data step (inside the migration's transaction): see the module doc."""
    conn = db.conn
    rows = conn.execute(
        "SELECT m.id, m.run_id, m.session, m.seq, m.route, m.differences "
        "FROM mismatches m JOIN runs r ON r.id = m.run_id "
        "WHERE m.outcome = 'mismatched' ORDER BY r.started_at, m.run_id"
    ).fetchall()
    for mismatch_id, run_id, session, seq, route, differences in rows:
        for key in stored_keys(route, differences):
            conn.execute(UPSERT_FINDING, finding_row(key, run_id))
            conn.execute(INSERT_LINK, (run_id, session, seq, mismatch_id, finding_id(key)))
    runs = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY started_at, id")]
    for run_id in runs:
        group_run(db, run_id)
    # Findings of a signature after grouping: follow the links of its mismatches.
    signature_findings: dict[str, set[str]] = {}
    for signature, finding in conn.execute(
        "SELECT DISTINCT m.signature, l.finding FROM mismatches m "
        "JOIN finding_links l ON l.mismatch_id = m.id WHERE m.signature IS NOT NULL"
    ):
        signature_findings.setdefault(signature, set()).add(finding)
    chosen: dict[str, tuple[Any, ...]] = {}
    for row in conn.execute(
        "SELECT signature, verdict, note, marked_at, marked_by, run_id "
        "FROM signature_verdicts ORDER BY marked_at, signature"
    ):
        for finding in signature_findings.get(row[0], ()):
            current = chosen.get(finding)
            if current is not None and current[1] == "bug" and row[1] != "bug":
                continue  # a bug on any of its signatures keeps the finding open
            chosen[finding] = row
    for finding, (signature, verdict, note, marked_at, marked_by, run_id) in sorted(chosen.items()):
        carried = note or f"carried over from signature {signature}"
        values = (finding, verdict, carried, marked_at, marked_by, run_id)
        conn.execute(
            "INSERT INTO verdicts (finding, verdict, note, marked_at, marked_by, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            values,
        )
        conn.execute(
            "INSERT INTO verdict_history (finding, verdict, note, marked_at, marked_by, "
            "run_id) VALUES (?, ?, ?, ?, ?, ?)",
            values,
        )
