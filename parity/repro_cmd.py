"""`parity repro` and `parity shrink`: one mismatch, on its own.

Both start from a mismatch in the results database (an id or a signature id, or a unique
prefix, as `parity report` prints them; a signature stands for its first mismatch in the
latest run that has it) and read its exchange back from the session file, in the
sessions directory (`--sessions`, `$PARITY_SESSIONS`, `[paths] sessions`): the results
database keeps requests masked, the session file has them whole.

A request recorded mid-session carries values minted in that session (a login token, a
vault session, a new entry's id). So `repro --send` and every `shrink` attempt replay
the session's earlier requests first, on a target freshly reset when a reset hook is
known (`--reset CMD`, or `reset` of the target in parity.toml), carrying what the target
mints as `parity replay` does; then the mismatching request, judged by the differ with
the run's rules and the learned noise of the database. "Earlier" means before it in the
session file, the order in which `parity replay` sent them; they are held in memory.

`repro` prints the request as a curl command per target: headers in order, Host from the
URL. Unless `--show-secrets`: Authorization, Cookie and other secret-named headers, and
secret-named query values and JSON/form fields, are `***`, and a binary body is left out
(with `--show-secrets` it is piped in as base64: `printf %s B64 | base64 -d | curl
--data-binary @-`, no file written). A text body is given inline with `--data-binary`,
shell-quoted.

`shrink` runs delta debugging (`replayer.shrink.ddmin`) over the earlier requests: an
attempt resets the target, replays a subset in order and then the mismatching request,
and passes when that request shows the same signature again with the same status from
the target (a signature of two errors, `error_changed`, does not say which error: 404 ->
400 and 404 -> 401 "log in first" would otherwise pass alike). Differences at learned
noise count as they did in the run. Bounded by `--max-attempts` (200, the first attempt
with the whole session included) and `--max-time`. It prints each attempt on
stderr and the requests that matter on stdout, and `--save PATH` writes them (with the
mismatching one last) as a new session file, seq numbers kept, the header's meta saying
`{"shrunk_from": SESSION, "mismatch": ID, "signature": SIG}`.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from parity.config import Config, TargetConfig, config_option, current_config
from parity.errors import EXIT_DIFFERENCES, EXIT_OK, UserError
from parity.options import json_option, load_rules_file, resolve_target
from parity.output import print_json

if TYPE_CHECKING:
    from differ import Differ, Verdict
    from sessions import Exchange, SessionHeader
    from triage import ExchangeResult, ResultsDB

# Route keys come from headers and top-level JSON fields; a huge upload tells nothing more.
_ROUTE_SCAN_BODY = 1 << 20
_MASK = "***"


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
    shapes: frozenset[tuple[str, str, str]]
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


# -- finding the mismatch -------------------------------------------------------------------


def _db_path(db: Path | None, config: Config) -> Path:
    return db if db is not None else config.db


def _sessions_dir(sessions_dir: Path | None, config: Config) -> Path:
    return sessions_dir if sessions_dir is not None else config.sessions


def _find_mismatch(rdb: ResultsDB, ref: str) -> str:
    from triage import queries

    kind, ident = queries.find(rdb, ref)
    if kind == "mismatch":
        return ident
    if kind == "finding":
        found = rdb.query(
            "SELECT l.mismatch_id AS id FROM finding_links l JOIN runs r ON r.id = l.run_id "
            "WHERE l.finding = ? ORDER BY r.started_at DESC, r.rowid DESC, l.session, l.seq "
            "LIMIT 1",
            [ident],
        )
        if not found:
            raise UserError(f"finding {ident} has no exchange in {rdb.path}")
        return str(found[0]["id"])
    rows = rdb.query(
        "SELECT m.id AS id FROM mismatches m JOIN runs r ON r.id = m.run_id "
        "WHERE m.signature = ? ORDER BY r.started_at DESC, r.rowid DESC, m.session, m.seq "
        "LIMIT 1",
        [ident],
    )
    if not rows:
        raise UserError(f"signature {ident} has no mismatch in {rdb.path}")
    return str(rows[0]["id"])


def load_case(ref: str, db: Path, sessions_dir: Path, *, earlier: bool = True) -> Case:
    """The mismatch `ref` from the database at `db`, its exchange (and, with `earlier`,
    the ones before it) from its session file under `sessions_dir`."""
    from parity.options import results_at
    from sessions import SessionFileError, SessionReader, SessionStore

    with results_at(db) as rdb:
        mismatch_id = _find_mismatch(rdb, ref)
        row = rdb.query(
            "SELECT id, run_id, session, seq, route, outcome, signature, actual_status, "
            "differences FROM mismatches "
            "WHERE id = ?",
            [mismatch_id],
        )[0]
        run = rdb.query(
            "SELECT target, baseline, rules_path, sessions FROM runs WHERE id = ?",
            [row["run_id"]],
        )[0]
    session_id = str(row["session"])
    try:
        path = SessionStore(sessions_dir).resolve(session_id)
    except SessionFileError:
        raise UserError(
            f"session {session_id} of mismatch {mismatch_id} is not in {sessions_dir} "
            "(--sessions DIR says where it is)"
        ) from None
    before: list[Exchange] = []
    earlier_count = 0
    found: Exchange | None = None
    try:
        with SessionReader(path) as reader:
            header = reader.header
            for exchange in reader:
                if exchange.seq == row["seq"]:
                    found = exchange
                    break
                earlier_count += 1
                if earlier:
                    before.append(exchange)
    except SessionFileError as exc:
        raise UserError(str(exc)) from None
    if found is None:
        raise UserError(f"session file {path} has no exchange {row['seq']} (mismatch {ref})")
    try:
        sessions = [str(s) for s in json.loads(run["sessions"] or "[]")]
    except ValueError:
        sessions = []
    return Case(
        mismatch_id=mismatch_id,
        run_id=str(row["run_id"]),
        session=session_id,
        seq=int(row["seq"]),
        route=str(row["route"]),
        outcome=str(row["outcome"]),
        signature=row["signature"],
        actual_status=row["actual_status"],
        shapes=_shapes(row["differences"]),
        run_target=str(run["target"]),
        run_baselines=[b.strip() for b in (run["baseline"] or "").split(",") if b.strip()],
        run_rules=run["rules_path"],
        run_sessions=sessions,
        session_path=path,
        header=header,
        before=before,
        earlier=earlier_count,
        exchange=found,
    )


def _shapes(stored: str | None) -> frozenset[tuple[str, str, str]]:
    from replayer.shrink import shape

    try:
        found = json.loads(stored or "[]")
    except ValueError:
        return frozenset()
    return frozenset(
        shape(str(d.get("kind")), str(d.get("where")), str(d.get("path")))
        for d in found
        if isinstance(d, dict)
    )


# -- curl ------------------------------------------------------------------------------------

_TEXT_CONTROL = frozenset(range(32)) - {9, 10, 13}


def _body_text(body: bytes) -> str | None:
    """The body as text when it is UTF-8 without control characters (tab, newlines
    allowed); None for anything binary."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) in _TEXT_CONTROL or c == "\x7f" for c in text):
        return None
    return text


