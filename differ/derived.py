"""Headers derived from the body: checksums and ETags.

Two serializers of one JSON value write other bytes, so a checksum of the body differs
although the bodies compare equal after normalization. When they do, these header
differences (`changed` only: a header one side lacks is still reported) are dropped:

- named checksum headers: `Content-MD5`, `Digest`, `Repr-Digest`, `Content-Digest`,
  `X-Checksum*`, `X-Content-SHA256`, `x-amz-checksum-*`, `X-Goog-Hash`;
- any other header whose value holds a CRC32 (hex or decimal), MD5, SHA-1 or SHA-256
  (hex or base64) of its own side's body (raw or decoded);
- `ETag` when it holds such a hash, or when the replayer's value map did not correlate
  it (an ETag that was correlated but still differs names another version: a real
  difference). A change between a weak (`W/"…"`) and a strong ETag is always reported:
  it changes how conditional requests compare.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from fnmatch import translate

from differ.model import Difference, DiffKind, Where

CHECKSUM_HEADERS: tuple[str, ...] = (
    "content-md5",
    "digest",
    "repr-digest",
    "content-digest",
    "x-checksum*",
    "x-content-sha256",
    "x-amz-checksum-*",
    "x-goog-hash",
)
_CHECKSUM = re.compile("|".join(translate(n) for n in CHECKSUM_HEADERS))
_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")


def body_hashes(bodies: Iterable[bytes]) -> frozenset[str]:
    """Every spelling of the CRC32, MD5, SHA-1 and SHA-256 of each body: hex (lower
    case), decimal (CRC32), base64 and base64url, with and without padding."""
    found: set[str] = set()
    for data in bodies:
        crc = zlib.crc32(data)
        found |= {f"{crc:08x}", str(crc)}
        digests = [crc.to_bytes(4, "big")]
        for name in ("md5", "sha1", "sha256"):
            digest = hashlib.new(name, data).digest()
            digests.append(digest)
            found.add(digest.hex())
        for digest in digests:
            for encoded in (base64.b64encode(digest), base64.urlsafe_b64encode(digest)):
                text = encoded.decode("ascii")
                found |= {text, text.rstrip("=")}
    return frozenset(found)


def holds_hash(value: str, hashes: frozenset[str]) -> bool:
    """True if a word of the header value is one of `hashes` (hex compared in any case)."""
    return any(t in hashes or t.lower() in hashes for t in _TOKEN.findall(value))


def _weak(values: Sequence[str]) -> bool:
    return any(v.strip().startswith(("W/", "w/")) for v in values)


class DerivedHeaders:
    """Decides, for two responses whose bodies compare equal, which header differences
    only follow from how each body was written."""

    def __init__(
        self,
        expected: tuple[Sequence[str], Callable[[], Iterable[bytes]]],
        actual: tuple[Sequence[str], Callable[[], Iterable[bytes]]],
        correlated: Callable[[str], bool],
    ) -> None:
        """`expected`/`actual`: (ETag values, the bodies to hash: raw and decoded, called
        at most once); `correlated(etag)`: whether the value map rewrote that ETag."""
        self._sides = (expected, actual)
        self._hashes: list[frozenset[str] | None] = [None, None]
        self._correlated = correlated

    def _hashes_of(self, side: int) -> frozenset[str]:
        found = self._hashes[side]
        if found is None:
            found = self._hashes[side] = body_hashes(self._sides[side][1]())
        return found

    def _hashed(self, expected: str, actual: str) -> bool:
        return holds_hash(expected, self._hashes_of(0)) or holds_hash(actual, self._hashes_of(1))

    def derived(self, difference: Difference) -> bool:
        """True if `difference` (a header) is not a difference of the representations."""
        if difference.where is not Where.HEADER or difference.kind is not DiffKind.CHANGED:
            return False
        name = difference.path
        if not isinstance(difference.expected, str) or not isinstance(difference.actual, str):
            return False
        if name == "etag":
            etags_e, etags_a = self._sides[0][0], self._sides[1][0]
            if _weak(etags_e) != _weak(etags_a):
                return False
            if self._hashed(difference.expected, difference.actual):
                return True
            return not any(self._correlated(v) for v in etags_a)
        if _CHECKSUM.match(name):
            return True
        return self._hashed(difference.expected, difference.actual)

    def drop(self, differences: list[Difference], applied: set[str]) -> list[Difference]:
        """`differences` without the derived ones (each noted as `derived:NAME`)."""
        kept = []
        for difference in differences:
            if self.derived(difference):
                applied.add(f"derived:{difference.path}")
            else:
                kept.append(difference)
        return kept
