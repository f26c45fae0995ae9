"""Where secrets may be in a large body: one native pass instead of many Python ones.

A 1 MB JSON answer has to be looked through for keys named like a secret, for values
that look like one (bearer credentials, JWTs, card numbers) and for secrets seen earlier
echoed as string values. Done with `bytes` methods, that is one pass per word and pattern
(~0.5 ms each per MB on a small VM; ~10 ms in all); RE2 (google-re2, a DFA, linear time)
does every look in one pass of ~1.3 ms per MB and releases the GIL while it runs, so the
recorder's writer thread scans while the event loop serves other flows.

The scan only finds candidates; `sessions.redact` checks each with the exact rules (the
secret-name rules, the patterns with their look-arounds, the Luhn check) and rewrites.
A candidate the scan cannot place (a key with an escape) sends the body down the exact
path. Bytes are read as Latin-1, so any byte sequence scans, valid UTF-8 or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import re2

from parity.sessions.secrets import KEY_WORDS

KEY, ESCAPED_KEY, JWT, BEARER, CARD, ECHO = range(1, 7)
"""Group numbers of `Scanner`'s pattern, one per kind of candidate."""

_KINDS = (
    # A JSON key holding a secret word where a word ends (an object key: a literal
    # followed by a colon); `sessions.secrets.KEY_WORDS` says which.
    rb'"[^"\\\n]*(?i:' + KEY_WORDS + rb')(?:[^a-z"\\\n][^"\\\n]*)?"[ \t\r\n]*:',
    # A key with an escape in it: its words are known only once it is decoded.
    rb'\\[^"\n]*"[ \t\r\n]*:',
    # The start of a JWT and of a bearer credential (`secrets.VALUE_PATTERNS` check them).
    rb"eyJ[A-Za-z0-9_-]{5,}\.eyJ",
    rb"[Bb]earer [A-Za-z0-9\-._~+/]{8}",
    # A card number's digits, grouped or in one run.
    rb"[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}|[3-6][0-9]{12}",
)


def _options() -> re2.Options:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    return options


@dataclass(slots=True)
class Candidates:
    """What one scan found, by kind."""

    keys: set[bytes] = field(default_factory=set)
    """Raw text of keys holding a secret word (between the quotes, undecoded)."""
    escaped_key: bool = False
    patterns: list[tuple[int, int]] = field(default_factory=list)
    """(kind, start) of each JWT, bearer or card candidate."""
    echoes: set[bytes] = field(default_factory=set)
    """Remembered secrets found as whole string values (`"SECRET"`)."""


class Scanner:
    """One compiled pattern for every kind of candidate; the echoes (secrets remembered by
    the redactor, which change as it sees new ones) are compiled in when they change."""

    def __init__(self, fields: Iterable[str] = ()) -> None:
        self._fields = sorted(fields)
        """More secret names (`[redact] fields`, lower-case): keys spelled so, any case."""
        self._echoes: tuple[bytes, ...] = ()
        self._pattern = self._compile(())

    def _compile(self, echoes: tuple[bytes, ...]) -> Any:
        kinds = [b"(" + kind + b")" for kind in _KINDS]
        if self._fields:
            names = b"|".join(_caseless(f.encode("utf-8")) for f in self._fields)
            kinds[KEY - 1] = b"(" + _KINDS[KEY - 1] + b'|"(?:' + names + b')"[ \t\r\n]*:)'
        if echoes:
            literal = b"|".join(b'"' + _escape(e) + b'"' for e in echoes)
            kinds.append(b"(" + literal + b")")
        pattern = re2.compile(b"|".join(kinds), _options())
        # google-re2 keeps the last 128 patterns compiled anywhere alive, each with its DFA
        # cache (up to 8 MiB): a recorder recompiling at every new secret grew ~130 MB in
        # 40,000 scans. The scanner holds its own; the one it replaces is freed.
        re2.purge()
        return pattern

    def scan(self, body: bytes, echoes: Iterable[bytes] = ()) -> Candidates:
        """Every candidate in `body`; `echoes` are the secrets to find as string values."""
        wanted = tuple(echoes)
        if wanted != self._echoes:
            self._pattern = self._compile(wanted)
            self._echoes = wanted
        found = Candidates()
        for match in self._pattern.finditer(body):
            kind = match.lastindex
            if kind == KEY:
                whole = match.group(0)
                found.keys.add(whole[1 : whole.rindex(b'"')])
            elif kind == ESCAPED_KEY:
                found.escaped_key = True
            elif kind == ECHO:
                found.echoes.add(match.group(0)[1:-1])
            else:
                found.patterns.append((kind, match.start()))
        return found


def _escape(literal: bytes) -> bytes:
    """`literal` as an RE2 pattern matching exactly its bytes (under Latin-1)."""
    return b"".join(b"\\x%02x" % byte for byte in literal)


def _caseless(literal: bytes) -> bytes:
    """`literal` as an RE2 pattern matching its bytes, ASCII letters in either case."""
    out = []
    for byte in literal:
        char = bytes([byte])
        if char.isalpha():
            out.append(b"[" + char.lower() + char.upper() + b"]")
        else:
            out.append(b"\\x%02x" % byte)
    return b"".join(out)
