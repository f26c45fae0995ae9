"""`parity replay`: send recorded sessions to a target, diff, store the verdicts.

Targets and baselines are URLs or names from parity.toml (`[targets.NAME]`); defaults
for the sessions, the database, the rules, the target, the baselines, concurrency and
timeouts come from parity.toml when the options are not given (see `parity.config`).
Reset hooks: `--reset CMD` for the target, `reset = ...` of each named target (a
baseline's own); with one in use, sessions replay one at a time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from parity.config import DEFAULT_DB as DEFAULT_DB
from parity.config import TargetConfig, config_option, current_config
from parity.errors import EXIT_DIFFERENCES, UserError
from parity.options import load_rules_file, resolve_target

# Route keys come from headers and top-level JSON fields; a huge upload tells nothing more.
_ROUTE_SCAN_BODY = 1 << 20


@click.command()
@click.argument(
    "sessions",
    nargs=-1,
    type=click.Path(path_type=Path, exists=True),
    metavar="SESSION_FILE_OR_DIR...",
)
@click.option(
    "--target",
    metavar="NAME|URL",
    help="The backend under test (the port): a URL or a name from parity.toml "
    "(default: [replay] target).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="NAME|URL",
    help="A live reference backend: what differs between it and the recording is noise "
    "(learned for later runs). Give two instances to sharpen the estimate. "
    "Default: [replay] baseline in parity.toml.",
)
@click.option("--no-baseline", is_flag=True, help="Ignore the baselines of parity.toml.")
@click.option(
    "--reset",
    "reset_cmd",
    metavar="CMD",
    help="Shell command run before each session to restore the target's fixture state; "
    "{target} becomes its URL (default: the target's reset in parity.toml). "
    "Sessions then replay one at a time.",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PARITY_DB",
    help="Results database (default: [paths] db in parity.toml, else .parity/parity.db).",
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rules file (default: [paths] rules in parity.toml, else parity-rules.toml if present).",
)
@click.option("--label", default="", help="A name for this run, e.g. the fix it tests.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Sessions replayed at once (default: [replay] concurrency, else 8).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    help="Seconds to wait for one answer (default: [replay] timeout, else 30).",
)
@click.option(
    "--insecure", is_flag=True, help="Accept any TLS certificate from the targets (staging)."
)
@config_option
def replay(
    sessions: tuple[Path, ...],
    target: str | None,
    baselines: tuple[str, ...],
    no_baseline: bool,
    reset_cmd: str | None,
    db: Path | None,
    rules: Path | None,
    label: str,
    concurrency: int | None,
    timeout: float | None,
    insecure: bool,
) -> None:
    """Replay recorded sessions against a target and store what differs.

    Requests of one session go strictly in recorded order, with the tokens and ids the
    target mints carried through; sessions run concurrently (one at a time while a reset
    hook is in use: it restores the whole backend). A failed reset skips its session:
    each exchange is an error saying why. Exit 0 when everything matched, 1 when
    anything mismatched or errored.

    Targets are URLs or names from parity.toml; without SESSION_FILE_OR_DIR, the
    sessions directory of parity.toml.

    Example:

    \b
        parity replay .parity/sessions/ --target http://127.0.0.1:5001 --baseline http://127.0.0.1:5000
        parity replay --target csharp --baseline python --reset "curl -fsS -X POST {target}/_admin/reset"
    """
    from differ import Differ, HttpRequest, detect_route_keys
    from replayer import Replayer, ReplaySettings, Target, record_request, session_files
    from sessions import SessionFileError, SessionReader
    from triage import ResultsDB, RunInfo, TriageError

    config = current_config()
    if not sessions:
        if config.path is None:
            raise click.UsageError("Missing argument 'SESSION_FILE_OR_DIR...'.")
        env = os.environ.get("PARITY_SESSIONS")
        default = Path(env) if env else config.sessions
        if not default.exists():
            where = "$PARITY_SESSIONS" if env else f"[paths] sessions in {config.where}"
            raise UserError(f"no sessions directory {default} ({where})")
        sessions = (default,)
    if target is None:
        if config.target is None:
            raise click.UsageError("Missing option '--target' (or [replay] target in parity.toml).")
        target = config.target
    chosen = resolve_target(config, target, "--target")
    if no_baseline:
        baselines = ()
    elif not baselines:
        baselines = config.baseline
    references = [resolve_target(config, b, "--baseline") for b in baselines]
    target = chosen.url
    baseline_urls = [b.url for b in references]
    db = db if db is not None else config.db
    rules = rules if rules is not None else config.rules
    concurrency = concurrency if concurrency is not None else config.concurrency
    timeout = timeout if timeout is not None else config.timeout
    target_reset = reset_cmd if reset_cmd is not None else chosen.reset
    differ_rules, rules_path = load_rules_file(rules)
    files = session_files(sessions)
    if not files:
        raise UserError("no session files (*.parity) in " + ", ".join(map(str, sessions)))
    ids: list[str] = []
    total = 0

    def recorded_requests() -> Iterator[HttpRequest]:
        # One pass over every file before anything is sent: a foreign or unreadable file
        # fails here, and the route keys and the count come out of the same read.
        nonlocal total
        for path in files:
            with SessionReader(path) as reader:
                ids.append(reader.header.id)
                for record in reader.records():
                    request = record_request(record)
                    if request is not None:
                        total += 1
                        yield request

    try:
        # One URL carrying many operations (a JSON-RPC method, an X-Amz-Target header)
        # gets one route per operation; explicit [[route]] rules win.
        route_keys = detect_route_keys(recorded_requests())
    except SessionFileError as exc:
        raise UserError(str(exc)) from None

    try:
        results = ResultsDB(db)
        learned = results.learned_noise()
        run_id = results.start_run(
            RunInfo(
                target=target,
                baseline=", ".join(baseline_urls) or None,
                sessions=ids,
                label=label,
                rules_path=rules_path,
                started_at=time.time(),
            )
        )
    except TriageError as exc:
        raise UserError(str(exc)) from None
    differ = Differ(differ_rules, learned=learned, route_keys=route_keys)
    target_side = Target(target, "target")
    baseline_sides = tuple(Target(url, f"baseline {i + 1}") for i, url in enumerate(baseline_urls))
    resets: dict[Target, str] = {target_side: target_reset} if target_reset else {}
    for side, ref in zip(baseline_sides, references, strict=True):
        if ref.reset:
            resets[side] = ref.reset
    settings = ReplaySettings(
        target=target_side,
        baselines=baseline_sides,
        concurrency=concurrency,
        timeout=timeout,
        resets=resets,
        reset_timeout=config.reset_timeout,
        verify_tls=not insecure,
    )
    click.echo(
        f"parity replay: run {run_id}: {len(files)} sessions, {total} exchanges -> {target}",
        err=True,
    )
    if resets:
        click.echo(
            f"parity replay: reset hooks for {', '.join(t.name for t in resets)}: "
            "sessions replay one at a time",
            err=True,
        )
    unreset = [ref for ref in references if not ref.reset]
    if unreset:
        click.echo(unreset_baselines_line(unreset), err=True)
    with results.writer(run_id) as writer, _progress(total) as advance:
        replayer = Replayer(settings, differ, writer, progress=advance)
        try:
            import asyncio

            totals = asyncio.run(replayer.run(files))
        except ExceptionGroup as group:  # from the TaskGroup of sessions
            known = group.subgroup((SessionFileError, TriageError))
            if known is None:
                raise
            raise UserError(str(known.exceptions[0])) from None
    excluded: list[dict[str, object]] = []
    try:
        if replayer.observations:
            observed = replayer.observations
            # State drift (a baseline not in the recorded state) is never learned.
            excluded = observed.exclude_state_drift()
            if excluded:
                results.update_run_meta(run_id, {"noise_excluded": excluded})
            results.add_noise(
                run_id,
                observed.route_observations,
                observed.disagreements,
                observed.kinds,
                observed.examples,
            )
        if learned.stats:
            results.note_learned_noise(run_id, learned.policy, replayer.settled_as_noise)
        results.finish_run(run_id, finished_at=time.time())
    except TriageError as exc:
        raise UserError(str(exc)) from None

    summary = (
        f"{totals.exchanges} exchanges: {totals.matched} matched, {totals.mismatched} mismatched, "
        f"{totals.errors} errors, {totals.noise_suppressed} noise suppressed"
    )
    if totals.skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in totals.skipped_reasons.items())
        summary += f"; skipped {reasons}"
    failed = totals.reset_failures
    if failed:
        summary += f"; {len(failed)} sessions not replayed (reset failed)"
        for session_id, why in list(failed.items())[:5]:
            click.echo(f"parity replay: session {session_id}: {why}", err=True)
        if len(failed) > 5:
            click.echo(f"parity replay: … and {len(failed) - 5} more sessions", err=True)
    click.echo(f"parity replay: run {run_id}: {summary}", err=True)
    if excluded:
        click.echo(state_drift_line(excluded), err=True)
    click.echo(run_id)
    if totals.mismatched or totals.errors:
        sys.exit(EXIT_DIFFERENCES)


def unreset_baselines_line(baselines: list[TargetConfig]) -> str:
    """The one-line warning for baselines without a reset hook: what they learn is only
    noise if they start in the recorded state."""
    names = ", ".join(b.name if b.name == b.url else f"{b.name} ({b.url})" for b in baselines)
    named = next((b.name for b in baselines if b.name != b.url), None)
    where = f"[targets.{named}]" if named else '[targets.NAME] (with url = "...")'
    return (
        f"parity replay: baseline {names} has no reset hook: it must start in the recorded "
        f'state (restart it fresh, or add reset = "CMD" under {where} in parity.toml), '
        "else state it changed since the recording is learned as noise"
    )


def state_drift_line(excluded: list[dict[str, object]]) -> str:
    """One line for the replay summary: spots not learned as noise, as state drift."""
    shown = ", ".join(f"{e['route']} {e['where']} {e['path']}".rstrip() for e in excluded[:3])
    more = f" and {len(excluded) - 3} more" if len(excluded) > 3 else ""
    spots = "spot" if len(excluded) == 1 else "spots"
    return (
        f"parity replay: not learned as noise, state drift of the baseline: "
        f"{len(excluded)} {spots} ({shown}{more}); `parity noise` says why"
    )


class _progress:
    """A rich progress bar on a terminal; nothing otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return lambda n: None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(transient=True, console=Console(stderr=True))
        self.bar.start()
        task = self.bar.add_task("replaying", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
