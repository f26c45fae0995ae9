"""Headers derived from the body: checksums and content-hash ETags (Content-Length too,
which the header policy never compares).

They are never a difference of their own. When the bodies compare equal by value, a
checksum of the bytes may still differ (two serializers write one JSON value with other
escapes, number spellings, key order): that is nothing at all. When the bodies differ,
the body difference is the finding and the checksum only repeats it. So whenever the
bodies can speak for themselves (not both empty, as in HEAD and 304), a value change
(`changed`; a header one side lacks is still reported) of these headers is dropped:

- headers named like checksums: `*crc32*`, `*checksum*`, `content-md5`, `digest`,
  `*-digest` (`Repr-Digest`, `Content-Digest`), `x-content-sha256`, `x-goog-hash`;
- any other header whose value holds a CRC32 (hex or decimal), MD5, SHA-1 or SHA-256
  (hex or base64, alone or after an `algo=` prefix) of either side's body, raw or
  decoded;
- `ETag` when it holds such a hash, or when the replayer's value map did not correlate
  it (an ETag that was correlated but still differs names another version: a real
  difference). A change between a weak (`W/"…"`) and a strong ETag is always reported:
  it changes how conditional requests compare.

Hashing costs: only the algorithms whose spellings have the length of a word of the
header values are computed, once per body.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from fnmatch import translate

from parity.differ.model import Difference, DiffKind, Where

CHECKSUM_HEADERS: tuple[str, ...] = (
    "*crc32*",
    "*checksum*",
    "content-md5",
    "digest",
    "*-digest",
    "x-content-sha256",
    "x-goog-hash",
)
_CHECKSUM = re.compile("|".join(translate(n) for n in CHECKSUM_HEADERS))
_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")
_DIGITS = re.compile(r"[0-9]{1,10}")

ALGORITHMS: tuple[str, ...] = ("crc32", "md5", "sha1", "sha256")
_BY_LENGTH: dict[int, str] = {
    6: "crc32",  # base64 without padding
    8: "crc32",  # hex, or base64 with padding
    22: "md5",
    24: "md5",
    32: "md5",
    27: "sha1",
    28: "sha1",
    40: "sha1",
    43: "sha256",
    44: "sha256",
    64: "sha256",
}
"""Which algorithm a word of this length may spell (hex, base64, base64url)."""


def _digest(algorithm: str, data: bytes) -> bytes:
    if algorithm == "crc32":
        return zlib.crc32(data).to_bytes(4, "big")
    return hashlib.new(algorithm, data).digest()


def spellings(algorithm: str, data: bytes) -> frozenset[str]:
    """Every spelling of one digest of `data`: hex (lower case), base64 and base64url
    with and without padding, and for CRC32 the decimal number."""
    digest = _digest(algorithm, data)
    found = {digest.hex()}
    if algorithm == "crc32":
        found.add(str(int.from_bytes(digest, "big")))
    for encoded in (base64.b64encode(digest), base64.urlsafe_b64encode(digest)):
        text = encoded.decode("ascii")
        found |= {text, text.rstrip("=")}
    return frozenset(found)


def body_hashes(bodies: Iterable[bytes]) -> frozenset[str]:
    """Every spelling of the CRC32, MD5, SHA-1 and SHA-256 of each body."""
    found: set[str] = set()
    for data in bodies:
        for algorithm in ALGORITHMS:
            found |= spellings(algorithm, data)
    return frozenset(found)


def holds_hash(value: str, hashes: frozenset[str]) -> bool:
    """True if a word of the header value is one of `hashes` (hex compared in any case)."""
    return any(t in hashes or t.lower() in hashes for t in _TOKEN.findall(value))


def _algorithms(value: str) -> set[str]:
    """The algorithms a word of `value` could be a digest of, by its length."""
    found = set()
    for token in _TOKEN.findall(value):
        algorithm = _BY_LENGTH.get(len(token))
        if algorithm is not None:
            found.add(algorithm)
        elif _DIGITS.fullmatch(token):
            found.add("crc32")
    return found


def _weak(values: Sequence[str]) -> bool:
    return any(v.strip().startswith(("W/", "w/")) for v in values)


class DerivedHeaders:
    """Decides, for two responses whose bodies can speak for themselves, which header
    differences only follow from the bodies."""

    def __init__(
        self,
        expected: tuple[Sequence[str], Callable[[], Iterable[bytes]]],
        actual: tuple[Sequence[str], Callable[[], Iterable[bytes]]],
        correlated: Callable[[str], bool],
    ) -> None:
        """`expected`/`actual`: (ETag values, the bodies to hash: raw and decoded, called
        at most once); `correlated(etag)`: whether the value map rewrote that ETag."""
        self._sides = (expected, actual)
        self._bodies: list[bytes] | None = None
        self._hashes: dict[str, frozenset[str]] = {}
        self._correlated = correlated

    def _hashes_of(self, algorithm: str) -> frozenset[str]:
        found = self._hashes.get(algorithm)
        if found is None:
            if self._bodies is None:
                self._bodies = list(
                    dict.fromkeys(b for _e, bodies in self._sides for b in bodies())
                )
            found = frozenset().union(*(spellings(algorithm, b) for b in self._bodies))
            self._hashes[algorithm] = found
        return found

    def _hashed(self, expected: str, actual: str) -> bool:
        """True if either value holds a digest of either side's body."""
        for algorithm in sorted(_algorithms(expected) | _algorithms(actual)):
            hashes = self._hashes_of(algorithm)
            if holds_hash(expected, hashes) or holds_hash(actual, hashes):
                return True
        return False

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
