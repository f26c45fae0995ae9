"""The gate: one verdict on one run, with an exit code and a JSON artifact.

A run passes when it finished, replayed at least one exchange, has at most `max_open`
open signatures (no verdict, or `bug`) and at most `max_errors` errored exchanges (the
target did not answer). The artifact (`parity-gate/1`, documented with its JSON Schema in
`docs/gate.md`) holds the run, its totals, the open and accepted signatures, what was
fixed and what regressed since the previous run over the same sessions, the errors, and
the thresholds used. It is ASCII-only JSON (so it reads the same whatever encoding a
reader assumes), keys in a fixed order, secrets masked: URLs lose passwords and secret
query values, differences and notes their secret values.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.compare import (
    Change,
    changes,
    first_mismatches,
    previous_run,
    run_keys,
    signature_rows,
    sort_key,
)
from triage.errors import TriageError
from triage.masking import mask_text, mask_url, mask_urls_in
from triage.queries import find_run, parity_percent
from triage.text import loads

if TYPE_CHECKING:
    from triage.db import ResultsDB

SCHEMA = "parity-gate/1"
DEFAULT_ARTIFACT = Path("logs") / "parity_harness_results.json"
"""Where the cutover runbook's migration gate expects the parity harness's results."""
EXIT_PASSED = 0
EXIT_FAILED = 1


@dataclass(frozen=True, slots=True)
class Thresholds:
    max_open: int = 0
    """Open signatures allowed (no verdict, or `bug`)."""
    max_errors: int = 0
    """Exchanges allowed to error (the target did not answer)."""

    def __post_init__(self) -> None:
        for name in ("max_open", "max_errors"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, not {value!r}")


def iso(timestamp: float | None) -> str | None:
    """`2026-02-23T20:19:14Z` (UTC, to the second); None stays None."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


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
    found = changes(rdb, before_id, run["id"])
    sigs = signature_rows(rdb, (c.id for c in found))
    examples = first_mismatches(rdb, run["id"])
    earlier = first_mismatches(rdb, before_id) if before_id is not None else {}

    def entry(change: Change) -> dict[str, Any]:
        sig = sigs.get(change.id)
        verdict = change.verdict
        fixed = change.state == "fixed"
        example = (earlier if fixed else examples).get(change.id)
        return {
            "id": change.id,
            "route": sig["route"] if sig else None,
            "kinds": loads(sig["kinds"], []) if sig else [],
            "paths": loads(sig["paths"], []) if sig else [],
            "state": change.state,
            "count": change.count_b,
            "previous_count": change.count_a,
            "verdict": verdict["verdict"] if verdict else None,
            "note": mask_urls_in(mask_text(verdict["note"])) if verdict else None,
            "fixed_in": change.fixed_in,
            "example": None
            if example is None
            else {
                "mismatch": example["id"],
                "run": before_id if fixed else run["id"],
                "session": example["session"],
                "seq": example["seq"],
                "method": example["method"],
                "url": example["url"],
                "difference": mask_urls_in(example["first_difference"] or ""),
            },
        }

    ordered = sorted(found, key=sort_key)
    present = [c for c in ordered if c.state != "fixed"]
    open_ = [entry(c) for c in present if c.open]
    accepted = [entry(c) for c in present if not c.open]
    fixed = [entry(c) for c in ordered if c.state == "fixed"]
    regressed = [entry(c) for c in present if c.state == "regressed"]
    errors = _errors(rdb, run["id"])
    open_mismatches = sum(item["count"] for item in open_)

    reasons: list[str] = []
    if run["finished_at"] is None:
        reasons.append(f"run {run['id']} did not finish (interrupted, or still running)")
    if run["exchanges"] == 0:
        reasons.append(f"run {run['id']} replayed no exchanges")
    if len(open_) > thresholds.max_open:
        reasons.append(
            f"{_plural(len(open_), 'open signature')} ({_plural(open_mismatches, 'mismatch', 'mismatches')}"
            f"); at most {thresholds.max_open} allowed"
        )
    if run["errors"] > thresholds.max_errors:
        reasons.append(
            f"{_plural(run['errors'], 'exchange')} errored (the target did not answer); "
            f"at most {thresholds.max_errors} allowed"
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
        "thresholds": {"max_open": thresholds.max_open, "max_errors": thresholds.max_errors},
        "totals": {
            "exchanges": run["exchanges"],
            "matched": run["matched"],
            "mismatched": run["mismatched"],
            "errors": run["errors"],
            "noise_suppressed": run["noise_suppressed"],
            "parity": parity_percent(run["matched"], run["exchanges"]),
            "signatures": len(present),
            "open": len(open_),
            "open_mismatches": open_mismatches,
            "accepted": len(accepted),
            "new": sum(1 for c in present if c.state == "new"),
            "regressed": len(regressed),
            "fixed": len(fixed),
        },
        "open": open_,
        "accepted": accepted,
        "fixed": fixed,
        "regressed": regressed,
        "errors": errors,
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
    text = artifact_text(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with temp.open("w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise TriageError(f"cannot write the gate artifact {path}: {exc.strerror or exc}") from None
