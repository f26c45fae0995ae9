"""A fast journal-like HTTP/1.1 backend for the soak benchmark, run as its own process.

    python -m bench.soak_upstream [--host 127.0.0.1] [--port 0]

The routes of the journal example (examples/journal/server.py) that a soak exercises,
answered from precomputed bodies (plain asyncio, no framework: the journal backend,
aiohttp with its middlewares, costs ~3x the CPU per request, and on two cores the
backend's CPU is taken from the recorder being measured):

    POST /api/login                          {"username", "password"} -> token
    POST /api/logout                         204
    GET  /api/vaults                         the user's vaults
    POST /api/vaults/V/load                  {"passphrase"} -> vault session
    GET  /api/vaults/V/entries?page=N        a page of entries (~2 KB)
    GET  /api/vaults/V/entries/E             one entry (~0.5-1 KB)
    POST /api/vaults/V/entries/E/save        {"version": N} -> the entry at version N+1
    GET  /api/vaults/V/search?q=...          search results (~1 KB)

Every answer is a function of the request alone (tokens are derived from the user), so a
replay of a recording against the same backend matches. `/api/*` but login needs
`Authorization: Bearer`. The benchmark's own `GET /__stats` (requests answered, first and
last arrival) and `GET /__reset` are not counted.

Prints `bench upstream: listening on http://HOST:PORT` once it accepts connections.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

import orjson

from bench import upstream
from bench.upstream import _NOT_FOUND, _WORDS, CONTENT_TYPE, journal_json, run_main, serve_forever

USERS = {"ana": "correct horse battery", "ben": "hunter2 hunter2"}
VAULTS = {"ana": ("v-ana-personal", "v-ana-work"), "ben": ("v-ben-notes",)}
ENTRIES = 200
PAGES = 10
QUERIES = ("q=lake", "q=coffee&type=note", "section=travel", "tag=work", "checkbox=true", "q=")
_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024


def token_of(user: str) -> str:
    return "tok-" + hashlib.sha256(user.encode()).hexdigest()[:32]


def _answer(status: int, body: bytes = b"", reason: str = "") -> bytes:
    reason = reason or {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized"}.get(
        status, "Not Found"
    )
    head = f"HTTP/1.1 {status} {reason}\r\n"
    if status != 204:
        head += f"content-type: {CONTENT_TYPE.decode()}\r\ncontent-length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def _entry(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "id": 1000 + i,
        "title": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 7))).capitalize(),
        "text": ". ".join(
            " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))).capitalize()
            for _ in range(rng.randint(2, 6))
        )
        + ".",
        "tags": sorted(rng.sample(["personal", "work", "travel", "ideas"], rng.randint(1, 2))),
        "type": rng.choice(["note", "checklist", "journal"]),
        "created_at": f"2026-0{1 + i % 9}-{1 + i % 28:02d}T08:{i % 60:02d}:00Z",
    }


class Backend:
    """The precomputed answers, and the counters."""

    def __init__(self) -> None:
        rng = random.Random(12)
        self.entries = [_entry(i, rng) for i in range(ENTRIES)]
        self.entry_bodies = [_answer(200, orjson.dumps(e)) for e in self.entries]
        self.pages = [_answer(200, journal_json(2048, seed=page)) for page in range(PAGES)]
        self.searches = {
            q: _answer(200, journal_json(1024, seed=100 + k)) for k, q in enumerate(QUERIES)
        }
        self.tokens = {token_of(user): user for user in USERS}
        self.vaults = {
            token_of(user): _answer(
                200,
                orjson.dumps({"vaults": [{"id": v, "entry_count": ENTRIES} for v in VAULTS[user]]}),
            )
            for user in USERS
        }
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.first = 0.0
        self.last = 0.0

    def stats(self) -> bytes:
        window = self.last - self.first if self.requests > 1 else 0.0
        return _answer(
            200,
            orjson.dumps(
                {
                    "requests": self.requests,
                    "first": self.first,
                    "last": self.last,
                    "window_s": window,
                }
            ),
        )

    def handle(
        self, method: bytes, target: bytes, headers: dict[bytes, bytes], body: bytes
    ) -> bytes:
        path, _, query = target.partition(b"?")
        if path == b"/__stats":
            return self.stats()
        if path == b"/__reset":
            self.reset()
            return _answer(200, b"{}")
        now = time.time()
        if not self.requests:
            self.first = now
        self.requests += 1
        self.last = now
        parts = path.decode("latin-1").strip("/").split("/")
        if parts[:2] != ["api", "login"] or method != b"POST":
            auth = headers.get(b"authorization", b"")
            user = self.tokens.get(auth.removeprefix(b"Bearer ").decode("latin-1"))
            if user is None:
                return _answer(401, b'{"error":{"code":"unauthorized","message":"Log in first"}}')
        try:
            return self._route(method, parts, query, headers, body)
        except (ValueError, KeyError, IndexError):
            return _answer(400, b'{"error":{"code":"bad_request"}}')

    def _route(
        self,
        method: bytes,
        parts: list[str],
        query: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
    ) -> bytes:
        if parts == ["api", "login"]:
            data = orjson.loads(body)
            user = data.get("username")
            if USERS.get(user) != data.get("password"):
                return _answer(401, b'{"error":{"code":"invalid_credentials"}}')
            doc = {
                "token": token_of(user),
                "user": {"name": user},
                "expires_at": "2027-01-01T00:00:00Z",
            }
            return _answer(200, orjson.dumps(doc))
        if parts == ["api", "logout"]:
            return _answer(204)
        if parts == ["api", "vaults"]:
            auth = headers[b"authorization"].removeprefix(b"Bearer ").decode("latin-1")
            return self.vaults[auth]
        if len(parts) >= 4 and parts[:2] == ["api", "vaults"]:
            vault, what = parts[2], parts[3]
            if what == "load" and method == b"POST":
                orjson.loads(body)
                return _answer(200, orjson.dumps({"vault": vault, "vault_session": "vs-" + vault}))
            if what == "search":
                return self.searches.get(query.decode("latin-1"), self.searches["q="])
            if what == "entries" and len(parts) == 4:
                page = int(query.partition(b"page=")[2] or b"1")
                return self.pages[(page - 1) % PAGES]
            if what == "entries" and len(parts) >= 5:
                index = (int(parts[4]) - 1000) % ENTRIES
                if len(parts) == 6 and parts[5] == "save" and method == b"POST":
                    version = int(orjson.loads(body).get("version", 0))
                    return _answer(
                        200, orjson.dumps({**self.entries[index], "version": version + 1})
                    )
                return self.entry_bodies[index]
        return _NOT_FOUND


class _HTTP(upstream._HTTP):
    """bench/upstream.py's HTTP/1.1, with requests with Content-Length bodies, answered
    by the `Backend`."""

    def __init__(self, backend: Backend) -> None:
        super().__init__({})
        self.backend = backend

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self.transport.close()
                return
            lines = self.buffer[:end].split(b"\r\n")
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0") or b"0")
            if length > _MAX_BODY:
                self.transport.close()
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            parts = lines[0].split(b" ")
            if len(parts) != 3:
                self.transport.close()
                return
            self.transport.write(self.backend.handle(parts[0], parts[1], headers, body))
            if headers.get(b"connection", b"").lower() == b"close":
                self.transport.close()
                return


async def serve(host: str, port: int) -> None:
    backend = Backend()
    await serve_forever(lambda: _HTTP(backend), host, port, backlog=1024)


if __name__ == "__main__":
    run_main(serve, __doc__)
