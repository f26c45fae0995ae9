"""One recorded request as a PowerShell `Invoke-WebRequest` command (`parity export
--mismatch ID --format powershell`), the counterpart of `replayer.curl` for Windows.

Quoting is PowerShell's: single-quoted strings (nothing expands; a `'` is written
twice), a text body as a single-quoted here-string (`@'` ... `'@`, which may hold any
line but one starting with `'@`: such a body is a single-quoted string instead), a
body that is not text as bytes (`-Body ([Convert]::FromBase64String('...'))`). Headers
go in `-Headers @{...}`, but for those Windows PowerShell 5.1 only takes as parameters
(`-ContentType`, `-UserAgent`) and those it sets itself (Host, Content-Length,
Connection, Transfer-Encoding, Expect). Secrets are masked as in `curl_command`."""

from __future__ import annotations

import base64

from parity.replayer.correlate import ValueMap
from parity.replayer.curl import MASK, _body_text
from parity.replayer.outgoing import Target, build
from parity.sessions import Exchange
from parity.sessions.secrets import is_secret_header, mask_path
from parity.triage.masking import mask_text

_SET_BY_POWERSHELL = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "expect"}
)


def quote(text: str) -> str:
    """A PowerShell single-quoted string: nothing in it expands."""
    return "'" + text.replace("'", "''") + "'"


def _here_string(text: str) -> str | None:
    """A single-quoted here-string, or None when `text` cannot be one."""
    if any(line.startswith("'@") for line in text.splitlines()):
        return None
    return "@'\n" + text + "\n'@"


def powershell_command(
    exchange: Exchange, target_url: str, origin: str, *, show_secrets: bool = False
) -> tuple[str, list[str]]:
    """The exchange's request as an `Invoke-WebRequest` command aimed at `target_url`,
    and notes (PowerShell comments) about what it leaves out or masks."""
    request = exchange.request
    outgoing = build(request, Target(target_url), ValueMap(), origin)
    target = Target(target_url)
    path = request.path if show_secrets else mask_path(request.path)
    url = target.origin + target.prefix + path
    masked = path != request.path
    notes: list[str] = []
    lines = [
        "Invoke-WebRequest -UseBasicParsing",
        f"-Method {quote(request.method)}",
        f"-Uri {quote(url)}",
    ]
    headers: list[str] = []
    for name, value in outgoing.headers:
        lower = name.lower()
        if lower in _SET_BY_POWERSHELL:
            continue
        if not show_secrets and is_secret_header(name.encode("latin-1")):
            value, masked = MASK, True
        if lower == "content-type":
            lines.append(f"-ContentType {quote(value)}")
        elif lower == "user-agent":
            lines.append(f"-UserAgent {quote(value)}")
        else:
            headers.append(f"{quote(name)} = {quote(value)}")
    if headers:
        lines.append("-Headers @{ " + "; ".join(headers) + " }")
    body = outgoing.body
    if body:
        text = _body_text(body)
        if text is not None:
            shown = text if show_secrets else mask_text(text)
            masked = masked or shown != text
            here = _here_string(shown)
            lines.append("-Body " + (here if here is not None else quote(shown)))
        elif show_secrets:
            encoded = base64.b64encode(body).decode("ascii")
            lines.append(f"-Body ([Convert]::FromBase64String({quote(encoded)}))")
        else:
            notes.append(
                f"the {len(body)}-byte binary body is left out (it may hold secrets): "
                "--show-secrets gives it as bytes"
            )
    if masked:
        notes.append("secrets are masked as ***: --show-secrets prints them")
    # A backtick continues a line; the body (a here-string ends its own line) is last.
    return " `\n  ".join(lines), notes