def curl_command(
    exchange: Exchange, target_url: str, origin: str, *, show_secrets: bool = False
) -> tuple[str, list[str]]:
    """The exchange's request as a curl command aimed at `target_url`, and notes (shell
    comments) about what it leaves out or masks."""
    from replayer import Target, ValueMap, build
    from sessions.secrets import is_secret_header, mask_path
    from triage.masking import mask_text

    request = exchange.request
    outgoing = build(request, Target(target_url), ValueMap(), origin)
    target = Target(target_url)
    path = request.path if show_secrets else mask_path(request.path)
    url = target.origin + target.prefix + path
    notes: list[str] = []
    masked = path != request.path
    parts = ["curl -sS -i"]
    body = outgoing.body
    if exchange.websocket_close is not None or exchange.messages:
        frames = sum(1 for m in exchange.messages if m.from_client)
        notes.append(
            f"a WebSocket/streaming exchange ({frames} client frames): curl sends only "
            "the opening request; `--send` replays the conversation"
        )
    if request.method == "HEAD":
        parts.append("-I")
    elif request.method != "GET" or body:
        parts.append(f"-X {shlex.quote(request.method)}")
    if any(c in url for c in "[]{}"):
        parts.append("--globoff")
    parts.append(shlex.quote(url))
    for name, value in outgoing.headers:
        if name.lower() == "host":
            continue
        if not show_secrets and is_secret_header(name.encode("latin-1")):
            value, masked = _MASK, True
        parts.append("-H " + shlex.quote(f"{name}: {value}" if value else f"{name};"))
    pipe = ""
    if body:
        text = _body_text(body)
        if text is not None:
            shown = text if show_secrets else mask_text(text)
            masked = masked or shown != text
            if shown.startswith("@"):  # curl would read a file of that name
                pipe = f"printf %s {shlex.quote(shown)} | "
                parts.append("--data-binary @-")
            else:
                parts.append("--data-binary " + shlex.quote(shown))
        elif show_secrets:
            encoded = base64.b64encode(body).decode("ascii")
            pipe = f"printf %s {shlex.quote(encoded)} | base64 -d | "
            parts.append("--data-binary @-")
        else:
            notes.append(
                f"the {len(body)}-byte binary body is left out (it may hold secrets): "
                "--show-secrets pipes it in as base64"
            )
    if masked:
        notes.append("secrets are masked as ***: --show-secrets prints them")
    return pipe + " \\\n  ".join(parts), notes


