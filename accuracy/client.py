"""The pairs' HTTP client: one keep-alive connection, JSON in and out, every answer read
whole (4xx/5xx included: they are traffic too). Python's stdlib only, so a pair's client
runs with nothing but the interpreter."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

JSON = "application/json"

Answer = tuple[int, dict[str, str], Any]
"""(status, headers by lower-case name, the body parsed as JSON or None)."""


class JsonClient:
    """`call` sends `defaults` then the call's own headers; a JSON `body` (or `raw`
    bytes) goes with `Content-Type: application/json` unless the call names another.
    A connection the server closed is reopened once."""

    def __init__(self, base: str, defaults: dict[str, str] | None = None) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.defaults = dict(defaults or {})
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = {**self.defaults, **(headers or {})}
        payload = raw
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if payload is not None:
            sent.setdefault("Content-Type", JSON)
        try:
            self.conn.request(method, path, body=payload, headers=sent)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.conn.request(method, path, body=payload, headers=sent)
            resp = self.conn.getresponse()
        data = resp.read()
        answer = {k.lower(): v for k, v in resp.getheaders()}
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return resp.status, answer, parsed
