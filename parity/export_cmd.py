"""`parity export`: sessions as HAR, a mitmproxy flow file or NDJSON
(`recorder.exporter`, `sessions.ndjson`), and one mismatch as HAR (the request as sent,
the expected and the actual answer as two entries), curl (`replayer.curl`, as `parity
repro` prints it) or PowerShell (`replayer.powershell`: curl.exe, as `repro --shell
powershell` prints it).

Secrets: a redacted session's tokens stay tokens, and a session recorded with
`--no-redact` is redacted on the way out (the project's key and secret store, as
`parity record` would have); `--show-secrets` puts the secret store's originals back
instead (`parity.originals`, as `parity repro --show-secrets` does). A mismatch's secret
headers and body values are `***` unless `--show-secrets`, as in `parity repro`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from parity.config import config_option, current_config
from parity.errors import UserError
from parity.keys import key_file_option
from parity.options import db_option, quiet_option, results_at, sessions_option
from parity.originals import SHOW_SECRETS_HELP, Originals
from parity.progress import ProgressBar

if TYPE_CHECKING:
    from parity.replayer import Case
    from parity.sessions import Exchange, Response, SessionHeader
    from parity.sessions.redact import Lookup

SESSION_FORMATS = ("har", "mitm", "ndjson")
MISMATCH_FORMATS = ("har", "curl", "powershell")


@click.command()
@click.argument("sessions", nargs=-1, metavar="[SESSION...]")
@click.option("--mismatch", "mismatch_ref", metavar="ID", help="Export one mismatch instead.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted({*SESSION_FORMATS, *MISMATCH_FORMATS})),
    required=True,
    help="Sessions: har, mitm or ndjson. A mismatch: har, curl or powershell.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (owner-only) instead of stdout.",
)
@click.option(
    "--show-secrets",
    is_flag=True,
    help=SHOW_SECRETS_HELP,
)
@sessions_option
@db_option
@quiet_option
@config_option
@key_file_option
def export(
    sessions: tuple[str, ...],
    mismatch_ref: str | None,
    fmt: str,
    out: Path | None,
    show_secrets: bool,
    sessions_dir: Path,
    db_path: Path,
    quiet: bool,
) -> None:
    """Export sessions as HAR, a mitmproxy flow file or NDJSON, or one mismatch as HAR,
    curl or PowerShell: a bug report a colleague opens in the browser's network panel
    or in mitmweb.

    SESSION is a session id, a unique prefix of one or a session file. A HAR has a page
    per session; a flow file a client connection per session; NDJSON one exchange per
    line. A mismatch's HAR holds the request as sent to the run's target twice: with the
    recorded (expected) answer and with the target's (actual) one.

    Example:

    \b
        parity export 20261201-0930 --format har --out pilot.har
        parity export 20261201-0930 --format mitm --out pilot.mitm
        parity export --mismatch 3f2a --format har --out bug.har
        parity export --mismatch 3f2a --format powershell
    """
    if mismatch_ref is not None:
        if sessions:
            raise click.UsageError("give SESSION... or --mismatch ID, not both")
        if fmt not in MISMATCH_FORMATS:
            raise click.UsageError(f"--mismatch exports as {', '.join(MISMATCH_FORMATS)}")
        data = _mismatch(mismatch_ref, fmt, db_path, sessions_dir, show_secrets)
    else:
        if not sessions:
            raise click.UsageError("give SESSION... (an id, a prefix or a file) or --mismatch ID")
        if fmt not in SESSION_FORMATS:
            raise click.UsageError(f"sessions export as {', '.join(SESSION_FORMATS)}")
        data = _sessions(sessions, fmt, sessions_dir, show_secrets, quiet)
    _emit(data, out)


def _emit(data: bytes, out: Path | None) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from parity.sessions.private import write_private

    try:
        write_private(out, data)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None


# -- sessions ------------------------------------------------------------------------------


def _sessions(
    refs: tuple[str, ...], fmt: str, sessions_dir: Path, show_secrets: bool, quiet: bool
) -> bytes:
    from parity.sessions import SessionFileError, SessionStore, summarize

    store = SessionStore(sessions_dir)
    try:
        paths = [store.resolve(ref) for ref in refs]
        total = sum(summarize(path).exchanges for path in paths)
    except SessionFileError as exc:
        raise UserError(str(exc)) from None
    secrets = _Secrets(show_secrets)
    with ProgressBar(total, "exporting", quiet=quiet) as update:
        done = [0]

        def step() -> None:
            done[0] += 1
            update(done[0])

        try:
            return _write_sessions(paths, fmt, secrets, step)
        except SessionFileError as exc:
            raise UserError(str(exc)) from None


def _write_sessions(
    paths: list[Path], fmt: str, secrets: _Secrets, step: Callable[[], None]
) -> bytes:
    from parity.sessions import SessionReader

    def sessions() -> Iterator[tuple[SessionHeader, Iterator[Exchange]]]:
        for path in paths:
            with SessionReader(path) as reader:
                header = reader.header
                yield header, (secrets.apply(header, e) for e in reader)

    if fmt == "ndjson":
        from parity.sessions.ndjson import exchange_json

        lines: list[bytes] = []
        for header, exchanges in sessions():
            for exchange in exchanges:
                line = json.dumps(exchange_json(header.id, exchange), ensure_ascii=False)
                lines.append(line.encode("utf-8", "surrogateescape") + b"\n")
                step()
        return b"".join(lines)
    if fmt == "mitm":
        from parity.recorder.exporter import write_flows

        buffer = io.BytesIO()
        write_flows(sessions(), buffer, step)
        return buffer.getvalue()
    from parity.recorder.exporter import sessions_har

    return _har_bytes(sessions_har(sessions(), step))


def _har_bytes(har: dict[str, Any]) -> bytes:
    return json.dumps(har, indent=2, ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n"


class _Secrets:
    """Tokens stay tokens, an unredacted session is redacted on the way out; or, with
    `show`, the secret store's originals go back in."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self.originals = Originals()
        self._lookup: Lookup | None = None
        self._redaction: Any = None

    def lookup(self) -> Lookup:
        if self._lookup is None:
            self._lookup = self.originals.lookup()
        return self._lookup

    def apply(self, header: SessionHeader, exchange: Exchange) -> Exchange:
        if self.show:
            from parity.sessions.reveal import revealed

            return revealed(exchange, self.lookup())
        if header.meta.get("redaction"):
            return exchange
        if self._redaction is None:
            from parity.recorder.redaction import Redaction

            config = current_config()
            policy = dataclasses.replace(config.redact, enabled=True)
            self._redaction = Redaction(policy, config.state)
        redacted: Exchange = self._redaction.apply(exchange, header.id)
        return redacted


