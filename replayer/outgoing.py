"""Turning a recorded request into the one sent to a target: as recorded, pointed at the
target, carrying the values this target minted."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from replayer.correlate import ValueMap
from sessions import Request

# Hop-by-hop and framing headers belong to the recorded connection, not to the request;
# the client recomputes Content-Length because correlation may change the body.
_DROPPED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
        "host",
    }
)
_ORIGIN_HEADERS = frozenset({"origin", "referer"})


@dataclass(frozen=True, slots=True)
class Target:
    """A backend to replay against, e.g. `http://127.0.0.1:5001` (a path prefix is kept)."""

    url: str
    name: str = "target"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def prefix(self) -> str:
        return urlsplit(self.url).path.rstrip("/")


@dataclass(frozen=True, slots=True)
class Outgoing:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


def recorded_origin(request: Request, upstream: str | None) -> str:
    """The origin the recording talked to: the session's upstream, else the request's own."""
    if upstream:
        parts = urlsplit(upstream)
        return f"{parts.scheme}://{parts.netloc}"
    url = urlsplit(request.url)
    return f"{url.scheme}://{url.netloc}"


def build(request: Request, target: Target, values: ValueMap, origin: str) -> Outgoing:
    """The request to send: method, path+query and body as recorded (with correlated
    values), headers in recorded order with duplicates, Host and origins pointed at
    the target."""
    headers: list[tuple[str, str]] = [("Host", target.netloc)]
    content_type = ""
    for raw_name, raw_value in request.headers:
        name = raw_name.decode("latin-1")
        lowered = name.lower()
        if lowered in _DROPPED:
            continue
        value = raw_value.decode("latin-1")
        if lowered in _ORIGIN_HEADERS and value.startswith(origin):
            value = target.origin + value[len(origin) :]
        elif lowered == "content-type":
            content_type = value.lower()
        headers.append((name, values.apply_text(value)))
    path = values.apply_path(request.path)
    body = values.apply_body(request.body, content_type)
    return Outgoing(request.method, target.origin + target.prefix + path, headers, body)
