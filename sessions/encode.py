"""Encoding a record as msgpack without copying its large bodies.

`msgpack.packb` copies every body into its buffer and then into a new bytes object: two
copies of a 1 MB response per exchange, on the proxy's event loop. Here a map that holds
a large `bytes` value is packed piece by piece, the large value emitted as a msgpack
`bin` header plus the body object itself, and the pieces go to the OS in one `writev`.
The bytes on disk are exactly what `packb` would produce.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import msgpack

# Below this a body is cheaper to copy than to hand to writev as its own piece.
LARGE = 64 * 1024
_IOV_MAX = 512  # well under every platform's IOV_MAX (1024 on Linux)


def _bin_header(size: int) -> bytes:
    if size < 1 << 8:
        return struct.pack(">BB", 0xC4, size)
    if size < 1 << 16:
        return struct.pack(">BH", 0xC5, size)
    return struct.pack(">BI", 0xC6, size)


def _holds_large(value: Any) -> bool:
    if isinstance(value, bytes):
        return len(value) >= LARGE
    if isinstance(value, dict):
        return any(_holds_large(v) for v in value.values())
    return False


def segments(packer: msgpack.Packer, record: Any) -> list[bytes]:
    """The msgpack encoding of `record` as a list of pieces; large bodies are not copied."""
    if not _holds_large(record):
        return [packer.pack(record)]
    pieces: list[bytes] = []
    _pack_into(packer, record, pieces)
    return pieces


def _pack_into(packer: msgpack.Packer, value: Any, pieces: list[bytes]) -> None:
    if isinstance(value, bytes) and len(value) >= LARGE:
        pieces.append(_bin_header(len(value)))
        pieces.append(value)
    elif isinstance(value, dict) and _holds_large(value):
        pieces.append(packer.pack_map_header(len(value)))
        for key, item in value.items():
            pieces.append(packer.pack(key))
            _pack_into(packer, item, pieces)
    else:
        pieces.append(packer.pack(value))


def write_all(fd: int, pieces: list[bytes]) -> None:
    """Write every piece, in order, retrying short writes. One `writev` call in the common
    case (an O_APPEND file keeps a record contiguous); a plain write where there is no
    writev (Windows)."""
    if not hasattr(os, "writev"):
        data = memoryview(b"".join(pieces))
        while data:
            data = data[os.write(fd, data) :]
        return
    views = [memoryview(p) for p in pieces if p]
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]
