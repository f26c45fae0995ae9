"""`parity replay`: send recorded sessions to a target, diff, store the verdicts.

Targets and baselines are URLs or names from parity.toml (`[targets.NAME]`); defaults
for the sessions, the database, the rules, the target, the baselines, concurrency and
timeouts come from parity.toml when the options are not given (see `parity.config`).
Reset hooks: `--reset CMD` for the target, `reset = ...` of each named target (a
baseline's own); with one in use, sessions replay one at a time.

`--resume [RUN]` takes up an interrupted run with the options it was started with
(`replayer.resume`); Ctrl-C stops a run cleanly, exit 130 (`EXIT_INTERRUPTED`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from parity.config import Config, TargetConfig, config_option, current_config
from parity.errors import EXIT_DIFFERENCES, UserError
from parity.import_cmd import imported_for_replay
from parity.keys import key_file_option
from parity.options import (
    db_option,
    load_rules_file,
    quiet_option,
    resolve_target,
    rules_option,
    timeout_option,
)
from parity.pace import PACES, parse_duration, parse_pace
from parity.progress import ProgressBar
from parity.replay_text import pace_warning_line, resuming_line, start_lines, summary_lines

if TYPE_CHECKING:
    from parity.replayer import Pace, ResumePoint, RunOutcome, RunPlan

STOPPING = (
    "parity replay: stopping: the requests in flight finish, the results are stored "
    "(Ctrl-C again to abort them)"
)
EXIT_INTERRUPTED = 130
"""A run stopped by Ctrl-C or SIGTERM (its results stored, the run marked interrupted)."""


@click.command()
@click.argument(
    "sessions",
    nargs=-1,
    type=click.Path(path_type=Path),
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
@db_option
@rules_option("[paths] rules in parity.toml, else parity-rules.toml if present")
@click.option("--label", default="", help="A name for this run, e.g. the fix it tests.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Sessions replayed at once (default: [replay] concurrency, else 8).",
)
@timeout_option
@click.option(
    "--pace",
    metavar="asap|recorded|xN",
    help="asap: as fast as possible (default: [replay] pace, else asap); recorded: the "
    "recorded gaps between a session's requests, idle periods included, and between "
    "the sessions' starts; xN: those gaps divided by N (x10 faster, x0.5 slower).",
)
@click.option(
    "--max-idle",
    metavar="DURATION",
    help="With --pace: cap any one gap (after xN) at this, e.g. 5s, 500ms, 2m "
    "(default: [replay] max_idle, else no cap).",
)
@quiet_option
@click.option(
    "--insecure", is_flag=True, help="Accept any TLS certificate from the targets (staging)."
)
@click.option(
    "--resume",
    "resume",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[RUN]",
    help="Take up an interrupted run (default: the newest unfinished one) with the options "
    "it was started with: its finished sessions are kept, the others replayed again "
    "from their start.",
)
@config_option
@key_file_option
def replay(
    sessions: tuple[Path, ...],
    target: str | None,
    baselines: tuple[str, ...],
    no_baseline: bool,
    reset_cmd: str | None,
    db_path: Path,
    rules: Path | None,
    label: str,
    concurrency: int | None,
    timeout: float | None,
    pace: str | None,
    max_idle: str | None,
    quiet: bool,
    insecure: bool,
    resume: str | None,
) -> None:
    """Replay recorded sessions against a target and store what differs.

    Requests of one session go strictly in recorded order, with the tokens and ids the
    target mints carried through; sessions run concurrently (one at a time while a reset
    hook is in use: it restores the whole backend). A failed reset skips its session:
    each exchange is an error saying why. Exit 0 when everything matched, 1 when
    anything mismatched or errored.

    SESSION_FILE_OR_DIR: session files, directories of them, session ids or unique
    prefixes of one (in the sessions directory), HAR and mitmproxy flow files
    (imported first). Targets are URLs or names from parity.toml; without
    SESSION_FILE_OR_DIR, the sessions directory of parity.toml.

    Ctrl-C stops a run cleanly (a second one faster): what was replayed is stored, the
    run is marked interrupted, exit 130. `--resume` finishes it later.

    Example:

    \b
        parity replay .parity/sessions/ --target http://127.0.0.1:5001 --baseline http://127.0.0.1:5000
        parity replay --target csharp --baseline python --reset "curl -fsS -X POST {target}/_admin/reset"
        parity replay soak/ --target csharp --pace x10 --max-idle 5s
        parity replay --resume
    """
    from parity.replayer import ReplaySecrets, RunPlan, replay_settings

    config = current_config()
    if resume is not None:
        given = {
            "SESSION_FILE_OR_DIR": bool(sessions),
            "--target": target is not None,
            "--baseline": bool(baselines),
            "--no-baseline": no_baseline,
            "--reset": reset_cmd is not None,
            "--rules": rules is not None,
            "--label": bool(label),
            "--concurrency": concurrency is not None,
            "--timeout": timeout is not None,
            "--pace": pace is not None,
            "--max-idle": max_idle is not None,
            "--insecure": insecure,
        }
        extra = [name for name, used in given.items() if used]
        if extra:
            raise UserError(f"--resume replays with the run's own options: drop {', '.join(extra)}")
        _render(_resume(resume, db_path, config, quiet=quiet))
        return
    sessions = sessions or (_default_sessions(config),)
    chosen = resolve_target(config, _target_name(target, config), "--target")
    baselines = () if no_baseline else baselines or config.baseline
    references = [resolve_target(config, b, "--baseline") for b in baselines]
    differ_rules, rules_path = load_rules_file(rules if rules is not None else config.rules)
    sessions = _by_id(sessions, _import_dir(config))
    files = _session_files(imported_for_replay(sessions, _import_dir(config)))
    settings = replay_settings(
        chosen.url,
        [(ref.url, ref.reset) for ref in references],
        target_reset=reset_cmd if reset_cmd is not None else chosen.reset,
        concurrency=concurrency or config.concurrency,
        timeout=timeout or config.timeout,
        reset_timeout=config.reset_timeout,
        verify_tls=not insecure,
        secrets=ReplaySecrets.load(config.state, config.redact, config.secrets),
        pace=_pace(pace, max_idle, config),
    )
    plan = RunPlan(
        files,
        settings,
        differ_rules,
        db_path,
        rules_path,
        label,
        encrypt_bodies=current_config().record.encrypt,
    )
    _render(_run(plan, references, quiet=quiet))


def _run(
    plan: RunPlan,
    references: list[TargetConfig],
    *,
    quiet: bool,
    resume: ResumePoint | None = None,
) -> RunOutcome:
    """The run, with its start lines and a progress bar unless `quiet`."""
    from parity.replayer import ReplayRun
    from parity.sessions import SessionFileError
    from parity.triage import TriageError

    try:
        run = ReplayRun.start(plan, resume=resume.run_id if resume else None)
        if not quiet:
            if resume is not None:
                click.echo(resuming_line(resume, run.exchanges), err=True)
            for line in start_lines(
                run.run_id, len(run.to_replay), run.exchanges, plan.settings, references
            ):
                click.echo(line, err=True)
        if run.pace_warning is not None:
            click.echo(pace_warning_line(plan.settings.pace, run.pace_warning), err=True)
        fields = {"mismatched": "{} mismatched", "errors": "{} errors"}
        bar = ProgressBar(run.exchanges, "replaying", quiet=quiet, fields=fields)
        with bar as update:
            return run.replay(
                lambda n: update(n.done, mismatched=n.mismatched, errors=n.errors),
                handle_signals=True,
                on_stop=lambda: bar.note(STOPPING),
            )
    except (SessionFileError, TriageError) as exc:
        raise UserError(str(exc)) from None


def _pace(pace: str | None, max_idle: str | None, config: Config) -> Pace:
    """The pace from the options, else parity.toml; a bad value is one line, exit 2."""
    from parity.replayer import Pace

    try:
        factor = parse_pace(pace) if pace is not None else config.pace
    except ValueError as exc:
        raise UserError(f"--pace {exc}") from None
    try:
        idle = parse_duration(max_idle) if max_idle is not None else config.max_idle
    except ValueError as exc:
        raise UserError(f"--max-idle {exc}") from None
    if max_idle is not None and factor is None:
        raise UserError(f"--max-idle needs --pace recorded or xN (the pace is asap; {PACES})")
    return Pace(factor, idle)


def _resume(ref: str, db_path: Path, config: Config, *, quiet: bool) -> RunOutcome:
    """`--resume [RUN]`: the run's recorded options, its files checked, replayed."""
    from parity.replayer import ReplaySecrets, ResumeError, RunPlan, replay_settings, resume_point
    from parity.triage import TriageError

    try:
        point = resume_point(db_path, ref or None)
    except (ResumeError, TriageError) as exc:
        raise UserError(str(exc)) from None
    if point.rules_path is None:  # the run had none: not the default file that may exist now
        from parity.differ import load_rules

        differ_rules, rules_path = load_rules({}), None
    else:
        differ_rules, rules_path = load_rules_file(point.rules_path)
    settings = replay_settings(
        point.target,
        point.baselines,
        target_reset=point.target_reset,
        concurrency=point.concurrency,
        timeout=point.timeout,
        reset_timeout=point.reset_timeout,
        verify_tls=point.verify_tls,
        secrets=ReplaySecrets.load(config.state, config.redact, config.secrets),
        pace=point.pace,
    )
    plan = RunPlan(
        point.files,
        settings,
        differ_rules,
        db_path,
        rules_path,
        point.label,
        encrypt_bodies=point.encrypt_bodies,
    )
    return _run(plan, [], quiet=quiet, resume=point)