# -- building the differ and the targets ------------------------------------------------------


def _run_session_files(case: Case, sessions_dir: Path) -> list[Path]:
    from sessions import SessionFileError, SessionStore

    store = SessionStore(sessions_dir)
    found: list[Path] = []
    for session_id in case.run_sessions:
        try:
            found.append(store.resolve(session_id))
        except SessionFileError:
            continue
    return found or [case.session_path]


def _recorded_requests(paths: Sequence[Path]) -> Iterator[Any]:
    from differ import HttpRequest
    from sessions import SessionFileError, SessionReader

    for path in paths:
        try:
            with SessionReader(path) as reader:
                for exchange in reader:
                    r = exchange.request
                    body = r.body if len(r.body) <= _ROUTE_SCAN_BODY else b""
                    yield HttpRequest(r.method, r.path, r.headers, body)
        except SessionFileError:
            continue


def build_differ(
    case: Case, config: Config, rules: Path | None, db: Path, sessions_dir: Path
) -> Differ:
    """A differ like the run's: its rules file (`--rules` wins; then the run's own when it
    is still there; then parity.toml's), the database's learned noise, route keys
    detected over the run's session files."""
    from differ import Differ, detect_route_keys
    from parity.options import results_at

    if rules is None and case.run_rules and Path(case.run_rules).is_file():
        rules = Path(case.run_rules)
    differ_rules, _ = load_rules_file(rules if rules is not None else config.rules)
    with results_at(db) as rdb:
        learned = rdb.learned_noise()
    route_keys = detect_route_keys(_recorded_requests(_run_session_files(case, sessions_dir)))
    return Differ(differ_rules, learned=learned, route_keys=route_keys)


def _target_of(case: Case, config: Config, target: str | None, reset: str | None) -> TargetConfig:
    chosen = (
        resolve_target(config, target, "--target") if target else config.resolve(case.run_target)
    )
    if reset is not None:
        return TargetConfig(chosen.name, chosen.url, reset or None)
    return chosen


def _settings(chosen: TargetConfig, config: Config, timeout: float | None) -> Any:
    from replayer import ReplaySettings, Target

    side = Target(chosen.url, chosen.name if chosen.name != chosen.url else "target")
    return ReplaySettings(
        target=side,
        concurrency=1,
        timeout=timeout if timeout is not None else config.timeout,
        resets={side: chosen.reset} if chosen.reset else {},
        reset_timeout=config.reset_timeout,
    )


def _last_result(
    case: Case, exchanges: Sequence[Exchange], settings: Any, differ: Differ
) -> tuple[ExchangeResult | None, int]:
    """Replay `exchanges` (ending with the case's) as one session: the result of the
    case's exchange (suspects undecided), and how many others got no answer."""
    import asyncio

    from replayer import replay_sequence

    results = asyncio.run(
        replay_sequence(
            exchanges,
            session=case.session,
            upstream=case.header.upstream,
            settings=settings,
            differ=differ,
            settle=False,
        )
    )
    last = next((r for r in results if r.seq == case.seq), None)
    unanswered = sum(1 for r in results if r.seq != case.seq and r.verdict.error)
    return last, unanswered


