"""`parity replay`: send recorded sessions to a target, diff, store the verdicts."""

from __future__ import annotations

import asyncio
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from parity.errors import EXIT_DIFFERENCES, UserError

DEFAULT_DB = Path(".parity") / "parity.db"
DEFAULT_RULES = Path("parity-rules.toml")
# Route keys come from headers and top-level JSON fields; a huge upload tells nothing more.
_ROUTE_SCAN_BODY = 1 << 20


def load_rules_file(path: Path | None) -> tuple[Any, str | None]:
    """The differ's rules from a TOML file (default `parity-rules.toml` when present)."""
    from differ import RulesError, load_rules

    if path is None:
        if not DEFAULT_RULES.is_file():
            return load_rules({}), None
        path = DEFAULT_RULES
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read rules file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"rules file {path} is not valid TOML: {exc}") from None
    try:
        return load_rules(data), str(path)
    except RulesError as exc:
        raise UserError(f"{path}: {exc}") from None


def _check_url(value: str, option: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint=option)
    return value.rstrip("/")


@click.command()
@click.argument(
    "sessions",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, exists=True),
    metavar="SESSION_FILE_OR_DIR...",
)
@click.option("--target", required=True, metavar="URL", help="The backend under test (the port).")
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="URL",
    help="A live reference backend: what differs between it and the recording is noise "
    "(learned for later runs). Give two instances to sharpen the estimate.",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_DB,
    show_default=True,
    help="Results database.",
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rules file (default: parity-rules.toml if present).",
)
@click.option("--label", default="", help="A name for this run, e.g. the fix it tests.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Sessions replayed at once.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for one answer.",
)
def replay(
    sessions: tuple[Path, ...],
    target: str,
    baselines: tuple[str, ...],
    db: Path,
    rules: Path | None,
    label: str,
    concurrency: int,
    timeout: float,
) -> None:
    """Replay recorded sessions against a target and store what differs.

    Requests of one session go strictly in recorded order, with the tokens and ids the
    target mints carried through; sessions run concurrently. Exit 0 when everything
    matched, 1 when anything mismatched or errored.

    Example:

        parity replay .parity/sessions/ --target http://127.0.0.1:5001 --baseline http://127.0.0.1:5000
    """
    from differ import Differ, HttpRequest, detect_route_keys
    from replayer import Replayer, ReplaySettings, Target, session_files
    from sessions import SessionFileError, SessionReader
    from triage import ResultsDB, RunInfo, TriageError

    target = _check_url(target, "--target")
    baseline_urls = [_check_url(b, "--baseline") for b in baselines]
    differ_rules, rules_path = load_rules_file(rules)
    files = session_files(sessions)
    if not files:
        raise UserError("no session files (*.parity) in " + ", ".join(map(str, sessions)))
    ids: list[str] = []
    total = 0
    for path in files:  # fail on a foreign or unreadable file before anything is sent
        try:
            with SessionReader(path) as reader:
                ids.append(reader.header.id)
                total += sum(1 for _ in reader)
        except SessionFileError as exc:
            raise UserError(str(exc)) from None

    def recorded_requests() -> Iterator[HttpRequest]:
        for path in files:
            with SessionReader(path) as reader:
                for exchange in reader:
                    r = exchange.request
                    body = r.body if len(r.body) <= _ROUTE_SCAN_BODY else b""
                    yield HttpRequest(r.method, r.path, r.headers, body)

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
    # One URL carrying many operations (a JSON-RPC method, an X-Amz-Target header) gets
    # one route per operation; explicit [[route]] rules win.
    differ = Differ(
        differ_rules, learned=learned, route_keys=detect_route_keys(recorded_requests())
    )
    settings = ReplaySettings(
        target=Target(target, "target"),
        baselines=tuple(Target(url, f"baseline {i + 1}") for i, url in enumerate(baseline_urls)),
        concurrency=concurrency,
        timeout=timeout,
    )
    click.echo(
        f"parity replay: run {run_id}: {len(files)} sessions, {total} exchanges -> {target}",
        err=True,
    )
    with results.writer(run_id) as writer, _progress(total) as advance:
        replayer = Replayer(settings, differ, writer, progress=advance)
        try:
            totals = asyncio.run(replayer.run(files))
        except ExceptionGroup as group:  # from the TaskGroup of sessions
            known = group.subgroup((SessionFileError, TriageError))
            if known is None:
                raise
            raise UserError(str(known.exceptions[0])) from None
    try:
        if replayer.observations:
            observed = replayer.observations
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
    click.echo(f"parity replay: run {run_id}: {summary}", err=True)
    click.echo(run_id)
    if totals.mismatched or totals.errors:
        sys.exit(EXIT_DIFFERENCES)


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
