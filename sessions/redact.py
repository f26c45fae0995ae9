"""Redaction that keeps equality: each secret in an exchange becomes a keyed-hash token.

`PARITY_REDACTED_` + the first 20 hex digits of HMAC-SHA256(redact key, secret bytes):
ASCII that survives JSON, form, query, header and cookie encodings; the same secret gets
the same token everywhere, in every session of the project (same project key), so
correlation, noise learning and the differ still see "the same value came back" or "a
different one did". One regex finds them (`TOKEN`). Pure logic, no I/O: the recorder
redacts what it writes, the replayer what targets answer (`Redactor`), and the replayer
puts originals back into what it sends (`restore_*`).

What is a secret (`RedactionPolicy`; the name rules are `sessions.secrets`'):
- headers named like a secret (Authorization keeps its scheme: `Bearer TOKEN`; Cookie and
  Set-Cookie keep the cookie names; other headers the whole value);
- query values under names like a secret (`is_secret_name`); JSON values, form and
  multipart fields under keys like one (`is_secret_key`), plus `[redact] fields`, and the
  JSON values at `[redact] json_paths`. Under a secret key every string inside is one;
  numbers and booleans are kept;
- wherever they appear, values matching a pattern (bearer credentials in text, JWTs,
  Luhn-valid card numbers, `[redact] patterns`): in header values, the query, text
  bodies, and inside JSON strings;
- a value already found in this exchange (or earlier ones, up to `REMEMBERED`) that
  appears again as a JSON string value (a token echoed by another response).

Bodies are redacted by content type, decoded first when content-encoded (through the
`Codec` given, the recorder's mitmproxy; re-encoded only when something changed). JSON is
never re-serialized: only the string literals that change are rewritten, so escapes,
number spellings and key order stay as the backend wrote them. A body that cannot be
parsed as its type (or decoded) is redacted by the patterns only, and the exchange's
`notes` say so. Content-Length follows a body whose length changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import repeat
from operator import itemgetter
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, quote_plus, unquote_to_bytes

import orjson

from parity.sessions.model import Exchange, Headers, Message
from parity.sessions.scan import CARD, JWT, Candidates, Scanner
from parity.sessions.secrets import (
    SECRET_WORDS,
    VALUE_PATTERNS,
    is_secret_header,
    is_secret_key,
    is_secret_name,
    luhn_ok,
)

TOKEN_PREFIX = "PARITY_REDACTED_"
TOKEN = re.compile(r"PARITY_REDACTED_[0-9a-f]{20}")
TOKEN_BYTES = re.compile(rb"PARITY_REDACTED_[0-9a-f]{20}")
LARGE = 64 * 1024
"""JSON bodies over this size have only the scan's candidates checked and rewritten
(`Redactor._json_values`); smaller ones with a secret in them are parsed whole. Every body
is redacted whatever its size, unless `[redact] max_body` sets a limit."""
SCAN_FROM = 512
"""Values this long or longer are looked through for patterns in one native pass
(`sessions.scan`: ~1.3 ms per MB, the GIL released; JSON bodies always are: 6 us for a
2 KB answer against 22 us for the Python looks); shorter ones by `Redactor._may_match`'s
substring looks, which cost less than starting a scan. With `[redact] patterns` of its own
the team's regexes are not in the scan, and every body takes the Python looks."""
REMEMBERED = 4096
"""Secret values a `Redactor` remembers to find again as JSON string values."""

MIN_COOKIE = 8
"""Cookie values this long or longer are redacted whatever the cookie's name (session
cookies have many names: PHPSESSID, connect.sid, _app_session); shorter ones only under
a secret-like name."""

ECHO_MIN = 8
ECHOES = 8
"""The latest secrets of 8 bytes or more (up to 8) are looked for in every JSON body, so
a token echoed under another key is redacted too (each look is a substring search of the
body: ~0.3 ms per MB)."""
_KEY = re.compile(rb'"([^"]{0,256})"\s+:')
_DIGITS = bytes(
    ord("0") if chr(i).isdigit() and i < 128 else ord("-") if i in b" -" else ord("x")
    for i in range(256)
)

_LOWER = bytes(range(256)).lower()
_NOT_ALNUM = bytes(c for c in range(256) if c != 10 and not (c < 128 and chr(c).isalnum()))
"""Deleted from joined names before the `SECRET_WORDS` look (newlines part the names)."""
_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_AFTER = re.compile(rb"\s*:")
_COOKIE = re.compile(rb"(^|;)(\s*)([^=;]+)=([^;]*)")
_SET_COOKIE = re.compile(rb"^(\s*)([^=;]+)=([^;]*)")
_TEXT_TYPES = ("text/", "application/xml", "application/javascript", "application/graphql")

