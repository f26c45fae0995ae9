"""One pilot user's day against the journal backend: the traffic parity records and replays.

    python examples/journal/pilot.py http://127.0.0.1:5000 [--trace FILE] [--user ana]

The request sequence is identical on every run and in both backend modes: bodies come from
a fixed seed, and every id, token, cookie, vault session, ETag and Location comes from
earlier responses (nothing is hard-coded). Unexpected statuses on divergent paths are
tolerated; only a broken login / vault load / create stops the day (exit 1).

Requests are sequential on one ``aiohttp.ClientSession(auto_decompress=False)``, so bodies
are kept exactly as received (gzip included). ``--trace FILE`` writes one JSON line per
HTTP exchange: ``{"method", "url", "status", "headers", "body_b64"}``. The WebSocket
dictation session is neither traced nor counted. Location URLs are followed by path
against BASE_URL, so a recording proxy in front of the backend sees every request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import random
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

SEED = 20260314
LARGE_BODY_BYTES = 205_000
TAB_SWITCHES = 4
WORDS = (
    "morning", "coffee", "café", "lake", "train", "Zürich", "naïve", "quiet", "window",
    "letter", "garden", "rain", "bread", "walk", "river", "notebook", "crème", "brûlée",
    "mountain", "tram", "friend", "evening", "music", "tired", "bright", "plan", "market",
)  # fmt: skip
DICTATION = ("Dear diary,", "the lake was silver today", "and the café was full.")


@dataclass(frozen=True)
class PilotUser:
    """Credentials the pilot types in; vaults are found by name in the vault list."""

    username: str
    password: str
    passphrases: dict[str, str]


USERS = {
    "ana": PilotUser("ana", "ana-pilot-2026", {"Personal": "blue lantern", "Travel": "north star"}),
    "ben": PilotUser("ben", "ben-pilot-2026", {"Work": "green kettle"}),
}


class PilotError(Exception):
    """The backend answered a step the rest of the day depends on unexpectedly."""


@dataclass
class Exchange:
    """One HTTP request/response as the client saw it."""

    method: str
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The decoded JSON body (gunzipped if needed), or None when empty."""
        raw = self.body
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw) if raw else None

    def expect(self, *statuses: int) -> Exchange:
        if self.status not in statuses:
            raise PilotError(f"{self.method} {self.url} -> {self.status}, wanted {statuses}")
        return self


class Client:
    """Sequential HTTP on one session; counts and optionally traces every exchange."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, trace: TextIO | None):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.trace = trace
        self.count = 0
        self.token: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        bearer: bool = True,
    ) -> Exchange:
        """Send one request; ``bearer=False`` leaves authentication to the sid cookie."""
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        sent = dict(headers or {})
        if bearer and self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            sent["Content-Type"] = "application/json"
        async with self.session.request(
            method, URL(url, encoded=True), data=data, headers=sent
        ) as response:
            body = await response.read()
            exchange = Exchange(method, url, response.status, response.headers, body)
            self._record(exchange, response.raw_headers)
        return exchange

    def _record(self, exchange: Exchange, raw_headers: tuple[tuple[bytes, bytes], ...]) -> None:
        self.count += 1
        if self.trace is None:
            return
        line = {
            "method": exchange.method,
            "url": exchange.url,
            "status": exchange.status,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in raw_headers],
            "body_b64": base64.b64encode(exchange.body).decode("ascii"),
        }
        self.trace.write(json.dumps(line) + "\n")

    def ws_url(self, path: str) -> str:
        base = URL(self.base_url)
        return str(base.with_scheme("wss" if base.scheme == "https" else "ws")) + path


def path_of(location: str) -> str:
    """The path (and query) of a Location URL, to be requested against our base URL."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def large_text(rng: random.Random) -> str:
    """Deterministic pseudo-random prose of at least LARGE_BODY_BYTES UTF-8 bytes."""
    words: list[str] = []
    size = 0
    while size < LARGE_BODY_BYTES:
        word = rng.choice(WORDS)
        words.append(word + ("\n\n" if len(words) % 60 == 59 else ""))
        size += len(word.encode("utf-8")) + 1
    return " ".join(words)