# -- one mismatch --------------------------------------------------------------------------


def _mismatch(ref: str, fmt: str, db_path: Path, sessions_dir: Path, show: bool) -> bytes:
    from parity import mismatch
    from parity.replayer.outgoing import recorded_origin

    case = mismatch.load_mismatch(ref, db_path, sessions_dir, earlier=False)
    origin = recorded_origin(case.exchange.request, case.header.upstream)
    title = f"mismatch {case.mismatch_id}: {case.route} (session {case.session}, seq {case.seq}, run {case.run_id})"
    if fmt in ("curl", "powershell"):
        from parity.replayer import curl_command

        originals = Originals()
        exchange = originals.revealed(case.exchange) if show else case.exchange
        shell = "powershell" if fmt == "powershell" else "posix"
        command, notes = curl_command(
            exchange, case.run_target, origin, show_secrets=show, shell=shell
        )
        missing = originals.missing_note()
        lines = [f"# {title}", f"# target: {case.run_target}", command]
        lines += [f"# {note}" for note in [*notes, *([missing] if missing else [])]]
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    from parity.triage.answers import actual_answer

    with results_at(db_path) as rdb:
        answer = actual_answer(rdb, case.mismatch_id)
    return _har_bytes(_mismatch_har(case, origin, answer, title, show))


