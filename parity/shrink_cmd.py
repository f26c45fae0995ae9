"""`parity shrink`: the few earlier requests of its session that one mismatch needs
(`replayer.shrink_mismatch`: delta debugging over them, each attempt on a freshly reset
target). Attempts go to stderr, the requests that matter to stdout; `--save PATH` writes
them, the mismatching one last, as a new session file (seq numbers kept, the header's
meta `{"shrunk_from": SESSION, "mismatch": ID, "signature": SIG}`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from parity import mismatch
from parity.config import config_option, current_config
from parity.errors import EXIT_DIFFERENCES, UserError
from parity.keys import key_file_option
from parity.options import json_option, quiet_option, reset_option, target_option
from parity.output import print_json
from parity.progress import ProgressBar, Update

if TYPE_CHECKING:
    from parity.replayer import Case, Shrunk
    from parity.sessions import Exchange


@click.command()
@click.argument("ref", metavar="ID")
@reset_option(
    "Shell command restoring the target's fixture state, run before every "
    "attempt; {target} becomes its URL (default: its reset in parity.toml)."
)
@target_option("Where to try (default: the run's target).")
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
@mismatch.case_options
@json_option
@quiet_option
@config_option
@key_file_option
def shrink(
    ref: str,
    reset_cmd: str | None,
    target: str | None,
    save: str | None,
    max_attempts: int,
    max_time: float,
    db_path: Path,
    sessions_dir: Path,
    rules: Path | None,
    timeout: float | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Find the few earlier requests of its session that one mismatch needs.

    Delta debugging (ddmin) over the requests before it in its session: each attempt
    runs the reset command, replays a subset in recorded order, then the mismatching
    request, and passes when that shows the same signature (and status) again. The
    target is the run's unless --target; other sessions are not replayed. Attempts are
    printed on stderr (above a progress bar on a terminal; neither with --quiet); the
    requests that matter on stdout. Exit 1 when the mismatch
    does not reproduce with the whole session.

    Example:

    \b
        parity shrink 3f2a --reset "curl -fsS -X POST {target}/_admin/reset" --save shrunk.parity
    """
    from parity.replayer import ResetError, shrink_mismatch

    config = current_config()
    case = mismatch.load_mismatch(ref, db_path, sessions_dir)
    if case.outcome != "mismatched" or not case.signature:
        raise UserError(
            f"mismatch {case.mismatch_id} is an error (the target did not answer), "
            "not a difference: nothing to shrink"
        )
    chosen = mismatch.chosen_target(case, config, target, reset_cmd)
    if not chosen.reset:
        raise UserError(
            f'shrink needs a reset hook for {chosen.url}: --reset CMD, or reset = "..." '
            "under its [targets.NAME] in parity.toml"
        )
    settings = mismatch.replay_settings(chosen, config, timeout)
    differ = mismatch.differ_like_run(case, rules, config, db_path, sessions_dir)
    earlier = sum(1 for e in case.before if e.response is not None)
    if not quiet:
        _note(
            f"parity shrink: mismatch {case.mismatch_id} ({case.route}, signature "
            f"{case.signature}): {earlier} earlier requests in session {case.session}; "
            f"target {chosen.url}"
        )
    fields = {"smallest": "smallest so far: {} requests", "reproduced": "{} reproduced"}
    bar = ProgressBar(max_attempts, "shrinking", quiet=quiet, fields=fields, unit="attempts")
    try:
        with bar as update:
            shrunk = shrink_mismatch(
                case,
                settings,
                differ,
                max_attempts=max_attempts,
                max_seconds=max_time,
                report=_Attempts(bar, update, earlier, quiet),
            )
    except ResetError as exc:
        raise UserError(f"shrink stopped: {exc}") from None
    if shrunk.result is None:
        _not_reproduced(case, chosen.url, earlier)
    saved = _save(save, case, shrunk.result.items) if save is not None else None
    _print_shrunk(case, shrunk, chosen.url, saved, as_json, max_attempts, max_time)


def _not_reproduced(case: Case, target_url: str, earlier: int) -> NoReturn:
    click.echo(
        f"parity shrink: mismatch {case.mismatch_id} does not reproduce on "
        f"{target_url} after its session's {earlier} earlier requests: "
        "fixed, flaky, or it depends on another session",
        err=True,
    )
    sys.exit(EXIT_DIFFERENCES)


def _save(where: str, case: Case, kept: list[Exchange]) -> Path:
    from parity.replayer import save_shrunk
    from parity.sessions import SessionFileError

    try:
        return save_shrunk(where, case, kept)
    except SessionFileError as exc:
        raise UserError(f"cannot save the shrunk session: {exc}") from None


class _Attempts:
    """Each attempt: its line (above the bar on a terminal), and the bar's counts."""

    def __init__(self, bar: ProgressBar, update: Update, earlier: int, quiet: bool) -> None:
        self.bar, self.update, self.quiet = bar, update, quiet
        self.smallest = earlier
        self.reproduced = 0

    def __call__(self, attempt: int, size: int, passed: bool) -> None:
        if passed:
            self.reproduced += 1
            self.smallest = min(self.smallest, size)
        if not self.quiet:
            outcome = "reproduces" if passed else "does not reproduce"
            self.bar.note(f"parity shrink: attempt {attempt}: {size} requests: {outcome}")
        self.update(attempt + 1, smallest=self.smallest, reproduced=self.reproduced)


def _print_shrunk(
    case: Case,
    shrunk: Shrunk,
    target_url: str,
    saved: Path | None,
    as_json: bool,
    max_attempts: int,
    max_time: float,
) -> None:
    from parity.replayer import request_row, shrunk_json

    assert shrunk.result is not None
    result, earlier = shrunk.result, len(shrunk.earlier)
    summary = (
        f"{earlier} -> {len(result.items)} requests in {result.attempts + 1} attempts, "
        f"{shrunk.seconds:.1f} s"
    )
    stopped = None
    if result.stopped:
        bound = "attempts" in result.stopped
        stopped = f"--max-attempts {max_attempts}" if bound else f"--max-time {max_time:g}"
        summary += f" (stopped by {stopped}: maybe not minimal)"
    if as_json:
        print_json(shrunk_json(case, shrunk, target=target_url, stopped=stopped, saved=saved))
    else:
        click.echo(
            f"mismatch {case.mismatch_id} ({case.route}) needs {len(result.items)} of the "
            f"{earlier} earlier requests of session {case.session}:"
        )
        for row in map(request_row, result.items):
            click.echo(f"{row['seq']:>6}  {row['method']} {row['path']}")
        row = request_row(case.exchange)
        click.echo(f"{row['seq']:>6}  {row['method']} {row['path']}   <- the mismatch")
    _note(f"parity shrink: {summary}")
    if saved is not None:
        _note(f"parity shrink: saved to {saved}")


def _note(text: str) -> None:
    click.echo(text, err=True)