def sse_events(body: bytes) -> Iterator[tuple[str, str]]:
    """``(event, data)`` pairs of a text/event-stream body (event defaults to "message")."""
    for block in body.decode("utf-8").split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            yield event, "\n".join(data)


class PilotDay:
    """The scripted day; each method is one thing a user does in the app."""

    def __init__(self, client: Client, user: PilotUser) -> None:
        self.client = client
        self.user = user
        self.rng = random.Random(SEED)
        self.rpc_id = 0

    async def run(self) -> None:
        await self.log_in()
        vaults = await self.vault_list()
        primary, secondary = vaults[0], vaults[1:2]
        vault = f"/api/vaults/{primary['id']}"
        session = await self.load_vault(primary, wrong_first=True)
        first = await self.browse(vault, session)
        first_etag = await self.reopen(vault, session, first)
        draft = await self.write_entries(vault, session)
        await self.large_entry(vault, session)
        await self.search(vault, session)
        await self.bridge(draft["body"])
        await self.dictation()
        await self.tab_switching(vault, session, first, first_etag)
        await self.delete_and_miss(vault, session)
        for other in secondary:
            await self.visit(other)
        await self.wrap_up(primary, session)

    # --- steps --------------------------------------------------------------------

    async def log_in(self) -> None:
        """One typo'd password first, then the real one."""
        creds = {"username": self.user.username, "password": self.user.password + "!"}
        await self.client.call("POST", "/api/login", json_body=creds)
        creds["password"] = self.user.password
        reply = (await self.client.call("POST", "/api/login", json_body=creds)).expect(200)
        self.client.token = reply.json()["token"]

    async def vault_list(self, *, bearer: bool = True) -> list[dict[str, Any]]:
        reply = await self.client.call("GET", "/api/vaults", bearer=bearer)
        return list(reply.expect(200).json()["vaults"])

    async def load_vault(self, vault: dict[str, Any], *, wrong_first: bool = False) -> str:
        """Unlock a vault; returns the vault session id for ``X-Vault-Session``."""
        path = f"/api/vaults/{vault['id']}/load"
        passphrase = self.user.passphrases.get(vault["name"], "")
        if wrong_first:
            await self.client.call("POST", path, json_body={"passphrase": passphrase.upper()})
        reply = await self.client.call("POST", path, json_body={"passphrase": passphrase})
        return str(reply.expect(200).json()["vault_session"])

    async def browse(self, vault: str, session: str) -> str:
        """Pages 1-3 of the entry list; returns the path of the first entry."""
        pages = []
        for page in (1, 2, 3):
            params = {"page": str(page), "per_page": "5"}
            pages.append(await self.entries_page(vault, session, params))
        return f"{vault}/entries/{pages[0].json()['items'][0]['id']}"

    async def entries_page(self, vault: str, session: str, params: dict[str, str]) -> Exchange:
        headers = {"X-Vault-Session": session}
        return await self.client.call("GET", f"{vault}/entries", params=params, headers=headers)

    async def reopen(self, vault: str, session: str, entry: str) -> str:
        """Open an entry, then open it again with If-None-Match (304); returns its ETag."""
        reply = await self.client.call("GET", entry, headers={"X-Vault-Session": session})
        etag = reply.expect(200).headers["ETag"]
        headers = {"X-Vault-Session": session, "If-None-Match": etag}
        await self.client.call("GET", entry, headers=headers)
        return etag

    async def create(self, vault: str, session: str, entry: dict[str, Any]) -> Exchange:
        headers = {"X-Vault-Session": session}
        return await self.client.call("POST", f"{vault}/entries", json_body=entry, headers=headers)

    async def write_entries(self, vault: str, session: str) -> dict[str, Any]:
        """Write, edit (If-Match, then a stale one), save; two todos; one invalid entry."""
        draft: dict[str, Any] = {
            "title": "Morning pages — café",
            "body": "Woke before the alarm. Coffee, three pages, the lake still dark.",
            "section": None,
            "tags": ["writing", "morning"],
            "type": "journal",
            "checkbox": None,
            "mood_score": 4.0,
            "date": "2026-03-07",
        }
        created = (await self.create(vault, session, draft)).expect(201)
        entry = path_of(created.headers["Location"])
        opened = await self.client.call("GET", entry, headers={"X-Vault-Session": session})
        first_etag = opened.expect(200).headers["ETag"]
        edit = {"body": draft["body"] + " Edited on the tram.", "tags": ["writing", "edited"]}
        headers = {"X-Vault-Session": session, "If-Match": first_etag}
        await self.client.call("PUT", entry, json_body=edit, headers=headers)
        await self.client.call("PUT", entry, json_body=edit, headers=headers)  # stale: 412
        saved = await self.client.call(
            "POST", f"{entry}/save", json_body={}, headers={"X-Vault-Session": session}
        )
        for title, done in (("Pick up saffron", True), ("Plan the dessert menu", False)):
            todo = {"title": title, "body": "Before the dinner.", "section": "Cooking",
                    "tags": ["cooking", "errands"], "type": "todo", "checkbox": done,
                    "date": "2026-02-14"}  # fmt: skip
            await self.create(vault, session, todo)
        await self.create(
            vault, session, {"title": "", "body": "Forgot the title.", "type": "note"}
        )
        return dict(saved.expect(200).json())

    async def large_entry(self, vault: str, session: str) -> None:
        """A ≥200 KB entry, reloaded gzip-compressed and then revalidated (304)."""
        entry = {"title": "Long draft", "body": large_text(self.rng), "section": "Drafts",
                 "tags": ["draft"], "type": "note", "date": "2026-03-10"}  # fmt: skip
        created = (await self.create(vault, session, entry)).expect(201)
        path = path_of(created.headers["Location"])
        headers = {"X-Vault-Session": session, "Accept-Encoding": "gzip"}
        reply = (await self.client.call("GET", path, headers=headers)).expect(200)
        if reply.json()["body"] != entry["body"]:
            raise PilotError("large entry came back different")
        headers["If-None-Match"] = reply.headers["ETag"]
        await self.client.call("GET", path, headers=headers)

    async def search(self, vault: str, session: str) -> None:
        """Every filter alone, some combinations, a second page and one invalid date."""
        queries = (
            {"q": "crème"},
            {"from": "2026-02-01", "to": "2026-02-28"},
            {"section": "Cooking"},
            {"tag": "travel"},
            {"type": "todo"},
            {"checkbox": "true"},
            {"checkbox": "false"},
            {"from": "2026-01-01", "to": "2026-03-31", "tag": "cooking"},
            {"type": "todo", "checkbox": "true"},
            {"section": "Planning", "q": "plan"},
            {"from": "2026-01-01", "to": "2026-12-31", "page": "2"},
            {"from": "2026-02-30"},
        )
        headers = {"X-Vault-Session": session}
        for params in queries:
            await self.client.call("GET", f"{vault}/search", params=params, headers=headers)

    async def rpc(self, method: str, params: dict[str, Any], **headers: str) -> Exchange:
        self.rpc_id += 1
        call = {"jsonrpc": "2.0", "id": self.rpc_id, "method": method, "params": params}
        return await self.client.call("POST", "/api/bridge", json_body=call, headers=headers)

    async def bridge(self, text: str) -> None:
        """AI and speech calls through the one JSON-RPC URL, failures included."""
        await self.rpc("ai.summarize", {"text": text, "max_words": 8})
        await self.rpc("ai.suggest_tags", {"text": text})
        voices = (await self.rpc("speech.voices", {})).expect(200).json()["result"]["voices"]
        await self.rpc("speech.speak", {"text": "Good morning, Ana.", "voice": voices[0]["id"]})
        await self.rpc("speech.speak", {"text": "Good morning.", "voice": "missing-voice"})
        await self.rpc("ai.translate", {"text": text, "to": "de"})
        chat = {"messages": [{"role": "user", "content": "Help me reflect on " + text}]}
        await self.rpc("ai.chat", chat)
        stream = await self.rpc("ai.chat", chat, Accept="text/event-stream")
        if not any(event == "message" for event, _data in sse_events(stream.body)):
            raise PilotError("ai.chat stream carried no events")

    async def dictation(self) -> None:
        """Live dictation over the WebSocket (authenticated by the sid cookie)."""
        url = self.client.ws_url("/api/speech/live")
        async with self.client.session.ws_connect(url) as ws:
            for chunk in DICTATION:
                await ws.send_str(chunk)
                await ws.receive_json(timeout=10)
            await ws.send_bytes(bytes(self.rng.randrange(256) for _ in range(320)))
            await ws.receive_json(timeout=10)
            await ws.send_str("END")
            await ws.receive_json(timeout=10)

    async def tab_switching(self, vault: str, session: str, entry: str, etag: str) -> None:
        """The app idles and the user flips tabs: the same cheap GETs again and again."""
        for _ in range(TAB_SWITCHES):
            await self.vault_list(bearer=False)
            await self.entries_page(vault, session, {"page": "1", "per_page": "5"})
            headers = {"X-Vault-Session": session, "If-None-Match": etag}
            await self.client.call("GET", entry, headers=headers)

    async def delete_and_miss(self, vault: str, session: str) -> None:
        """Create and delete a scratch entry, then touch it again (all three miss)."""
        scratch = {"title": "Scratch", "body": "Delete me.", "type": "note", "date": "2026-03-20"}
        created = (await self.create(vault, session, scratch)).expect(201)
        path = path_of(created.headers["Location"])
        headers = {"X-Vault-Session": session}
        await self.client.call("DELETE", path, headers=headers)
        await self.client.call("GET", path, headers=headers)
        stale = {**headers, "If-Match": created.headers["ETag"]}
        await self.client.call("PUT", path, json_body={"title": "Too late"}, headers=stale)
        await self.client.call("DELETE", path, headers=headers)

    async def visit(self, vault: dict[str, Any]) -> None:
        """A quick look into another vault: list, search "Zürich", open a hit, unload."""
        session = await self.load_vault(vault)
        base = f"/api/vaults/{vault['id']}"
        headers = {"X-Vault-Session": session}
        await self.entries_page(base, session, {"page": "1"})
        found = await self.client.call(
            "GET", f"{base}/search", params={"q": "Zürich"}, headers=headers
        )
        for hit in found.expect(200).json()["results"][:1]:
            await self.client.call("GET", f"{base}/entries/{hit['id']}", headers=headers)
        await self.client.call("POST", f"{base}/unload", headers=headers)

    async def wrap_up(self, vault: dict[str, Any], session: str) -> None:
        """Unload (the vault session stops working), log out (the token stops working)."""
        base = f"/api/vaults/{vault['id']}"
        await self.client.call("POST", f"{base}/unload")
        await self.entries_page(base, session, {"page": "1"})
        await self.client.call("POST", "/api/logout")
        await self.client.call("GET", "/api/vaults")


async def run_pilot(base_url: str, trace_path: str | Path | None = None, user: str = "ana") -> int:
    """Play the day against ``base_url``; returns the number of HTTP requests made."""
    with ExitStack() as stack:
        trace = (
            stack.enter_context(Path(trace_path).open("w", encoding="utf-8"))
            if trace_path
            else None
        )
        async with aiohttp.ClientSession(
            auto_decompress=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # keep the sid cookie from 127.0.0.1
            headers={"User-Agent": "journal-pilot/1.0", "Accept-Encoding": "identity"},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as session:
            client = Client(session, base_url, trace)
            await PilotDay(client, USERS[user]).run()
            return client.count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Play one pilot user's day against BASE_URL.")
    parser.add_argument("base_url", metavar="BASE_URL")
    parser.add_argument("--trace", metavar="FILE", help="write one JSON line per HTTP exchange")
    parser.add_argument("--user", choices=sorted(USERS), default="ana")
    args = parser.parse_args(argv)
    try:
        count = asyncio.run(run_pilot(args.base_url, args.trace, args.user))
    except (PilotError, aiohttp.ClientError, TimeoutError) as exc:
        print(f"pilot: failed: {exc}", file=sys.stderr)
        return 1
    print(f"pilot: {count} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