def _mismatch_har(
    case: Case, origin: str, answer: dict[str, Any], title: str, show: bool
) -> dict[str, Any]:
    from parity.recorder.exporter import har_document, har_entry, page
    from parity.recorder.flows import session_client, to_flow
    from parity.sessions import FlowError

    sent = _as_sent(case, origin, show)
    started = sent.request.timestamp_start
    client = session_client(None, started)
    expected_flow = to_flow(sent, client)
    actual = _actual_response(answer, started)
    if actual is None:
        failed = dataclasses.replace(
            sent,
            response=None,
            error=FlowError(str(answer["error"] or "no answer"), started),
        )
        actual_flow = to_flow(failed, client)
    else:
        actual_flow = to_flow(sent, client, response=actual)
    substitutions = _substitutions(answer.get("sent"))
    entries = [
        har_entry(
            expected_flow,
            sent,
            case.mismatch_id,
            f"expected: the recorded answer (session {case.session}, seq {case.seq})",
        ),
        har_entry(
            actual_flow,
            sent,
            case.mismatch_id,
            f"actual: what {case.run_target} answered in run {case.run_id}" + substitutions,
        ),
    ]
    return har_document(
        [page(case.mismatch_id, title, started)], entries, comment=f"parity {title}"
    )


def _substitutions(sent: Any) -> str:
    from parity.triage.sent import format_sent

    lines = [line.strip() for line in format_sent(sent if isinstance(sent, dict) else None)]
    return ("; " + "; ".join(lines)) if lines else ""


def _as_sent(case: Case, origin: str, show: bool) -> Exchange:
    """The recorded exchange with its request aimed at the run's target as `parity
    repro` sends it (secrets masked unless `show`, then the store's originals)."""
    from parity.replayer.correlate import ValueMap
    from parity.replayer.outgoing import Target, build
    from parity.sessions.secrets import is_secret_header, mask_path

    exchange = case.exchange
    outgoing = build(exchange.request, Target(case.run_target), ValueMap(), origin)
    parts = urlsplit(outgoing.url)
    default = 443 if parts.scheme == "https" else 80
    request = dataclasses.replace(
        exchange.request,
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port or default,
        path=outgoing.url[len(f"{parts.scheme}://{parts.netloc}") :] or "/",
        headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in outgoing.headers],
        body=outgoing.body,
    )
    sent = dataclasses.replace(exchange, request=request)
    if show:
        return _Secrets(True).apply(case.header, sent)

    def masked_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        return [(k, _masked_header(k, v) if is_secret_header(k) else v) for k, v in headers]

    request = dataclasses.replace(
        request,
        path=mask_path(request.path),
        headers=masked_headers(request.headers),
        body=_masked_body(request.headers, request.body),
    )
    response: Response | None = sent.response
    if response is not None:
        response = dataclasses.replace(
            response,
            headers=masked_headers(response.headers),
            body=_masked_body(response.headers, response.body),
        )
    return dataclasses.replace(sent, request=request, response=response)


def _masked_header(name: bytes, value: bytes) -> bytes:
    """`***` for a secret header's value; a cookie keeps its names (`sid=***`), and a
    Set-Cookie its attributes."""
    lowered = name.lower()
    if lowered == b"cookie":
        return b"; ".join(
            part.strip().partition(b"=")[0] + b"=***" for part in value.split(b";") if part.strip()
        )
    if lowered == b"set-cookie":
        first, sep, attributes = value.partition(b";")
        return first.partition(b"=")[0].strip() + b"=***" + sep + attributes
    return b"***"


def _masked_body(headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """A text body with its secret values as `***` (a content-encoded or binary body as
    it is: redacted sessions hold tokens there, not secrets)."""
    from parity.triage.masking import mask_text

    if any(k.lower() == b"content-encoding" for k, _ in headers):
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    return mask_text(text).encode("utf-8")


def _actual_response(answer: dict[str, Any], started: float) -> Response | None:
    from parity.sessions import Response

    if answer["status"] is None:
        return None
    headers = [
        (str(k).encode("latin-1", "replace"), str(v).encode("latin-1", "replace"))
        for k, v in answer["headers"]
    ]
    ms = answer["ms"] or 0.0
    return Response(
        status=int(answer["status"]),
        reason="",
        http_version="HTTP/1.1",
        headers=headers,
        body=_masked_body(headers, answer["body"]),
        timestamp_start=started,
        timestamp_end=started + ms / 1000,
    )
