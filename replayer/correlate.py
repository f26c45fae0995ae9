"""Value correlation: carrying the tokens and ids a target mints through a session.

When the recording had `v` and the target answered `v'` at the same place (the same JSON
path, the same cookie, the same Location segment, the ETag), later requests of the
session carry `v'` wherever the recording carried `v`: path segments, query values,
headers (Authorization, Cookie, If-None-Match, ...), JSON and form bodies.

Only values that look minted are learned — id-like keys, tokens, uuids, cookies, ETags —
and only when the session's requests use them, so a real difference (a wrong count, an
enum in other case) is never "correlated away" and never rewrites later requests.

Mints are scoped by the resource they were minted for (`replayer.resources`): post 13
and comment 13 are two values, minted as 41 and 77, and a use takes the one its context
names (`/posts/13`, `postId=13`, `{"comment": {"id": 13}}`, If-Match for ETags). A value
with one scope is used everywhere. Within a scope the newest mint wins (an id reused after
a delete). A use whose value has scopes that disagree and whose context names none of
them is left as recorded and listed as ambiguous (`Trace`): a guess would send it to
another resource's id. The `Trace` of a request also says what was substituted where,
minted by which exchange (`replayer.explain` turns it into `ExchangeResult.sent`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import orjson

from parity.differ.jsonpath import format_path
from parity.differ.xmltree import parse_xml
from parity.replayer.resources import (
    ETAG,
    header_resource,
    nested_resource,
    path_resource,
    segment_resource,
)

Scalar = str | int
_ID_KEY = re.compile(
    r"(?i:(^|_|-)(ids?|uid|uuid|guid|pk|key|token|sid|session|etag|cursor|ref)$)"
    r"|[a-z0-9](Ids?|IDs?|Uuid|Token|Key|Session)$"  # camelCase: entryId, vaultIDs, apiKey
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TOKEN = re.compile(
    r"^(?=.*\d)[A-Za-z0-9_\-.~+/=]{12,}$|^(?=.*[A-Z])(?=.*[a-z])[A-Za-z0-9_\-.~+/=]{20,}$"
)
# A token inside a header value: not glued to other token characters. `=` and quotes may
# touch it (`sid=tok`, `"etag"`).
_BOUNDARY = r"(?<![A-Za-z0-9_\-]){}(?![A-Za-z0-9_\-])"
# Shorter values (`5`) are replaced in a header only when they are its whole value:
# inside `q=0.5` they are not ids.
_MIN_TOKEN = 4
# Headers that describe the request, never carry a value a backend minted.
_NO_VALUES = frozenset(
    {
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"user-agent",
        b"content-type",
        b"content-length",
        b"host",
        b"connection",
        b"cache-control",
        b"pragma",
        b"te",
    }
)
_HEADER_WORDS = re.compile(r"[\s,;=]+")
_REMEMBERED_BODIES = 100_000
_LEARN_FROM_HEADERS = ("etag", "location", "content-location")


@lru_cache(maxsize=8192)
def _id_like(key: str) -> bool:
    return _ID_KEY.search(key) is not None


def _token_like(value: str) -> bool:
    return len(value) >= 12 and bool(_UUID.match(value) or _TOKEN.match(value))


def looks_minted(key: str | None, value: object) -> bool:
    """True for values a backend mints: anything under an id-like key, uuids, tokens."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    if key is not None and _id_like(key):
        return value != ""
    return isinstance(value, str) and _token_like(value)


_DIGEST = re.compile(r"(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{16,}")


def _digest_like(value: str) -> bool:
    """A run of 16+ hex digits (a hash, a uuid's hex): too many bits to repeat by
    chance, so a fresh backend that answers it again computed it."""
    return bool(_DIGEST.search(value.replace("-", "")))


