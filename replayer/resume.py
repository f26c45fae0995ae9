"""Resuming an interrupted run: `parity replay --resume [RUN]`.

A run records its options when it starts (`run_options`, kept in `runs.meta["replay"]`):
the target and baselines with their reset hooks, concurrency, timeouts, TLS checking,
body encryption, the pace (`--pace` factor and `--max-idle`), and a fingerprint of each
session file (absolute path, size, mtime, SHA-256 of its header, taken after the run's
one scan of the file; every part of a rotated session, `sessions.parts`) and of the
rules file (the same, with the SHA-256 of its text). The results database says which
sessions finished (`run_sessions`, written with each session's last results:
`triage.resume`); a rotated session is one session there, all its parts together.

`resume_point` reads that back for RUN (the newest unfinished run by default) and
refuses, one line each, a finished run, a run from before resumable runs, a session or
rules file (any part) that is gone or changed since, and a rotated session with a part
the run did not read (the recorder went on, or a missing part came back): the results
kept would no longer describe the same recording. `ReplayRun.start(plan, resume=RUN)`
then deletes what the unfinished sessions stored and replays them from their start
(a rotated one from its first part), after the reset hooks (a session's state on the
target depends on its earlier requests). In the end every exchange of the run has one
result, and findings are those of a run never interrupted.

What a resumed run cannot reproduce: with a baseline, the run's noise observations are
kept in memory until its end, so every session of such a run counts as unfinished until
then (an interrupted run with a baseline is replayed again whole); and learned noise
is read when the resume starts, so a run with a baseline that finished meanwhile can
change what is suppressed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parity.exceptions import ParityError
from parity.replayer.pacing import Pace
from parity.sessions import (
    SessionFileError,
    SessionHeader,
    SessionReader,
    group_sessions,
)
from parity.sessions.file import SUFFIX
from parity.sessions.parts import PartsReader, name_part
from parity.triage import ResultsDB
from parity.triage.resume import finished_sessions

if TYPE_CHECKING:
    from parity.replayer.run import RunPlan


class ResumeError(ParityError):
    """A run that cannot be resumed, in one line; `run` is its id."""

    def __init__(self, message: str, *, run: str | None = None) -> None:
        super().__init__(message)
        self.run = run


def session_fingerprint(path: Path, size: int, header: SessionHeader) -> dict[str, Any]:
    """What says a session file is still the one a run read: `{"path" (absolute),
    "size", "mtime_ns", "header" (SHA-256 of its header's fields, hex)}`; `size` and
    `header` as a reader that has it open saw them."""
    fields = json.dumps(header.to_record(), sort_keys=True, default=repr)
    return {
        "path": os.path.abspath(path),
        "size": size,
        "mtime_ns": os.stat(path).st_mtime_ns,
        "header": hashlib.sha256(fields.encode("utf-8", "surrogatepass")).hexdigest(),
    }


def file_fingerprint(path: Path) -> dict[str, Any]:
    """The same for another file (the rules): `header` is the SHA-256 of its bytes."""
    data = Path(path).read_bytes()
    return {
        "path": os.path.abspath(path),
        "size": len(data),
        "mtime_ns": os.stat(path).st_mtime_ns,
        "header": hashlib.sha256(data).hexdigest(),
    }


def _session_now(path: Path) -> dict[str, Any]:
    with SessionReader(path) as reader:
        return session_fingerprint(path, reader.size, reader.header)


def parts_fingerprint(reader: PartsReader) -> list[dict[str, Any]]:
    """The fingerprint of each file of a session (every part of a rotated one, in order)
    as `reader` read them (`PartsReader.opened`: no file is opened again)."""
    return [session_fingerprint(path, size, header) for path, size, header in reader.opened]


def run_options(plan: RunPlan, files: list[dict[str, Any]]) -> dict[str, Any]:
    """The options a resume reuses, as `runs.meta["replay"]` keeps them (JSON);
    `files`: the session files' fingerprints (`session_fingerprint`; every part of a
    rotated session, `parts_fingerprint`)."""
    settings = plan.settings
    return {
        "files": files,
        "target": settings.target.url,
        "target_reset": settings.resets.get(settings.target),
        "baselines": [{"url": b.url, "reset": settings.resets.get(b)} for b in settings.baselines],
        "concurrency": settings.concurrency,
        "timeout": settings.timeout,
        "reset_timeout": settings.reset_timeout,
        "verify_tls": settings.verify_tls,
        "encrypt_bodies": plan.encrypt_bodies,
        "pace": {"factor": settings.pace.factor, "max_idle": settings.pace.max_idle},
        "rules": file_fingerprint(Path(plan.rules_path)) if plan.rules_path else None,
    }


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """An unfinished run and the options it was started with."""

    run_id: str
    status: str
    """`interrupted` or `unfinished` (killed, or still running)."""
    files: list[Path]
    target: str
    target_reset: str | None
    baselines: list[tuple[str, str | None]]
    concurrency: int
    timeout: float
    reset_timeout: float
    verify_tls: bool
    encrypt_bodies: bool
    pace: Pace
    """The run's pace: `runs.meta["replay"]["pace"]`, else `runs.meta["pace"]`, else asap."""
    label: str
    rules_path: Path | None
    sessions: int
    finished: int
    """Sessions whose results are all stored."""


