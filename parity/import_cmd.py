"""`parity import`: HAR files and mitmproxy flow files into the sessions directory
(`recorder.importer`), redacted and encrypted as `parity record` would; and the same for
files given to `parity replay` (imported once: a file whose digest an imported session
already names is not imported again)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from parity.config import config_option, current_config
from parity.errors import UserError
from parity.keys import key_file_option, keys_for_recording
from parity.options import quiet_option, sessions_option
from parity.output import plural
from parity.progress import ProgressBar

if TYPE_CHECKING:
    from parity.recorder.importer import ImportSettings, Source


@click.command("import")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    metavar="FILE...",
)
@click.option("--label", default="", help="A label for the sessions (default: the file's name).")
@sessions_option
@click.option(
    "--split",
    type=click.Choice(["page", "connection"]),
    default=None,
    help="A session per HAR page (page) or per client connection of a flow file "
    "(connection); default: one session per file. Each session is replayed after the "
    "reset hook: split only where sessions are independent (no login carried over).",
)
@click.option("--single", is_flag=True, hidden=True)  # the default now; kept for scripts
@click.option(
    "--no-redact",
    is_flag=True,
    help="Import secrets as they are (default: replaced by tokens, as parity record does).",
)
@click.option(
    "--encrypt/--no-encrypt",
    default=None,
    help="Encrypt the session files (default: [record] encrypt in parity.toml).",
)
@quiet_option
@config_option
@key_file_option
def import_(
    files: tuple[Path, ...],
    label: str,
    sessions_dir: Path,
    split: str | None,
    single: bool,
    no_redact: bool,
    encrypt: bool | None,
    quiet: bool,
) -> None:
    """Import HAR files and mitmproxy flow files as parity sessions.

    HAR 1.2 from a browser's devtools, Charles, Postman or mitmproxy; flow files from
    `mitmdump -w`. One session per file, its exchanges in the order of their start
    times, so a login on one connection or page still holds on the next, as it did
    when recorded; `--split page|connection` makes one session per HAR page or per
    client connection (each replayed after the reset hook: only for independent
    ones). Redacted as `parity record` redacts. The session files' paths are printed
    on stdout.

    Example:

    \b
        parity import devtools.har --label bug-1234
        parity import capture.mitm --sessions .parity/sessions
        parity import tabs.har --split page
    """
    if single and split is not None:
        raise click.UsageError("--single is the default; drop it or --split")
    written = import_files(
        files,
        sessions_dir,
        label=label,
        split=split,
        redact=not no_redact,
        encrypt=encrypt,
        quiet=quiet,
    )
    for path in written:
        click.echo(str(path))


def import_files(
    files: tuple[Path, ...] | list[Path],
    sessions_dir: Path,
    *,
    label: str = "",
    split: str | None = None,
    redact: bool = True,
    encrypt: bool | None = None,
    quiet: bool = False,
) -> list[Path]:
    """Read every file first (a bad one stops everything before anything is written),
    then write their sessions; a line per file on stderr unless `quiet`."""
    from parity.recorder.importer import ImportFileError, read_source

    try:
        sources = [read_source(path, split=split) for path in files]
    except ImportFileError as exc:
        raise UserError(str(exc)) from None
    settings = _settings(sessions_dir, label, redact, encrypt)
    return _write(sources, settings, quiet)


def _settings(sessions_dir: Path, label: str, redact: bool, encrypt: bool | None) -> ImportSettings:
    from parity.recorder.importer import ImportSettings
    from parity.recorder.redaction import Redaction

    config = current_config()
    if encrypt is None:
        encrypt = config.record.encrypt
    redaction = None
    if redact and config.redact.enabled:
        redaction = Redaction(config.redact, config.state)
    keys = keys_for_recording(sessions_dir) if encrypt else None
    return ImportSettings(sessions_dir, label, redaction, keys)


def _write(sources: list[Source], settings: ImportSettings, quiet: bool) -> list[Path]:
    from parity.recorder.importer import write_sessions

    total = sum(source.exchanges for source in sources)
    written: list[Path] = []
    with ProgressBar(total, "importing", quiet=quiet) as update:
        done = 0
        for source in sources:
            paths = write_sessions(source, settings, update, done)
            done += source.exchanges
            written += paths
            if not quiet:
                skipped = sum(source.skipped.values())
                more = f" ({plural(skipped, 'non-HTTP flow')} skipped)" if skipped else ""
                click.echo(
                    f"parity import: {source.path}: {plural(source.exchanges, 'exchange')} in "
                    f"{plural(len(paths), 'session')}{more}",
                    err=True,
                )
    return written


def imported_for_replay(paths: tuple[Path, ...], sessions_dir: Path) -> tuple[Path, ...]:
    """`parity replay`'s arguments with each HAR or flow file replaced by its sessions
    in `sessions_dir`: those an earlier import made of the same bytes, else imported now
    (one line on stderr saying so)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir() or not _foreign(path):
            out.append(path)
            continue
        # Imported here, not above: replaying session files needs none of the recorder.
        from parity.recorder.importer import file_digest

        found = _imported_before(file_digest(path), sessions_dir)
        if found:
            click.echo(
                f"parity replay: {path}: replaying its {plural(len(found), 'session')} "
                "imported before",
                err=True,
            )
        else:
            found = import_files([path], sessions_dir, quiet=True)
            click.echo(
                f"parity replay: imported {path} into {sessions_dir} "
                f"({plural(len(found), 'session')}; parity import does this alone)",
                err=True,
            )
        out += found
    return tuple(out)


def _foreign(path: Path) -> bool:
    """Not a parity session file (plain or encrypted): a file to import. A `.parity`
    file is always read as a session (a foreign one is the reader's one-line error)."""
    from parity.sessions.file import FORMAT_NAME, SUFFIX

    if path.suffix == SUFFIX:
        return False

    try:
        with path.open("rb") as file:
            head = file.read(64)
    except OSError:
        return False
    return FORMAT_NAME.encode() not in head


def _imported_before(digest: str, sessions_dir: Path) -> list[Path]:
    from parity.sessions import SessionFileError, SessionKeyError, SessionReader, SessionStore

    found: list[Path] = []
    for path in SessionStore(sessions_dir).paths():
        try:
            with SessionReader(path) as reader:
                imported = reader.header.meta.get("imported")
        except (SessionFileError, SessionKeyError):
            continue
        if isinstance(imported, dict) and imported.get("sha256") == digest:
            found.append(path)
    return found
