"""An exchange as one JSON object (`parity export --format ndjson`: one per line).

    {"session", "seq", "started", "client", "request": {"method", "url",
     "http_version", "headers": [[name, value], ...], "body" | "body_base64"},
     "response": {"status", "reason", "http_version", "headers", "body" | "body_base64",
     "timestamp_start", "timestamp_end"} | null, "error": {"message", "timestamp"} | null,
     "messages": [{"kind", "from_client", "timestamp", "content" | "content_base64"}]}

Headers are Latin-1 text in order, duplicates kept. A body is `body` when it is UTF-8
text, else `body_base64`; a response body is as recorded, still content-encoded.
"""

from __future__ import annotations

import base64
from typing import Any

from parity.sessions.model import Exchange, Headers


def exchange_json(session: str, exchange: Exchange) -> dict[str, Any]:
    request = exchange.request
    out: dict[str, Any] = {
        "session": session,
        "seq": exchange.seq,
        "started": request.timestamp_start,
        "client": list(exchange.client) if exchange.client else None,
        "request": {
            "method": request.method,
            "url": request.url,
            "http_version": request.http_version,
            "headers": _headers(request.headers),
            **_body("body", request.body),
            "timestamp_end": request.timestamp_end,
        },
        "response": None,
        "error": None,
        "messages": [
            {
                "kind": m.kind,
                "from_client": m.from_client,
                "timestamp": m.timestamp,
                **_body("content", m.content),
            }
            for m in exchange.messages
        ],
    }
    response = exchange.response
    if response is not None:
        out["response"] = {
            "status": response.status,
            "reason": response.reason,
            "http_version": response.http_version,
            "headers": _headers(response.headers),
            **_body("body", response.body),
            "timestamp_start": response.timestamp_start,
            "timestamp_end": response.timestamp_end,
        }
    if exchange.error is not None:
        out["error"] = {"message": exchange.error.message, "timestamp": exchange.error.timestamp}
    return out


def _headers(headers: Headers) -> list[list[str]]:
    return [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]


def _body(name: str, body: bytes) -> dict[str, str]:
    try:
        return {name: body.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(body).decode("ascii")}
