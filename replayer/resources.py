"""Which resource a minted value belongs to, and which resource a use of it names.

Two backends number posts and comments independently, so `13` can be post 13 and
comment 13 in one recording and post 41 and comment 77 on the target. Correlation keeps
them apart by the resource each was minted for and each use names, derived the same way
on both sides from names the API itself uses:

- a path: the collection segment before the id (`/posts/13` -> `post`), or for a
  response, the last collection of the route that minted it (`POST /posts` -> `post`,
  `GET /posts/13/comments` -> `comment`);
- a key with a resource in its name: `postId`, `post_id`, `post-id`, `X-Post-Id` -> `post`;
- a bare id key (`id`, `_id`, `uuid`, `ids`): the nearest enclosing key that is not a
  mere wrapper (`$.comment.id` -> `comment`, `$.comments[*].id` -> `comment`,
  `$.data.id` -> the route's), else the route's.

Names are folded so that `posts`, `Posts` and `post`, `entries` and `entry`, `boxes` and
`box`, `blog-posts` and `blogPost` are one resource.
"""

from __future__ import annotations

import re
from collections.abc import Container
from functools import lru_cache
from urllib.parse import unquote

# `postId`, `PostID`, `post_id`, `post-id`, `postIds`: the resource and the id suffix.
_PREFIXED_ID = re.compile(
    r"^(?P<resource>.*?[A-Za-z0-9])(?:[_\-](?i:ids?|uuids?|guids?|uid|pk|key)"
    r"|(?:Ids?|IDs?|Uuids?|UUIDs?|Guid|GUID|Uid|Pk|PK|Key))$"
)
_NOT_NAME = re.compile(r"[^a-z0-9]")
# Keys that wrap a payload rather than name what it is: `$.data.id` is the route's id.
WRAPPERS = frozenset(
    {
        "data",
        "item",
        "result",
        "record",
        "row",
        "hit",
        "object",
        "value",
        "content",
        "payload",
        "response",
        "body",
        "list",
        "node",
        "edge",
        "doc",
        "document",
        "element",
        "collection",
        "page",
        "embedded",
        "attribute",
        "self",
        "meta",
    }
)
ETAG = "etag"


@lru_cache(maxsize=4096)
def resource_name(word: str) -> str:
    """A name folded to compare resources: lower case, letters and digits only, and the
    plural's common endings off (`entries` -> `entry`, `boxes` -> `box`)."""
    name = _NOT_NAME.sub("", word.lower())
    if len(name) <= 3:
        return name
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "zes", "ches", "shes", "uses")):
        return name[:-2]
    if name.endswith("s") and not name.endswith(("ss", "us", "is")):
        return name[:-1]
    return name


@lru_cache(maxsize=4096)
def key_resource(key: str) -> str | None:
    """The resource a key names by itself (`postId` -> `post`), or None for a bare id
    key or any other key."""
    lowered = key.lower()
    if lowered.startswith("x-"):  # X-Post-Id
        key = key[2:]
    match = _PREFIXED_ID.match(key)
    if match is None:
        return None
    return resource_name(match.group("resource")) or None


def path_resource(path: str, known: tuple[Container[object], ...] = ()) -> str | None:
    """The last collection of a request path: its last segment that is not an instance
    (no digits, not a value in one of `known`, the recorded ids). `/posts/13/comments`
    -> `comment`; `/` -> None."""
    bare = path.partition("?")[0]
    for segment in reversed(bare.split("/")):
        text = unquote(segment)
        if not text or any(c.isdigit() for c in text) or any(text in k for k in known):
            continue
        return resource_name(text) or None
    return None


def segment_resource(segments: list[str], index: int) -> str | None:
    """The resource a path segment's value belongs to: the segment before it
    (`/posts/13` -> `post` for `13`); None for the first segment."""
    if index < 2:
        return None
    return resource_name(unquote(segments[index - 1])) or None


def header_resource(name: str) -> str | None:
    """The resource a request header's values belong to: conditional headers carry
    ETags; `X-Post-Id` names `post`; None when the header names none."""
    lowered = name.lower()
    if lowered in ("if-match", "if-none-match", "if-range"):
        return ETAG
    return key_resource(name)


def nested_resource(key: str | None, ancestors: list[str], route: str | None) -> str | None:
    """The resource of a JSON leaf under `key`, inside objects and lists under
    `ancestors` (nearest first): the key's own resource, else the nearest ancestor key
    that is not a wrapper, else the route's."""
    if key is not None:
        own = key_resource(key)
        if own is not None:
            return own
    for ancestor in ancestors:
        name = resource_name(ancestor)
        if name and name not in WRAPPERS:
            return name
    return route
