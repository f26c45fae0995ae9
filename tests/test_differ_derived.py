"""Headers derived from the body (checksums, ETags) are not differences when the bodies
compare equal after normalization; they are when the bodies differ."""

from __future__ import annotations

import base64
import hashlib
import zlib

from differ import Outcome
from differ.derived import body_hashes, holds_hash
from tests.test_differ_support import compare, kinds, response

PYTHON = b'{"title": "Caf\\u00e9", "at": "2026-01-04T08:15:30.120000+00:00"}'
CSHARP = b'{"title":"Caf\\u00e9","at":"2026-03-01T09:00:00.123456+00:00"}'


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksummed(data: bytes, **extra: str) -> list[tuple[str, str]]:
    return [
        ("Content-MD5", md5_b64(data)),
        ("Digest", "sha-256=" + base64.b64encode(hashlib.sha256(data).digest()).decode()),
        ("x-amz-checksum-crc32", base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()),
        ("X-Body-Sha", sha256_hex(data)),
        ("ETag", f'"{hashlib.md5(data).hexdigest()}"'),
        *extra.items(),
    ]


def test_checksums_of_two_serializations_of_one_value_are_not_differences() -> None:
    verdict = compare(
        response(PYTHON, headers=checksummed(PYTHON)), response(CSHARP, headers=checksummed(CSHARP))
    )
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert {"derived:content-md5", "derived:digest", "derived:x-body-sha", "derived:etag"} <= set(
        verdict.rules_applied
    )


def test_checksums_are_differences_when_the_bodies_differ() -> None:
    other = CSHARP.replace(b"Caf", b"Bar")
    verdict = compare(
        response(PYTHON, headers=checksummed(PYTHON)), response(other, headers=checksummed(other))
    )
    assert {"content-md5", "digest", "x-body-sha", "etag", "$.title"} <= {
        d.path for d in verdict.differences
    }


def test_a_header_that_is_not_a_hash_of_the_body_is_still_compared() -> None:
    verdict = compare(
        response(PYTHON, headers=[("X-Version", "12")]),
        response(CSHARP, headers=[("X-Version", "13")]),
    )
    assert kinds(verdict) == {("header", "x-version", "changed")}


def test_a_missing_checksum_header_is_reported() -> None:
    verdict = compare(response(PYTHON, headers=checksummed(PYTHON)), response(CSHARP))
    assert ("header", "content-md5", "removed") in kinds(verdict)


def test_etags() -> None:
    # Not a hash, not correlated, equal bodies: another backend's validator, not a difference.
    assert (
        compare(
            response(PYTHON, headers=[("ETag", '"v12"')]),
            response(CSHARP, headers=[("ETag", '"a9"')]),
        ).outcome
        is Outcome.MATCHED
    )
    # Weak vs strong changes how conditional requests compare: reported.
    assert kinds(
        compare(
            response(PYTHON, headers=[("ETag", '"v12"')]),
            response(CSHARP, headers=[("ETag", 'W/"v12"')]),
        )
    ) == {("header", "etag", "changed")}
    # Correlated by the value map and still another value: a wrong version, reported.
    verdict = compare(
        response(PYTHON, headers=[("ETag", '"etag-a"')]),
        response(CSHARP, headers=[("ETag", '"etag-b"')]),
        actual_values={"etag-b": "etag-c"},
    )
    assert kinds(verdict) == {("header", "etag", "changed")}
    # Bodies that differ: the ETag differs with them.
    assert ("header", "etag", "changed") in kinds(
        compare(
            response(PYTHON, headers=[("ETag", '"v12"')]),
            response(b'{"other": 1}', headers=[("ETag", '"a9"')]),
        )
    )
    # Empty bodies (304) cannot speak for the ETag.
    assert kinds(
        compare(
            response(b"", status=304, headers=[("ETag", '"v12"')]),
            response(b"", status=304, headers=[("ETag", '"a9"')]),
        )
    ) == {("header", "etag", "changed")}


def test_hash_spellings() -> None:
    data = b"hello"
    hashes = body_hashes([data])
    crc = zlib.crc32(data)
    for value in (
        f"{crc:08x}",
        f"{crc:08X}",
        str(crc),
        hashlib.md5(data).hexdigest().upper(),
        md5_b64(data),
        hashlib.sha1(data).hexdigest(),
        f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:",
        "crc32c=AAAAAA==,md5=" + md5_b64(data),
        f'W/"{sha256_hex(data)}"',
    ):
        assert holds_hash(value, hashes), value
    assert not holds_hash("12", hashes)
