"""One recorded request as a curl command (`parity repro`) for a POSIX shell, or for
PowerShell (`replayer.powershell`, `--shell powershell`): headers in order, Host from
the URL. Unless `show_secrets`: Authorization, Cookie and other secret-named headers,
and secret-named query values and JSON/form fields, are `***`, and a binary body is
left out (with `show_secrets` it is piped in as base64: `printf %s B64 | base64 -d |
curl --data-binary @-`, no file written). A text body is given inline with
`--data-binary`, shell-quoted, or piped in the same way (`printf %s '...' | curl
--data-binary @-`) when it starts with `@` or is over `POSIX_ARGUMENT_MAX`: `printf` is
a builtin of sh, bash and zsh, so no limit of a program's arguments applies."""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass

from parity.replayer.correlate import ValueMap
from parity.replayer.outgoing import Target, build
from parity.sessions import Exchange
from parity.sessions.secrets import is_secret_header, mask_path
from parity.triage.masking import mask_text

MASK = "***"
POSIX_ARGUMENT_MAX = 64 * 1024
"""The longest body given to curl as an argument (Linux refuses one over 128 KiB,
MAX_ARG_STRLEN, and all of them over ARG_MAX); a longer one is piped in by `printf`."""
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


@dataclass(frozen=True, slots=True)
class ShownRequest:
    """A recorded request as a command shows it, before any shell's quoting: curl's
    options one per line (`(option, value)`; `option` None for the URL), the body to
    send (text as shown, masked unless `show_secrets`; bytes only with `show_secrets`;
    None for none) and notes about what is left out or masked."""

    options: list[tuple[str | None, str | None]]
    body: str | bytes | None
    notes: list[str]


def shown_request(
    exchange: Exchange, target_url: str, origin: str, *, show_secrets: bool = False
) -> ShownRequest:
    """What every shell's command sends (see the module doc)."""
    request = exchange.request
    outgoing = build(request, Target(target_url), ValueMap(), origin)
    target = Target(target_url)
    path = request.path if show_secrets else mask_path(request.path)
    url = target.origin + target.prefix + path
    notes: list[str] = []
    masked = path != request.path
    options: list[tuple[str | None, str | None]] = []
    body = outgoing.body
    if exchange.websocket_close is not None or exchange.messages:
        frames = sum(1 for m in exchange.messages if m.from_client)
        notes.append(
            f"a WebSocket/streaming exchange ({frames} client frames): curl sends only "
            "the opening request; `--send` replays the conversation"
        )
    if request.method == "HEAD":
        options.append(("-I", None))
    elif request.method != "GET" or body:
        options.append(("-X", request.method))
    if any(c in url for c in "[]{}"):
        options.append(("--globoff", None))
    options.append((None, url))
    for name, value in outgoing.headers:
        if name.lower() == "host":
            continue
        if not show_secrets and is_secret_header(name.encode("latin-1")):
            value, masked = MASK, True
        options.append(("-H", f"{name}: {value}" if value else f"{name};"))
    shown: str | bytes | None = None
    if body:
        text = _body_text(body)
        if text is not None:
            shown = text if show_secrets else mask_text(text)
            masked = masked or shown != text
        elif show_secrets:
            shown = body
        else:
            notes.append(
                f"the {len(body)}-byte binary body is left out (it may hold secrets): "
                "--show-secrets pipes it in as base64"
            )
    if masked:
        notes.append("secrets are masked as ***: --show-secrets prints them")
    return ShownRequest(options, shown, notes)


def curl_command(
    exchange: Exchange,
    target_url: str,
    origin: str,
    *,
    show_secrets: bool = False,
    shell: str = "posix",
) -> tuple[str, list[str]]:
    """The exchange's request as a curl command aimed at `target_url`, for `shell`
    (`posix`, or `powershell`: `replayer.powershell`), and notes (shell comments) about
    what it leaves out or masks."""
    shown = shown_request(exchange, target_url, origin, show_secrets=show_secrets)
    if shell == "powershell":
        from parity.replayer.powershell import powershell_command

        return powershell_command(shown), shown.notes
    parts = ["curl -sS -i"]
    for option, value in shown.options:
        quoted = shlex.quote(value) if value is not None else None
        parts.append(" ".join(p for p in (option, quoted) if p is not None))
    pipe = ""
    if isinstance(shown.body, str):
        quoted = shlex.quote(shown.body)
        # `@...` would be read as a file name; a large argument is over the kernel's
        # limit for one argument of a program (`printf` is a shell builtin: no limit).
        if shown.body.startswith("@") or len(quoted.encode()) > POSIX_ARGUMENT_MAX:
            pipe = f"printf %s {quoted} | "
            parts.append("--data-binary @-")
        else:
            parts.append("--data-binary " + quoted)
    elif shown.body is not None:
        encoded = base64.b64encode(shown.body).decode("ascii")
        pipe = f"printf %s {shlex.quote(encoded)} | base64 -d | "
        parts.append("--data-binary @-")
    return pipe + " \\\n  ".join(parts), shown.notes
