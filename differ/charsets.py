"""Charsets: which `charset=` names are read as text, and text that keeps every byte.

A `Content-Type` names its charset; only real character sets (bytes <-> str codecs) are
used. Python's codec registry also holds bytes-to-bytes codecs (`hex`, `base64`, `zlib`,
`bz2`, `uu`, `quopri`), a str-to-str one (`rot13`) and codecs that are not character sets
(`idna`, `punycode`, `unicode_escape`, `raw_unicode_escape`, `undefined`): a charset
naming one of those is unknown, and an unknown charset is read as UTF-8, the default of
every type the differ reads as text or JSON.

Bytes that are not valid in the charset are never replaced by U+FFFD (which would make
`caf\\xe9` equal `caf\\xe8`): each becomes a lone surrogate of its own (Python's
`surrogateescape`, U+DC80..U+DCFF; for the few bytes below 0x80 that a multibyte codec
rejects, U+DC00 + byte), so different bytes stay different strings. Before a value leaves
the differ (differences, previews, `render`) `printable` writes U+DC80..U+DCFF as `\\xNN`
(the byte) and any other lone surrogate (a JSON `\\ud800`, a byte below 0x80) as
`\\uNNNN`: valid UTF-8 everywhere after.
"""

from __future__ import annotations

import codecs
import functools
import re

_NOT_CHARSETS = frozenset(
    {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs", "oem"}
)
"""Text codecs of the registry that are not character sets (escapes, host names)."""

_ESCAPES = "parity-escape"


def _escape_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(_ESCAPES, _escape_bytes)


@functools.lru_cache(maxsize=256)
def text_encoding(charset: str | None) -> str | None:
    """The codec name of `charset` if it is a character set (bytes <-> str), else None."""
    if not charset:
        return None
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):  # ValueError: an embedded NUL
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_text(data: bytes, encoding: str) -> tuple[str, bool]:
    """(`data` as text in `encoding`, True if every byte was valid there). Invalid bytes
    become lone surrogates, one per byte. Never raises for an `encoding` that
    `text_encoding` returned."""
    try:
        return data.decode(encoding), True
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(encoding, "surrogateescape"), False
    except UnicodeDecodeError:  # a byte below 0x80 that a multibyte codec rejected
        return data.decode(encoding, _ESCAPES), False


_LONE = re.compile("[\ud800-\udfff]")


def _written(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable_text(text: str) -> str:
    """`text` with lone surrogates written `\\xNN` (an escaped byte) or `\\uNNNN`."""
    if text.isascii():
        return text
    return _LONE.sub(_written, text)


def has_lone_surrogates(value: object) -> bool:
    """True if some string in `value` (a str, or dicts and lists of them) has one."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if not node.isascii() and _LONE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return False


def printable(value: object) -> object:
    """`value` (str, dicts, lists, tuples of them, other leaves) with every string
    `printable_text`. Returns `value` itself when there is nothing to write."""
    if not has_lone_surrogates(value):
        return value
    try:
        return _printable(value)
    except RecursionError:  # previews are small, but may nest deep
        return "<a value too deeply nested to show>"


def _printable(value: object) -> object:
    if isinstance(value, str):
        return printable_text(value)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_printable(v) for v in value)
    return value
