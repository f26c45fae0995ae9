"""The gate: one verdict on one run, with an exit code and a JSON artifact.

A run passes when it finished, replayed at least one exchange, has at most `max_open`
open findings (no verdict, or `bug`) and at most `max_errors` errored exchanges (the
target did not answer). Serialization findings (wire-only differences) count only when
the rules file the run used says `[serialization] gate = true`. The artifact
(`parity-gate/3`, documented with its JSON Schema in `docs/gate.md`) holds the run, its
totals, the open and accepted findings, what was
fixed and what regressed since the previous run over the same sessions, the errors, and
the thresholds used. It is ASCII-only JSON (so it reads the same whatever encoding a
reader assumes), keys in a fixed order, secrets masked: URLs lose passwords and secret
query values, differences and notes their secret values.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parity.differ.findings import SERIALIZATION
from parity.sessions.private import write_private
from parity.triage import times
from parity.triage.compare import (
    Change,
    finding_changes,
    finding_rows,
    previous_run,
    run_keys,
    sort_key,
)
from parity.triage.errors import TriageError
from parity.triage.finding_queries import example, finding_json, finding_routes, first_links, title
from parity.triage.masking import mask_text, mask_url, mask_urls_in
from parity.triage.queries import find_run, parity_percent
from parity.triage.text import loads

if TYPE_CHECKING:
    from parity.triage.db import ResultsDB

SCHEMA = "parity-gate/3"
"""Version 3: `thresholds.allow_torn` and `damaged_sessions` (issue 10); version 2:
findings instead of signatures (issue 8)."""
DEFAULT_ARTIFACT = Path("logs") / "parity_harness_results.json"
"""Where the cutover runbook's migration gate expects the parity harness's results."""
EXIT_PASSED = 0
EXIT_FAILED = 1


@dataclass(frozen=True, slots=True)
class Thresholds:
    max_open: int = 0
    """Open findings allowed (no verdict, or `bug`)."""
    max_errors: int = 0
    """Exchanges allowed to error (the target did not answer)."""
    allow_torn: bool = False
    """Pass a run that replayed torn or partly corrupt session files (`--allow-torn`)."""

    def __post_init__(self) -> None:
        for name in ("max_open", "max_errors"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, not {value!r}")


def iso(timestamp: float | None) -> str | None:
    """`2026-02-23T20:19:14Z`: the gate artifact's times are to the second."""
    return times.iso(timestamp, "seconds")


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else words or word + 's'}"


def build_gate(
    rdb: ResultsDB,
    run_ref: str | None,
    thresholds: Thresholds,
    *,
    tool_version: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The gate artifact for run `run_ref` (the latest run by default); see
    `docs/gate.md`. `passed` and `exit_code` say the verdict."""
    run = find_run(rdb, run_ref)
    keys = run_keys(rdb)
    before_id = previous_run(keys, run["id"])
    before = find_run(rdb, before_id) if before_id is not None else None
    found = finding_changes(rdb, before_id, run["id"])
    rows = finding_rows(rdb, (c.id for c in found))
    firsts = first_links(rdb, run["id"])
    earlier = first_links(rdb, before_id) if before_id is not None else {}
    routes = finding_routes(rdb, run["id"])
    earlier_routes = finding_routes(rdb, before_id) if before_id is not None else {}
    gated = serialization_gated(run)

    def entry(change: Change) -> dict[str, Any]:
        row = rows[change.id]
        verdict = change.verdict
        fixed = change.state == "fixed"
        first = (earlier if fixed else firsts).get(change.id)
        return {
            **finding_json(row),
            "routes": (earlier_routes if fixed else routes).get(change.id, []),
            "title": mask_urls_in(title(row)),
            "state": change.state,
            "count": change.count_b,
            "previous_count": change.count_a,
            "verdict": verdict["verdict"] if verdict else None,
            "note": mask_urls_in(mask_text(verdict["note"])) if verdict else None,
            "fixed_in": change.fixed_in,
            "example": None
            if first is None
            else _example(rdb, first, row, before_id if fixed else run["id"]),
        }

    def counted(change: Change) -> bool:
        return gated or rows[change.id]["category"] != SERIALIZATION

    ordered = sorted(found, key=sort_key)
    present = [c for c in ordered if c.state != "fixed"]
    open_ = [entry(c) for c in present if c.open and counted(c)]
    wire_only = [entry(c) for c in present if c.open and not counted(c)]
    accepted = [entry(c) for c in present if not c.open]
    fixed = [entry(c) for c in ordered if c.state == "fixed"]
    regressed = [entry(c) for c in present if c.state == "regressed"]
    errors = _errors(rdb, run["id"])
    damaged = _damaged(run)
    open_mismatches = sum(item["count"] for item in open_)

    reasons: list[str] = []
    if run["finished_at"] is None:
        reasons.append(_unfinished(run))
    if run["exchanges"] == 0:
        reasons.append(f"run {run['id']} replayed no exchanges")
    if len(open_) > thresholds.max_open:
        reasons.append(
            f"{_plural(len(open_), 'open finding')} (on "
            f"{_plural(open_mismatches, 'exchange')}); at most {thresholds.max_open} allowed"
        )
    if run["errors"] > thresholds.max_errors:
        reasons.append(
            f"{_plural(run['errors'], 'exchange')} errored (the target did not answer); "
            f"at most {thresholds.max_errors} allowed"
        )
    if damaged and not thresholds.allow_torn:
        names = _first_three([str(d.get("session")) for d in damaged])
        reasons.append(
            f"{_plural(len(damaged), 'session file')} torn or partly corrupt ({names}): "
            "not every recorded exchange was replayed; --allow-torn accepts that"
        )
    stopped = _stopped(run)
    if stopped:
        reasons.append(
            f"{_plural(len(stopped), 'session')} stopped part-way ({_first_three(stopped)}): "
            "not every recorded exchange was replayed"
        )
    passed = not reasons
    return {
        "schema": SCHEMA,
        "passed": passed,
        "exit_code": EXIT_PASSED if passed else EXIT_FAILED,
        "reasons": reasons,
        "generated_at": iso(now if now is not None else datetime.now(UTC).timestamp()),
        "parity_version": tool_version,
        "run": _run(run),
        "previous_run": _run(before) if before is not None else None,
        "thresholds": {
            "max_open": thresholds.max_open,
            "max_errors": thresholds.max_errors,
            "serialization_gated": gated,
            "allow_torn": thresholds.allow_torn,
        },
        "totals": {
            "exchanges": run["exchanges"],
            "matched": run["matched"],
            "mismatched": run["mismatched"],
            "errors": run["errors"],
            "noise_suppressed": run["noise_suppressed"],
            "parity": parity_percent(run["matched"], run["exchanges"]),
            "findings": len(present),
            "open": len(open_),
            "open_mismatches": open_mismatches,
            "accepted": len(accepted),
            "serialization": len(wire_only),
            "new": sum(1 for c in present if c.state == "new"),
            "regressed": len(regressed),
            "fixed": len(fixed),
        },
        "open": open_,
        "accepted": accepted,
        "serialization": wire_only,
        "fixed": fixed,
        "regressed": regressed,
        "errors": errors,
        "damaged_sessions": damaged,
    }


def serialization_gated(run: dict[str, Any]) -> bool:
    """`[serialization] gate` of the rules file the run recorded (`runs.rules_path`),
    read now; False when the run used none, or the file is gone or does not parse."""
    import tomllib

    from parity.differ import RulesError, load_rules

    path = run.get("rules_path")
    if not path:
        return False
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return bool(load_rules(data).serialization.gate)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RulesError):
        return False


def _example(
    rdb: ResultsDB, mismatch_id: str, row: dict[str, Any], run_id: str | None
) -> dict[str, Any]:
    """The first exchange showing the finding in `run_id`, with its difference."""
    small = rdb.query(
        "SELECT session, seq, method, url FROM mismatches WHERE id = ?", [mismatch_id]
    )[0]
    shown = example(rdb, mismatch_id, row)
    return {
        "mismatch": mismatch_id,
        "run": run_id,
        "session": small["session"],
        "seq": small["seq"],
        "method": small["method"],
        "url": small["url"],
        "difference": mask_urls_in(shown["difference"] or ""),
    }


def _run(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "label": row["label"],
        "target": mask_url(row["target"]),
        "baseline": mask_url(row["baseline"]),
        "sessions": loads(row["sessions"], []),
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
    }


def _first_three(names: list[str]) -> str:
    """`a, b, c and 2 more`."""
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def _meta_items(run: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of the list under `key` in the run's `runs.meta` (anything else: none)."""
    meta = loads(run.get("meta"), {}) or {}
    found = meta.get(key) if isinstance(meta, dict) else None
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, dict)]


