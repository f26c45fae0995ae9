"""The secret store, `.parity/secrets`: token -> the original value redaction replaced.

One small file, encrypted as a whole with AES-GCM under the project key's `SECRETS`
purpose key: `MAGIC`, a 12-byte nonce, then the sealed msgpack map
`{token: [original bytes, field, session id]}` (the field is where the value was first
seen, e.g. `header Authorization` or `json password`; never shown with the value).
The recorder merges what it redacted into it (under a lock on `.parity/`: read, merge,
write the whole file to a temporary name, `os.replace`; it is not a session file and
stays small), so two recorders of one project keep each other's; replay reads it.
`parity secrets forget` deletes it: recordings stay readable and comparable, no longer
replayable with the originals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgpack

from parity.exceptions import ParityError
from parity.sessions.keys import SECRETS, locked, purpose_key
from parity.sessions.private import write_private

STORE_FILE = "secrets"
MAGIC = b"PARITY-SECRETS\x01"
_NONCE = 12


class SecretStoreError(ParityError):
    """The secret store cannot be read or written; `path` is the file."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Secret:
    value: bytes
    field: str
    session: str


class SecretStore:
    """The store of one project (`state` is its `.parity/` directory)."""

    def __init__(self, state: Path, project_key: bytes) -> None:
        self.path = state / STORE_FILE
        self._key = purpose_key(project_key, SECRETS)

    def load(self) -> dict[str, Secret]:
        """Every stored secret (empty when there is no store)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._error(f"cannot read it: {exc.strerror or exc}") from None
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _NONCE + 16:
            raise self._error("it is not a parity secret store")
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = data[len(MAGIC) : len(MAGIC) + _NONCE]
        try:
            plain = AESGCM(self._key).decrypt(nonce, data[len(MAGIC) + _NONCE :], MAGIC)
        except InvalidTag:
            raise self._error(
                "it does not open with this project key (another key, or a damaged file)"
            ) from None
        try:
            raw = msgpack.unpackb(plain, raw=False)
            return {
                str(token): Secret(bytes(entry[0]), str(entry[1]), str(entry[2]))
                for token, entry in raw.items()
            }
        except (ValueError, TypeError, IndexError, AttributeError, msgpack.ExtraData):
            raise self._error("its contents are malformed") from None

    def add(self, secrets: Mapping[str, Secret]) -> int:
        """Merge `secrets` into the file (tokens already stored are kept as they are);
        the number of new tokens."""
        with locked(self.path.parent):
            stored = self.load()
            new = {token: s for token, s in secrets.items() if token not in stored}
            if not new:
                return 0
            stored.update(new)
            self._write(stored)
        return len(new)

    def forget(self) -> bool:
        """Delete the store; False when there was none."""
        return self.delete(self.path)

    @staticmethod
    def delete(path: Path) -> bool:
        """Delete the store at `path` (no key needed); False when there was none."""
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SecretStoreError(
                f"secret store {path}: cannot delete it: {exc.strerror or exc}", path=path
            ) from None
        return True

    def _write(self, secrets: Mapping[str, Secret]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        plain = msgpack.packb(
            {token: [s.value, s.field, s.session] for token, s in secrets.items()},
            use_bin_type=True,
        )
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self._key).encrypt(nonce, plain, MAGIC)
        try:
            write_private(self.path, MAGIC + nonce + sealed)
        except OSError as exc:
            raise self._error(f"cannot write it: {exc.strerror or exc}") from None

    def _error(self, why: str) -> SecretStoreError:
        return SecretStoreError(f"secret store {self.path}: {why}", path=self.path)
