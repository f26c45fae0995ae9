"""Journal example backend: one aiohttp codebase, two modes.

``baseline`` is the Python backend (the contract); ``candidate`` plays its C# port, which
diverges in the documented ways listed in ``divergences.py`` / DIVERGENCES.md.

    python examples/journal/server.py --mode baseline --port 0
    python examples/journal/server.py --mode candidate --fix search-order --fix utc-z-suffix

On start it prints one line ``JOURNAL_LISTENING http://HOST:PORT`` and serves until
SIGTERM/SIGINT. State is in memory, loaded from ``fixtures/vaults``; ``POST /_admin/reset``
restores it. ``JOURNAL_FIX=a,b`` adds fixes like ``--fix``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

if __package__ in (None, ""):  # run as a script: make the `examples` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.journal import bridge
from examples.journal.degrade import Degrade
from examples.journal.divergences import Profile, parse_fixes
from examples.journal.store import (
    Entry,
    SearchQuery,
    Session,
    Store,
    Vault,
    is_iso_date,
    page_of,
    search,
    utc_now,
    validate_entry,
)
from examples.journal.wire import JSON_TYPE, Wire

VERSION = "2.3.0"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "vaults"
PUBLIC_PATHS = frozenset({"/api/login", "/api/health"})
COMPRESS_ABOVE = 1024  # bytes; larger entry bodies are gzip'ed when the client accepts it
SESSION = web.RequestKey("session", Session)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """Answered as ``{"error": {"code": code, "message": message}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ValidationFailed(Exception):
    """Field errors of a request; answered by ``JournalApi.validation_failed``."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


class JournalApi:
    """Route handlers. Every candidate divergence is one ``self.diverges(NAME)`` branch."""

    def __init__(self, profile: Profile, store: Store, degrade: Degrade | None = None) -> None:
        self.profile = profile
        self.store = store
        self.wire = Wire(profile)
        self.degrade = degrade

    def diverges(self, name: str) -> bool:
        return self.profile.diverges(name)

    # --- responses ----------------------------------------------------------------

    def json(
        self,
        data: object,
        status: int = 200,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = JSON_TYPE,
    ) -> web.Response:
        all_headers = {"Content-Type": content_type, **(headers or {})}
        return web.Response(status=status, body=self.wire.dumps(data), headers=all_headers)

    def error(self, status: int, code: str, message: str) -> web.Response:
        return self.json({"error": {"code": code, "message": message}}, status)

    def validation_failed(self, errors: dict[str, str]) -> web.Response:
        """Baseline: 422 with our error envelope. Candidate: ASP.NET ProblemDetails."""
        if self.diverges("problem-details"):
            problem = {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                "title": "One or more validation errors occurred.",
                "status": 400,
                "detail": "See the errors property for details.",
                "errors": {
                    _pascal(name): [f"The {_pascal(name)} field {message}."]
                    for name, message in errors.items()
                },
            }
            return self.json(problem, 400, content_type="application/problem+json")
        body = {"code": "validation_error", "message": "Invalid request", "fields": errors}
        return self.json({"error": body}, 422)

    def entry_view(self, entry: Entry, *, full: bool = True) -> dict[str, Any]:
        data = entry.fields(with_body=full)
        if self.diverges("enum-casing"):
            data["type"] = data["type"].capitalize()
        return data

    def entry_response(self, entry: Entry, status: int = 200, **headers: str) -> web.Response:
        return self.json(self.entry_view(entry), status, headers={"ETag": entry.etag, **headers})

    # --- middlewares --------------------------------------------------------------

    @web.middleware
    async def errors_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return self.error(exc.status, exc.code, exc.message)
        except ValidationFailed as exc:
            return self.validation_failed(exc.errors)
        except web.HTTPNotFound:
            return self.error(404, "not_found", f"No route for {request.path}")
        except web.HTTPMethodNotAllowed:
            return self.error(405, "method_not_allowed", f"{request.method} not allowed here")

    @web.middleware
    async def auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """/api/* (except login and health) needs ``Authorization: Bearer`` or the sid cookie."""
        if request.path.startswith("/api/") and request.path not in PUBLIC_PATHS:
            auth = request.headers.get("Authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            session = self.store.session_for(token, request.cookies.get("sid"))
            if session is None:
                raise ApiError(401, "unauthorized", "Log in first")
            request[SESSION] = session
        return await handler(request)

    @web.middleware
    async def degrade_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """``--degrade``: every request but the admin's advances the simulated clock."""
        if self.degrade is not None and not request.path.startswith("/_admin/"):
            self.degrade.tick()
        return await handler(request)

    # --- lookups ------------------------------------------------------------------

    def owned_vault(self, request: web.Request) -> Vault:
        vault = self.store.vaults.get(request.match_info["vault_id"])
        if vault is None or vault.owner != request[SESSION].user.username:
            raise ApiError(404, "vault_not_found", "No such vault")
        return vault

    def open_vault(self, request: web.Request) -> Vault:
        """The path's vault, which must have been loaded (``X-Vault-Session``)."""
        vault = self.owned_vault(request)
        token = request.headers.get("X-Vault-Session", "")
        if request[SESSION].vault_sessions.get(token) != vault.id:
            raise ApiError(403, "vault_locked", "Load the vault first")
        return vault

    def entry_of(self, request: web.Request, vault: Vault) -> Entry:
        entry_id = int(request.match_info["entry_id"])  # the route only matches digits
        entry = vault.entries.get(entry_id)
        if entry is None:
            status = 400 if self.diverges("missing-entry-status") else 404
            raise ApiError(status, "entry_not_found", f"No entry {entry_id}")
        return entry

    # --- health, admin, auth ------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return self.json(
            {
                "status": "ok",
                "version": VERSION,
                "mode": self.profile.mode,
                "divergences": sorted(self.profile.active),
                "server_time": utc_now(),
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.store.reset()
        if self.degrade is not None:
            self.degrade.reset()
        return web.Response(status=204)

    async def login(self, request: web.Request) -> web.Response:
        data = await read_json(request)
        session = self.store.login(str(data.get("username", "")), str(data.get("password", "")))
        if session is None:
            raise ApiError(401, "invalid_credentials", "Unknown user or wrong password")
        if self.degrade is not None and self.degrade.logins_loop:
            session.expires_at = utc_now()  # dead on arrival: the client loops
        user = session.user
        response = self.json(
            {
                "token": session.token,
                "user": {"id": user.id, "name": user.name, "locale": user.locale},
                "expires_at": session.expires_at,
            }
        )
        response.set_cookie("sid", session.sid, httponly=True, path="/")
        return response

    async def logout(self, request: web.Request) -> web.Response:
        self.store.logout(request[SESSION])
        response = web.Response(status=204)
        response.del_cookie("sid", path="/")
        return response

    # --- vaults -------------------------------------------------------------------

    async def list_vaults(self, request: web.Request) -> web.Response:
        vaults = [
            {"id": v.id, "name": v.name, "entry_count": len(v.entries)}
            for v in self.store.vaults_of(request[SESSION].user)
        ]
        charset_less = self.diverges("content-type-charset")
        content_type = "application/json" if charset_less else JSON_TYPE
        return self.json({"vaults": vaults, "server_time": utc_now()}, content_type=content_type)

    async def load_vault(self, request: web.Request) -> web.Response:
        vault = self.owned_vault(request)
        if (await read_json(request)).get("passphrase") != vault.passphrase:
            raise ApiError(403, "bad_passphrase", "Wrong passphrase")
        info = {"id": vault.id, "name": vault.name, "entry_count": len(vault.entries)}
        token = request[SESSION].unlock(vault)
        return self.json({"vault": info, "vault_session": token, "loaded_at": utc_now()})

    async def unload_vault(self, request: web.Request) -> web.Response:
        request[SESSION].lock(self.owned_vault(request))
        return web.Response(status=204)

    # --- entries ------------------------------------------------------------------

    async def list_entries(self, request: web.Request) -> web.Response:
        vault = self.open_vault(request)
        page = int_param(request, "page", 1, maximum=10_000)
        per_page = int_param(request, "per_page", 20, maximum=100)
        entries = sorted(vault.entries.values(), key=lambda e: e.id)
        skew = 1 if self.diverges("pagination-off-by-one") else 0
        items = page_of(entries, page, per_page, skew=skew)
        listing: dict[str, Any] = {
            "items": [self.entry_view(e, full=False) for e in items],
            "page": page,
            "per_page": per_page,
            "total": len(entries),
            "has_more": page * per_page < len(entries),
        }
        if self.degrade is not None:
            listing["recent"] = self.degrade.recent_of(vault.id)
        return self.json(listing)

    async def create_entry(self, request: web.Request) -> web.Response:
        vault = self.open_vault(request)
        values, errors = validate_entry(await read_json(request), partial=False)
        if errors:
            raise ValidationFailed(errors)
        entry = self.store.create_entry(vault, values)
        location = f"{origin(request)}/api/vaults/{vault.id}/entries/{entry.id}"
        return self.entry_response(entry, 201, Location=location)

    async def get_entry(self, request: web.Request) -> web.Response:
        entry = self.entry_of(request, self.open_vault(request))
        if entry.etag in etag_list(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers={"ETag": entry.etag})
        response = self.entry_response(entry)
        if (response.content_length or 0) > COMPRESS_ABOVE:
            response.enable_compression()
        return response

    async def edit_entry(self, request: web.Request) -> web.Response:
        """Edit fields; needs ``If-Match`` with the current ETag (else 412)."""
        entry = self.entry_of(request, self.open_vault(request))
        if entry.etag not in etag_list(request.headers.get("If-Match", "")):
            raise ApiError(412, "precondition_failed", "If-Match must carry the current ETag")
        values, errors = validate_entry(await read_json(request), partial=True)
        if errors:
            raise ValidationFailed(errors)
        for name, value in values.items():
            setattr(entry, name, value)
        entry.updated_at = utc_now()
        return self.entry_response(entry)

    async def save_entry(self, request: web.Request) -> web.Response:
        """Explicit save: bumps ``version``."""
        vault = self.open_vault(request)
        entry = self.entry_of(request, vault)
        entry.version += 1
        entry.updated_at = utc_now()
        if self.degrade is not None:
            self.degrade.saved(vault.id, self.entry_view(entry, full=False))
        return self.entry_response(entry)

    async def delete_entry(self, request: web.Request) -> web.Response:
        vault = self.open_vault(request)
        del vault.entries[self.entry_of(request, vault).id]
        return web.Response(status=204)

    async def search_entries(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        vault = self.open_vault(request)
        if self.degrade is not None:
            await asyncio.sleep(self.degrade.search_delay())
        query = search_query(request)
        if self.diverges("checkbox-filter"):
            query = replace(query, checkbox=None)
        tie_break_id_desc = not self.diverges("search-order")
        found = search(vault, query, ties_newest_first=tie_break_id_desc)
        page = int_param(request, "page", 1, maximum=10_000)
        results = page_of(found, page, 10)
        took_ms = round((time.perf_counter() - started) * 1000, 3)
        return self.json(
            {
                "results": [self.entry_view(e, full=False) for e in results],
                "total": len(found),
                "page": page,
                "took_ms": took_ms,
            }
        )

    # --- bridge (JSON-RPC), SSE and WebSocket ------------------------------------

    def rpc_error(self, rpc_id: object, code: int, message: str) -> web.Response:
        return self.json(
            {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}}
        )

    async def bridge(self, request: web.Request) -> web.StreamResponse:
        """One URL, the operation in the body; errors are JSON-RPC error objects (HTTP 200)."""
        try:
            rpc = await read_json(request)
        except ApiError:
            return self.rpc_error(None, bridge.PARSE_ERROR, "Parse error")
        rpc_id, method, params = rpc.get("id"), rpc.get("method"), rpc.get("params", {})
        if (
            rpc.get("jsonrpc") != "2.0"
            or not isinstance(method, str)
            or not isinstance(params, dict)
        ):
            return self.rpc_error(rpc_id, bridge.INVALID_REQUEST, "Invalid Request")
        try:
            if method == "ai.chat" and "text/event-stream" in request.headers.get("Accept", ""):
                return await self.chat_stream(request, rpc_id, bridge.chat_chunks(params))
            result = bridge.call(method, params)
        except bridge.RpcError as exc:
            if exc.code == bridge.VOICE_UNAVAILABLE and self.diverges("speech-failure-http-status"):
                return self.json({"error": "voice unavailable"}, 502)
            return self.rpc_error(rpc_id, exc.code, exc.message)
        result["request_id"] = str(uuid.uuid4())
        return self.json({"jsonrpc": "2.0", "id": rpc_id, "result": result})

    async def chat_stream(
        self, request: web.Request, rpc_id: object, chunks: list[str]
    ) -> web.StreamResponse:
        """Server-Sent Events: one ``data:`` event per delta, then ``event: done``."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        for index, delta in enumerate(chunks):
            await response.write(self.sse({"id": rpc_id, "index": index, "delta": delta}))
            await asyncio.sleep(0.005)
        if not self.diverges("sse-done-event"):
            done = {"id": rpc_id, "finish_reason": "stop", "request_id": str(uuid.uuid4())}
            await response.write(self.sse(done, event="done"))
        await response.write_eof()
        return response

    def sse(self, data: object, event: str | None = None) -> bytes:
        prefix = f"event: {event}\n".encode() if event else b""
        return prefix + b"data: " + self.wire.dumps(data) + b"\n\n"

    async def speech_live(self, request: web.Request) -> web.WebSocketResponse:
        """Dictation: each text/binary frame gets ``{"partial", "seq"}``; "END" finishes."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        heard: list[str] = []
        async for message in ws:
            if message.type is WSMsgType.TEXT and message.data == "END":
                await ws.send_str(self.wire.text({"final": " ".join(heard), "seq": len(heard)}))
                await ws.close()
            elif message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                is_text = message.type is WSMsgType.TEXT
                heard.append(message.data if is_text else f"[{len(message.data)} audio bytes]")
                await ws.send_str(self.wire.text({"partial": " ".join(heard), "seq": len(heard)}))
        return ws


# --- request helpers ------------------------------------------------------------------


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body, or ApiError 400."""
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "bad_request", "Body must be JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "Body must be a JSON object")
    return data


def int_param(request: web.Request, name: str, default: int, *, maximum: int) -> int:
    raw = request.query.get(name, str(default))
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= maximum:
        raise ValidationFailed({name: f"must be an integer from 1 to {maximum}"})
    return int(raw)


def search_query(request: web.Request) -> SearchQuery:
    """Parse ``q, from, to, section, tag, type, checkbox`` (empty values mean no filter)."""
    q = {
        name: request.query.get(name) or None
        for name in ("q", "from", "to", "section", "tag", "type")
    }
    errors = {
        name: "must be a date like 2026-01-31"
        for name in ("from", "to")
        if q[name] is not None and not is_iso_date(q[name])
    }
    checkbox = request.query.get("checkbox") or None
    if checkbox not in (None, "true", "false"):
        errors["checkbox"] = "must be true or false"
    if errors:
        raise ValidationFailed(errors)
    return SearchQuery(
        text=q["q"],
        date_from=q["from"],
        date_to=q["to"],
        section=q["section"],
        tag=q["tag"],
        type=q["type"],
        checkbox=None if checkbox is None else checkbox == "true",
    )


def etag_list(header: str) -> list[str]:
    """Entity tags of an If-Match / If-None-Match header (weak prefixes dropped)."""
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def origin(request: web.Request) -> str:
    """``scheme://host`` as the client saw it (honours X-Forwarded-Proto/-Host)."""
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
    host = request.headers.get("X-Forwarded-Host", request.host)
    return f"{scheme}://{host}"


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Request-Id"] = str(uuid.uuid4())


# --- app and process ------------------------------------------------------------------


def build_app(
    profile: Profile, fixtures: Path = FIXTURES, degrade: Degrade | None = None
) -> web.Application:
    """The aiohttp application for ``profile`` with fresh state from ``fixtures``;
    ``degrade`` wears it out over a simulated soak (``degrade.py``)."""
    api = JournalApi(profile, Store(fixtures), degrade)
    middlewares = [api.errors_middleware, api.auth_middleware]
    if degrade is not None:
        middlewares.insert(0, api.degrade_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=8 * 2**20)
    app.on_response_prepare.append(add_request_id)
    entry = "/api/vaults/{vault_id}/entries/{entry_id:[0-9]{1,18}}"
    app.add_routes(
        [
            web.get("/api/health", api.health),
            web.post("/_admin/reset", api.reset),
            web.post("/api/login", api.login),
            web.post("/api/logout", api.logout),
            web.get("/api/vaults", api.list_vaults),
            web.post("/api/vaults/{vault_id}/load", api.load_vault),
            web.post("/api/vaults/{vault_id}/unload", api.unload_vault),
            web.get("/api/vaults/{vault_id}/entries", api.list_entries),
            web.post("/api/vaults/{vault_id}/entries", api.create_entry),
            web.get(entry, api.get_entry, allow_head=False),
            web.put(entry, api.edit_entry),
            web.post(entry + "/save", api.save_entry),
            web.delete(entry, api.delete_entry),
            web.get("/api/vaults/{vault_id}/search", api.search_entries),
            web.post("/api/bridge", api.bridge),
            web.get("/api/speech/live", api.speech_live),
        ]
    )
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; announces ``JOURNAL_LISTENING http://HOST:PORT``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"JOURNAL_LISTENING http://{shown}:{bound_port}", flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Windows has no loop signal handlers; Ctrl+C arrives as KeyboardInterrupt there.
            with contextlib.suppress(NotImplementedError):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=("baseline", "candidate"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    parser.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME",
        help="switch one candidate divergence off (repeatable)",
    )
    parser.add_argument(
        "--degrade",
        action="store_true",
        help="wear out over a simulated soak: search latency creeps, the entry list's "
        "'recent' grows with every save, logins loop after --loop-after hours (degrade.py)",
    )
    parser.add_argument(
        "--sim-hour",
        type=int,
        default=200,
        metavar="N",
        help="with --degrade: requests served per simulated hour (default 200)",
    )
    parser.add_argument(
        "--loop-after",
        type=float,
        default=5.0,
        metavar="HOURS",
        help="with --degrade: simulated hours before logins loop (default 5)",
    )
    parser.add_argument(
        "--creep-ms",
        type=float,
        default=10.0,
        metavar="MS",
        help="with --degrade: search latency added per simulated hour (default 10)",
    )
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.fix = parse_fixes([*args.fix, os.environ.get("JOURNAL_FIX", "")])
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    degrade = Degrade(args.sim_hour, args.loop_after, args.creep_ms) if args.degrade else None
    app = build_app(Profile.build(args.mode, args.fix), args.fixtures, degrade)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(app, args.host, args.port))


if __name__ == "__main__":
    main()
