"""Turning a recorded request into the one sent to a target: as recorded, pointed at the
target, carrying the values this target minted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from parity.replayer.correlate import Substitution, Trace, ValueMap
from parity.sessions import Request
from parity.sessions.redact import has_tokens, restore_body, restore_header, restore_path

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
    path: str = ""
    """Path and query as sent, without the target's origin and prefix."""
    substitutions: tuple[Substitution, ...] = ()
    """The recorded values replaced by values this target minted."""
    ambiguous: tuple[str, ...] = ()
    """Recorded values left as recorded: minted in several scopes, none named here."""


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
    the target. What was substituted, and what could not be, is on the result."""
    trace = Trace() if values else None
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
        headers.append((name, values.apply_text(value, name, trace)))
    path = values.apply_path(request.path, trace)
    body = values.apply_body(request.body, content_type, request.path, trace)
    url = target.origin + target.prefix + path
    if trace is None:
        return Outgoing(request.method, url, headers, body, path)
    return Outgoing(
        request.method,
        url,
        headers,
        body,
        path,
        tuple(trace.substitutions),
        tuple(trace.ambiguous),
    )


def with_originals(outgoing: Outgoing, original: Callable[[str, str], bytes]) -> Outgoing:
    """The request as it goes on the wire: every redaction token left after correlation
    replaced by its original (`original(token, where)`, which raises when there is none).
    Only this copy carries originals; the results keep `outgoing` itself."""
    if not (
        has_tokens(outgoing.path)
        or has_tokens(outgoing.body)
        or any(has_tokens(value) for _, value in outgoing.headers)
    ):
        return outgoing
    content_type = next((v for k, v in outgoing.headers if k.lower() == "content-type"), "")
    path = restore_path(outgoing.path, original)
    url = outgoing.url[: len(outgoing.url) - len(outgoing.path)] + path
    return replace(
        outgoing,
        url=url,
        path=path,
        headers=[(k, restore_header(k, v, original)) for k, v in outgoing.headers],
        body=restore_body(outgoing.body, content_type, original),
    )
