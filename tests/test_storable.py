"""What a hostile answer puts in the results database: always valid UTF-8 (lone
surrogates escaped), and a mismatch's large bodies stored once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from parity.sessions import SessionStore
from parity.triage.text import dumps, storable
from tests.factories import make_exchange
from tests.procs import parity

pytestmark = pytest.mark.timeout(60)


@contextmanager
def backend(answers: dict[str, tuple[bytes, bytes]]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering each path with (content type, body)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body = answers.get(self.path, (b"text/plain", b"none"))
            self.send_response(200)
            self.send_header("Content-Type", content_type.decode())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _session(root: Path, recorded: dict[str, tuple[bytes, bytes]]) -> Path:
    with SessionStore(root).create(label="t", upstream="http://127.0.0.1:5000") as writer:
        for seq, (path, (content_type, body)) in enumerate(recorded.items(), 1):
            exchange = make_exchange(seq, path=path, body=body)
            exchange.request.method = "GET"
            exchange.request.body = b""
            assert exchange.response is not None
            exchange.response.headers = [(b"Content-Type", content_type)]
            writer.append(exchange)
    return root


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(parity(*args), capture_output=True, text=True, timeout=50)


def test_storable_escapes_lone_surrogates_readably_and_distinctly() -> None:
    assert storable("plain é") == "plain é"
    assert storable("a\ud800b") == "a\\ud800b"
    assert storable("\udcff") != storable("\udcfe")
    stored = dumps({"k\udc80": ["\ud800", "é"]})
    stored.encode("utf-8")  # valid UTF-8
    assert json.loads(stored) == {"k\udc80": ["\ud800", "é"]}  # JSON escapes: exact


def test_an_answer_with_lone_surrogates_is_stored_with_every_other_exchange(
    tmp_path: Path,
) -> None:
    latin = b"application/json; charset=latin-1"
    recorded = {
        "/value": (latin, b'{"a": "x"}'),
        "/key": (latin, b'{"k": 1}'),
        "/text": (b"text/plain; charset=latin-1", b"caf\xe9"),
        "/same": (b"application/json", b'{"ok": true}'),
    }
    served = {
        "/value": (latin, b'{"a": "\\ud800"}'),
        "/key": (latin, b'{"\\udc80": 1}'),
        "/text": (b"text/plain; charset=latin-1", b"caf\xe8"),
        "/same": (b"application/json", b'{"ok": true}'),
    }
    sessions = _session(tmp_path / "s", recorded)
    db = tmp_path / "parity.db"
    with backend(served) as url:
        replay = _run("replay", str(sessions), "--target", url, "--db", str(db))
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "internal error" not in replay.stdout + replay.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == 4
        rows = conn.execute("SELECT url, differences FROM mismatches ORDER BY seq").fetchall()
    by_url = {url: json.loads(differences) for url, differences in rows}
    # The differ writes a lone surrogate as its escape before anything is stored
    # (differ.charsets.printable); the store's own escaping is the second guard
    # (test_storable_escapes_lone_surrogates_readably_and_distinctly).
    assert by_url["/value"][0]["actual"] == "\\ud800"
    assert by_url["/key"]
    report = _run("report", "--db", str(db), "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["mismatched"] == 3
    mismatch = next(m for m in json.loads(report.stdout)["mismatches"] if m["url"] == "/value")
    show = _run("show", mismatch["id"], "--db", str(db))
    assert show.returncode == 0, show.stderr
    assert "ud800" in show.stdout


def _large_json(marker: str) -> bytes:
    items = ",".join(
        f'{{"id": {i}, "title": "{marker if i == 700 else "entry"} {i}", "text": "{"x" * 1000}"}}'
        for i in range(1000)
    )
    return f'{{"items": [{items}]}}'.encode()


def test_a_large_body_is_stored_once_compressed_and_shown(tmp_path: Path) -> None:
    recorded, served = _large_json("entry"), _large_json("Entry")
    assert len(recorded) > 1_000_000
    json_type = b"application/json"
    sessions = _session(tmp_path / "s", {"/a": (json_type, recorded), "/b": (json_type, recorded)})
    db = tmp_path / "parity.db"
    with backend({"/a": (json_type, served), "/b": (json_type, served)}) as url:
        for _run_twice in range(2):
            replay = _run("replay", str(sessions), "--target", url, "--db", str(db))
            assert replay.returncode == 1, replay.stdout + replay.stderr
    with sqlite3.connect(db) as conn:
        # 4 mismatches, 8 large bodies: 2 distinct ones, each stored once, compressed
        assert conn.execute("SELECT count(*) FROM mismatches").fetchone()[0] == 4
        stored = conn.execute("SELECT size, encoding, length(data) FROM bodies").fetchall()
        assert sorted(size for size, _, _ in stored) == sorted([len(recorded), len(served)])
        assert all(encoding == "zstd" and length < size // 10 for size, encoding, length in stored)
        inline = conn.execute(
            "SELECT count(*) FROM mismatches WHERE expected_body IS NOT NULL "
            "OR actual_body IS NOT NULL"
        ).fetchone()[0]
        assert inline == 0
        first = conn.execute("SELECT id FROM mismatches ORDER BY rowid LIMIT 1").fetchone()[0]
    shown = _run("show", first, "--db", str(db), "--json")
    assert shown.returncode == 0, shown.stderr
    mismatch = json.loads(shown.stdout)["mismatch"]
    assert mismatch["expected"]["body_bytes"] == len(recorded)
    assert mismatch["actual"]["body_bytes"] == len(served)
    assert [d["path"] for d in mismatch["differences"]] == ["$.items[700].title"]
    assert any("Entry 700" in line for line in mismatch["body_diff"])
    assert "Entry 700" in mismatch["sentences"][0]
    text = _run("show", first, "--db", str(db))
    assert text.returncode == 0 and "Entry 700" in text.stdout
