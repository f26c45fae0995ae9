"""Sending one request with aiohttp, exactly as built: raw path, headers in order with
duplicates, raw body, no redirects followed, bodies kept as received (not decompressed)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass, field

import aiohttp
import orjson
from multidict import CIMultiDict
from yarl import URL

from parity.exceptions import ParityError
from parity.replayer.outgoing import Outgoing
from parity.sessions import Message

# aiohttp adds these when a request lacks them; a replay sends only what was recorded.
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class SendError(ParityError):
    """The target did not answer: refused, reset, timed out. The message says which;
    `url` is the request's."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


@dataclass(slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    elapsed_ms: float
    messages: list[Message] = field(default_factory=list)
    http_version: str | None = None


def new_client(concurrency: int, verify_tls: bool = True) -> aiohttp.ClientSession:
    """One connection pool for a replay. `verify_tls=False` accepts any certificate (a
    staging backend with a self-signed one)."""
    connector = aiohttp.TCPConnector(
        limit=max(4, concurrency * 2), force_close=False, ssl=verify_tls
    )
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),  # cookies travel as recorded (and correlated)
        timeout=aiohttp.ClientTimeout(total=None),
    )


def _version(version: aiohttp.HttpVersion | None) -> str | None:
    return f"HTTP/{version.major}.{version.minor}" if version is not None else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


async def send(http: aiohttp.ClientSession, request: Outgoing, timeout: float) -> Answer:
    present = {name.lower() for name, _ in request.headers}
    skip = [h for h in _AUTO_HEADERS if h.lower() not in present]
    started = time.perf_counter()
    try:
        async with http.request(
            request.method,
            URL(request.url, encoded=True),
            headers=CIMultiDict(request.headers),
            data=request.body or None,
            skip_auto_headers=skip,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.read()
            return Answer(
                status=response.status,
                headers=list(response.raw_headers),
                http_version=_version(response.version),
                body=body,
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        raise SendError(_describe(exc), url=request.url) from exc


async def send_websocket(
    http: aiohttp.ClientSession, request: Outgoing, recorded: list[Message], timeout: float
) -> Answer:
    """Replay a WebSocket conversation: send the client's frames in recorded order,
    wait for as many server frames as the recording had between them. Every wait is
    bounded by `timeout`: the connection and handshake, each frame sent or received,
    the close."""
    url = URL(request.url, encoded=True)
    url = url.with_scheme("wss" if url.scheme == "https" else "ws")
    headers = [
        (k, v)
        for k, v in request.headers
        if not k.lower().startswith("sec-websocket-") and k.lower() != "host"
    ]
    started = time.perf_counter()
    received: list[Message] = []
    waiting = "the WebSocket handshake"
    try:
        # The handshake is an HTTP request under the pool's timeout (none): bound it here.
        async with asyncio.timeout(timeout):
            ws = await http.ws_connect(
                url,
                headers=CIMultiDict(headers),
                timeout=aiohttp.ClientWSTimeout(ws_receive=timeout, ws_close=timeout),
            )
        waiting = "a WebSocket frame"
        try:
            await _converse(ws, recorded, received, timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await _close(ws, timeout)
            raise
        waiting = "the WebSocket close"
        await _close(ws, timeout)
    except TimeoutError as exc:
        raise SendError(f"timed out waiting for {waiting}", url=request.url) from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise SendError(_describe(exc), url=request.url) from exc
    return Answer(
        status=101,
        headers=[],
        body=server_frames(received),
        elapsed_ms=(time.perf_counter() - started) * 1000,
        messages=received,
    )


async def _close(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> None:
    """Close under a bound: aiohttp waits `ws_close` for the server's close frame and
    then gives up quietly; this bound is for a server that does not even read."""
    async with asyncio.timeout(2 * timeout):
        await ws.close()


async def _converse(
    ws: aiohttp.ClientWebSocketResponse,
    recorded: list[Message],
    received: list[Message],
    timeout: float,
) -> None:
    """The recorded conversation on an open WebSocket, each frame under `timeout`; the
    server's frames appended to `received`."""
    for message in recorded:
        if message.from_client:
            async with asyncio.timeout(timeout):
                if message.kind == "text":
                    await ws.send_str(message.content.decode("utf-8", "replace"))
                else:
                    await ws.send_bytes(message.content)
            continue
        frame = await ws.receive(timeout=timeout)
        if frame.type == aiohttp.WSMsgType.TEXT:
            received.append(Message("text", False, frame.data.encode(), time.time()))
        elif frame.type == aiohttp.WSMsgType.BINARY:
            received.append(Message("binary", False, frame.data, time.time()))
        else:
            break


def server_frames(messages: list[Message]) -> bytes:
    """The server's side of a WebSocket conversation as one JSON document, so the differ
    compares it like any body: text frames parsed as JSON when they are JSON."""
    frames: list[object] = []
    for m in messages:
        if m.from_client:
            continue
        if m.kind == "text":
            try:
                frames.append(orjson.loads(m.content))
            except orjson.JSONDecodeError:
                frames.append(m.content.decode("utf-8", "replace"))
        else:
            frames.append({"binary": base64.b64encode(m.content).decode()})
    return orjson.dumps(frames)
