"""Scoped value maps on real servers: two resources that mint the same integer ids.

A blog API numbers posts and comments independently. The recording's backend gave post
13 and comment 13 (and gave 13 again to the next post after the first was deleted); the
target mints post 41, comment 77, then post 42. Every later request must reach the
target's id for the resource it names, a use that names neither resource is left as
recorded and listed as ambiguous, and a mismatch carries the request as it was sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from parity.differ import Outcome
from parity.sessions import Exchange
from parity.triage import ExchangeResult
from parity.triage.sent import format_sent
from tests.live import Recording, record_and_replay

pytestmark = pytest.mark.timeout(60)

SESSION = "20261201-093000-b10g00"


@dataclass
class Blog:
    """Posts and comments with their own id counters. `reuse`: a new id is the lowest
    free one from the start (the recording's backend); else ids only grow."""

    post_start: int
    comment_start: int
    reuse: bool
    likes: bool = True
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    _next_post: int = 0
    _next_comment: int = 0

    def _mint(self, table: dict[int, Any], start: int, attr: str) -> int:
        if self.reuse:
            return next(i for i in itertools.count(start) if i not in table)
        value = max(getattr(self, attr), start)
        setattr(self, attr, value + 1)
        return value

    def app(self) -> web.Application:
        @web.middleware
        async def log(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self.received.append(f"{request.method} {request.path_qs}")
            return await handler(request)

        app = web.Application(middlewares=[log])
        app.router.add_post("/posts", self.create_post)
        app.router.add_get("/posts/{id}", self.get_post)
        app.router.add_delete("/posts/{id}", self.delete_post)
        app.router.add_post("/posts/{id}/comments", self.create_comment)
        app.router.add_get("/comments", self.list_comments)
        app.router.add_get("/comments/{id}", self.get_comment)
        app.router.add_put("/comments/{id}", self.update_comment)
        app.router.add_get("/lookup/{value}", self.lookup)
        return app

    def _comment(self, comment: dict[str, Any]) -> dict[str, Any]:
        return comment if self.likes else {k: v for k, v in comment.items() if k != "likes"}

    async def create_post(self, request: web.Request) -> web.Response:
        post_id = self._mint(self.posts, self.post_start, "_next_post")
        post = {"id": post_id, "title": (await request.json())["title"]}
        self.posts[post_id] = post
        return web.json_response(post, status=201)

    async def get_post(self, request: web.Request) -> web.Response:
        post = self.posts.get(int(request.match_info["id"]))
        return (
            web.json_response(post) if post else web.json_response({"error": "no post"}, status=404)
        )

    async def delete_post(self, request: web.Request) -> web.Response:
        if self.posts.pop(int(request.match_info["id"]), None) is None:
            return web.json_response({"error": "no post"}, status=404)
        return web.Response(status=204)

    async def create_comment(self, request: web.Request) -> web.Response:
        post_id = int(request.match_info["id"])
        if post_id not in self.posts:
            return web.json_response({"error": "no post"}, status=404)
        comment_id = self._mint(self.comments, self.comment_start, "_next_comment")
        text = (await request.json())["body"]
        comment = {"id": comment_id, "postId": post_id, "body": text, "likes": 0}
        self.comments[comment_id] = comment
        return web.json_response(self._comment(comment), status=201)

    async def list_comments(self, request: web.Request) -> web.Response:
        post_id = int(request.query["postId"])
        found = [self._comment(c) for c in self.comments.values() if c["postId"] == post_id]
        return web.json_response(found)

    async def get_comment(self, request: web.Request) -> web.Response:
        comment = self.comments.get(int(request.match_info["id"]))
        if comment is None:
            return web.json_response({"error": "no comment"}, status=404)
        return web.json_response(self._comment(comment))

    async def update_comment(self, request: web.Request) -> web.Response:
        comment = self.comments.get(int(request.match_info["id"]))
        change = await request.json()
        if comment is None or change["postId"] not in self.posts:
            return web.json_response({"error": "no such comment on that post"}, status=404)
        comment.update(change)
        return web.json_response(self._comment(comment))

    async def lookup(self, request: web.Request) -> web.Response:
        return web.json_response({"found": request.match_info["value"]})


# What the app does: (method, path, JSON body). Ids are the recording's.
SCRIPT: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/posts", {"title": "first"}),  # 1: post 13 (target: 41)
    ("POST", "/posts/13/comments", {"body": "nice"}),  # 2: comment 13 (target: 77)
    ("GET", "/posts/13", None),
    ("GET", "/comments/13", None),
    ("GET", "/comments?postId=13", None),
    ("PUT", "/comments/13", {"postId": 13, "body": "nicer"}),
    ("DELETE", "/posts/13", None),
    ("POST", "/posts", {"title": "second"}),  # 8: post 13 again (target: 42)
    ("GET", "/posts/13", None),
    ("GET", "/comments/13", None),
    ("GET", "/lookup/13", None),  # 11: names neither posts nor comments
]


async def _script(recording: Recording) -> None:
    """The script sent to the recording's backend."""
    for method, path, body in SCRIPT:
        await recording.send(method, path, body)


def _replay(
    target: Blog, baseline: Blog | None = None
) -> tuple[list[Exchange], list[ExchangeResult]]:
    reference = baseline.app() if baseline is not None else None
    return record_and_replay(
        Blog(13, 13, reuse=True).app(), _script, target.app(), reference, session=SESSION
    )


def test_two_resources_minting_the_same_ids_keep_their_own_new_ids() -> None:
    target = Blog(41, 77, reuse=False)
    exchanges, results = _replay(target)
    recorded = [e.response.status for e in exchanges if e.response is not None]
    assert recorded == [201, 201, 200, 200, 200, 200, 204, 201, 200, 200, 200]
    assert target.received == [
        "POST /posts",
        "POST /posts/41/comments",
        "GET /posts/41",
        "GET /comments/77",
        "GET /comments?postId=41",
        "PUT /comments/77",
        "DELETE /posts/41",
        "POST /posts",
        "GET /posts/42",  # the recording's 13 again: its newest mint
        "GET /comments/77",  # comment 13 is still comment 77
        "GET /lookup/13",  # ambiguous: left as recorded
    ]
    assert [r.verdict.outcome for r in results] == [Outcome.MATCHED] * len(SCRIPT), [
        (r.seq, r.verdict.differences) for r in results
    ]
    assert target.comments[77]["postId"] == 41  # the PUT's body carried the post's new id
    assert {r.seq: r.ambiguous_ids for r in results if r.ambiguous_ids} == {11: ["13"]}
    assert all(r.sent is None for r in results)  # matched: nothing to explain


def test_a_mismatch_carries_the_request_as_sent_and_its_substitutions() -> None:
    target = Blog(41, 77, reuse=False, likes=False)  # the port drops `likes` from comments
    baseline = Blog(13, 13, reuse=True)  # a live reference in the recorded state
    _, results = _replay(target, baseline)
    by_seq = {r.seq: r for r in results}
    mismatched = sorted(r.seq for r in results if r.verdict.outcome is Outcome.MISMATCHED)
    assert mismatched == [2, 4, 5, 6, 10]
    sent = by_seq[6].sent
    assert sent is not None
    assert sent["baseline"] == {
        "method": "PUT",
        "url": "/comments/13",
        "headers": sent["baseline"]["headers"],
        "body_preview": '{"postId":13,"body":"nicer"}',
        "body_bytes": 28,
        "substitutions": [],
    }
    assert sent["baseline"]["headers"][0][0] == "Host"
    request = sent["target"]
    assert (request["method"], request["url"]) == ("PUT", "/comments/77")
    assert orjson.loads(request["body_preview"]) == {"postId": 41, "body": "nicer"}
    assert request["body_bytes"] == len(request["body_preview"])
    assert ["Content-Type", "application/json"] in request["headers"]
    assert request["substitutions"] == [
        {
            "recorded": "13",
            "sent": "77",
            "at": "path segment 2",
            "minted_by": {"session": SESSION, "seq": 2, "path": "$.id"},
        },
        {
            "recorded": 13,
            "sent": 41,
            "at": "$.postId",
            "minted_by": {"session": SESSION, "seq": 1, "path": "$.id"},
        },
    ]
    assert format_sent(sent) == [
        "sent to target: PUT /comments/77",
        "  /comments/13 → /comments/77: `13` minted as `77` by exchange 2 at $.id",
        "  $.postId: `13` minted as `41` by exchange 1 at $.id",
        "sent to baseline: PUT /comments/13",
        "  sent as recorded",
    ]
    assert by_seq[5].sent is not None
    assert format_sent(by_seq[5].sent)[1:2] == [
        "  query postId: `13` minted as `41` by exchange 1 at $.id"
    ]
