"""`parity repro`: one mismatch's request as curl commands, and with `--send`, sent again.

The mismatch comes from the results database (an id, a finding id or a signature id, or
a unique prefix, as `parity report` prints them; a finding or a signature stands for its
first mismatch in the latest run that has it), its exchange from the session file in the
sessions directory (`--sessions`, `$PARITY_SESSIONS`, `[paths] sessions`): the results
database keeps requests masked, the session file has them whole (`replayer.case`).

`repro` prints the request as a curl command per target (`replayer.curl`), secrets
masked unless `--show-secrets`, which also puts the secret store's originals of redacted
values back (`parity.originals`, as `parity export --show-secrets` does). A request recorded mid-session carries values minted in
that session (a login token, a new entry's id), so `--send` replays the session's
earlier requests first, on a target freshly reset when a reset hook is known (`--reset
CMD`, or `reset` of the target in parity.toml), then the mismatching request, judged by
a differ like the run's (`replayer.repro`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from parity import mismatch
from parity.config import config_option, current_config
from parity.errors import EXIT_DIFFERENCES, EXIT_OK, UserError
from parity.keys import key_file_option
from parity.options import reset_option, resolve_target, target_option
from parity.originals import SHOW_SECRETS_HELP, Originals

if TYPE_CHECKING:
    from parity.differ import Difference
    from parity.replayer import Case, Retry


@click.command()
@click.argument("ref", metavar="ID")
@click.option("--show-secrets", is_flag=True, help=SHOW_SECRETS_HELP)
@click.option(
    "--send",
    is_flag=True,
    help="Replay the session's earlier requests and then this one against the target, "
    "and say whether it still differs (exit 1) or now matches (exit 0).",
)
@target_option(
    "Print (and with --send, send) for this target only (default: the run's "
    "target and baselines; --send: the run's target)."
)
@reset_option(
    "With --send: shell command restoring the target's fixture state first "
    "({target} becomes its URL; default: its reset in parity.toml)."
)
@click.option(
    "--shell",
    type=click.Choice(["posix", "powershell"]),
    default=lambda: "powershell" if sys.platform == "win32" else "posix",
    show_default="powershell on Windows, else posix",
    help="Print commands for this shell: posix (sh, bash, zsh: curl) or powershell "
    "(curl.exe, backtick continuations).",
)
@mismatch.case_options
@config_option
@key_file_option
def repro(
    ref: str,
    show_secrets: bool,
    shell: str,
    send: bool,
    target: str | None,
    reset_cmd: str | None,
    db_path: Path,
    sessions_dir: Path,
    rules: Path | None,
    timeout: float | None,
) -> None:
    """Print one mismatch's request as curl commands; with --send, try it again.

    ID is a mismatch id or a signature id (or a unique prefix), as `parity report`
    prints them. One curl command per target (the run's target and baselines), secrets
    masked unless --show-secrets; for PowerShell with --shell powershell (the default
    on Windows). With --send, the session's earlier requests are
    replayed first (after the target's reset hook, when there is one), so the request
    carries the tokens and ids this target minted; then it is compared with the
    recording: "still differs" (exit 1) or "now matches" (exit 0).

    Example:

    \b
        parity repro 3f2a --send --target csharp
        parity repro 3f2a --shell powershell
    """
    from parity.replayer import ResetError, retry

    config = current_config()
    case = mismatch.load_mismatch(ref, db_path, sessions_dir, earlier=send)
    if target:
        aimed = [("target", resolve_target(config, target, "--target").url)]
    else:
        aimed = [("target", case.run_target)]
        aimed += [(f"baseline {n}", url) for n, url in enumerate(case.run_baselines, 1)]
    _print_curl(case, aimed, show_secrets, shell)
    if not send:
        if case.earlier:
            click.echo(
                f"# it may carry values minted by the {case.earlier} earlier requests of its "
                "session (tokens, ids): --send replays them first"
            )
        return
    chosen = mismatch.chosen_target(case, config, target, reset_cmd)
    settings = mismatch.replay_settings(chosen, config, timeout)
    if not chosen.reset:
        _note(
            f"parity repro: no reset hook for {chosen.url} (--reset CMD, or reset in "
            "parity.toml): replaying against its current state"
        )
    differ = mismatch.differ_like_run(case, rules, config, db_path, sessions_dir)
    _note(
        f"parity repro: sending {len(case.before)} earlier requests of session "
        f"{case.session}, then seq {case.seq}, to {chosen.url}"
    )
    try:
        outcome = retry(case, settings, differ)
    except ResetError as exc:
        raise UserError(str(exc)) from None
    sys.exit(_print_retry(case, outcome))


def _print_curl(case: Case, aimed: list[tuple[str, str]], show_secrets: bool, shell: str) -> None:
    from parity.replayer import curl_command
    from parity.replayer.outgoing import recorded_origin

    origin = recorded_origin(case.exchange.request, case.header.upstream)
    click.echo(
        f"# mismatch {case.mismatch_id}: {case.route} (session {case.session}, seq {case.seq}, "
        f"run {case.run_id})"
    )
    originals = Originals()
    exchange = originals.revealed(case.exchange) if show_secrets else case.exchange
    notes: list[str] = []
    for role, url in aimed:
        command, notes = curl_command(exchange, url, origin, show_secrets=show_secrets, shell=shell)
        click.echo(f"# {role}: {url}")
        click.echo(command)
    missing = originals.missing_note()
    for note in [*notes, *([missing] if missing else [])]:
        click.echo(f"# {note}")


def _print_retry(case: Case, outcome: Retry) -> int:
    """Say how the request fared; the exit code."""
    if outcome.unanswered:
        _note(f"parity repro: {outcome.unanswered} of the earlier requests got no answer")
    if outcome.result is None:
        raise UserError("the request was not sent (recorded without a response)")
    if outcome.result.verdict.error is not None:
        click.echo(f"still differs: error: {outcome.result.verdict.error}")
        return EXIT_DIFFERENCES
    if not outcome.differences:
        click.echo("now matches")
        return EXIT_OK
    if outcome.same:
        click.echo(f"still differs (signature {case.signature}):")
    else:
        click.echo(f"still differs, but otherwise (was signature {case.signature}):")
    for line in _described(outcome.differences):
        click.echo(f"  {line}")
    return EXIT_DIFFERENCES


def _described(differences: list[Difference]) -> list[str]:
    from parity.triage.masking import mask_difference
    from parity.triage.text import describe_difference

    return [describe_difference(mask_difference(d)) for d in differences]


def _note(text: str) -> None:
    click.echo(text, err=True)
