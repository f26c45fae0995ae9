"""Signatures: one short stable id per mismatch shape, so that the same bug on 30
exchanges is one triage item whatever its values."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from differ.jsonpath import template_path
from differ.model import Difference, Where


def templated(difference: Difference) -> str:
    """The difference's path with indices as `[*]` (and instance-like keys as `.*`);
    header names and the status path are already templates."""
    if difference.where is Where.BODY:
        return template_path(difference.path)
    return difference.path


def shape_key(difference: Difference) -> tuple[str, str]:
    """(where, templated path): what noise matching and signatures look at."""
    return (difference.where.value, templated(difference))


def signature_of(route: str, differences: Iterable[Difference]) -> str:
    """12 hex chars of sha1 over the route and the sorted set of (kind, where, templated
    path). Values and array indices do not change it; kinds and paths do."""
    shapes = sorted({(d.kind.value, d.where.value, templated(d)) for d in differences})
    text = "\n".join([route, *("\t".join(shape) for shape in shapes)])
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
