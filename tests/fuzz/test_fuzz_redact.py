"""Fuzzing the redactor: random JSON and form bodies with canary secrets placed at random
under secret keys. No canary survives (raw or escaped), the redacted body still parses
in its content type, everything else is unchanged, and restoring the originals gives the
body's values back."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

from hypothesis import strategies as st

from parity.sessions import Exchange, Request
from parity.sessions.redact import RedactionPolicy, Redactor, restore_body
from tests.fuzz.harness import given_target, memory_cap

SECRET_KEYS = ["password", "token", "access_token", "sessionId", "apiKey", "client_secret",
               "passphrase", "refresh_token", "vault_session"]  # fmt: skip
PLAIN_KEYS = ["name", "items", "count", "title", "note", "id", "tags", "x", "y1", "lang"]
_REDACTOR = Redactor(RedactionPolicy(), b"f" * 32)
_UNCAPPED = Redactor(RedactionPolicy(max_body=0), b"f" * 32)
"""For padded bodies: over 64 KiB (`LARGE`), redacted by their candidates."""
_PAD = [{"id": i, "title": "Winter station light", "tags": ["a", "b"]} for i in range(1200)]

canaries = st.builds(
    lambda tail: "CANARY" + tail,
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from('"\\&=+ %'),
        min_size=1,
        max_size=12,
    ),
)
plain_text = st.text(st.sampled_from("abcdefgh XYZ-_.é"), max_size=10)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    plain_text,
)


def _trees(canary: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    secret = st.tuples(st.sampled_from(SECRET_KEYS), canary)
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.builds(
                lambda plain, secrets: {**plain, **dict(secrets)},
                st.dictionaries(st.sampled_from(PLAIN_KEYS), inner, max_size=4),
                st.lists(secret, max_size=2),
            ),
        ),
        max_leaves=12,
    )


def _canaries_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("CANARY") else []
    if isinstance(value, dict):
        return [c for v in value.values() for c in _canaries_in(v)]
    if isinstance(value, list):
        return [c for v in value for c in _canaries_in(v)]
    return []


def _redact(
    body: bytes, content_type: bytes, padded: bool = False
) -> tuple[bytes, dict[str, bytes]]:
    request = Request("POST", "http", "h", 80, "/x", "HTTP/1.1",
                      [(b"Content-Type", content_type)], body, 0.0)  # fmt: skip
    with memory_cap():
        redacted, found = (_UNCAPPED if padded else _REDACTOR).exchange(Exchange(1, request))
    return redacted.request.body, {token: value for token, (value, _) in found.items()}


@given_target(_trees(canaries), st.booleans(), st.sampled_from([None, 2]), st.booleans())
def test_no_canary_survives_in_json(
    tree: Any, ascii_only: bool, indent: int | None, padded: bool
) -> None:
    wrapper = {"pad": _PAD, "data": tree, "password": "CANARYtop"} if padded else {}
    wrapper.update({"data": tree, "password": "CANARYtop"})
    body = json.dumps(wrapper, ensure_ascii=ascii_only, indent=indent).encode("utf-8")
    redacted, found = _redact(body, b"application/json", padded)
    parsed = json.loads(redacted)  # still JSON
    for canary in ["CANARYtop", *_canaries_in(wrapper)]:
        assert canary.encode("utf-8", "surrogatepass") not in redacted
        assert json.dumps(canary)[1:-1].encode() not in redacted
    assert not _canaries_in(parsed)
    restored = restore_body(redacted, "application/json", lambda token, where: found[token])
    assert json.loads(restored) == json.loads(body)


@given_target(
    st.lists(st.tuples(st.sampled_from(PLAIN_KEYS), plain_text), max_size=5),
    st.lists(st.tuples(st.sampled_from(SECRET_KEYS), canaries), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
    st.sampled_from([quote, quote_plus]),
    st.booleans(),
)
def test_no_canary_survives_in_forms(
    plain: list[tuple[str, str]],
    secrets: list[tuple[str, str]],
    rnd: Any,
    quoting: Any,
    padded: bool,
) -> None:
    pad = [(f"field{i}", f"value {i}") for i in range(2000)] if padded else []
    pairs = plain + secrets + pad
    rnd.shuffle(pairs)
    body = urlencode(pairs, quote_via=quoting).encode("ascii")
    redacted, found = _redact(body, b"application/x-www-form-urlencoded", padded)
    parsed = parse_qsl(redacted.decode("ascii"), keep_blank_values=True, strict_parsing=bool(pairs))
    assert [k for k, _ in parsed] == [k for k, _ in pairs]
    for (key, value), (_, got) in zip(pairs, parsed, strict=True):
        if key in SECRET_KEYS:
            assert got.startswith("PARITY_REDACTED_") and len(got) == 36
        else:
            assert got == value
    for _, canary in secrets:
        assert quoting(canary).encode() not in redacted
        assert canary.encode("utf-8", "surrogatepass") not in redacted
    restored = restore_body(
        redacted, "application/x-www-form-urlencoded", lambda token, where: found[token]
    )
    assert parse_qsl(restored.decode("ascii"), keep_blank_values=True) == pairs


_PARTS = ["pass", "password", "passwd", "passphrase", "pwd", "secret", "token", "tokens",
          "auth", "author", "authorization", "oauth", "session", "sessions", "sid", "side",
          "sig", "signal", "signature", "credential", "credentials", "otp", "cookie", "jwt",
          "bearer", "api", "key", "keys", "private", "code", "verifier", "client", "id",
          "user", "vault", "access", "refresh", "hash", "type", "name", "2", "v1"]  # fmt: skip
_CASES = [str.lower, str.upper, str.capitalize]
keys = st.lists(
    st.tuples(
        st.sampled_from(_PARTS),
        st.sampled_from(_CASES),
        st.sampled_from(["", "_", "-", " ", ".", "__"]),
    ),
    min_size=1,
    max_size=4,
).map(lambda parts: "".join(case(word) + sep for word, case, sep in parts).strip(" "))

_SEPARATORS = st.sampled_from(["", "_", "-", ".", "__", " ", "_-"])


@st.composite
def _split_words(draw: st.DrawFn) -> str:
    """A word (a secret one or not) cut anywhere, its pieces cased and separated at
    random: `to_Ken`, `P-A-S-S`, `seSSion`; words around it sometimes."""
    word = draw(st.sampled_from(_PARTS))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(word) - 1)), max_size=len(word))))
    pieces = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True) if a < b]
    spelled = "".join(draw(st.sampled_from(_CASES))(piece) + draw(_SEPARATORS) for piece in pieces)
    before = draw(st.sampled_from(["", "user_", "x", "My", "2"]))
    after = draw(st.sampled_from(["", "_id", "s", "Id", "2"]))
    return (before + spelled + after).strip(" ") or word


@given_target(st.one_of(keys, _split_words()), st.sampled_from([b"", b" ", b"\n  "]))
def test_the_scan_finds_every_key_named_like_a_secret(key: str, space: bytes) -> None:
    """The one-pass scan of JSON bodies (`sessions.scan`) finds each key the exact rule
    (`is_secret_key`) calls secret, however its words are cased, cut and separated."""
    from parity.sessions.scan import Scanner
    from parity.sessions.secrets import is_secret_key

    raw = key.encode("ascii")
    body = b'{"pad": "x", "' + raw + b'"' + space + b': "v", "other": 1}'
    found = Scanner().scan(body).keys
    if is_secret_key(key):
        assert raw in found
