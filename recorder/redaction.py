"""Redaction as the recorder applies it (`sessions.redact`): the project's redactor and
secret store for one recording or one import (`parity import` redacts exactly as
`parity record` does), and the session header's note of it."""

from __future__ import annotations

from pathlib import Path

from parity.sessions import Exchange, Message
from parity.sessions.keys import REDACT, project_key, purpose_key
from parity.sessions.redact import Found, MitmCodec, RedactionPolicy, Redactor
from parity.sessions.secretstore import Secret, SecretStore


class Redaction:
    """The redactor under the project key of `state` (`.parity`, created when missing)
    and its secret store; `apply` redacts one exchange and adds the originals new to the
    store. A `ParityError` when the key or the store cannot be read or written."""

    def __init__(self, policy: RedactionPolicy, state: Path) -> None:
        key = project_key(state)
        assert key is not None
        self.secrets = SecretStore(state, key)
        self._stored: set[str] = set(self.secrets.load())
        self.redactor = Redactor(policy, purpose_key(key, REDACT), codec=MitmCodec())

    def header_note(self) -> dict[str, object]:
        """The header's `meta["redaction"]`."""
        return {
            "tokens": "PARITY_REDACTED_",
            "key_id": self.redactor.token(b"parity key id")[16:24],
        }

    def apply(self, exchange: Exchange, session: str) -> Exchange:
        """The exchange with its secrets replaced by tokens; the originals new to the
        secret store are added to it first (a small file, rewritten whole)."""
        redacted, found = self.redactor.exchange(exchange)
        self._keep(found, session)
        return redacted

    def messages(self, messages: list[Message], session: str) -> list[Message]:
        """A chunk of a stream's events redacted as an exchange's messages are (the same
        tokens), the new originals kept."""
        found: Found = {}
        redacted = [self.redactor.message(m, found) for m in messages]
        self._keep(found, session)
        return redacted

    def _keep(self, found: Found, session: str) -> None:
        new = {
            token: Secret(value, where, session)
            for token, (value, where) in found.items()
            if token not in self._stored
        }
        if new:
            self.secrets.add(new)
            self._stored.update(new)
