"""Headers derived from the body (checksums, content-hash ETags, Content-Length) are never
a difference of their own: bodies equal by value, nothing at all; bodies that differ, the
body difference alone."""

from __future__ import annotations

import base64
import hashlib
import zlib

from parity.differ import Outcome
from parity.differ.derived import body_hashes, holds_hash
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
    assert verdict.serialization == []
    assert {"derived:content-md5", "derived:digest", "derived:x-body-sha", "derived:etag"} <= set(
        verdict.rules_applied
    )


def test_when_the_bodies_differ_only_the_body_difference_is_reported() -> None:
    other = CSHARP.replace(b"Caf", b"Bar")
    verdict = compare(
        response(PYTHON, headers=checksummed(PYTHON)), response(other, headers=checksummed(other))
    )
    assert kinds(verdict) == {("body", "$.title", "changed")}
    assert {"derived:content-md5", "derived:digest", "derived:x-body-sha", "derived:etag"} <= set(
        verdict.rules_applied
    )


def aws_crc32(data: bytes) -> list[tuple[str, str]]:
    """What an AWS JSON 1.0/1.1 service sends: the decimal CRC32 of the body bytes."""
    return [("Content-Length", str(len(data))), ("x-amz-crc32", str(zlib.crc32(data)))]


def test_a_crc32_header_of_bodies_equal_by_value_is_nothing_at_all() -> None:
    python = b'{"Item": {"artist": {"S": "Bj\\u00f6rk"}, "url": {"S": "a/b"}}}'
    port = '{"Item":{"artist":{"S":"Björk"},"url":{"S":"a\\/b"}}}'.encode()
    verdict = compare(
        response(python, content_type="application/x-amz-json-1.0", headers=aws_crc32(python)),
        response(port, content_type="application/x-amz-json-1.0", headers=aws_crc32(port)),
    )
    assert verdict.outcome is Outcome.MATCHED, verdict.differences
    assert "derived:x-amz-crc32" in verdict.rules_applied
    # The escapes are wire-only; the checksum of those bytes is not even that.
    assert {(d.where.value, d.path) for d in verdict.serialization} == {
        ("body", "$.Item.artist.S"),
        ("body", "$.Item.url.S"),
    }


def test_a_crc32_header_of_different_bodies_leaves_only_the_body_difference() -> None:
    python = b'{"Count": 2, "Items": []}'
    port = b'{"Count": 3, "Items": []}'
    verdict = compare(
        response(python, headers=aws_crc32(python)), response(port, headers=aws_crc32(port))
    )
    assert kinds(verdict) == {("body", "$.Count", "changed")}
    assert verdict.serialization == []


def test_headers_named_like_checksums_follow_the_body_whatever_their_value() -> None:
    for name in ("X-Object-Checksum", "x-goog-crc32c", "Repr-Digest", "Content-MD5"):
        verdict = compare(
            response(PYTHON, headers=[(name, "not-a-hash-1")]),
            response(CSHARP, headers=[(name, "not-a-hash-2")]),
        )
        assert verdict.outcome is Outcome.MATCHED, (name, verdict.differences)


def test_a_content_hash_etag_follows_the_body() -> None:
    for other in (CSHARP, CSHARP.replace(b"Caf", b"Bar")):
        verdict = compare(
            response(PYTHON, headers=[("ETag", f'"{sha256_hex(PYTHON)}"')]),
            response(other, headers=[("ETag", f'"{sha256_hex(other)}"')]),
            actual_values={sha256_hex(other): "mapped"},  # even if correlated: it is a hash
        )
        assert ("header", "etag", "changed") not in kinds(verdict)
        assert "derived:etag" in verdict.rules_applied


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
    # Bodies that differ: the ETag differs with them, the body difference says it.
    assert kinds(
        compare(
            response(PYTHON, headers=[("ETag", '"v12"')]),
            response(b'{"other": 1}', headers=[("ETag", '"a9"')]),
        )
    ) == {("body", "$.title", "removed"), ("body", "$.at", "removed"), ("body", "$.other", "added")}
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