def _stopped(run: dict[str, Any]) -> list[str]:
    """The session files the run stopped part-way (`runs.meta["failed_sessions"]`)."""
    return [str(item.get("session")) for item in _meta_items(run, "failed_sessions")]


def _damaged(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The torn or partly corrupt session files the run replayed (`runs.meta`), masked."""
    return [
        {
            "session": str(item.get("session")),
            "path": str(item.get("path")),
            "exchanges": _int_or_zero(item.get("exchanges")),
            "skipped_bytes": _int_or_zero(item.get("skipped_bytes")),
            "skipped_reason": item.get("skipped_reason") or None,
            "malformed_records": _int_or_zero(item.get("malformed_records")),
        }
        for item in _meta_items(run, "damaged_sessions")
    ]


def _int_or_zero(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _errors(rdb: ResultsDB, run_id: str) -> list[dict[str, Any]]:
    """The run's errors by reason, most frequent first, each with its first exchange."""
    rows = rdb.query(
        "SELECT id, session, seq, method, url, error FROM mismatches "
        "WHERE run_id = ? AND outcome = 'error' ORDER BY session, seq",
        [run_id],
    )
    counts = Counter(row["error"] or "no answer" for row in rows)
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["error"] or "no answer", row)
    return [
        {
            "reason": mask_urls_in(reason),
            "count": count,
            "example": {
                "mismatch": first[reason]["id"],
                "session": first[reason]["session"],
                "seq": first[reason]["seq"],
                "method": first[reason]["method"],
                "url": first[reason]["url"],
            },
        }
        for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def artifact_text(data: dict[str, Any]) -> str:
    """The artifact as written: indented, ASCII-only JSON, keys in the order built."""
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


def write_artifact(path: Path, data: dict[str, Any]) -> None:
    """Write the artifact to `path` (parent directories created) atomically: a reader
    sees the old file or the new one, never half of one."""
    path = Path(path)
    try:
        write_private(path, artifact_text(data).encode("utf-8"))
    except OSError as exc:
        raise TriageError(
            f"cannot write the gate artifact {path}: {exc.strerror or exc}", path=path
        ) from None


def _unfinished(run: dict[str, Any]) -> str:
    """Why a run that did not finish fails the gate, and how to finish it."""
    how = f"`parity replay --resume {run['id']}` finishes it"
    if run.get("interrupted_at") is not None:
        return f"run {run['id']} was interrupted and not resumed: {how}"
    return f"run {run['id']} did not finish (killed, or still running): {how}"