def _same(case: Case, result: ExchangeResult) -> bool:
    """The mismatch again: the same signature and the same status from the target (an
    `error_changed` signature does not say which error: 404 -> 400 and 404 -> 401 are
    one signature, and only the second means "log in first")."""
    from replayer import shows_signature

    status = result.actual.status if result.actual is not None else None
    if case.actual_status is not None and status != case.actual_status:
        return False
    return case.signature is not None and shows_signature(
        result.verdict, case.signature, case.shapes
    )


def _differences(verdict: Verdict) -> list[str]:
    from triage.masking import mask_difference
    from triage.text import describe_difference

    return [
        describe_difference(mask_difference(d)) for d in [*verdict.differences, *verdict.suspects]
    ]


# -- shared options -------------------------------------------------------------------------

_db_option = click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PARITY_DB",
    help="Results database (default: [paths] db in parity.toml, else .parity/parity.db).",
)
_sessions_option = click.option(
    "--sessions",
    "sessions_dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="PARITY_SESSIONS",
    help="Where the session files are (default: [paths] sessions, else .parity/sessions).",
)
_rules_option = click.option(
    "--rules",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rules file (default: the run's, else [paths] rules, else parity-rules.toml).",
)
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    help="Seconds to wait for one answer (default: [replay] timeout, else 30).",
)


F = TypeVar("F", bound=Callable[..., Any])


def _target_option(help_text: str) -> Callable[[F], F]:
    return click.option("--target", metavar="NAME|URL", help=help_text)


def _reset_option(help_text: str) -> Callable[[F], F]:
    return click.option("--reset", "reset_cmd", metavar="CMD", help=help_text)


def _note(text: str) -> None:
    click.echo(text, err=True)


# -- parity repro ------------------------------------------------------------------------


@click.command()
@click.argument("ref", metavar="ID")
@click.option(
    "--show-secrets", is_flag=True, help="Print credentials and binary bodies as recorded."
)
@click.option(
    "--send",
    is_flag=True,
    help="Replay the session's earlier requests and then this one against the target, "
    "and say whether it still differs (exit 1) or now matches (exit 0).",
)
@_target_option(
    "Print (and with --send, send) for this target only (default: the run's "
    "target and baselines; --send: the run's target)."
)
@_reset_option(
    "With --send: shell command restoring the target's fixture state first "
    "({target} becomes its URL; default: its reset in parity.toml)."
)
@_db_option
@_sessions_option
@_rules_option
@_timeout_option
@config_option
def repro(
    ref: str,
    show_secrets: bool,
    send: bool,
    target: str | None,
    reset_cmd: str | None,
    db: Path | None,
    sessions_dir: Path | None,
    rules: Path | None,
    timeout: float | None,
) -> None:
    """Print one mismatch's request as curl commands; with --send, try it again.

    ID is a mismatch id or a signature id (or a unique prefix), as `parity report`
    prints them. One curl command per target (the run's target and baselines), secrets
    masked unless --show-secrets. With --send, the session's earlier requests are
    replayed first (after the target's reset hook, when there is one), so the request
    carries the tokens and ids this target minted; then it is compared with the
    recording: "still differs" (exit 1) or "now matches" (exit 0).

    Example:

        parity repro 3f2a --send --target csharp
    """
    from replayer.outgoing import recorded_origin

    config = current_config()
    db_path = _db_path(db, config)
    where = _sessions_dir(sessions_dir, config)
    case = load_case(ref, db_path, where, earlier=send)
    request = case.exchange.request
    origin = recorded_origin(request, case.header.upstream)
    if target:
        aimed = [("target", resolve_target(config, target, "--target").url)]
    else:
        aimed = [("target", case.run_target)]
        aimed += [(f"baseline {n}", url) for n, url in enumerate(case.run_baselines, 1)]
    click.echo(
        f"# mismatch {case.mismatch_id}: {case.route} (session {case.session}, seq {case.seq}, "
        f"run {case.run_id})"
    )
    notes: list[str] = []
    for role, url in aimed:
        command, notes = curl_command(case.exchange, url, origin, show_secrets=show_secrets)
        click.echo(f"# {role}: {url}")
        click.echo(command)
    for note in notes:
        click.echo(f"# {note}")
    if not send:
        if case.earlier:
            click.echo(
                f"# it may carry values minted by the {case.earlier} earlier requests of its "
                "session (tokens, ids): --send replays them first"
            )
        return
    chosen = _target_of(case, config, target, reset_cmd)
    settings = _settings(chosen, config, timeout)
    if not chosen.reset:
        _note(
            f"parity repro: no reset hook for {chosen.url} (--reset CMD, or reset in "
            "parity.toml): replaying against its current state"
        )
    differ = build_differ(case, config, rules, db_path, where)
    _note(
        f"parity repro: sending {len(case.before)} earlier requests of session "
        f"{case.session}, then seq {case.seq}, to {chosen.url}"
    )
    from replayer import ResetError

    try:
        result, unanswered = _last_result(case, [*case.before, case.exchange], settings, differ)
    except ResetError as exc:
        raise UserError(str(exc)) from None
    if unanswered:
        _note(f"parity repro: {unanswered} of the earlier requests got no answer")
    if result is None:
        raise UserError("the request was not sent (recorded without a response)")
    verdict = result.verdict
    if verdict.error is not None:
        click.echo(f"still differs: error: {verdict.error}")
        sys.exit(EXIT_DIFFERENCES)
    lines = _differences(verdict)
    if not lines:
        click.echo("now matches")
        sys.exit(EXIT_OK)
    if _same(case, result):
        click.echo(f"still differs (signature {case.signature}):")
    else:
        click.echo(f"still differs, but otherwise (was signature {case.signature}):")
    for line in lines:
        click.echo(f"  {line}")
    sys.exit(EXIT_DIFFERENCES)


