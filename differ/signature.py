"""Signatures: one short stable id per mismatch shape, so that the same bug on 30
exchanges is one triage item whatever its values.

Two rules live here, both kept so that stored ids never change:
- the differ's (`signature_of`): indices as `[*]` and instance-like keys as `.*` in body
  paths, sha1 over the route and the sorted (kind, where, path);
- the fallback triage gives a mismatch whose verdict carries no signature
  (`signature_of(..., fallback=True)`) and the templated places it stores for a signature
  (`shape_of`): indices as `[*]` only, keys kept, sha256 over the JSON of the route and
  the sorted (kind, place).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import orjson

from parity.differ.jsonpath import template_path
from parity.differ.model import Difference, Where


def templated(difference: Difference, *, keys: bool = True) -> str:
    """The difference's path with indices as `[*]` (and instance-like keys as `.*`);
    header names and the status path are already templates. With `keys=False` (the
    fallback rule) only indices are replaced, in any path."""
    if not keys:
        return template_path(difference.path, keys=False)
    if difference.where is Where.BODY:
        return template_path(difference.path)
    return difference.path


def shape_key(difference: Difference) -> tuple[str, str]:
    """(where, templated path): what noise matching and signatures look at."""
    return (difference.where.value, templated(difference))


def place(where: str, path: str) -> str:
    """Where a difference is, as one string: `status`, `header content-type` or `$.a.b[3]`."""
    if where == Where.STATUS:
        return "status"
    if where == Where.HEADER:
        return f"header {path}"
    return path or "$"


def _fallback_place(difference: Difference) -> str:
    return place(difference.where.value, templated(difference, keys=False))


def shape_of(differences: Iterable[Difference]) -> tuple[list[str], list[str]]:
    """The sorted kinds and templated places (`status`, `header etag`, `$.a[*]`, by the
    fallback rule: indices only) that triage stores with a signature."""
    kinds = sorted({d.kind.value for d in differences})
    places = sorted({_fallback_place(d) for d in differences})
    return kinds, places


def signature_of(route: str, differences: Iterable[Difference], *, fallback: bool = False) -> str:
    """12 hex chars of sha1 over the route and the sorted set of (kind, where, templated
    path). Values and array indices do not change it; kinds and paths do.

    `fallback=True`: the id triage gives a mismatch whose verdict has none, 12 hex chars
    of sha256 over the JSON of the route and the sorted (kind, place), indices templated
    and keys kept."""
    if fallback:
        shape = sorted({(d.kind.value, _fallback_place(d)) for d in differences})
        return hashlib.sha256(_json([route, shape])).hexdigest()[:12]
    shapes = sorted({(d.kind.value, d.where.value, templated(d)) for d in differences})
    text = "\n".join([route, *("\t".join(shape) for shape in shapes)])
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _json(value: object) -> bytes:
    """Compact JSON bytes as triage stores them (orjson; the stdlib where orjson refuses)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )
