"""`parity repro`: one mismatch as curl commands (secrets masked), and `--send` trying it
again after the session's earlier requests."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from parity.replayer import curl_command
from parity.repro_cmd import repro
from parity.sessions import Exchange, Message, Request, Response
from tests.test_shrink import Journal, journal_setup

pytestmark = pytest.mark.timeout(120)

ORIGIN = "http://127.0.0.1:5000"


def exchange(
    method: str = "POST",
    path: str = "/api/login?token=abc&page=2",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b'{"username": "ana", "password": "hunter2"}',
) -> Exchange:
    request = Request(
        method=method,
        scheme="http",
        host="127.0.0.1",
        port=5000,
        path=path,
        http_version="HTTP/1.1",
        headers=headers
        if headers is not None
        else [
            (b"Host", b"127.0.0.1:5000"),
            (b"Authorization", b"Bearer s3cret"),
            (b"Cookie", b"sid=abc"),
            (b"X-Trace", b"one"),
            (b"x-trace", b"two"),
            (b"Origin", b"http://127.0.0.1:5000"),
            (b"Content-Type", b"application/json"),
            (b"Content-Length", b"44"),
            (b"X-Empty", b""),
        ],
        body=body,
        timestamp_start=1.0,
    )
    response = Response(200, "OK", "HTTP/1.1", [], b"{}", 1.1, 1.2)
    return Exchange(seq=7, request=request, response=response)


def test_secrets_are_masked_unless_asked_for() -> None:
    command, notes = curl_command(exchange(), "http://127.0.0.1:5001", ORIGIN)
    assert "s3cret" not in command and "hunter2" not in command and "abc" not in command
    assert "'Authorization: ***'" in command and "'Cookie: ***'" in command
    assert "token=%2A%2A%2A&page=2" in command or "token=***&page=2" in command
    assert '"password": "***"' in command
    assert any("--show-secrets" in n for n in notes)
    shown, notes = curl_command(exchange(), "http://127.0.0.1:5001", ORIGIN, show_secrets=True)
    assert "Bearer s3cret" in shown and "hunter2" in shown and "token=abc" in shown
    assert not any("masked" in n for n in notes)


def test_the_command_keeps_order_and_duplicates_and_points_at_the_target() -> None:
    command, _ = curl_command(exchange(), "http://127.0.0.1:5001/prefix", ORIGIN)
    lines = command.splitlines()
    assert lines[0] == "curl -sS -i \\"
    assert "-X POST" in lines[1]
    assert "http://127.0.0.1:5001/prefix/api/login?" in lines[2]
    assert command.index("X-Trace: one") < command.index("x-trace: two")
    assert "'Origin: http://127.0.0.1:5001'" in command  # origins follow the target
    assert "Host:" not in command and "Content-Length" not in command
    assert "-H 'X-Empty;'" in command  # curl's spelling of an empty header


def test_a_binary_body_is_left_out_or_piped_as_base64() -> None:
    binary = exchange(body=b"\x00\x01\xff" * 10, headers=[])
    command, notes = curl_command(binary, "http://127.0.0.1:5001", ORIGIN)
    assert "--data-binary" not in command
    assert any("30-byte binary body is left out" in n for n in notes)
    command, _ = curl_command(binary, "http://127.0.0.1:5001", ORIGIN, show_secrets=True)
    assert command.startswith("printf %s AAH/") and "| base64 -d | curl" in command
    assert command.endswith("--data-binary @-")


def test_get_head_and_websocket_requests() -> None:
    get, _ = curl_command(exchange("GET", "/a[1]", [], b""), "http://h:1", ORIGIN)
    assert "-X" not in get and "--globoff" in get and "--data-binary" not in get
    head, _ = curl_command(exchange("HEAD", "/a", [], b""), "http://h:1", ORIGIN)
    assert "-I" in head.splitlines()[1]
    ws = exchange("GET", "/ws", [], b"")
    ws.websocket_close = {"code": 1000}
    ws.messages = [Message("text", True, b"hi", 1.0), Message("text", False, b"yo", 1.1)]
    _, notes = curl_command(ws, "http://h:1", ORIGIN)
    assert any("WebSocket" in n and "1 client frames" in n for n in notes)


# -- the printed command, run with curl against a server that keeps what it got ------------


class _Keep(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": list(self.headers.items()),
                "body": body,
            }
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def keeper() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Keep.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Keep)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Keep.seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "caf\\u00e9 \'quoted\' $HOME `x`", "n": 1}\n',
        "Zürich — crème\n".encode(),
        b"@not-a-file",
        b"\x00\x01\xfe\xff binary",
    ],
)
def test_the_printed_command_sends_the_recorded_request(
    keeper: tuple[str, list[dict[str, Any]]], body: bytes
) -> None:
    if body.startswith(b"\x00") and shutil.which("base64") is None:
        pytest.skip("needs base64")
    url, seen = keeper
    recorded = exchange(
        "PUT",
        "/entries/17?q=a%20b&tag=x",
        [(b"X-One", b"1"), (b"Content-Type", b"application/json"), (b"X-Two", b"2")],
        body,
    )
    command, _ = curl_command(recorded, url, ORIGIN, show_secrets=True)
    done = subprocess.run(["sh", "-c", command], capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    (got,) = seen
    assert got["method"] == "PUT" and got["path"] == "/entries/17?q=a%20b&tag=x"
    assert got["body"] == body
    names = [k for k, _ in got["headers"]]
    assert names.index("X-One") < names.index("X-Two")


# -- the journal ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    yield from journal_setup(tmp_path_factory.mktemp("journal"))


def _repro(journal: Journal, *args: str) -> Any:
    return CliRunner().invoke(repro, [*args, "--config", str(journal.config)])


def test_repro_prints_a_command_per_target_with_secrets_masked(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    result = _repro(journal, save["id"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"# mismatch {save['id']}: POST /api/vaults/{{id}}/entries/{{id}}/save")
    assert out.count("curl -sS -i") == 2  # the run's target and its baseline
    assert f"# target: {journal.candidate}" in out and "# baseline 1: http://" in out
    assert "'Authorization: ***'" in out and "Bearer" not in out
    assert "it may carry values minted by the 14 earlier requests" in out


def test_repro_prints_powershell_commands_with_shell_powershell(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    result = _repro(journal, save["id"], "--shell", "powershell")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count("curl.exe -sS -i `\n") == 2 and "curl -sS" not in out
    assert "-H 'Authorization: ***' `" in out and " \\\n" not in out


def test_repro_send_still_differs_on_the_candidate(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    result = _repro(journal, save["id"], "--send")
    assert result.exit_code == 1, result.output
    assert f"still differs (signature {save['signature']}):" in result.stdout
    # (`mood_score` 4.0 -> 4 is wire-only now: Verdict.serialization, not listed here.)
    assert '$.updated_at changed: "<timestamp:6f+00:00>" -> "<timestamp:7fZ>"' in result.stdout
    assert "sending 14 earlier requests" in result.stderr


def test_repro_send_now_matches_on_a_fixed_candidate(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    result = _repro(journal, save["id"], "--send", "--target", "fixed")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "now matches"
    assert result.stdout.count("curl -sS -i") == 1


def test_repro_send_without_a_reset_hook_says_so(journal: Journal) -> None:
    """Without a reset hook, repro says it replays on the target's current state."""
    gone = journal.mismatch(route="GET /api/vaults/{id}/entries/{id}", actual_status=400)
    result = _repro(journal, gone["id"], "--send", "--target", "fixed", "--reset", "")
    assert result.exit_code == 0, result.output  # fixed: 404 as recorded
    assert "no reset hook" in result.stderr and "now matches" in result.stdout


def test_repro_of_an_unknown_id_or_a_missing_session_is_one_line(
    journal: Journal, tmp_path: Path
) -> None:
    result = _repro(journal, "zzzz")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    result = _repro(journal, save["id"], "--sessions", str(tmp_path))
    assert result.exit_code == 2
    assert "is not in" in result.stderr and "--sessions DIR" in result.stderr


def test_repro_of_a_signature_takes_its_first_mismatch(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    result = _repro(journal, save["signature"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# mismatch ")
    assert json.dumps(save["route"])[1:-1] in result.stdout


def test_repro_of_a_finding_takes_its_first_exchange(journal: Journal) -> None:
    save = journal.mismatch(route="POST /api/vaults/{id}/entries/{id}/save")
    finding = save["findings"][0]
    result = _repro(journal, finding)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# mismatch ")