_T = TypeVar("_T")
Found = dict[str, tuple[bytes, str]]
"""token -> (original bytes, where it was first seen: `header Authorization`, `json password`)."""


class Codec(Protocol):
    def decode(self, data: bytes, encoding: str) -> bytes | None: ...
    def encode(self, data: bytes, encoding: str) -> bytes: ...


class MitmCodec:
    """Content-Encoding through mitmproxy's own codecs (gzip, deflate, br, zstd), for the
    recorder and the replayer alike; None for what does not decode. Imported when used:
    `sessions` needs mitmproxy only here."""

    def decode(self, data: bytes, encoding: str) -> bytes | None:
        from mitmproxy.net import encoding as codecs

        try:
            decoded = codecs.decode(data, encoding)
        except ValueError:
            return None
        return decoded if isinstance(decoded, bytes) else None

    def encode(self, data: bytes, encoding: str) -> bytes:
        from mitmproxy.net import encoding as codecs

        encoded = codecs.encode(data, encoding)
        assert isinstance(encoded, bytes)
        return encoded


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    return list(value)


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What counts as a secret: the built-in rules plus `[redact]` of parity.toml."""

    enabled: bool = True
    headers: frozenset[str] = frozenset()
    """More header names (lower-case)."""
    fields: frozenset[str] = frozenset()
    """More JSON keys, form, query and multipart field names (lower-case)."""
    json_paths: tuple[tuple[str, ...], ...] = ()
    """JSON paths as steps: `$.user.pin` -> ("user", "pin"); `[*]`/`*` match any step."""
    patterns: tuple[bytes, ...] = ()
    """More regexes for secret values (group 1, when there is one, is the secret)."""
    max_body: int = 0
    """Bodies larger than this are not scanned (0, the default: no limit); the exchange's
    notes say so."""

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> RedactionPolicy:
        """The `[redact]` table; a `ValueError` says which key is wrong and how."""
        known = ("enabled", "fields", "headers", "json_paths", "max_body", "patterns")
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise ValueError(f"{key!r} is not a known key (known: {', '.join(known)})")
            if key == "enabled":
                if not isinstance(value, bool):
                    raise ValueError("enabled must be true or false")
                values[key] = value
            elif key == "max_body":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError("max_body must be a number of bytes (0: no limit)")
                values[key] = value
            elif key in ("headers", "fields"):
                values[key] = frozenset(v.lower() for v in _strings(value, key))
            elif key == "json_paths":
                values[key] = tuple(parse_json_path(p) for p in _strings(value, key))
            else:
                patterns = []
                for text in _strings(value, key):
                    try:
                        re.compile(text.encode("utf-8"))
                    except re.error as exc:
                        raise ValueError(f"patterns: {text[:60]!r} is not a regex: {exc}") from None
                    patterns.append(text.encode("utf-8"))
                values[key] = tuple(patterns)
        return cls(**values)

    def header_secret(self, name: bytes) -> bool:
        return is_secret_header(name) or name.lower().decode("latin-1") in self.headers

    def field_secret(self, name: str, *, query: bool = False) -> bool:
        if name.lower() in self.fields:
            return True
        return is_secret_name(name) if query else is_secret_key(name)


def parse_json_path(text: str) -> tuple[str, ...]:
    """`$.a.b[*].c` / `a.b.*.c` -> ("a", "b", "*", "c")."""
    body = text.strip()
    body = body[1:] if body.startswith("$") else body
    out: list[str] = []
    for step in re.findall(r"\[(?:\*|\d+)\]|\[['\"].*?['\"]\]|[^.\[\]]+", body):
        if step.startswith("[") and step[1:2] in ("'", '"'):
            out.append(step[2:-2])
        elif step.startswith("["):
            out.append("*" if step == "[*]" else step[1:-1])
        else:
            out.append(step)
    if not out:
        raise ValueError(f"json_paths: {text[:60]!r} names no field")
    return tuple(out)


class Redactor:
    """Redacts exchanges (the recorder) and answers (the replayer) under one policy and
    redact key; `found` of each call maps the tokens it made to the originals."""

    def __init__(self, policy: RedactionPolicy, key: bytes, codec: Codec | None = None) -> None:
        self.policy = policy
        self._key = key
        self._codec = codec
        self._tokens: dict[bytes, str] = {}
        self._known: dict[str, None] = {}
        self._recent: dict[bytes, None] = {}
        """The latest secrets of `ECHO_MIN` bytes or more, looked for as echoes in JSON."""
        self._patterns = [re.compile(p) for p in VALUE_PATTERNS.values()]
        self._card = self._patterns[list(VALUE_PATTERNS).index("card")]
        self._own = [re.compile(p) for p in policy.patterns]
        self._secret_headers: dict[bytes, bool] = {}
        self._secret_keys: dict[bytes, bool] = {}
        self._scanner = Scanner(policy.fields)

    def token(self, secret: bytes) -> str:
        """The token of one secret value."""
        found = self._tokens.get(secret)
        if found is None:
            digest = hmac.new(self._key, secret, hashlib.sha256).hexdigest()
            found = TOKEN_PREFIX + digest[:20]
            if len(self._tokens) > 65536:
                self._tokens.clear()
            self._tokens[secret] = found
        return found

    def _secret(self, value: bytes, where: str, found: Found) -> bytes:
        if TOKEN_BYTES.fullmatch(value):
            return value  # already a token (a redacted recording replayed through parity)
        token = self.token(value)
        found.setdefault(token, (value, where))
        text = value.decode("utf-8", "surrogateescape")
        self._known[text] = None
        if len(self._known) > REMEMBERED:
            del self._known[next(iter(self._known))]
        if len(value) >= ECHO_MIN and b'"' not in value and b"\\" not in value:
            self._recent[value] = None
            if len(self._recent) > ECHOES:
                del self._recent[next(iter(self._recent))]
        return token.encode("ascii")

    def _secret_key(self, key: bytes) -> bool:
        """A JSON key (raw, as `_json_keys` gives it) that is or may be secret."""
        known = self._secret_keys.get(key)
        if known is None:
            if len(self._secret_keys) > 65536:
                self._secret_keys.clear()
            text = key.decode("utf-8", "surrogateescape")
            known = self._secret_keys[key] = b"\\" in key or self.policy.field_secret(text)
        return known

    # -- whole exchanges ------------------------------------------------------------------

    def exchange(self, exchange: Exchange) -> tuple[Exchange, Found]:
        """The exchange with every secret replaced by its token, and what was replaced."""
        found: Found = {}
        notes: list[str] = []
        request = exchange.request
        headers = self.headers(request.headers, found)
        path = self.path(request.path, found)
        body = self.body(request.body, headers, found, notes, "request")
        new_request = _changed(
            request, headers=_content_length(headers, request.body, body), path=path, body=body
        )
        new_response = response = exchange.response
        if response is not None:
            headers = self.headers(response.headers, found)
            body = self.body(response.body, headers, found, notes, "response")
            new_response = _changed(
                response, headers=_content_length(headers, response.body, body), body=body
            )
        messages = exchange.messages
        if messages:
            messages = [self.message(m, found) for m in messages]
        redacted = _changed(
            exchange,
            request=new_request,
            response=new_response,
            messages=messages,
            notes=[*exchange.notes, *notes] if notes else exchange.notes,
        )
        return redacted, found

    def answer(self, headers: Headers, body: bytes, found: Found) -> tuple[Headers, bytes]:
        """A live answer's headers and body, redacted like a recorded response."""
        new_headers = self.headers(headers, found)
        new_body = self.body(body, new_headers, found, [], "response")
        return _content_length(new_headers, body, new_body), new_body

    def message(self, message: Message, found: Found) -> Message:
        """A WebSocket frame or server-sent event: JSON text as JSON, else the patterns."""
        if message.kind == "binary" or not message.content:
            return message
        content = message.content
        stripped = content.lstrip()
        if message.kind == "text" and stripped[:1] in (b"{", b"["):
            new = self._json(content, found, [], "message")
        else:
            new = self.patterns(content, found, "message")
        return message if new is content else replace(message, content=new)

    # -- parts ----------------------------------------------------------------------------

    def headers(self, headers: Headers, found: Found) -> Headers:
        """The headers redacted (the same list when nothing was)."""
        out: Headers = []
        changed = False
        scan = self._may_match(b"\n".join(value for _, value in headers))
        secret_header = self._secret_headers
        for name, old in headers:
            value = old
            secret = secret_header.get(name)
            if secret is None:
                secret = secret_header[name] = self.policy.header_secret(name)
            if value and secret:
                value = self._header(name, value, found)
            elif value and scan:
                value = self.patterns(value, found, f"header {name.decode('latin-1')}")
            changed = changed or value is not old
            out.append((name, value))
        return out if changed else headers

    def _header(self, name: bytes, value: bytes, found: Found) -> bytes:
        where = f"header {name.decode('latin-1')}"
        name = name.lower()
        if name in (b"authorization", b"proxy-authorization"):
            scheme, space, credential = value.strip().partition(b" ")
            if space and credential.strip():
                return scheme + b" " + self._secret(credential.strip(), where, found)
            return self._secret(value.strip(), where, found)
        if name == b"cookie":
            return _COOKIE.sub(lambda m: self._cookie(m, found), value)
        if name == b"set-cookie":
            return _SET_COOKIE.sub(lambda m: self._cookie(m, found, set_cookie=True), value, 1)
        return self._secret(value, where, found)

    def _cookie(self, match: re.Match[bytes], found: Found, *, set_cookie: bool = False) -> bytes:
        if set_cookie:
            lead, name, value = match.group(1), match.group(2), match.group(3)
            prefix = lead
        else:
            prefix = match.group(1) + match.group(2)
            name, value = match.group(3), match.group(4)
        bare = value.strip(b' "')
        cookie = name.strip().decode("latin-1")
        if not bare or (len(bare) < MIN_COOKIE and not is_secret_name(cookie)):
            return match.group(0)  # `theme=dark`, `a=1`: not a credential
        where = f"cookie {cookie}"
        return prefix + name + b"=" + self._secret(value, where, found)

    def path(self, path: str, found: Found) -> str:
        """Query values under secret names, and patterns anywhere in path and query."""
        raw = path.encode("utf-8", "surrogateescape")
        bare, sep, query = raw.partition(b"?")
        if sep and query:
            query = self._pairs(query, found, "query", query_rules=True)
        new = self.patterns(bare + sep + query, found, "path")
        return path if new == raw else new.decode("utf-8", "surrogateescape")

    def _pairs(self, data: bytes, found: Found, where: str, *, query_rules: bool) -> bytes:
        parts = data.split(b"&")
        indices: Iterable[int] = range(len(parts))
        if len(parts) > 64:
            names = list(map(itemgetter(0), map(bytes.partition, parts, repeat(b"="))))
            secret = self._secret_names(set(names), query_rules)
            if not secret:
                return data
            indices = [i for i, name in enumerate(names) if name in secret]
        changed = False
        for i in indices:
            name, eq, value = parts[i].partition(b"=")
            if not eq or not value:
                continue
            key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "surrogateescape")
            if self.policy.field_secret(key, query=query_rules):
                original = unquote_to_bytes(value.replace(b"+", b" "))
                parts[i] = name + b"=" + self._secret(original, f"{where} {key}", found)
                changed = True
        return b"&".join(parts) if changed else data

    def _secret_names(self, names: set[bytes], query_rules: bool) -> set[bytes]:
        """The secret ones among a large form's distinct raw names. Only names that hold a
        secret word (`SECRET_WORDS`, each name stripped to letters and digits) are looked
        at one by one, unless a percent-escape or `[redact] fields` rules the words out."""
        candidates: Iterable[bytes] = names
        if not query_rules and not self.policy.fields:
            ordered = list(names)
            joined = b"\n".join(ordered)
            if b"%" not in joined:
                stripped = joined.translate(_LOWER, _NOT_ALNUM)
                lines = stripped.split(b"\n")
                hits: set[bytes] = set()
                for word in SECRET_WORDS:
                    at = stripped.find(word)
                    while at >= 0:
                        start = stripped.rfind(b"\n", 0, at) + 1
                        end = stripped.find(b"\n", at)
                        end = len(stripped) if end < 0 else end
                        hits.add(stripped[start:end])
                        at = stripped.find(word, end)
                if not hits:
                    return set()
                candidates = [n for n, line in zip(ordered, lines, strict=True) if line in hits]
        out: set[bytes] = set()
        for name in candidates:
            key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "surrogateescape")
            if self.policy.field_secret(key, query=query_rules):
                out.add(name)
        return out

    def body(
        self, body: bytes, headers: Headers, found: Found, notes: list[str], side: str
    ) -> bytes:
        """A body redacted by its content type (decoded first when content-encoded)."""
        if not body:
            return body
        limit = self.policy.max_body
        if limit and len(body) > limit:
            notes.append(f"{side} body: over {limit} bytes; not scanned ([redact] max_body)")
            return body
        encodings = _encodings(headers)
        plain: bytes | None = body
        if encodings:
            plain = self._decode(body, encodings)
            if plain is None:
                notes.append(f"{side} body: not decoded ({', '.join(encodings)}); patterns only")
                return self.patterns(body, found, f"{side} body")
        assert plain is not None
        media, boundary = _media(headers)
        if (
            media == "application/json"
            or media.endswith("+json")
            or (not media and plain.lstrip()[:1] in (b"{", b"["))
        ):
            new = self._json(plain, found, notes, side)
        elif media == "application/x-www-form-urlencoded":
            new = self._pairs(plain, found, "form", query_rules=False)
            new = self.patterns(new, found, f"{side} body")
        elif media == "multipart/form-data":
            new = self._multipart(plain, boundary, found, notes, side)
        else:
            new = self.patterns(plain, found, f"{side} body")
        if new is plain or new == plain:
            return body
        if encodings:
            return self._encode(new, encodings)
        return new

    def _decode(self, body: bytes, encodings: list[str]) -> bytes | None:
        if self._codec is None:
            return None
        data: bytes | None = body
        for encoding in reversed(encodings):
            assert data is not None
            data = self._codec.decode(data, encoding)
            if data is None:
                return None
        return data

    def _encode(self, data: bytes, encodings: list[str]) -> bytes:
        assert self._codec is not None
        for encoding in encodings:
            data = self._codec.encode(data, encoding)
        return data

    def _json(self, body: bytes, found: Found, notes: list[str], side: str) -> bytes:
        # Cheap looks first: most bodies have no secret key, pattern or echo, and are
        # then neither parsed nor rewritten.
        large = len(body) > LARGE
        escaped_key = False
        if not self._own:
            candidates = self._scanner.scan(body, self._recent)
            keys: Iterable[bytes] = candidates.keys
            escaped_key = candidates.escaped_key
            patterned = self._verified(body, candidates)
            echoes = list(candidates.echoes)
        else:
            keys = _json_keys(body)
            patterned = self._may_match(body)
            echoes = [secret for secret in self._recent if secret in body]
        secret_keys = [key for key in keys if self._secret_key(key)]
        hinted = bool(self.policy.json_paths) or bool(secret_keys) or escaped_key
        echoed = bool(echoes)
        if not hinted and not patterned and not echoed:
            return body
        if large and not patterned and not self.policy.json_paths and not escaped_key:
            targeted = self._json_values(body, secret_keys, echoes)
            if targeted is not None:
                return self._rewrite(body, targeted, found)
        try:
            tree = orjson.loads(body)
        except orjson.JSONDecodeError:
            notes.append(f"{side} body: not valid JSON; patterns only")
            return self.patterns(body, found, f"{side} body")
        secrets: set[str] = set()
        if hinted:
            self._walk(_with_every_member(body, tree), (), False, "", secrets)
        # Parsed anyway: every remembered secret is looked for among the string values.
        known = self._known
        if not secrets and not patterned and not echoed:
            return body
        pieces: list[bytes] = []
        last = 0
        key = ""
        for match in _LITERAL.finditer(body):
            literal = match.group(0)
            is_key = _AFTER.match(body, match.end()) is not None
            text = _literal_text(literal)
            if text is None:
                continue
            if is_key:
                key = text
                continue
            where = f"json {key}" if key else "json"
            new: bytes | None = None
            if text in secrets or (text in known and len(text) >= 8):
                new = (
                    b'"'
                    + self._secret(text.encode("utf-8", "surrogateescape"), where, found)
                    + b'"'
                )
            elif patterned:
                raw = text.encode("utf-8", "surrogateescape")
                replaced = self.patterns(raw, found, where)
                if replaced is not raw:
                    new = orjson.dumps(replaced.decode("utf-8", "surrogateescape"))
            if new is not None:
                pieces.append(body[last : match.start()])
                pieces.append(new)
                last = match.end()
        if not pieces:
            return body
        pieces.append(body[last:])
        return b"".join(pieces)

    def _json_values(
        self, body: bytes, keys: list[bytes], echoes: list[bytes]
    ) -> list[tuple[int, int, bytes]] | None:
        """Where a large JSON body's secrets are, when they are only string values right
        after secret keys (`"password": "..."`) or remembered secrets echoed as whole string
        values: (start, end, key) of each literal; None when the body needs the whole walk
        (a secret key over an object or array, a key with an escape, one spaced from its
        colon, a candidate after a backslash, invalid JSON)."""
        try:
            orjson.loads(body)  # invalid JSON takes the whole path and its note
        except orjson.JSONDecodeError:
            return None
        spots: list[tuple[int, int, bytes]] = []
        for key in keys:
            if b"\\" in key:
                return None
            needle = b'"' + key + b'":'
            at = body.find(needle)
            if at < 0:
                return None  # spaced from its colon (`_KEY` found it)
            while at >= 0:
                if body[at - 1 : at] == b"\\":
                    return None
                start = at + len(needle)
                while body[start : start + 1] in (b" ", b"\t", b"\n", b"\r"):
                    start += 1
                lead = body[start : start + 1]
                if lead in (b"{", b"["):
                    return None  # every string inside is one: the whole walk
                if lead == b'"':
                    match = _LITERAL.match(body, start)
                    if match is None:
                        return None
                    spots.append((start, match.end(), key))
                at = body.find(needle, start)
        for secret in echoes:
            needle = b'"' + secret + b'"'
            at = body.find(needle)
            while at >= 0:
                if body[at - 1 : at] == b"\\":
                    return None
                end = at + len(needle)
                if _AFTER.match(body, end) is None:
                    spots.append((at, end, b""))
                at = body.find(needle, end)
        return spots

    def _rewrite(self, body: bytes, spots: list[tuple[int, int, bytes]], found: Found) -> bytes:
        """`body` with the string literals at `spots` replaced by their tokens."""
        pieces: list[bytes] = []
        last = 0
        for start, end, key in sorted(set(spots)):
            if start < last:
                continue
            text = _literal_text(body[start:end])
            if not text:
                continue
            where = f"json {key.decode('utf-8', 'surrogateescape')}" if key else "json"
            raw = text.encode("utf-8", "surrogateescape")
            pieces += [body[last:start], b'"' + self._secret(raw, where, found) + b'"']
            last = end
        if not pieces:
            return body
        pieces.append(body[last:])
        return b"".join(pieces)

    def _walk(
        self, value: Any, path: tuple[str, ...], secret: bool, key: str, out: set[str]
    ) -> None:
        if isinstance(value, str):
            if value and (secret or self._on_path(path)):
                out.add(value)
            return
        if isinstance(value, dict | Members):
            for k, v in value.items():
                self._walk(v, (*path, k), secret or self.policy.field_secret(k), k, out)
        elif isinstance(value, list):
            for v in value:
                self._walk(v, (*path, "*"), secret, key, out)

    def _on_path(self, path: tuple[str, ...]) -> bool:
        for wanted in self.policy.json_paths:
            if len(wanted) == len(path) and all(
                w == p or (p == "*" and (w == "*" or w.isdigit())) or w == "*"
                for w, p in zip(wanted, path, strict=True)
            ):
                return True
        return False

    def _multipart(
        self, body: bytes, boundary: bytes | None, found: Found, notes: list[str], side: str
    ) -> bytes:
        if not boundary or b"--" + boundary not in body:
            notes.append(f"{side} body: multipart without its boundary; patterns only")
            return self.patterns(body, found, f"{side} body")
        delimiter = b"--" + boundary
        parts = body.split(delimiter)
        changed = False
        for i, part in enumerate(parts[1:-1], start=1):
            head, sep, content = part.partition(b"\r\n\r\n")
            if not sep:
                continue
            name = re.search(rb'(?i)content-disposition:[^\r\n]*?\bname="([^"]*)"', head)
            has_file = re.search(rb"(?i)content-disposition:[^\r\n]*?\bfilename=", head)
            value, end = (
                (content[:-2], content[-2:]) if content.endswith(b"\r\n") else (content, b"")
            )
            key = name.group(1).decode("utf-8", "surrogateescape") if name else ""
            if name and not has_file and value and self.policy.field_secret(key):
                new = self._secret(value, f"multipart {key}", found)
            else:
                new = self.patterns(value, found, f"multipart {key}")
            if new is not value:
                parts[i] = head + sep + new + end
                changed = True
        return delimiter.join(parts) if changed else body

    def patterns(self, data: bytes, found: Found, where: str) -> bytes:
        """`data` with every value matching a pattern replaced (the same object when none);
        tokens already in it are left whole."""
        if len(data) >= SCAN_FROM and not self._own:
            if not self._verified(data, self._scanner.scan(data, self._recent)):
                return data
        elif not self._may_match(data):
            return data
        if b"PARITY_REDACTED_" not in data:
            return self._patterns_in(data, found, where)
        pieces = TOKEN_BYTES.split(data)
        tokens = TOKEN_BYTES.findall(data)
        new = [self._patterns_in(piece, found, where) for piece in pieces]
        if all(a is b for a, b in zip(new, pieces, strict=True)):
            return data
        out = [new[0]]
        for token, piece in zip(tokens, new[1:], strict=True):
            out += [token, piece]
        return b"".join(out)

    def _may_match(self, data: bytes) -> bool:
        """Whether a pattern may match `data`: a few substring looks (memchr speed) and one
        `bytes.translate` instead of the patterns' own scans, which are 10-50x slower."""
        if self._own or b"eyJ" in data or b"earer " in data:
            return True
        digits = data.translate(_DIGITS)
        return b"0000000000000" in digits or b"0000-0000-0000-0000" in digits

    def _verified(self, data: bytes, candidates: Candidates) -> bool:
        """Whether a built-in pattern really matches at one of the scan's candidates (the
        scan has no look-arounds and no Luhn check: it finds starts, these decide)."""
        bearer, jwt, card = self._patterns
        for kind, start in candidates.patterns:
            if kind == JWT:
                if jwt.match(data, start) is not None:
                    return True
            elif kind == CARD:
                end = start + 64  # a match ending there may go on past it: not taken
                for match in card.finditer(data, start, end):
                    if (match.end() < end or end >= len(data)) and luhn_ok(match.group(0)):
                        return True
            elif bearer.match(data, start + 7) is not None:
                return True
        return False

    def _patterns_in(self, data: bytes, found: Found, where: str) -> bytes:
        for pattern in (*self._patterns, *self._own):
            if pattern.search(data) is None:
                continue
            card = pattern is self._card

            def swap(match: re.Match[bytes], card: bool = card) -> bytes:
                group = 1 if match.re.groups else 0
                value = match.group(group)
                if not value or (card and not luhn_ok(value)):
                    return match.group(0)
                whole = match.group(0)
                start, end = match.start(group) - match.start(), match.end(group) - match.start()
                return whole[:start] + self._secret(value, where, found) + whole[end:]

            new = pattern.sub(swap, data)
            if new != data:
                data = new
        return data


