"""Redacted sessions on replay: the targets' answers are redacted on receipt, and the
originals go back into what is sent.

A session recorded with redaction holds tokens (`sessions.redact`). On replay:
1. every target's answer is redacted with the project's policy and key as it arrives,
   before correlation, the differ or triage see it: the recording's tokens and the live
   ones are compared as values, and correlation carries the live token of a minted
   secret (a session token) into later requests. The live originals stay in a map in
   memory, one per target and session (`Live`), never written;
2. after correlation, each token left in the request built for a target is replaced by
   its original, from that live map, else the project's secret store (`.parity/secrets`),
   else `[replay.secrets]` (by token, then by field name: `password = "env:PILOT_PW"`).
   What is stored in the results (`sent`) is the request with its tokens.
A token with no original anywhere is `MissingSecret`: one line naming the field, exit 2.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from parity.exceptions import ParityError
from parity.sessions import Exchange, Message
from parity.sessions.keys import REDACT, project_key, purpose_key
from parity.sessions.redact import (
    Found,
    MitmCodec,
    RedactionPolicy,
    Redactor,
    has_tokens,
    restore_body,
    restore_header,
    restore_path,
)
from parity.sessions.secretstore import SecretStore


class MissingSecret(ParityError):
    """A redacted value to send has no original: not minted by the target in this
    session, not in the secret store, not in `[replay.secrets]`. `field` says where."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class Live:
    """What one target minted in one session: live token -> live original (memory only)."""

    values: dict[str, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class ReplaySecrets:
    """The project's redactor and the originals a replay may send."""

    redactor: Redactor
    stored: Mapping[str, bytes] = field(default_factory=dict)
    configured: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls, state: Path, policy: RedactionPolicy, configured: Mapping[str, str]
    ) -> ReplaySecrets:
        """From the project's `.parity/` (its key, and the secret store when there is
        one) and `[replay.secrets]`. Without a project key nothing is made on disk: the
        answers are redacted under a key of this run only (minted values still correlate;
        the recording's other tokens are then not reproducible) and nothing is stored."""
        key = project_key(state, create=False)
        stored: dict[str, bytes] = {}
        if key is None:
            key = os.urandom(32)
        else:
            stored = {token: s.value for token, s in SecretStore(state, key).load().items()}
        redactor = Redactor(
            dataclasses.replace(policy, enabled=True), purpose_key(key, REDACT), MitmCodec()
        )
        return cls(redactor, stored, dict(configured))

    def redact_answer(
        self, headers: list[tuple[bytes, bytes]], body: bytes, live: Live
    ) -> tuple[list[tuple[bytes, bytes]], bytes]:
        found: Found = {}
        headers, body = self.redactor.answer(headers, body, found)
        live.values.update((token, value) for token, (value, _) in found.items())
        return headers, body

    def redact_messages(self, messages: list[Message], live: Live) -> list[Message]:
        found: Found = {}
        out = [self.redactor.message(m, found) for m in messages]
        live.values.update((token, value) for token, (value, _) in found.items())
        return out

    def client_frames(self, messages: list[Message], live: Live) -> list[Message]:
        """A WebSocket's recorded frames with the client's carrying originals again (a
        JSON frame escaped as JSON, any other as bytes)."""
        return [
            dataclasses.replace(
                m, content=restore_body(m.content, "", partial(self.original, live=live))
            )
            if m.from_client and has_tokens(m.content)
            else m
            for m in messages
        ]

    def original(self, token: str, where: str, live: Live) -> bytes:
        value = live.values.get(token)
        if value is None:
            value = self.stored.get(token)
        if value is None:
            name = where.split(" ", 1)[-1]
            spec = self.configured.get(token)
            spec = spec if spec is not None else self.configured.get(name)
            if spec is not None:
                value = _configured(spec, token if token in self.configured else name)
        if value is None:
            raise MissingSecret(
                f"replay: no original for the redacted {where} (not in the secret store; "
                f"set it in [replay.secrets])",
                field=where,
            )
        return value


def _configured(spec: str, name: str) -> bytes:
    if spec.startswith("env:"):
        variable = spec[4:]
        value = os.environ.get(variable)
        if value is None:
            raise MissingSecret(
                f"[replay.secrets] {name}: environment variable {variable} is not set",
                field=name,
            )
        return value.encode("utf-8", "surrogateescape")
    return spec.encode("utf-8", "surrogateescape")


def is_redacted(exchanges: Iterable[Exchange]) -> bool:
    """Whether exchanges held in memory were recorded with redaction (they hold tokens)."""
    for exchange in exchanges:
        request = exchange.request
        if has_tokens(request.path) or has_tokens(request.body):
            return True
        if any(has_tokens(v) for _, v in request.headers):
            return True
        response = exchange.response
        if response is not None and (
            has_tokens(response.body) or any(has_tokens(v) for _, v in response.headers)
        ):
            return True
    return False


__all__ = [
    "Live",
    "MissingSecret",
    "ReplaySecrets",
    "is_redacted",
    "restore_body",
    "restore_header",
    "restore_path",
]
