"""A fast HTTP/1.1 upstream for the benchmarks, run as its own process.

    python -m bench.upstream [--host 127.0.0.1] [--port 0]

Serves precomputed JSON bodies (journal entries) with keep-alive:

    GET /json/2k   ~2 KB
    GET /json/1m   ~1 MB

and prints `bench upstream: listening on http://HOST:PORT` once it accepts connections.
It is plain asyncio (no framework) so that the upstream costs as little CPU as possible
and every variant is measured against the same, cheap backend.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

SIZES = {"2k": 2 * 1024, "1m": 1024 * 1024}
CONTENT_TYPE = b"application/json; charset=utf-8"
_MAX_HEAD = 64 * 1024

_WORDS = [
    "morning",
    "walk",
    "river",
    "light",
    "coffee",
    "notes",
    "meeting",
    "garden",
    "train",
    "letter",
    "rain",
    "window",
    "kitchen",
    "friend",
    "market",
    "bread",
    "quiet",
    "evening",
    "music",
    "book",
    "chapter",
    "city",
    "bridge",
    "harbor",
    "autumn",
    "winter",
    "spring",
    "summer",
    "cloud",
    "mountain",
    "valley",
    "forest",
    "path",
    "memory",
    "photo",
    "dinner",
    "project",
    "draft",
    "review",
    "deadline",
    "travel",
    "station",
    "ticket",
    "museum",
    "painting",
    "lecture",
    "idea",
]
_TAGS = ("personal", "work", "travel", "health", "reading", "family", "ideas", "food")


def journal_json(target: int, seed: int = 7) -> bytes:
    """A JSON document of journal entries, as close to `target` bytes as whole entries allow."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    entries: list[dict[str, object]] = []
    doc: dict[str, object] = {"user": {"id": 4211, "name": "Ana Pereira"}, "entries": entries}
    size = len(orjson.dumps(doc))
    i = 0
    while True:
        created = start + timedelta(hours=7 * i, minutes=rng.randrange(60))
        entry = {
            "id": 100_000 + i,
            "title": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 7))).capitalize(),
            "text": ". ".join(
                " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))).capitalize()
                for _ in range(rng.randint(2, 5))
            )
            + ".",
            "tags": sorted(rng.sample(_TAGS, rng.randint(1, 3))),
            "mood": rng.randint(1, 5),
            "created_at": created.isoformat(),
            "updated_at": (created + timedelta(minutes=rng.randrange(600))).isoformat(),
            "archived": rng.random() < 0.1,
        }
        grown = size + len(orjson.dumps(entry)) + 1
        if grown > target and entries:
            break
        entries.append(entry)
        size = grown
        i += 1
    doc["count"] = len(entries)
    # A pagination cursor takes up the slack, so that the body is `target` bytes or just under.
    doc["next_cursor"] = ""
    slack = max(0, target - len(orjson.dumps(doc)))
    doc["next_cursor"] = "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(slack)
    )
    return orjson.dumps(doc)


def _response(body: bytes) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: " + CONTENT_TYPE + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"\r\n"
    )
    return head + body


_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\nnot found\n"
)


class _HTTP(asyncio.Protocol):
    """Just enough HTTP/1.1: GET/HEAD without bodies, pipelining tolerated, keep-alive."""

    def __init__(self, routes: dict[bytes, bytes]) -> None:
        self.routes = routes
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self.transport.close()
                return
            head = self.buffer[:end]
            self.buffer = self.buffer[end + 4 :]
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            path = parts[1] if len(parts) == 3 else b""
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length" and value.strip() not in (b"", b"0"):
                    # The benchmark only sends GETs; anything with a body is refused.
                    self.transport.close()
                    return
                if name == b"connection" and value.strip().lower() == b"close":
                    close = True
            self.transport.write(self.routes.get(path, _NOT_FOUND))
            if close:
                self.transport.close()
                return


async def serve_forever(
    factory: Callable[[], asyncio.Protocol], host: str, port: int, backlog: int = 512
) -> None:
    """Serve `factory`'s protocol on host:port until SIGTERM/SIGINT; announce the port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host, port, backlog=backlog)
    bound = server.sockets[0].getsockname()
    print(f"bench upstream: listening on http://{bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows: no signal handlers on the loop; Ctrl-C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def run_main(serve: Callable[[str, int], Coroutine[Any, Any, None]], doc: str | None) -> None:
    """The command line of a bench upstream: --host, --port, then `serve` until stopped."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(130)


async def serve(host: str, port: int) -> None:
    routes = {
        f"/json/{name}".encode(): _response(journal_json(size)) for name, size in SIZES.items()
    }
    await serve_forever(lambda: _HTTP(routes), host, port)


def main() -> None:
    run_main(serve, __doc__)


if __name__ == "__main__":
    main()