def _changed(obj: _T, **changes: Any) -> _T:
    """`obj` itself when every change is the value it has, else a copy with them."""
    if all(getattr(obj, name) is value for name, value in changes.items()):
        return obj
    return replace(obj, **changes)  # type: ignore[type-var]


class Members(list[tuple[str, Any]]):
    """A JSON object as written, every member kept: a key given twice has both values
    (a parser's dict keeps the last, and the earlier value would go unredacted)."""

    def items(self) -> list[tuple[str, Any]]:
        return self


def _with_every_member(body: bytes, tree: Any) -> Any:
    """The document parsed again with every member of its objects (`Members`), for the
    walk that finds secrets under secret keys; the standard parser is slower than orjson,
    and only bodies with a secret key take this walk. `tree` (orjson's) if it fails."""
    try:
        return json.loads(body.decode("utf-8", "surrogateescape"), object_pairs_hook=Members)
    except (ValueError, RecursionError):
        return tree


def _json_keys(body: bytes) -> set[bytes]:
    """The keys of a JSON text, roughly and fast: what precedes each `":` back to its
    quote (a key with an escaped quote comes out cut there; one with `\\u` escapes keeps them). Splitting
    costs a third of a regex scan here; a key spaced from its colon takes the regex."""
    pieces = body.split(b'":')
    pieces.pop()
    keys = set(map(itemgetter(-1), map(bytes.rsplit, pieces, repeat(b'"'), repeat(1))))
    if b'" :' in body or b'"\n' in body or b'"\t' in body or b'"\r' in body:
        keys.update(_KEY.findall(body))
    return keys


