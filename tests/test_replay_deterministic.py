"""A value a fresh baseline reproduces exactly is computed, not minted.

An index API names each index by a hash of its definition (`idx-<md5>`); the new version
hashes with sha1. Documents get random uuids on every server. With a baseline in the
recorded state, the index name the baseline answers again is a real difference of the
candidate (reported where it shows), while the random uuids stay correlated; either way
later requests carry the candidate's own values, so the session goes on.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson
import pytest
from aiohttp import web

from parity.differ import Outcome
from parity.triage import ExchangeResult
from tests.live import Recording, record_and_replay

pytestmark = pytest.mark.timeout(60)

SESSION = "20261206-100000-1dx000"


class Indexes:
    def __init__(self, digest: str) -> None:
        self.digest = digest
        self.indexes: dict[str, list[str]] = {}
        self.docs: dict[str, dict[str, Any]] = {}
        self.received: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/index", self.create_index)
        app.router.add_get("/index/{name}", self.get_index)
        app.router.add_post("/docs", self.create_doc)
        app.router.add_get("/docs/{id}", self.get_doc)
        return app

    async def create_index(self, request: web.Request) -> web.Response:
        fields = (await request.json())["fields"]
        name = "idx-" + hashlib.new(self.digest, orjson.dumps(fields)).hexdigest()
        self.indexes[name] = fields
        return web.json_response({"result": "created", "id": name}, status=201)

    async def get_index(self, request: web.Request) -> web.Response:
        self.received.append(request.path)
        name = request.match_info["name"]
        if name not in self.indexes:
            return web.json_response({"error": "not_found"}, status=404)
        return web.json_response({"id": name, "fields": self.indexes[name]})

    async def create_doc(self, request: web.Request) -> web.Response:
        doc_id = uuid.uuid4().hex
        self.docs[doc_id] = {"id": doc_id, **(await request.json())}
        return web.json_response({"ok": True, "id": doc_id}, status=201)

    async def get_doc(self, request: web.Request) -> web.Response:
        self.received.append(request.path)
        doc = self.docs.get(request.match_info["id"])
        return web.json_response(doc) if doc else web.json_response({}, status=404)


async def _script(recording: Recording) -> None:
    index = orjson.loads(await recording.send("POST", "/index", {"fields": ["age"]}))
    doc = orjson.loads(await recording.send("POST", "/docs", {"name": "Ada"}))
    await recording.send("GET", f"/index/{index['id']}")
    await recording.send("GET", f"/docs/{doc['id']}")


def _replay(candidate: Indexes, baseline: Indexes | None) -> list[ExchangeResult]:
    reference = baseline.app() if baseline is not None else None
    _, results = record_and_replay(
        Indexes("md5").app(), _script, candidate.app(), reference, session=SESSION
    )
    return results


def _changed(results: list[ExchangeResult]) -> dict[int, list[str]]:
    return {
        r.seq: sorted(f"{d.kind.value} {d.path}" for d in r.verdict.differences)
        for r in results
        if r.verdict.outcome is Outcome.MISMATCHED
    }


def test_a_hash_the_baseline_reproduces_is_a_difference_and_still_carried() -> None:
    candidate = Indexes("sha1")
    results = _replay(candidate, baseline=Indexes("md5"))
    assert _changed(results) == {1: ["changed $.id"], 3: ["changed $.id"]}
    sha1 = "idx-" + hashlib.sha1(orjson.dumps(["age"])).hexdigest()
    assert candidate.received[0] == f"/index/{sha1}"  # the session went on with its name
    assert [r.verdict.outcome for r in results][3] is Outcome.MATCHED  # the uuid: minted


def test_without_a_baseline_nothing_tells_a_hash_from_a_mint() -> None:
    candidate = Indexes("sha1")
    results = _replay(candidate, baseline=None)
    assert _changed(results) == {}
    assert all(r.verdict.outcome is Outcome.MATCHED for r in results)


def test_the_same_hash_on_the_candidate_matches() -> None:
    results = _replay(Indexes("md5"), baseline=Indexes("md5"))
    assert _changed(results) == {}
