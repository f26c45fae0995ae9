"""The request as it was sent, for `parity show`: what a mismatch's request became after
correlation on each target, and which recorded value became which minted one, minted by
which exchange. Built only for exchanges handed to triage as mismatched or errored (the
shape is `triage.ExchangeResult.sent`'s).

Secrets stay out of it: the URL's query is masked (`sessions.secrets.mask_path`), secret
header values and values substituted at secret places (an Authorization header, a
`$.access_token` field) are `***`.
"""

from __future__ import annotations

from typing import Any

from parity.replayer.correlate import Substitution
from parity.replayer.outgoing import Outgoing
from parity.sessions.secrets import is_secret_header, is_secret_name, mask_path
from parity.triage.masking import is_secret_path

MASK = "***"
BODY_PREVIEW = 2000
"""Characters of the sent body kept (the whole body is the recorded one, correlated)."""


def sent_request(session: str, outgoing: Outgoing) -> dict[str, Any]:
    """One target's request as sent: method, path and query (masked), headers as
    `[name, value]` pairs (secret values masked), a body preview, its size, and the
    substitutions."""
    return {
        "method": outgoing.method,
        "url": mask_path(outgoing.path),
        "headers": [
            [name, MASK if is_secret_header(name.encode("latin-1")) else value]
            for name, value in outgoing.headers
        ],
        "body_preview": outgoing.body[:BODY_PREVIEW].decode("utf-8", "replace"),
        "body_bytes": len(outgoing.body),
        "substitutions": [substitution(session, s) for s in outgoing.substitutions],
    }


def sent_record(session: str, target: Outgoing, baseline: Outgoing | None = None) -> dict[str, Any]:
    """`ExchangeResult.sent`: the candidate's request and the (first) baseline's."""
    return {
        "target": sent_request(session, target),
        "baseline": sent_request(session, baseline) if baseline is not None else None,
    }


def substitution(session: str, sub: Substitution) -> dict[str, Any]:
    """`{"recorded", "sent", "at", "minted_by": {"session", "seq", "path"}}`."""
    secret = secret_place(sub.at) or secret_place(sub.mint.at)
    return {
        "recorded": MASK if secret else sub.recorded,
        "sent": MASK if secret else sub.sent,
        "at": sub.at,
        "minted_by": {"session": session, "seq": sub.mint.seq, "path": sub.mint.at},
    }


def secret_place(at: str) -> bool:
    """Whether a value at `at` (`header Authorization`, `query token`, `$.auth.token`,
    `header Set-Cookie sid`) is a credential."""
    if at.startswith("$"):
        return is_secret_path(at)
    kind, _, name = at.partition(" ")
    if kind == "header":
        header = name.partition(" ")[0]
        return is_secret_header(header.encode("latin-1"))
    if kind in ("query", "form"):
        return is_secret_name(name)
    return False