def _session_files(sessions: tuple[Path, ...]) -> list[Path]:
    from parity.replayer import session_files

    files = session_files(sessions)
    if not files:
        raise UserError("no session files (*.parity) in " + ", ".join(map(str, sessions)))
    return files


def _by_id(refs: tuple[Path, ...], sessions_dir: Path) -> tuple[Path, ...]:
    """Paths as given; a name that is no path, a session id or a unique prefix of one
    in the sessions directory (`SessionStore.find`, as `sessions show` and `export`
    resolve them): all its parts."""
    from parity.sessions import SessionFileError, SessionStore

    out: list[Path] = []
    for ref in refs:
        if ref.exists():
            out.append(ref)
            continue
        try:
            out += SessionStore(sessions_dir).find(str(ref)).paths
        except SessionFileError as exc:
            raise UserError(f"{ref}: no such file or directory, and {exc}") from None
    return tuple(out)


def _import_dir(config: Config) -> Path:
    """Where a HAR or flow file given to replay is imported: the sessions directory."""
    env = os.environ.get("PARITY_SESSIONS")
    return Path(env) if env else config.sessions


def _render(outcome: RunOutcome) -> None:
    """The summary on stderr, the run id on stdout; exit 1 on any mismatch or error,
    130 (one line saying how to resume) when a signal stopped the run."""
    if outcome.interrupted is not None:
        from parity.replayer import resume_line

        click.echo(
            resume_line(outcome.run_id, outcome.finished_sessions, outcome.sessions), err=True
        )
        click.echo(outcome.run_id)
        sys.exit(EXIT_INTERRUPTED)
    for line in summary_lines(outcome):
        click.echo(line, err=True)
    click.echo(outcome.run_id)
    totals = outcome.totals
    if totals.mismatched or totals.errors or totals.failed_sessions:
        sys.exit(EXIT_DIFFERENCES)


def _default_sessions(config: Config) -> Path:
    """The sessions directory when no SESSION_FILE_OR_DIR is given."""
    if config.path is None:
        raise click.UsageError("Missing argument 'SESSION_FILE_OR_DIR...'.")
    env = os.environ.get("PARITY_SESSIONS")
    default = Path(env) if env else config.sessions
    if not default.exists():
        where = "$PARITY_SESSIONS" if env else config.origin_of("sessions")
        raise UserError(f"no sessions directory {default} ({where})")
    return default


def _target_name(target: str | None, config: Config) -> str:
    if target is not None:
        return target
    if config.target is None:
        raise click.UsageError("Missing option '--target' (or [replay] target in parity.toml).")
    return config.target
