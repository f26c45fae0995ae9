"""The originals of a redacted exchange's tokens put back for display: what
`--show-secrets` means in `parity repro` and `parity export` alike (`SHOW_SECRETS_HELP`).
The project's secret store (under its key in the state directory) is read once;
`sessions.reveal` does the replacing. A token the store has no original for stays a
token, and is counted, so the command can say so (`missing_note`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from parity.config import current_config

if TYPE_CHECKING:
    from parity.sessions import Exchange
    from parity.sessions.redact import Lookup

SHOW_SECRETS_HELP = (
    "Put the originals of redacted values back (from the project's secret store); "
    "a mismatch's secret headers, values and binary bodies are shown, not masked."
)


class Originals:
    """The secret store's originals, looked up token by token; `missing` collects the
    tokens it has none for."""

    def __init__(self) -> None:
        self._stored: dict[str, bytes] | None = None
        self.missing: set[str] = set()

    def _originals(self) -> dict[str, bytes]:
        if self._stored is None:
            from parity.sessions.keys import project_key
            from parity.sessions.secretstore import SecretStore

            state = current_config().state
            key = project_key(state, create=False)
            self._stored = (
                {t: s.value for t, s in SecretStore(state, key).load().items()} if key else {}
            )
        return self._stored

    def lookup(self) -> Lookup:
        """A `sessions.redact.Lookup` that leaves a token without an original as it is."""
        from parity.sessions.reveal import lookup_in

        stored = self._originals()
        found = lookup_in(stored)

        def lookup(token: str, where: str) -> bytes:
            if token not in stored:
                self.missing.add(token)
            return found(token, where)

        return lookup

    def revealed(self, exchange: Exchange) -> Exchange:
        """The exchange with the originals back in."""
        from parity.sessions.reveal import revealed

        return revealed(exchange, self.lookup())

    def missing_note(self) -> str | None:
        """A note (for a `#` line) when some tokens had no original, else None."""
        if not self.missing:
            return None
        count = len(self.missing)
        return (
            f"{count} redacted value{'s' if count != 1 else ''} "
            f"{'have' if count != 1 else 'has'} no original in the project's secret store "
            "(another machine's recording, or a purged store): left as PARITY_REDACTED_ tokens"
        )
