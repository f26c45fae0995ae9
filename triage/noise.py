"""Learned noise in the results database (tables `noise_routes` and `noise`, schema v2).

Every run with a baseline adds what it saw: per route, how many exchanges were compared
against a baseline (observations); per (route, where, templated path), how many of them
disagreed between the recording and a baseline, the kinds of disagreement and one
example. Later runs read it all back as a `differ.noise.LearnedNoise`, whose policy
(Diffy's relative and absolute thresholds) decides what it suppresses.

The `ResultsDB` methods `add_noise`, `learned_noise`, `noise_rows` and `forget_noise`
call these functions; `docs/results-db.md` documents the tables.
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from parity.differ.model import Where
from parity.differ.noise import LearnedNoise, NoiseKey, NoisePolicy, NoiseStats
from parity.sessions.secrets import MASK, is_secret_header
from parity.triage.errors import NotFound, TriageError
from parity.triage.masking import is_secret_path, mask_value
from parity.triage.text import dumps, loads, short, storable

if TYPE_CHECKING:
    from parity.triage.db import ResultsDB

EXAMPLE_CHARS = 120
"""An example value is kept as compact JSON, cut at this many characters (with `…`)."""

_UPSERT_ROUTE = (
    "INSERT INTO noise_routes (route, observations, first_run, last_run) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(route) DO UPDATE SET observations = observations + excluded.observations, "
    "last_run = excluded.last_run"
)
_UPSERT_NOISE = (
    "INSERT INTO noise (route, place, path, disagreements, kinds, example_expected, "
    "example_baseline, first_run, last_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(route, place, path) DO UPDATE SET "
    "disagreements = disagreements + excluded.disagreements, kinds = excluded.kinds, "
    "example_expected = coalesce(example_expected, excluded.example_expected), "
    "example_baseline = coalesce(example_baseline, excluded.example_baseline), "
    "last_run = excluded.last_run"
)
_ROUTE_MATCH = "(route GLOB ? OR substr(route, instr(route, ' ') + 1) GLOB ?)"
_PATH_MATCH = "(path = ? OR (place || ' ' || path) = ? OR (place = 'status' AND ? = 'status'))"


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a count (an int >= 0), not {value!r}")
    return value


def _example(key: NoiseKey, value: object) -> str:
    """One side of an example: masked like a stored difference, compact JSON, cut short."""
    _route, where, path = key
    secret = (where == Where.HEADER and is_secret_header(path)) or (
        where == Where.BODY and is_secret_path(path)
    )
    shown = MASK if secret and value is not None else mask_value(value)
    return short(shown, EXAMPLE_CHARS)


def add_noise(
    rdb: ResultsDB,
    run_id: str,
    route_observations: Mapping[str, int],
    disagreements: Mapping[NoiseKey, int],
    kinds: Mapping[NoiseKey, set[str]],
    examples: Mapping[NoiseKey, tuple[object, object]],
) -> None:
    """Add one run's observations to what was learned, in one transaction (see
    `ResultsDB.add_noise`)."""
    db = rdb.db
    if db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone() is None:
        raise NotFound(f"no run {run_id!r} in {rdb.path}", path=rdb.path)
    observed = {
        route: _count(n, f"observations of {route!r}") for route, n in route_observations.items()
    }
    for route, _where, _path in disagreements:
        observed.setdefault(route, 0)  # a noise row always has its route's row
    counted = {key: _count(n, f"disagreements at {key!r}") for key, n in disagreements.items()}
    try:
        with db.atomic():
            conn = db.conn
            conn.executemany(
                _UPSERT_ROUTE,
                [(storable(route), n, run_id, run_id) for route, n in observed.items()],
            )
            known = _known_kinds(conn, counted)
            rows = []
            for key, n in counted.items():
                merged = sorted(known.get(key, set()) | set(kinds.get(key, ())))
                example = examples.get(key)
                rows.append(
                    (
                        *(storable(part) for part in key),
                        n,
                        dumps(merged),
                        rdb.sealed(_example(key, example[0])) if example is not None else None,
                        rdb.sealed(_example(key, example[1])) if example is not None else None,
                        run_id,
                        run_id,
                    )
                )
            conn.executemany(_UPSERT_NOISE, rows)
    except sqlite3.Error as exc:
        raise TriageError(
            f"cannot store the noise of run {run_id} in {rdb.path}: {exc}", path=rdb.path
        ) from exc


def _known_kinds(
    conn: sqlite3.Connection, keys: Mapping[NoiseKey, int]
) -> dict[NoiseKey, set[str]]:
    """The kinds already stored for the routes of `keys` (one query per route)."""
    known: dict[NoiseKey, set[str]] = {}
    for route in {route for route, _where, _path in keys}:
        for where, path, kinds in conn.execute(
            "SELECT place, path, kinds FROM noise WHERE route = ?", [route]
        ):
            known[(route, where, path)] = set(loads(kinds, []))
    return known


def learned_noise(rdb: ResultsDB, policy: NoisePolicy | None = None) -> LearnedNoise:
    """Everything learned so far; `NoiseStats.observations` is its route's observations."""
    conn = rdb.db.conn
    routes = {route: n for route, n in conn.execute("SELECT route, observations FROM noise_routes")}
    stats = {
        (route, where, path): NoiseStats(observations=routes.get(route, 0), disagreements=n)
        for route, where, path, n in conn.execute(
            "SELECT route, place, path, disagreements FROM noise"
        )
    }
    return LearnedNoise(
        stats=stats,
        route_observations=routes,
        policy=policy if policy is not None else NoisePolicy(),
    )


