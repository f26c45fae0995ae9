"""Builders shared by the differ tests (pure data; this module holds no tests)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from parity.differ import Differ, HttpRequest, HttpResponse, Verdict, load_rules

JSON = "application/json; charset=utf-8"
REQUEST = HttpRequest("GET", "/api/vaults/0b6e0b6e-1111-2222-3333-444455556666/entries/1042")


def response(
    body: object = b"",
    *,
    status: int = 200,
    content_type: str | None = JSON,
    headers: list[tuple[str, str]] | None = None,
    origin: str | None = None,
) -> HttpResponse:
    """A response; a non-bytes body is written with json.dumps (Python's default style)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    pairs = [("Content-Type", content_type)] if content_type else []
    pairs += headers or []
    return HttpResponse(
        status, [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs], raw, origin
    )


def compare(
    expected: HttpResponse,
    actual: HttpResponse | None,
    baseline: HttpResponse | None = None,
    *,
    rules: Mapping[str, Any] | None = None,
    request: HttpRequest = REQUEST,
    **kwargs: object,
) -> Verdict:
    return Differ(load_rules(rules or {})).compare(request, expected, actual, baseline, **kwargs)  # type: ignore[arg-type]


def kinds(verdict: Verdict) -> set[tuple[str, str, str]]:
    """{(where, path, kind)} of the reported differences."""
    return {(d.where.value, d.path, d.kind.value) for d in verdict.differences}
