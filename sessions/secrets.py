"""Recognising secrets in recorded requests, so that listings and reports never show them.

Sessions hold credentials; what a command prints may end up in a CI log or a bug report.
This is the one home of the secret-name rules: the replayer, triage's masking and the CLI
import them from here.

Bodies get a stricter name rule (`is_secret_key`) than headers and query strings
(`is_secret_name`). A body key is secret when one of its words (or two adjacent words, or
the whole key) *is* a secret name: `password`, `access_token`, `sessionId`, `apiKey` are;
`author`, `design` and `considered` are not, although `auth`, `sig` and `sid` occur in them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise
from urllib.parse import parse_qsl, urlencode

MASK = "***"

_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[-_]?key|apikey|auth|session|sid|"
    r"signature|sig|credential|private[-_]?key|otp|code_verifier|client_secret)",
    re.IGNORECASE,
)
_SECRET_WORD = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|apikey|auth|authorization|session|sid|"
    r"signature|sig|credentials?|privatekey|otp|codeverifier|clientsecret|cookie|jwt|bearer)"
)
SECRET_WORDS = (b"pass", b"pwd", b"secret", b"token", b"apikey", b"auth", b"session", b"sid",
                b"sig", b"credential", b"privatekey", b"otp", b"codeverifier", b"cookie",
                b"jwt", b"bearer")  # fmt: skip
"""One of these occurs in every name `is_secret_key` accepts, once the name is lower-cased
and stripped of everything but letters and digits (its words then touch): a cheap look
that many names at once hold no secret one (`sessions.redact`, large forms)."""
_KEY_SPELLINGS = (
    "password", "passwd", "passphrase", "pass", "pwd", "secret", "token", "authorization",
    "auth", "session", "sid", "signature", "sig", "credentials", "credential", "otp",
    "cookie", "jwt", "bearer", "apikey", "privatekey", "codeverifier",
)  # fmt: skip
KEY_WORDS = b"|".join(
    rb'[^a-z0-9"\\\n]*'.join(letter.encode() for letter in word) for word in _KEY_SPELLINGS
)
"""The words of `_SECRET_WORD` as they may be spelled inside a raw key (matched without
case), any run of separators allowed between two letters: `is_secret_key` joins a key's
words (`api_key`, `to_Ken`, `p_a_s_s` hold `apikey`, `token`, `pass`), and a key it accepts
holds one of them followed by anything but a lower-case letter (the end of a word).
`sessions.scan` finds keys with it."""
_SECRET_HEADERS = frozenset(
    {b"authorization", b"proxy-authorization", b"cookie", b"set-cookie", b"x-api-key"}
)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True for a query, form or JSON field name that usually holds a credential."""
    return bool(_SECRET_NAME.search(name))


@lru_cache(maxsize=4096)
def is_secret_header(name: bytes | str) -> bool:
    """Authorization, Cookie, Set-Cookie, X-Api-Key and any header named like a secret."""
    raw = name.encode("latin-1") if isinstance(name, str) else name
    lowered = raw.lower()
    return lowered in _SECRET_HEADERS or is_secret_name(lowered.decode("latin-1"))


@lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """True for a JSON or form field name that holds a credential (see the module doc)."""
    words = [w.lower() for w in _WORDS.findall(name)]
    candidates = {"".join(words), *words}
    candidates.update(a + b for a, b in pairwise(words))
    return any(_SECRET_WORD.fullmatch(c) for c in candidates if c)


def mask_path(path: str) -> str:
    """`/x?token=abc&page=2` -> `/x?token=***&page=2`; the path itself is kept."""
    bare, sep, query = path.partition("?")
    if not sep or not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_name(name) for name, _ in pairs):
        return path
    masked = [(name, MASK if is_secret_name(name) else value) for name, value in pairs]
    return f"{bare}?{urlencode(masked, safe='*/:')}"


# -- for redaction at record time (sessions/redact.py) -------------------------------------

VALUE_PATTERNS: dict[str, bytes] = {
    # The credential after `Bearer ` in free text (an Authorization header is redacted by
    # name, keeping its scheme).
    "bearer": rb"(?<=[Bb]earer )[A-Za-z0-9\-._~+/]{8,}=*",
    # A JSON Web Token: three base64url parts, the first two JSON objects (`eyJ`).
    "jwt": rb"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
    # Payment card numbers: 16 digits in groups of 4, or 13-19 digits from 3-6, standing
    # alone; the Luhn check (`luhn_ok`) keeps ids and counters out. Never a run of digits
    # inside a word: a hex digest (an ETag, a hash) holds such runs, and tokenizing one
    # in some runs and not others made findings come and go.
    "card": rb"(?<![0-9A-Za-z])(?:[0-9]{4}[ -]){3}[0-9]{4}(?![0-9A-Za-z])"
    rb"|(?<![0-9A-Za-z.])[3-6][0-9]{12,18}(?![0-9A-Za-z.])",
}
"""Values that are secrets wherever they appear, whatever their field is called."""


def luhn_ok(digits: bytes) -> bool:
    """The Luhn check of a card number (separators ignored)."""
    numbers = [c - 48 for c in digits if 48 <= c <= 57]
    total = 0
    for i, n in enumerate(reversed(numbers)):
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return bool(numbers) and total % 10 == 0
