"""One recorded request as a curl command (`parity repro`): headers in order, Host from
the URL. Unless `show_secrets`: Authorization, Cookie and other secret-named headers,
and secret-named query values and JSON/form fields, are `***`, and a binary body is
left out (with `show_secrets` it is piped in as base64: `printf %s B64 | base64 -d |
curl --data-binary @-`, no file written). A text body is given inline with
`--data-binary`, shell-quoted."""

from __future__ import annotations

import base64
import shlex

from parity.replayer.correlate import ValueMap
from parity.replayer.outgoing import Target, build
from parity.sessions import Exchange
from parity.sessions.secrets import is_secret_header, mask_path
from parity.triage.masking import mask_text

MASK = "***"
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


def curl_command(
    exchange: Exchange, target_url: str, origin: str, *, show_secrets: bool = False
) -> tuple[str, list[str]]:
    """The exchange's request as a curl command aimed at `target_url`, and notes (shell
    comments) about what it leaves out or masks."""
    request = exchange.request
    outgoing = build(request, Target(target_url), ValueMap(), origin)
    target = Target(target_url)
    path = request.path if show_secrets else mask_path(request.path)
    url = target.origin + target.prefix + path
    notes: list[str] = []
    masked = path != request.path
    parts = ["curl -sS -i"]
    body = outgoing.body
    if exchange.websocket_close is not None or exchange.messages:
        frames = sum(1 for m in exchange.messages if m.from_client)
        notes.append(
            f"a WebSocket/streaming exchange ({frames} client frames): curl sends only "
            "the opening request; `--send` replays the conversation"
        )
    if request.method == "HEAD":
        parts.append("-I")
    elif request.method != "GET" or body:
        parts.append(f"-X {shlex.quote(request.method)}")
    if any(c in url for c in "[]{}"):
        parts.append("--globoff")
    parts.append(shlex.quote(url))
    for name, value in outgoing.headers:
        if name.lower() == "host":
            continue
        if not show_secrets and is_secret_header(name.encode("latin-1")):
            value, masked = MASK, True
        parts.append("-H " + shlex.quote(f"{name}: {value}" if value else f"{name};"))
    pipe = ""
    if body:
        text = _body_text(body)
        if text is not None:
            shown = text if show_secrets else mask_text(text)
            masked = masked or shown != text
            if shown.startswith("@"):  # curl would read a file of that name
                pipe = f"printf %s {shlex.quote(shown)} | "
                parts.append("--data-binary @-")
            else:
                parts.append("--data-binary " + shlex.quote(shown))
        elif show_secrets:
            encoded = base64.b64encode(body).decode("ascii")
            pipe = f"printf %s {shlex.quote(encoded)} | base64 -d | "
            parts.append("--data-binary @-")
        else:
            notes.append(
                f"the {len(body)}-byte binary body is left out (it may hold secrets): "
                "--show-secrets pipes it in as base64"
            )
    if masked:
        notes.append("secrets are masked as ***: --show-secrets prints them")
    return pipe + " \\\n  ".join(parts), notes
