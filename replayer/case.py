"""One mismatch with everything needed to send it again (`parity repro`, `parity shrink`).

A mismatch is found in the results database (an id, or a finding's or a signature's
first mismatch in the latest run that has it) and its exchange read back from the
session file: the database keeps requests masked, the session file has them whole. A
request recorded mid-session carries values minted in that session, so the exchanges
before it in the file (the order `parity replay` sent them) come along when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from parity.differ import Differ, LearnedNoise, Rules
from parity.replayer.run import scan_sessions
from parity.replayer.shrink import Shape, shape
from parity.sessions import (
    Exchange,
    SessionFileError,
    SessionHeader,
    SessionParts,
    SessionStore,
    open_session,
)
from parity.triage import ResultsDB, queries


@dataclass(slots=True)
class Case:
    """One mismatch with everything needed to send it again."""

    mismatch_id: str
    run_id: str
    session: str
    seq: int
    route: str
    outcome: str
    signature: str | None
    actual_status: int | None
    """What the target answered in the run."""
    shapes: frozenset[Shape]
    """(kind, where, templated path) of its differences, as stored."""
    run_target: str
    run_baselines: list[str]
    run_rules: str | None
    run_sessions: list[str]
    session_path: Path
    header: SessionHeader
    before: list[Exchange]
    """The exchanges before it in the session file, in file order (when asked for)."""
    earlier: int
    """How many exchanges come before it in the session file."""
    exchange: Exchange

    def rules_file(self) -> Path | None:
        """The run's rules file, when it is still there."""
        if self.run_rules and Path(self.run_rules).is_file():
            return Path(self.run_rules)
        return None


def load_case(rdb: ResultsDB, ref: str, sessions_dir: Path, *, earlier: bool = True) -> Case:
    """The mismatch `ref` from `rdb`, its exchange (and, with `earlier`, the ones before
    it) from its session file under `sessions_dir`. A session or an exchange that is not
    there is a `SessionFileError`; a `ref` that names nothing, a `TriageError`."""
    mismatch_id = queries.mismatch_named(rdb, ref)
    row = queries.stored_mismatch(rdb, mismatch_id)
    run = queries.run_setup(rdb, str(row["run_id"]))
    session_id = str(row["session"])
    try:
        parts = SessionStore(sessions_dir).find(session_id)
    except SessionFileError:
        raise SessionFileError(
            f"session {session_id} of mismatch {mismatch_id} is not in {sessions_dir} "
            "(--sessions DIR says where it is)"
        ) from None
    path = parts.path
    header, before, count, found = _read_up_to(parts, int(row["seq"]), keep=earlier)
    if found is None:
        raise SessionFileError(
            f"session {parts.name} ({path}) has no exchange {row['seq']} (mismatch {ref})"
        )
    return Case(
        mismatch_id=mismatch_id,
        run_id=str(row["run_id"]),
        session=session_id,
        seq=int(row["seq"]),
        route=str(row["route"]),
        outcome=str(row["outcome"]),
        signature=row["signature"],
        actual_status=row["actual_status"],
        shapes=frozenset(shape(*d) for d in row["differences"]),
        run_target=run["target"],
        run_baselines=run["baselines"],
        run_rules=run["rules"],
        run_sessions=run["sessions"],
        session_path=path,
        header=header,
        before=before,
        earlier=count,
        exchange=found,
    )


def _read_up_to(
    session: SessionParts, seq: int, *, keep: bool
) -> tuple[SessionHeader, list[Exchange], int, Exchange | None]:
    """The session's header, the exchanges before `seq` (kept when `keep`; across its
    parts), how many there are, and the exchange `seq` (None when it has none)."""
    before: list[Exchange] = []
    count = 0
    with open_session(session) as reader:
        header = reader.header
        for exchange in reader:
            if exchange.seq == seq:
                return header, before, count, exchange
            count += 1
            if keep:
                before.append(exchange)
    return header, before, count, None


def build_differ(
    case: Case, rules: Rules, learned: LearnedNoise | None, sessions_dir: Path
) -> Differ:
    """A differ like the run's: `rules`, the database's `learned` noise, route keys
    detected over the run's session files."""
    paths = _run_session_files(case, sessions_dir)
    return Differ(
        rules, learned=learned, route_keys=scan_sessions(paths, skip_unreadable=True).route_keys
    )


def _run_session_files(case: Case, sessions_dir: Path) -> list[Path | SessionParts]:
    store = SessionStore(sessions_dir)
    found: list[Path | SessionParts] = []
    for session_id in case.run_sessions:
        try:
            found.append(store.find(session_id))
        except SessionFileError:
            continue
    return found or [case.session_path]
