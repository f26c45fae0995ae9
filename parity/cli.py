"""The `parity` command line. Commands are thin: parse, call a room, render.

Heavy libraries (mitmproxy, deepdiff) are imported inside the commands that need them,
so `parity --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from parity import __version__
from parity.config import config_option, current_config
from parity.errors import EXIT_USAGE, ParityError, UserError
from parity.export_cmd import export
from parity.gate_cmd import gate
from parity.import_cmd import import_
from parity.init_cmd import init
from parity.keys import key_file_option, keys_for_recording
from parity.noise_cmd import noise
from parity.options import sessions_option
from parity.output import exit_on_broken_pipe
from parity.purge_cmd import purge
from parity.replay_cmd import replay
from parity.report_cmd import report, runs, show
from parity.repro_cmd import repro
from parity.secrets_cmd import secrets
from parity.serve_cmd import serve
from parity.sessions_cmd import sessions
from parity.shrink_cmd import shrink
from parity.soak_cmd import soak
from parity.triage_cmd import compare, mark, triage


class _Parity(click.Group):
    """The group that turns a room's error a command let through into one line, exit 2
    (`UserError`, shown by `parity.errors.exit_line`), and a reader of stdout that went
    away into a quiet exit 0 (click's own handling exits 1)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            exit_on_broken_pipe()
        except ParityError as exc:
            if isinstance(exc, click.ClickException):
                raise
            raise UserError(str(exc)) from exc


@click.group(cls=_Parity, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="parity")
@config_option
def cli() -> None:
    """Record real traffic against one backend, replay it against its port, see what differs.

    Example:

    \b
        parity record --upstream http://127.0.0.1:5000 --listen 127.0.0.1:8080 --label pilot-ana
    """


def _parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", value
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HOST:PORT") from None
    if not 0 <= number <= 65535:
        raise click.BadParameter(f"port {number} is out of range")
    return host, number


@cli.command()
@click.option(
    "--upstream", metavar="URL", help="The backend to record, e.g. http://127.0.0.1:5000."
)
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the app connects instead of the backend (port 0: any free port).",
)
@click.option("--label", default="", help="A name for the session, e.g. pilot-ana.")
@sessions_option
@click.option(
    "--mode",
    type=click.Choice(["reverse", "regular"]),
    default="reverse",
    show_default=True,
    help="reverse: the app talks to parity as if it were the backend; "
    "regular: the app uses parity as its HTTP(S)_PROXY.",
)
@click.option("--insecure", is_flag=True, help="Do not verify the upstream's TLS certificate.")
@click.option(
    "--no-redact",
    is_flag=True,
    help="Record secrets as they are (default: replaced by tokens; see [redact]).",
)
@click.option(
    "--encrypt/--no-encrypt",
    default=None,
    help="Encrypt the session file (AES-GCM; default: [record] encrypt in parity.toml). "
    "The key: --key-file, else a passphrase.",
)
@click.option(
    "--rotate",
    metavar="AGE|SIZE",
    default=None,
    help="Start a new part of the session file at this age or size: 30m, 90s, 2h, 500MB "
    "(default: [record] rotate in parity.toml; none: one file). The parts are one session.",
)
@config_option
@key_file_option
def record(
    upstream: str | None,
    listen: str,
    label: str,
    sessions_dir: Path,
    mode: str,
    insecure: bool,
    no_redact: bool,
    encrypt: bool | None,
    rotate: str | None,
) -> None:
    """Record every exchange between an app and its backend into a session file.

    Runs until Ctrl-C (or SIGTERM), then closes the session file cleanly. With
    --rotate, a long soak is written in parts (ID.part0001.parity, ...) that every
    command reads as one session.

    Example:

    \b
        parity record --upstream http://127.0.0.1:5000 --listen 127.0.0.1:8080 --label pilot-ana
    """
    if mode == "reverse" and not upstream:
        raise click.UsageError("--upstream URL is required (or use --mode regular)")
    if upstream and not upstream.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--upstream")
    host, port = _parse_listen(listen)
    config = current_config()
    if rotate is not None:
        from parity.sessions import parse_rotation

        try:
            parse_rotation(rotate)
        except ValueError as exc:
            raise UserError(f"--rotate: {exc}") from None
    else:
        rotate = config.record.rotate
    if encrypt is None:
        encrypt = config.record.encrypt
    keys = keys_for_recording(sessions_dir) if encrypt else None

    from parity.recorder import RecorderStartError, RecordSettings
    from parity.recorder import record as run_recorder
    from parity.sessions.redact import RedactionPolicy

    settings = RecordSettings(
        upstream=upstream.rstrip("/") if upstream else None,
        listen_host=host,
        listen_port=port,
        label=label,
        sessions=sessions_dir,
        mode=mode,
        ssl_insecure=insecure,
        redaction=RedactionPolicy(enabled=False) if no_redact else config.redact,
        state=config.state,
        encrypt=keys,
        rotate=rotate,
    )
    try:
        run_recorder(settings, out=lambda line: click.echo(line))
    except RecorderStartError as exc:
        raise UserError(f"cannot record: {exc}") from None


for command in (
    replay,
    report,
    show,
    runs,
    noise,
    mark,
    compare,
    triage,
    gate,
    repro,
    shrink,
    init,
    sessions,
    purge,
    secrets,
    soak,
    import_,
    export,
    serve,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point: any unexpected failure is one line, not a traceback.
    Text the terminal cannot encode (a lone surrogate from a hostile answer) is printed
    as its escape, `\\ud800`, the way the results database stores it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        cli.main(prog_name="parity")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence; PARITY_DEBUG=1 shows the traceback
        if os.environ.get("PARITY_DEBUG"):
            raise
        click.secho(
            f"parity: internal error: {type(exc).__name__}: {exc} (PARITY_DEBUG=1 shows where)",
            fg="red",
            err=True,
        )
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