def resume_point(db: Path, ref: str | None = None) -> ResumePoint:
    """The run `ref` (an id or unique prefix; the newest unfinished run when None) with
    its recorded options, its files checked; `ResumeError` or `TriageError` when it
    cannot be resumed."""
    from parity.triage.resume import run_status

    with ResultsDB(db, create=False) as results:
        row = results.resumable_run(ref)
        finished = len(finished_sessions(results, row["id"]))
    run_id = str(row["id"])
    options = row["meta"].get("replay")
    if not isinstance(options, dict) or not isinstance(options.get("files"), list):
        raise ResumeError(
            f"run {run_id} cannot be resumed: it was started by a parity without resumable runs",
            run=run_id,
        )
    files = [_unchanged(run_id, item, "session file", _session_now) for item in options["files"]]
    _no_new_parts(run_id, files)
    rules = options.get("rules")
    rules_path = (
        _unchanged(run_id, rules, "rules file", file_fingerprint)
        if isinstance(rules, dict)
        else None
    )
    try:
        baselines = [(str(b["url"]), b.get("reset")) for b in options.get("baselines") or []]
        return ResumePoint(
            run_id=run_id,
            status=run_status(row),
            files=files,
            target=str(options["target"]),
            target_reset=options.get("target_reset"),
            baselines=baselines,
            concurrency=int(options["concurrency"]),
            timeout=float(options["timeout"]),
            reset_timeout=float(options["reset_timeout"]),
            verify_tls=bool(options.get("verify_tls", True)),
            encrypt_bodies=bool(options.get("encrypt_bodies", False)),
            pace=_pace(options.get("pace") or row["meta"].get("pace")),
            label=str(row["label"] or ""),
            rules_path=rules_path,
            sessions=len(group_sessions(files)),
            finished=finished,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ResumeError(
            f"run {run_id} cannot be resumed: its recorded options are damaged ({exc!r})",
            run=run_id,
        ) from None


def _pace(recorded: Any) -> Pace:
    """The pace a run was started with (`{"factor", "max_idle"}`; None: asap)."""
    if recorded is None:
        return Pace()
    factor, idle = recorded["factor"], recorded.get("max_idle")
    if factor is not None and not float(factor) > 0:
        raise ValueError(f"pace factor {factor!r}")
    return Pace(None if factor is None else float(factor), None if idle is None else float(idle))


def _unchanged(
    run_id: str, recorded: Any, what: str, now_of: Callable[[Path], dict[str, Any]]
) -> Path:
    """The path of a file the run read, if it is still the same file."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("path"), str):
        raise ResumeError(f"run {run_id} cannot be resumed: its recorded options are damaged")
    path = Path(recorded["path"])
    try:
        now = now_of(path)
    except (OSError, SessionFileError):
        raise ResumeError(
            f"cannot resume run {run_id}: {what} {path} is gone", run=run_id
        ) from None
    changed = [key for key in ("size", "mtime_ns", "header") if now[key] != recorded.get(key)]
    if changed:
        raise ResumeError(
            f"cannot resume run {run_id}: {what} {path} changed since the run started "
            f"({', '.join(changed).replace('mtime_ns', 'mtime')})",
            run=run_id,
        )
    return path


def _no_new_parts(run_id: str, files: list[Path]) -> None:
    """Refuse a rotated session that has gained a part since the run read it (the
    recorder went on, or a missing part came back): its unit, the session, is no
    longer the one whose results are stored."""
    read = set(files)
    rotated = {(path.parent, name_part(path)[0]) for path in files if name_part(path)[1]}
    for folder, session_id in sorted(rotated):
        try:
            found = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX))
        except OSError:
            continue
        for path in found:
            named, part = name_part(path)
            if named == session_id and part is not None and path not in read:
                raise ResumeError(
                    f"cannot resume run {run_id}: session {session_id} has a new part "
                    f"{path} since the run started",
                    run=run_id,
                )


def resume_line(run_id: str, finished: int, sessions: int) -> str:
    """The one line an interrupted run ends with."""
    return (
        f"interrupted: run {run_id} stopped with {finished} of {sessions} sessions finished; "
        f"resume it with: parity replay --resume {run_id}"
    )
