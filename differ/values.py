"""Value maps and origins: what the replayer already knows is equivalent.

A value map says "the target minted `87` where the recording had `1042`". Replacing the
target's values by the recorded ones before comparing means a correlated id, token or
ETag is never a difference. Origins (`scheme://host:port` of each responder) likewise
all become `<origin>`, so a port change is never a mismatch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

ORIGIN_TOKEN = "<origin>"

_COARSE_TOKEN = re.compile(r'[^\s;,"]+')  # header values: words between separators
_FINE_TOKEN = re.compile(r"[^/?&=#:]+")  # URL parts: path segments, query names/values
_WORD = re.compile(r"[A-Za-z0-9_\-~]{4,}")  # words in prose ("No entry 23180")


def _typed(value: object) -> tuple[str, object] | None:
    """A lookup key that keeps `1`, `1.0`, `True` and `"1"` apart (Python hashes the first
    three alike)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value)
    if isinstance(value, str):
        return ("str", value)
    return None


class ValueMap:
    """Lookups into one target's value map (target value -> recorded value)."""

    def __init__(self, mapping: Mapping[object, object] | None) -> None:
        self._leaves: dict[tuple[str, object], object] = {}
        self._tokens: dict[str, str] = {}
        derived: dict[str, str] = {}
        for key, value in (mapping or {}).items():
            typed = _typed(key)
            if typed is None or key == value:
                continue
            self._leaves[typed] = value
            if isinstance(value, str | int) and not isinstance(value, bool):
                if isinstance(key, str):
                    self._tokens[key] = str(value)
                elif isinstance(key, int) and not isinstance(key, bool):
                    derived[str(key)] = str(value)
        for key, value in derived.items():  # an explicit "87" wins over a derived 87
            self._tokens.setdefault(key, value)

    def __bool__(self) -> bool:
        return bool(self._leaves)

    def leaf(self, value: object) -> tuple[bool, object]:
        """(True, recorded) if `value` (same type) is a key of the map, else (False, value)."""
        typed = _typed(value)
        if typed is None or typed not in self._leaves:
            return False, value
        return True, self._leaves[typed]

    def key(self, name: str) -> str:
        """An object key mapped as a whole (ids as keys are strings in JSON)."""
        return self._tokens.get(name, name)

    def words(self, text: str) -> str:
        """Mapped values of 4+ characters replaced where they appear as words inside a
        longer string, e.g. an error message quoting a minted id. Shorter values (`7`,
        `v1`) are too likely to be something else."""
        if not self._tokens:
            return text
        return _WORD.sub(lambda m: self._tokens.get(m.group(), m.group()), text)

    def url(self, text: str) -> str:
        """Path segments and query values of a URL (or path) replaced one by one."""
        if not self._tokens:
            return text
        return _FINE_TOKEN.sub(lambda m: self._tokens.get(m.group(), m.group()), text)

    def header(self, value: str) -> str:
        """A header value with mapped tokens replaced: the whole value, then words such as
        `Bearer tokB`, `sid=tokB; Path=/`, `W/"etag-b"`, then URL parts."""
        if not self._tokens:
            return value
        whole = self._tokens.get(value)
        if whole is not None:
            return whole
        return _COARSE_TOKEN.sub(lambda m: self._token(m.group()), value)

    def _token(self, token: str) -> str:
        mapped = self._tokens.get(token)
        if mapped is not None:
            return mapped
        name, eq, rest = token.partition("=")
        if eq and rest in self._tokens:  # a cookie or parameter: name=value
            return f"{self.url(name)}={self._tokens[rest]}"
        return self.url(token)


class Origins:
    """Rewrites any of several origins to `<origin>` (with or without a default port)."""

    def __init__(self, origins: Iterable[str | None]) -> None:
        variants: set[str] = set()
        for origin in origins:
            if origin:
                variants.update(_variants(origin.rstrip("/")))
        alternatives = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
        # Not followed by more host or port characters: :5000 must not match :50001.
        self._pattern = (
            re.compile(f"(?:{alternatives})(?![0-9A-Za-z.:\\-])", re.IGNORECASE)
            if alternatives
            else None
        )
        # Host names alone (ports dropped) make the fewest needles for the quick checks:
        # usually one, as a replay mostly changes the port.
        hosts = {urlsplit(v).hostname or v for v in variants}
        self._needles = tuple(hosts)
        self._needle_bytes = tuple(n.encode("utf-8", "replace") for n in self._needles)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def present_in(self, data: bytes) -> bool:
        """False if no origin's host can appear in `data`: then a whole body can skip
        the per-string work (a byte search is far cheaper than a walk of string checks)."""
        return self._pattern is not None and any(n in data for n in self._needle_bytes)

    def replace(self, text: str) -> tuple[str, bool]:
        """(text with origins replaced, whether anything was replaced)."""
        if self._pattern is None or not any(n in text for n in self._needles):
            return text, False
        replaced, count = self._pattern.subn(ORIGIN_TOKEN, text)
        return replaced, count > 0


def _variants(origin: str) -> set[str]:
    """`http://h:80` -> {`http://h:80`, `http://h`}; `http://h` -> {`http://h`, `http://h:80`}."""
    parts = urlsplit(origin)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if not scheme or not host:
        return {origin}
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    try:
        port = parts.port or default
    except ValueError:
        return {origin}
    found = {origin, f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"}
    if port == default:
        found.add(f"{scheme}://{host}")
    return found