# -- parity shrink -----------------------------------------------------------------------


def _line(exchange: Exchange) -> str:
    from sessions.secrets import mask_path

    return f"{exchange.seq:>6}  {exchange.request.method} {mask_path(exchange.request.path)}"


def _save(where: str, case: Case, kept: Sequence[Exchange]) -> Path:
    """Write `kept` and the case's exchange as a new session file (owner-only) at `path`:
    a new file (never an existing one), or in a directory (an existing one, or a path
    ending with a separator) under a new id. Returns the file."""
    from sessions import SessionFileError, SessionHeader, SessionStore, SessionWriter
    from sessions.store import new_session_id

    meta = {"shrunk_from": case.session, "mismatch": case.mismatch_id, "signature": case.signature}
    label = f"shrunk {case.header.label or case.session} for mismatch {case.mismatch_id}"
    path = Path(where)
    try:
        if path.is_dir() or where.endswith(("/", os.sep)):
            writer = SessionStore(path).create(
                label=label,
                upstream=case.header.upstream,
                recorder=dict(case.header.recorder),
                meta=meta,
            )
        else:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            now = time.time()
            header = SessionHeader(
                id=new_session_id(now),
                label=label,
                started_at=now,
                upstream=case.header.upstream,
                recorder=dict(case.header.recorder),
                meta=meta,
            )
            writer = SessionWriter(path, header)
        with writer:
            for exchange in [*kept, case.exchange]:
                writer.append(exchange)
    except (SessionFileError, OSError) as exc:
        raise UserError(f"cannot save the shrunk session: {exc}") from None
    return writer.path


