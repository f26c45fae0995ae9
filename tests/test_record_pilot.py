"""The journal baseline behind `parity record`, a pilot user's day through it: the
session file holds every exchange exactly as the client saw it, once the redacted
secrets are put back from the project's secret store."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from parity.sessions import SessionStore, read_session
from parity.sessions.keys import project_key
from parity.sessions.redact import TOKEN_BYTES
from parity.sessions.secretstore import SecretStore
from tests.procs import Proc, parity, python

pytestmark = pytest.mark.timeout(120)


def test_pilot_day_is_recorded_byte_for_byte(tmp_path: Path) -> None:
    trace = tmp_path / "client-view.jsonl"
    sessions = tmp_path / "sessions"
    with Proc(python("examples/journal/server.py", "--mode", "baseline", "--port", "0")) as backend:
        backend_url = backend.wait_for(r"JOURNAL_LISTENING (\S+)").group(1)
        with Proc(
            parity(
                "record",
                "--upstream",
                backend_url,
                "--listen",
                "127.0.0.1:0",
                "--label",
                "pilot-ana",
                "--sessions",
                str(sessions),
            ),
            cwd=tmp_path,  # the project: its .parity/ holds the key and the secret store
        ) as recorder:
            proxy_url = recorder.wait_for(r"listening on (http://\S+)").group(1)
            recorder.wait_for("recording to")
            with Proc(
                python("examples/journal/pilot.py", proxy_url, "--trace", str(trace))
            ) as pilot:
                assert pilot.popen.wait(90) == 0, pilot.output()
            assert recorder.terminate() == 0

    key = project_key(tmp_path / ".parity", create=False)
    assert key is not None
    stored = {t: s.value for t, s in SecretStore(tmp_path / ".parity", key).load().items()}

    def restored(data: bytes) -> bytes:
        return TOKEN_BYTES.sub(lambda m: stored[m.group(0).decode()], data)

    seen = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    header, exchanges, result = read_session(SessionStore(sessions).paths()[0])
    assert header.upstream == backend_url and header.label == "pilot-ana"
    assert result.trailer is not None and result.trailer.exchanges == len(exchanges)
    assert len(seen) >= 60

    http = [e for e in exchanges if e.websocket_close is None]
    assert len(http) == len(seen)
    for exchange, client in zip(http, seen, strict=True):
        where = f"{client['method']} {client['url']}"
        assert exchange.request.method == client["method"], where
        assert client["url"].endswith(exchange.request.path), where
        assert exchange.response is not None, where
        assert exchange.response.status == client["status"], where
        client_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in client["headers"]]
        body = restored(exchange.response.body)
        assert body == base64.b64decode(client["body_b64"]), where
        # Content-Length follows the redacted body in the file; restored, it is the client's.
        length = str(len(body)).encode()
        headers = [
            (k, length if k.lower() == b"content-length" else restored(v))
            for k, v in exchange.response.headers
        ]
        assert headers == client_headers, where

    assert any(len(e.response.body) >= 200_000 for e in http if e.response), "a large entry"
    assert any(e.messages and e.messages[0].kind == "sse" for e in http), "the SSE stream"
    (ws,) = [e for e in exchanges if e.websocket_close is not None]
    assert any(m.from_client for m in ws.messages) and any(not m.from_client for m in ws.messages)