def _literal_text(literal: bytes) -> str | None:
    if b"\\" not in literal:
        return literal[1:-1].decode("utf-8", "surrogateescape")
    try:
        text = orjson.loads(literal)
    except orjson.JSONDecodeError:
        return None
    return text if isinstance(text, str) else None


def _encodings(headers: Headers) -> list[str]:
    out: list[str] = []
    for name, value in headers:
        if name.lower() == b"content-encoding":
            out.extend(
                e.strip().lower()
                for e in value.decode("latin-1").split(",")
                if e.strip() and e.strip().lower() != "identity"
            )
    return out


def _media(headers: Headers) -> tuple[str, bytes | None]:
    for name, value in headers:
        if name.lower() == b"content-type":
            text = value.decode("latin-1")
            media = text.split(";", 1)[0].strip().lower()
            boundary = re.search(r'(?i)boundary="?([^";]+)"?', text)
            return media, boundary.group(1).encode("latin-1") if boundary else None
    return "", None


def _content_length(headers: Headers, before: bytes, after: bytes) -> Headers:
    if len(before) == len(after):
        return headers
    size = str(len(after)).encode("ascii")
    return [(k, size if k.lower() == b"content-length" else v) for k, v in headers]


# -- putting originals back (replay) ------------------------------------------------------