@click.command()
@click.argument("ref", metavar="ID")
@_reset_option(
    "Shell command restoring the target's fixture state, run before every "
    "attempt; {target} becomes its URL (default: its reset in parity.toml)."
)
@_target_option("Where to try (default: the run's target).")
@click.option(
    "--save",
    type=click.Path(dir_okay=True),
    metavar="PATH",
    help="Write the shrunk sequence as a new session file: PATH.parity, or a directory "
    "to create it in.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Stop after this many attempts (the smallest sequence so far is kept).",
)
@click.option(
    "--max-time",
    type=click.FloatRange(1, 86_400),
    default=600.0,
    show_default=True,
    help="Stop after this many seconds (the smallest sequence so far is kept).",
)
@_db_option
@_sessions_option
@_rules_option
@_timeout_option
@json_option
@config_option
def shrink(
    ref: str,
    reset_cmd: str | None,
    target: str | None,
    save: str | None,
    max_attempts: int,
    max_time: float,
    db: Path | None,
    sessions_dir: Path | None,
    rules: Path | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Find the few earlier requests of its session that one mismatch needs.

    Delta debugging (ddmin) over the requests before it in its session: each attempt
    runs the reset command, replays a subset in recorded order, then the mismatching
    request, and passes when that shows the same signature (and status) again. The
    target is the run's unless --target; other sessions are not replayed. Attempts are
    printed on stderr; the requests that matter on stdout. Exit 1 when the mismatch
    does not reproduce with the whole session.

    Example:

        parity shrink 3f2a --reset "curl -fsS -X POST {target}/_admin/reset" --save shrunk.parity
    """
    from replayer import ResetError, ddmin

    config = current_config()
    db_path = _db_path(db, config)
    where = _sessions_dir(sessions_dir, config)
    case = load_case(ref, db_path, where)
    if case.outcome != "mismatched" or not case.signature:
        raise UserError(
            f"mismatch {case.mismatch_id} is an error (the target did not answer), "
            "not a difference: nothing to shrink"
        )
    chosen = _target_of(case, config, target, reset_cmd)
    if not chosen.reset:
        raise UserError(
            f'shrink needs a reset hook for {chosen.url}: --reset CMD, or reset = "..." '
            "under its [targets.NAME] in parity.toml"
        )
    settings = _settings(chosen, config, timeout)
    differ = build_differ(case, config, rules, db_path, where)
    signature = case.signature
    earlier = [e for e in case.before if e.response is not None]

    def reproduces(subset: Sequence[Exchange]) -> bool:
        result, _ = _last_result(case, [*subset, case.exchange], settings, differ)
        return result is not None and _same(case, result)

    started = time.monotonic()
    _note(
        f"parity shrink: mismatch {case.mismatch_id} ({case.route}, signature {signature}): "
        f"{len(earlier)} earlier requests in session {case.session}; target {chosen.url}"
    )
    try:
        if not reproduces(earlier):
            click.echo(
                f"parity shrink: mismatch {case.mismatch_id} does not reproduce on "
                f"{chosen.url} after its session's {len(earlier)} earlier requests: "
                "fixed, flaky, or it depends on another session",
                err=True,
            )
            sys.exit(EXIT_DIFFERENCES)
        _note(f"parity shrink: attempt 0: {len(earlier)} requests: reproduces")

        def report(attempt: int, size: int, passed: bool) -> None:
            outcome = "reproduces" if passed else "does not reproduce"
            _note(f"parity shrink: attempt {attempt}: {size} requests: {outcome}")

        result = ddmin(
            earlier,
            reproduces,
            max_attempts=max_attempts - 1,  # attempt 0 was the whole session
            max_seconds=max(0.0, max_time - (time.monotonic() - started)),
            report=report,
        )
    except ResetError as exc:
        raise UserError(f"shrink stopped: {exc}") from None
    elapsed = time.monotonic() - started
    saved = _save(save, case, result.items) if save is not None else None
    summary = (
        f"{len(earlier)} -> {len(result.items)} requests in {result.attempts + 1} attempts, "
        f"{elapsed:.1f} s"
    )
    stopped = None
    if result.stopped:
        bound = "attempts" in result.stopped
        stopped = f"--max-attempts {max_attempts}" if bound else f"--max-time {max_time:g}"
        summary += f" (stopped by {stopped}: maybe not minimal)"
    if as_json:
        from sessions.secrets import mask_path

        def row(exchange: Exchange) -> dict[str, Any]:
            r = exchange.request
            return {"seq": exchange.seq, "method": r.method, "path": mask_path(r.path)}

        print_json(
            {
                "mismatch": case.mismatch_id,
                "signature": signature,
                "session": case.session,
                "target": chosen.url,
                "earlier": len(earlier),
                "kept": [row(e) for e in result.items],
                "request": row(case.exchange),
                "attempts": result.attempts + 1,
                "seconds": round(elapsed, 3),
                "stopped": stopped,
                "minimal": result.stopped is None,
                "saved": str(saved) if saved else None,
            }
        )
    else:
        click.echo(
            f"mismatch {case.mismatch_id} ({case.route}) needs {len(result.items)} of the "
            f"{len(earlier)} earlier requests of session {case.session}:"
        )
        for exchange in result.items:
            click.echo(_line(exchange))
        click.echo(f"{_line(case.exchange)}   <- the mismatch")
    _note(f"parity shrink: {summary}")
    if saved is not None:
        _note(f"parity shrink: saved to {saved}")