def _filters(route_glob: str | None, path: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if route_glob is not None:
        clauses.append(_ROUTE_MATCH)
        params += [route_glob, route_glob]
    if path is not None:
        clauses.append(_PATH_MATCH)
        params += [path, path, path]
    return (" AND ".join(clauses) or "1"), params


def rate_percent(disagreements: int, observations: int) -> float | None:
    """disagreements/observations in percent, rounded up to 2 decimals (None without
    observations): a rare disagreement never shows as 0 %."""
    if observations <= 0:
        return None
    return math.ceil(disagreements * 10000 / observations) / 100


def noise_rows(
    rdb: ResultsDB, route_glob: str | None = None, path: str | None = None
) -> list[dict[str, Any]]:
    """What was learned, as plain dicts, most frequent first (see `ResultsDB.noise_rows`)."""
    where, params = _filters(route_glob, path)
    rows = rdb.query(
        "SELECT n.route AS route, n.place AS place, n.path AS path, "
        "n.disagreements AS disagreements, coalesce(r.observations, 0) AS observations, "
        "n.kinds AS kinds, n.example_expected AS example_expected, "
        "n.example_baseline AS example_baseline, n.first_run AS first_run, "
        "n.last_run AS last_run "
        f"FROM (SELECT * FROM noise WHERE {where}) n "
        "LEFT JOIN noise_routes r ON r.route = n.route",
        params,
    )
    out = [
        {
            "route": row["route"],
            "where": row["place"],
            "path": row["path"],
            "disagreements": row["disagreements"],
            "observations": row["observations"],
            "rate": rate_percent(row["disagreements"], row["observations"]),
            "kinds": loads(row["kinds"], []),
            "example": {
                "expected": row["example_expected"],
                "baseline": row["example_baseline"],
            },
            "first_run": row["first_run"],
            "last_run": row["last_run"],
        }
        for row in rows
    ]
    for row in out:
        row["why"] = why_learned(row)
    out.sort(
        key=lambda r: (
            -(r["rate"] or 0.0),
            -r["disagreements"],
            r["route"],
            r["where"],
            r["path"],
        )
    )
    return out


def why_learned(row: Mapping[str, Any]) -> str:
    """Why a spot was learned, in words: `disagreed in 7 of 9 exchanges, values vary:
    `a` vs `b``."""
    n, observed = row["disagreements"], row["observations"]
    kinds = set(row["kinds"])
    example = row["example"]
    if kinds & {"changed", "type_changed", "error_changed"}:
        how = "values vary"
        if example["expected"] is not None or example["baseline"] is not None:
            how += f": `{example['expected']}` vs `{example['baseline']}`"
    elif kinds == {"order_changed"}:
        how = "the order varies"
    elif kinds & {"added", "removed"}:
        how = "present in some answers only"
    else:
        how = "answers vary"
    return f"disagreed in {n} of {observed} exchanges, {how}"


def excluded_noise(rdb: ResultsDB) -> dict[str, Any] | None:
    """What the latest run with a baseline did not learn as noise because it looked like
    state drift: `{"run_id", "excluded": [{route, where, path, reason}]}` (from
    `runs.meta`, key `noise_excluded`); None when no run had a baseline."""
    row = rdb.db.execute(
        "SELECT id, meta FROM runs WHERE baseline IS NOT NULL AND baseline != '' "
        "ORDER BY started_at DESC, rowid DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    excluded = (loads(row[1], {}) or {}).get("noise_excluded") or []
    return {"run_id": row[0], "excluded": [e for e in excluded if isinstance(e, dict)]}


def forget_noise(rdb: ResultsDB, route_glob: str | None = None, path: str | None = None) -> int:
    """Delete learned noise; the number of `noise` rows deleted (see
    `ResultsDB.forget_noise`)."""
    where, params = _filters(route_glob, path)
    db = rdb.db
    try:
        with db.atomic():
            deleted = db.execute(f"DELETE FROM noise WHERE {where}", params).rowcount
            if path is None:
                route_where, route_params = _filters(route_glob, None)
                db.execute(f"DELETE FROM noise_routes WHERE {route_where}", route_params)
    except sqlite3.Error as exc:
        raise TriageError(f"cannot forget noise in {rdb.path}: {exc}", path=rdb.path) from exc
    return int(deleted)


# -- per run: how learned noise was used ------------------------------------------------


def note_learned_noise(rdb: ResultsDB, run_id: str, policy: NoisePolicy, settled: int) -> None:
    """Keep with the run (in `runs.meta`, key `learned_noise`) the policy it applied and
    how many suspect differences learned noise settled as noise."""
    update_run_meta(
        rdb,
        run_id,
        {
            "learned_noise": {
                "policy": dataclasses.asdict(policy),
                "settled": _count(settled, "settled"),
            }
        },
    )


def update_run_meta(rdb: ResultsDB, run_id: str, values: Mapping[str, Any]) -> None:
    """Merge `values` into the run's `meta` (top-level keys replaced), in one transaction."""
    db = rdb.db
    try:
        with db.atomic():
            row = db.execute("SELECT meta FROM runs WHERE id = ?", [run_id]).fetchone()
            if row is None:
                raise NotFound(f"no run {run_id!r} in {rdb.path}", path=rdb.path)
            meta = loads(row[0], {}) or {}
            meta.update(values)
            db.execute("UPDATE runs SET meta = ? WHERE id = ?", [dumps(meta), run_id])
    except sqlite3.Error as exc:
        raise TriageError(
            f"cannot update run {run_id} in {rdb.path}: {exc}", path=rdb.path
        ) from exc


def learned_noise_use(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """`{"policy": {...}, "settled": N}` from a run's meta, or None if it used none."""
    used = meta.get("learned_noise")
    if not isinstance(used, dict):
        return None
    return {"policy": used.get("policy"), "settled": int(used.get("settled") or 0)}