Lookup = Callable[[str, str], bytes]
"""(token, where it is: `header Authorization`, `json password`) -> the original; raises
when there is none."""


def has_tokens(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        return b"PARITY_REDACTED_" in text
    return "PARITY_REDACTED_" in text


def _swap(
    lookup: Lookup, where: str, spell: Callable[[bytes], str]
) -> Callable[[re.Match[str]], str]:
    def swap(match: re.Match[str]) -> str:
        return spell(lookup(match.group(0), where))

    return swap


def _swap_bytes(
    lookup: Lookup, where: str, spell: Callable[[bytes], str] | None = None
) -> Callable[[re.Match[bytes]], bytes]:
    def swap(match: re.Match[bytes]) -> bytes:
        value = lookup(match.group(0).decode("ascii"), where)
        return spell(value).encode("ascii") if spell is not None else value

    return swap


def _as_text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def restore_header(name: str, value: str, lookup: Lookup) -> str:
    """A header value with each token replaced by its original (as Latin-1 text)."""
    if not has_tokens(value):
        return value
    where = f"header {name}"
    return TOKEN.sub(_swap(lookup, where, lambda v: v.decode("latin-1")), value)


def restore_path(path: str, lookup: Lookup) -> str:
    """Path and query with tokens replaced by their originals, percent-encoded."""
    if not has_tokens(path):
        return path
    bare, sep, query = path.partition("?")
    bare = TOKEN.sub(_swap(lookup, "path", lambda v: quote(v, safe="")), bare)
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        where = f"query {name}"
        if has_tokens(value):
            value = TOKEN.sub(_swap(lookup, where, quote_plus), value)
            parts[i] = name + eq + value
    return bare + sep + "&".join(parts)


def restore_body(body: bytes, content_type: str, lookup: Lookup) -> bytes:
    """A body with tokens replaced by their originals, encoded for its content type:
    escaped inside JSON strings, percent-encoded in forms, as bytes elsewhere."""
    if not has_tokens(body):
        return body
    media = content_type.split(";", 1)[0].strip().lower()
    if (
        media == "application/json"
        or media.endswith("+json")
        or (not media and body.lstrip()[:1] in (b"{", b"["))
    ):
        return _restore_json(body, lookup)
    if media == "application/x-www-form-urlencoded":
        parts = body.split(b"&")
        for i, part in enumerate(parts):
            name, eq, value = part.partition(b"=")
            where = f"form {unquote_to_bytes(name).decode('utf-8', 'replace')}"
            if has_tokens(value):
                value = TOKEN_BYTES.sub(_swap_bytes(lookup, where, quote_plus), value)
                parts[i] = name + eq + value
        return b"&".join(parts)
    return TOKEN_BYTES.sub(_swap_bytes(lookup, "body"), body)


def _restore_json(body: bytes, lookup: Lookup) -> bytes:
    pieces: list[bytes] = []
    last = 0
    key = ""
    for match in _LITERAL.finditer(body):
        literal = match.group(0)
        if _AFTER.match(body, match.end()) is not None:
            key = _literal_text(literal) or ""
            continue
        if b"PARITY_REDACTED_" not in literal:
            continue
        text = _literal_text(literal)
        if text is None:
            continue
        where = f"json {key}" if key else "json"
        restored = TOKEN.sub(_swap(lookup, where, _as_text), text)
        pieces.append(body[last : match.start()])
        pieces.append(orjson.dumps(restored) if _utf8(restored) else _dumps_escaped(restored))
        last = match.end()
    if not pieces:
        # A token outside a string literal: put the bytes back as they were.
        return TOKEN_BYTES.sub(_swap_bytes(lookup, "json"), body)
    pieces.append(body[last:])
    return b"".join(pieces)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _dumps_escaped(text: str) -> bytes:
    import json

    return json.dumps(text).encode("ascii")


def tokens_in(values: Iterable[str | bytes]) -> set[str]:
    """Every token in `values`."""
    out: set[str] = set()
    for value in values:
        if isinstance(value, bytes):
            out.update(m.decode() for m in TOKEN_BYTES.findall(value))
        else:
            out.update(TOKEN.findall(value))
    return out
