"""`parity export`: sessions as HAR 1.2 or a mitmproxy flow file, written by mitmproxy's
own writers (`SaveHar.make_har`/`flow_entry`, `mitmproxy.io.FlowWriter`) from the flows
`recorder.flows.to_flow` makes of the exchanges.

HAR: one page per session (`id` the session id, `title` its label), each entry's
`pageref` its session, so `parity import --split page` gives the sessions back. mitmproxy's writer
puts a request body in `postData` for POST, PUT and PATCH only, as text; parity adds
`postData` for any request with a body, and a body that is not UTF-8 text (or is
content-encoded) as base64 with `"encoding": "base64"` (the field HAR has for response
content; parity's import reads it on `postData` too).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import IO, Any

from mitmproxy import http
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.io import FlowWriter

from parity.recorder.flows import session_client, to_flow
from parity.sessions import Exchange, SessionHeader

Session = tuple[SessionHeader, Iterable[Exchange]]
Progress = Callable[[], None]


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat()


def har_document(
    pages: list[dict[str, Any]], entries: list[dict[str, Any]], comment: str = ""
) -> dict[str, Any]:
    """A HAR log from mitmproxy's writer with `pages` and `entries`."""
    har: dict[str, Any] = SaveHar().make_har([])
    log = har["log"]
    log["creator"]["comment"] = comment or "written by parity with mitmproxy's HAR writer"
    log["pages"] = pages
    log["entries"] = entries
    return har


def page(page_id: str, title: str, started: float) -> dict[str, Any]:
    return {
        "startedDateTime": _iso(started),
        "id": page_id,
        "title": title,
        "pageTimings": {"onContentLoad": -1, "onLoad": -1},
    }


def har_entry(
    flow: http.HTTPFlow, exchange: Exchange, pageref: str | None, comment: str = ""
) -> dict[str, Any]:
    """mitmproxy's HAR entry for `flow`, with parity's request body (see the module
    docstring), its page and a comment."""
    entry: dict[str, Any] = SaveHar().flow_entry(flow, set())
    body = exchange.request.body
    if body:
        post = entry["request"].get("postData") or {"params": []}
        post["mimeType"] = flow.request.headers.get("Content-Type", "")
        text = _utf8(body)
        if text is not None and "content-encoding" not in flow.request.headers:
            post["text"] = text
            post.pop("encoding", None)
        else:
            post["text"] = base64.b64encode(body).decode("ascii")
            post["encoding"] = "base64"
            post["params"] = []
        entry["request"]["postData"] = post
        entry["request"]["bodySize"] = len(body)
    for part in ("request", "response"):
        for cookie in entry[part].get("cookies", []):
            if cookie.get("value") is None:  # `Set-Cookie: ***` (masked) has no value
                cookie["value"] = ""
    if pageref is not None:
        entry["pageref"] = pageref
    if comment:
        entry["comment"] = comment
    return entry


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def sessions_har(sessions: Iterable[Session], progress: Progress = lambda: None) -> dict[str, Any]:
    """Sessions as one HAR document: a page per session."""
    pages: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for header, exchanges in sessions:
        pages.append(page(header.id, header.label or header.id, header.started_at))
        client = session_client(None, header.started_at)
        for exchange in exchanges:
            flow = to_flow(exchange, client)
            entries.append(har_entry(flow, exchange, header.id))
            progress()
    return har_document(pages, entries)


def write_flows(
    sessions: Iterable[Session], out: IO[bytes], progress: Progress = lambda: None
) -> int:
    """Sessions as a mitmproxy flow file (one client connection per session, so
    `parity import --split connection` gives the sessions back); how many flows were
    written."""
    writer = FlowWriter(out)
    count = 0
    for header, exchanges in sessions:
        client = None
        for exchange in exchanges:
            if client is None:
                client = session_client(exchange, header.started_at)
            writer.add(to_flow(exchange, client))
            count += 1
            progress()
    return count