def minted_leaves(value: Any) -> set[object]:
    """The minted-looking leaves of a JSON value (iterative: this runs on every answer)."""
    found: set[object] = set()
    stack: list[tuple[str | None, Any]] = [(None, value)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((str(k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((key, item) for item in node)
        elif isinstance(node, str):
            if (key is not None and _id_like(key) and node) or _token_like(node):
                found.add(node)
        elif isinstance(node, int) and not isinstance(node, bool) and key and _id_like(key):
            found.add(node)
    return found


def same_record(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two objects agree on more of their plain data (not ids, not tokens) than
    they disagree on: the same record, whatever ids each backend gave it."""
    agree = disagree = 0
    for key, value in a.items():
        if key not in b or isinstance(value, dict | list) or looks_minted(key, value):
            continue
        if value == b[key]:
            agree += 1
        else:
            disagree += 1
    return agree > disagree


def replaceable(key: str | None, value: object) -> bool:
    """Whether a request value may be swapped for its correlated one: minted-looking, or
    too long to be a coincidence. `page=2` stays 2 even when some id 2 was re-minted."""
    if looks_minted(key, value):
        return True
    text = str(value)
    return len(text) >= (4 if text.isdigit() else 8)


def _json(body: bytes) -> Any:
    first = body.lstrip()[:1]
    if not first or (first not in b'{["-' and not first.isdigit()):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


_HTML = re.compile(rb"^\s*<(!doctype\s+html|html[\s>])", re.IGNORECASE)
_MAX_XML = 8 << 20
MAX_LEARN_BODY = 16 << 20
"""Response bodies larger than this (either side) are not parsed to learn from: a
100 MB listing would cost two more trees of its size while it is also being compared,
and the ids a session goes on to use come from small answers (headers, cookies and
Location still teach)."""


def _tree(body: bytes) -> Any:
    """A response body as a tree to learn minted values from: JSON, or XML as the differ
    maps it (`differ.xmltree`: an S3-style `<UploadId>` is `$.X.UploadId`). HTML, DTDs
    and what does not parse give None."""
    parsed = _json(body)
    if parsed is not None or body.lstrip()[:1] != b"<" or len(body) > _MAX_XML:
        return parsed
    if _HTML.match(body):
        return None
    try:
        return parse_xml(body)
    except ValueError:  # XmlRefused and expat's errors
        return None


def _leaves(value: Any, key: str | None = None) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)
    else:
        yield key, value


def request_values(path: str, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> set[Scalar]:
    """Every value a request carries, in the forms correlation can replace."""
    found: set[Scalar] = set()
    bare, _, query = path.partition("?")
    found.update(unquote(s) for s in bare.split("/") if s)
    if query:
        found.update(v for _, v in parse_qsl(query, keep_blank_values=False))
    for name, raw in headers:
        if name.lower() in _NO_VALUES:
            continue
        text = raw.decode("latin-1")
        found.add(text)
        found.update(_HEADER_WORDS.split(text))
    parsed = _json(body)
    if parsed is not None:
        found.update(
            v for _, v in _leaves(parsed) if isinstance(v, str | int) and not isinstance(v, bool)
        )
    elif body and b"=" in body and len(body) < 1 << 20:
        found.update(v for _, v in parse_qsl(body.decode("latin-1"), keep_blank_values=False))
    # Numbers in paths and headers are strings there; the minted id may be an int.
    found.update(int(v) for v in list(found) if isinstance(v, str) and v.isdigit() and len(v) < 19)
    return found


Trail = tuple[Any, str | int] | None
"""Where a JSON leaf is: `(parent trail, key or index)`, None at the root. Built as the
walk goes down (a tuple per node) and turned into a path only for what is learned."""


def _parts(trail: Trail) -> list[str | int]:
    parts: list[str | int] = []
    while trail is not None:
        trail, step = trail
        parts.append(step)
    parts.reverse()
    return parts


def _ancestors(trail: Trail) -> list[str]:
    """The object keys above a leaf, nearest first, without the leaf's own key."""
    keys: list[str] = []
    if trail is not None and isinstance(trail[1], str):
        trail = trail[0]  # the leaf's own key
    while trail is not None:
        trail, step = trail
        if isinstance(step, str):
            keys.append(step)
    return keys


@dataclass(frozen=True, slots=True)
class Mint:
    """One value a target minted in place of a recorded one, and where."""

    recorded: Scalar
    value: Scalar
    resource: str | None
    """What it identifies (`post`; `etag`; `cookie sid`), None when nothing names it."""
    seq: int | None
    """The exchange whose answer carried it."""
    at: str
    """Where that answer carried it: `$.comments[1].id`, `header Location`."""
    order: int


@dataclass(frozen=True, slots=True)
class Substitution:
    """A recorded value a request carried, replaced by the value the target minted."""

    recorded: Scalar
    sent: Scalar
    at: str
    """Where in the request: `path segment 2`, `query postId`, `header Authorization`,
    `$.post.id`, `form postId`."""
    mint: Mint


@dataclass(slots=True)
class Trace:
    """What building one request substituted, and the values it could not place."""

    substitutions: list[Substitution] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)


Context = Callable[[], str | None]


class ValueMap:
    """Recorded value -> the value one target minted in its place, for one session,
    scoped by the resource it was minted for (see `replayer.resources`).

    `forward` holds each recorded value's newest mint in any scope (what a value with a
    single scope maps to everywhere); `scopes` holds every scope's newest mint. A use
    whose value has several scopes with different mints takes the one its context names
    (the collection before a path segment, a `postId` key, an If-Match header); when
    the context names none of them, the value is left as recorded and listed in the
    `Trace` as ambiguous: a guess would send the request to another resource.
    """

    def __init__(self, wanted: set[Scalar] | None = None) -> None:
        self.forward: dict[Scalar, Scalar] = {}
        self.scopes: dict[Scalar, dict[str | None, Mint]] = {}
        self._wanted = wanted
        self._pattern: re.Pattern[str] | None = None
        self._compiled = False
        self._reverse: dict[object, object] | None = None
        self._seen_recorded: set[object] = set()
        self._seen_minted: set[object] = set()
        self.reproduced: set[Scalar] = set()
        """Minted-looking values this target answered exactly as recorded, where they
        first appeared (a content hash, a name derived from the request): on a baseline,
        evidence that the value is deterministic, not minted (`comparable`)."""
        self._comparable: tuple[tuple[int, ...], dict[object, object]] | None = None
        self.version = 0
        self._remembered: set[tuple[int, int]] = set()
        self._order = 0
        # The exchange being learned from: its seq and its recorded path.
        self._seq: int | None = None
        self._path = ""
        self._route: str | None = None
        self._route_known = False

    def __len__(self) -> int:
        return len(self.forward)

    def _learn(
        self,
        recorded: object,
        minted: object,
        key: str | None,
        trail: Trail = None,
        *,
        at: str = "",
        resource: str | None = None,
    ) -> None:
        if recorded == minted and type(recorded) is type(minted):
            if looks_minted(key, recorded) and recorded not in self._seen_recorded:
                self._reproduce((recorded,))
            return
        if not looks_minted(key, recorded) or isinstance(minted, bool):
            return
        if not isinstance(minted, str | int) or minted == "":
            return
        assert isinstance(recorded, str | int)
        # Learn a value the session sends again, or one both sides mint right here for
        # the first time (a new entry's id, a fresh ETag). An id seen before that now
        # differs is a wrong reference: a difference to report, not to correlate away.
        fresh = recorded not in self._seen_recorded and minted not in self._seen_minted
        if self._wanted is not None and recorded not in self._wanted and not fresh:
            return
        if not at:  # a JSON leaf: its path and resource, worked out only now
            at = format_path(_parts(trail))
            resource = nested_resource(key, _ancestors(trail), self._route_resource())
        self._set(recorded, minted, resource, at)
        if isinstance(recorded, int):  # ids travel as text in paths and headers
            self._set(str(recorded), str(minted), resource, at)

    def _set(self, recorded: Scalar, minted: Scalar, resource: str | None, at: str) -> None:
        scopes = self.scopes.setdefault(recorded, {})
        known = scopes.get(resource)
        if known is not None and known.value == minted and type(known.value) is type(minted):
            return  # seen again (a read, a list): still minted by the exchange that minted it
        if known is not None:
            # Re-minted (an id reused after a delete): other scopes that held the old mint
            # were the same thing seen elsewhere (a search result, a Location), not another
            # resource, and the old mint is gone for them too.
            for other in [r for r, m in scopes.items() if r != resource and m.value == known.value]:
                del scopes[other]
        self._order += 1
        scopes[resource] = Mint(recorded, minted, resource, self._seq, at, self._order)
        self.forward[recorded] = minted
        self._compiled = False
        self._reverse = None
        self.version += 1

    def _route_resource(self) -> str | None:
        """The collection of the request being learned from (once per `learn`)."""
        if not self._route_known:
            self._route = path_resource(self._path, (self.forward, self._seen_recorded))
            self._route_known = True
        return self._route

    # -- learning -------------------------------------------------------------------

    def learn(
        self,
        recorded_headers: list[tuple[bytes, bytes]],
        recorded_body: bytes,
        target_headers: list[tuple[bytes, bytes]],
        target_body: bytes,
        *,
        seq: int | None = None,
        path: str = "",
    ) -> None:
        """Learn from one response pair: the same JSON path, cookie, ETag or Location.
        `seq` and `path` are the exchange's and its recorded request path's: what a mint
        is scoped by (`POST /posts` mints posts) and what explains it later."""
        self._seq, self._path, self._route_known = seq, path, False
        recorded_json: Any = None
        target_json: Any = None
        if max(len(recorded_body), len(target_body)) <= MAX_LEARN_BODY and not (
            # Answered as recorded, bytes both sides' values were remembered from before
            # (`_remember`): nothing to learn, nothing to parse.
            recorded_body == target_body and self._remembered_both(recorded_body)
        ):
            recorded_json = _tree(recorded_body)
            if recorded_body == target_body:
                target_json = recorded_json
            else:
                target_json = _tree(target_body)
                self._learn_json(recorded_json, target_json, None, None)
        recorded = _header_map(recorded_headers)
        target = _header_map(target_headers)
        for name in _LEARN_FROM_HEADERS:
            if name in recorded and name in target:
                self._learn_header(name, recorded[name][0], target[name][0])
        self._learn_cookies(recorded.get("set-cookie", []), target.get("set-cookie", []))
        if recorded_json is not None:
            leaves = self._remember(self._seen_recorded, recorded_body, recorded_json)
            if recorded_body == target_body:
                self._reproduce(leaves)
        if target_json is not None:
            self._remember(self._seen_minted, target_body, target_json)
        self._seen_recorded.update(recorded.get("etag", []))
        self._seen_minted.update(target.get("etag", []))

    def _remembered_both(self, body: bytes) -> bool:
        """Whether `_remember` has taken `body`'s leaves as recorded and as minted (it
        would return nothing new for either)."""
        digest = hash(body)
        both = {(id(self._seen_recorded), digest), (id(self._seen_minted), digest)}
        return both <= self._remembered

    def _remember(self, seen: set[object], body: bytes, parsed: Any) -> set[object]:
        """Adds the body's minted-looking leaves to `seen`; returns those not seen before."""
        # Polling, health checks and list pages repeat the same bytes: their values are
        # remembered once (keyed by the body's hash; bounded).
        digest = (id(seen), hash(body))
        if digest in self._remembered:
            return set()
        if len(self._remembered) < _REMEMBERED_BODIES:
            self._remembered.add(digest)
        leaves = minted_leaves(parsed)
        new = leaves - seen
        seen |= leaves
        return new

    def _reproduce(self, values: Iterable[object]) -> None:
        """Digest-like values answered exactly as recorded where they first appeared
        (the callers pass only values not seen in an earlier recorded answer).
        Counters (`13`) and short names are left out: a reset backend reproduces those
        too, and a port may number from elsewhere without being wrong."""
        for value in values:
            if isinstance(value, str) and value not in self.reproduced and _digest_like(value):
                self.reproduced.add(value)
                self.version += 1

    def _learn_json(self, recorded: Any, target: Any, key: str | None, trail: Trail) -> None:
        if isinstance(recorded, dict) and isinstance(target, dict):
            for k, v in recorded.items():
                if k in target:
                    self._learn_json(v, target[k], str(k), (trail, str(k)))
        elif isinstance(recorded, list) and isinstance(target, list):
            for i, (a, b) in enumerate(zip(recorded, target, strict=False)):
                # Items at one index are one record only if they agree on their data; in a
                # list the target ordered differently they are two records, and their ids
                # are not each other's.
                if isinstance(a, dict) and isinstance(b, dict) and not same_record(a, b):
                    continue
                self._learn_json(a, b, key, (trail, i))
        else:
            self._learn(recorded, target, key, trail)

    def _learn_header(self, name: str, recorded: str, target: str) -> None:
        if name == "etag":
            self._learn(recorded, target, "etag", at="header ETag", resource=ETAG)
            self._learn(
                recorded.strip('"').removeprefix('W/"'),
                target.strip('"').removeprefix('W/"'),
                "etag",
                at="header ETag",
                resource=ETAG,
            )
            return
        old = urlsplit(recorded).path.split("/")
        new = urlsplit(target).path.split("/")
        if len(old) == len(new):
            at = "header Location" if name == "location" else "header Content-Location"
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                if a != b:
                    self._learn(
                        unquote(a), unquote(b), "id", at=at, resource=segment_resource(old, i)
                    )

    def _learn_cookies(self, recorded: list[str], target: list[str]) -> None:
        old, new = _cookies(recorded), _cookies(target)
        for name, value in old.items():
            if name in new:
                self._learn(
                    value,
                    new[name],
                    "session",
                    at=f"header Set-Cookie {name}",
                    resource=f"cookie {name}",
                )

    # -- choosing a mint ------------------------------------------------------------

    def _mint_for(self, recorded: Scalar, context: Context, trace: Trace | None) -> Mint | None:
        """The mint a use of `recorded` takes: its only scope's, the scope its context
        names, or the one all scopes agree on; None (and listed as ambiguous) when
        scopes disagree and the context names none of them."""
        scopes = self.scopes.get(recorded)
        if not scopes:
            return None
        if len(scopes) == 1:
            return next(iter(scopes.values()))
        named = context()
        if named is not None and named in scopes:
            return scopes[named]
        newest = max(scopes.values(), key=lambda m: m.order)
        if all(m.value == newest.value for m in scopes.values()):
            return newest
        if trace is not None:
            text = str(recorded)
            if text not in trace.ambiguous:
                trace.ambiguous.append(text)
        return None

    # -- applying -------------------------------------------------------------------

    def reverse(self) -> dict[object, object]:
        """Minted value -> recorded value: what the differ needs to see both as equal.
        Where two recorded values were minted as one value, the newest mint wins.

        Where an int id was minted as text (`13` -> `"aZ3k"`), `"aZ3k"` maps back to the
        int 13, the recording's own type; the text form is only used for headers/paths."""
        if self._reverse is not None:
            return self._reverse
        mints = sorted(
            (mint for scopes in self.scopes.values() for mint in scopes.values()),
            key=lambda m: m.order,
        )
        typed: dict[object, object] = {}
        from_int: set[object] = set()  # minted values an int id maps back to
        for mint in mints:
            recorded = mint.recorded
            if isinstance(recorded, str) and recorded.isdigit() and int(recorded) in self.forward:
                if mint.value not in from_int:  # the text twin of an int id
                    typed[mint.value] = recorded
                continue
            typed[mint.value] = recorded
            if isinstance(recorded, int):
                from_int.add(mint.value)
            else:
                from_int.discard(mint.value)
        self._reverse = typed
        return typed

    def comparable(self, baselines: Iterable[ValueMap]) -> dict[object, object]:
        """`reverse()` without the values every baseline reproduced exactly and never
        minted otherwise: a fresh reference backend that answers the recorded value again
        computes it (an index named by a hash of its definition, a content-addressed
        key), so this target's other value is a difference to report, though later
        requests still carry it (`forward` keeps it)."""
        reverse = self.reverse()
        references = list(baselines)
        if not references or not reverse:
            return reverse
        stamp = (self.version, *(b.version for b in references))
        if self._comparable is not None and self._comparable[0] == stamp:
            return self._comparable[1]
        deterministic = set.intersection(
            *({v for v in b.reproduced if v not in b.scopes} for b in references)
        )
        kept = reverse
        if deterministic:
            kept = {m: r for m, r in reverse.items() if r not in deterministic}
        self._comparable = (stamp, kept)
        return kept

    def apply_path(self, path: str, trace: Trace | None = None) -> str:
        """Path segments (scoped by the collection before each) and query values
        (scoped by their names, `postId`, else by the path's collection)."""
        if not self.forward:
            return path
        bare, sep, query = path.partition("?")
        original = bare.split("/")
        segments = list(original)
        changed = False
        for i, segment in enumerate(original):
            recorded = unquote(segment)
            if recorded not in self.forward:
                continue
            mint = self._mint_for(recorded, partial(segment_resource, original, i), trace)
            if mint is not None:
                segments[i] = quote(str(mint.value), safe="")
                changed = True
                if trace is not None:
                    trace.substitutions.append(
                        Substitution(recorded, mint.value, f"path segment {i}", mint)
                    )
        if sep and query:
            pairs = parse_qsl(query, keep_blank_values=True)
            new_pairs = self._replace_pairs(pairs, bare, "query", trace)
            if new_pairs != pairs:
                query = urlencode(new_pairs)
                changed = True
        if not changed:
            return path
        return "/".join(segments) + (f"?{query}" if sep else "")

    def apply_text(self, text: str, header: str = "", trace: Trace | None = None) -> str:
        """Replace whole tokens in a header value (`Bearer tok`, `sid=tok; a=b`, `"etag"`),
        each scoped by the header's name (If-Match: ETags; X-Post-Id: posts) or, in a
        Cookie header, by the cookie's name."""
        if not self.forward:
            return text
        if text in self.forward:
            mint = self._mint_for(text, partial(_header_context, header, text, 0), trace)
            if mint is None:
                return text
            self._note(trace, text, mint, f"header {header}")
            return str(mint.value)
        if not self._compiled:
            keys = sorted(
                (k for k in self.forward if isinstance(k, str) and len(k) >= _MIN_TOKEN),
                key=len,
                reverse=True,
            )
            alternatives = "|".join(_BOUNDARY.format(re.escape(k)) for k in keys)
            self._pattern = re.compile(alternatives) if keys else None
            self._compiled = True
        if self._pattern is None:
            return text

        def replace(match: re.Match[str]) -> str:
            recorded = match.group(0)
            context = partial(_header_context, header, text, match.start())
            mint = self._mint_for(recorded, context, trace)
            if mint is None:
                return recorded
            self._note(trace, recorded, mint, f"header {header}")
            return str(mint.value)

        return self._pattern.sub(replace, text)

    @staticmethod
    def _note(trace: Trace | None, recorded: Scalar, mint: Mint, at: str) -> None:
        if trace is not None:
            trace.substitutions.append(Substitution(recorded, mint.value, at, mint))

    def apply_body(
        self, body: bytes, content_type: str, path: str = "", trace: Trace | None = None
    ) -> bytes:
        """JSON and form bodies; `path` is the request's, whose collection scopes bare
        `id` fields."""
        if not self.forward or not body:
            return body
        if "json" in content_type or (not content_type and body[:1] in b"{["):
            parsed = _json(body)
            if parsed is None:
                return body
            replaced, changed = self._replace_json(parsed, None, None, path, trace)
            return orjson.dumps(replaced) if changed else body
        if "x-www-form-urlencoded" in content_type:
            pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            new_pairs = self._replace_pairs(pairs, path, "form", trace)
            if new_pairs != pairs:
                return urlencode(new_pairs).encode()
        return body

    def _replace_pairs(
        self, pairs: list[tuple[str, str]], path: str, where: str, trace: Trace | None
    ) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for k, v in pairs:
            if v in self.forward and replaceable(k, v):
                mint = self._mint_for(
                    v,
                    partial(_field_resource, k, path),
                    trace,
                )
                if mint is not None:
                    self._note(trace, v, mint, f"{where} {k}")
                    out.append((k, str(mint.value)))
                    continue
            out.append((k, v))
        return out

    def _replace_json(
        self, value: Any, key: str | None, trail: Trail, path: str, trace: Trace | None
    ) -> tuple[Any, bool]:
        if isinstance(value, dict):
            changed = False
            out = {}
            for k, v in value.items():
                name = str(k)
                out[k], c = self._replace_json(v, name, (trail, name), path, trace)
                changed |= c
            return out, changed
        if isinstance(value, list):
            items = [
                self._replace_json(v, key, (trail, i), path, trace) for i, v in enumerate(value)
            ]
            return [v for v, _ in items], any(c for _, c in items)
        if (
            isinstance(value, str | int)
            and not isinstance(value, bool)
            and value in self.forward
            and replaceable(key, value)
        ):
            mint = self._mint_for(
                value,
                lambda: nested_resource(key, _ancestors(trail), path_resource(path)),
                trace,
            )
            if mint is not None:
                if trace is not None:
                    trace.substitutions.append(
                        Substitution(value, mint.value, format_path(_parts(trail)), mint)
                    )
                return mint.value, True
        return value, False


def _header_context(header: str, text: str, start: int) -> str | None:
    """The resource a value at `start` of a header's text belongs to: in a Cookie
    header, the cookie named before it (`sid=` -> `cookie sid`); else the header's."""
    if header.lower() == "cookie":
        before = text[:start]
        if before.endswith("="):
            return "cookie " + before[:-1].rsplit(";", 1)[-1].strip()
        return None
    return header_resource(header) if header else None


def _field_resource(name: str, path: str) -> str | None:
    """The resource a query or form field names: its own (`postId`), else the path's."""
    return nested_resource(name, [], path_resource(path))


def _header_map(headers: list[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in headers:
        found.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return found


def _cookies(set_cookies: list[str]) -> Mapping[str, str]:
    jar: dict[str, str] = {}
    for line in set_cookies:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(line)
        except CookieError:
            continue
        for name, morsel in cookie.items():
            jar[name] = morsel.value
    return jar
