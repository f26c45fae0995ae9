"""Small builders for session data used across tests (pure data, no I/O)."""

from __future__ import annotations

from parity.sessions import Exchange, FlowError, Message, Request, Response


def make_exchange(
    seq: int,
    path: str = "/api/entries/1",
    status: int = 200,
    body: bytes = b'{"ok": true}',
    error: str | None = None,
) -> Exchange:
    request = Request(
        method="POST" if seq % 2 else "GET",
        scheme="http",
        host="127.0.0.1",
        port=5000,
        path=path,
        http_version="HTTP/1.1",
        headers=[
            (b"Host", b"127.0.0.1:5000"),
            (b"Cookie", b"a=1"),
            (b"cookie", b"b=2"),  # a duplicate in another case: both must survive
            (b"X-Raw", b"\xff\xfe not utf-8"),
        ],
        body=b"\x00\x01 binary \xff" * seq,
        timestamp_start=1_700_000_000.0 + seq,
        timestamp_end=1_700_000_000.001 + seq,
    )
    response = None
    if error is None:
        response = Response(
            status=status,
            reason="OK",
            http_version="HTTP/1.1",
            headers=[
                (b"Content-Type", b"application/json"),
                (b"Set-Cookie", b"x=1"),
                (b"Set-Cookie", b"y=2"),
            ],
            body=body,
            timestamp_start=1_700_000_000.002 + seq,
            timestamp_end=1_700_000_000.003 + seq,
        )
    return Exchange(
        seq=seq,
        request=request,
        response=response,
        error=FlowError(error, 1_700_000_000.004 + seq) if error else None,
        client=("127.0.0.1", 40000 + seq),
        messages=[Message("text", True, b"hello", 1.5)] if seq == 3 else [],
        flow_id=f"flow-{seq}",
    )
