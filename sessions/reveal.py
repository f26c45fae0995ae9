"""Originals back in a redacted exchange, for `parity export --show-secrets`: every
token replaced by the original the secret store has for it (escaped as the place needs:
JSON strings, percent-encoded queries and forms, `sessions.redact.restore_*`), a token
without one left as it is. A content-encoded body is decoded, restored and encoded
again only when it holds a token. Pure but for mitmproxy's codecs (`MitmCodec`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from parity.sessions.model import Exchange, Headers, Message
from parity.sessions.redact import (
    TOKEN_PREFIX,
    Lookup,
    MitmCodec,
    has_tokens,
    restore_body,
    restore_header,
    restore_path,
)


def lookup_in(originals: Mapping[str, bytes]) -> Lookup:
    """A lookup that leaves a token it has no original for as the token."""

    def lookup(token: str, where: str) -> bytes:
        return originals.get(token, token.encode("ascii"))

    return lookup


def revealed(exchange: Exchange, lookup: Lookup) -> Exchange:
    """The exchange with its tokens replaced by originals (see the module docstring)."""
    request = exchange.request
    request = dataclasses.replace(
        request,
        path=restore_path(request.path, lookup),
        headers=_headers(request.headers, lookup),
        body=_body(request.headers, request.body, lookup),
    )
    response = exchange.response
    if response is not None:
        response = dataclasses.replace(
            response,
            headers=_headers(response.headers, lookup),
            body=_body(response.headers, response.body, lookup),
        )
    messages = [_message(m, lookup) for m in exchange.messages]
    return dataclasses.replace(exchange, request=request, response=response, messages=messages)


def _headers(headers: Headers, lookup: Lookup) -> Headers:
    return [
        (
            name,
            restore_header(name.decode("latin-1"), value.decode("latin-1"), lookup).encode(
                "latin-1", "replace"
            )
            if has_tokens(value)
            else value,
        )
        for name, value in headers
    ]


def _header(headers: Headers, wanted: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == wanted), "")


def _body(headers: Headers, body: bytes, lookup: Lookup) -> bytes:
    content_type = _header(headers, b"content-type")
    encodings = [
        e.strip().lower()
        for e in _header(headers, b"content-encoding").split(",")
        if e.strip() and e.strip().lower() != "identity"
    ]
    if not encodings:
        return restore_body(body, content_type, lookup)
    if len(encodings) > 1:
        return body
    codec = MitmCodec()
    decoded = codec.decode(body, encodings[0])
    if decoded is None or TOKEN_PREFIX.encode() not in decoded:
        return body
    return codec.encode(restore_body(decoded, content_type, lookup), encodings[0])


def _message(message: Message, lookup: Lookup) -> Message:
    if message.kind == "binary" or not has_tokens(message.content):
        return message
    return dataclasses.replace(message, content=restore_body(message.content, "", lookup))
