"""Large bodies in the commands `parity repro` prints (issue 13): a POSIX shell runs the
command against a real server that answers with the body's length and hash; the
PowerShell command (no PowerShell here) keeps every line under Windows' command-line
limit and takes the body from its temporary file."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from parity.replayer import curl_command
from parity.replayer.curl import POSIX_ARGUMENT_MAX
from parity.replayer.powershell import POWERSHELL_ARGUMENT_MAX
from parity.sessions import Exchange
from tests.live import serve
from tests.test_repro import ORIGIN, exchange

pytestmark = pytest.mark.timeout(60)

_TEXT = "line 'one' \"two\" 100% %s %d $HOME `x` \\n café ✓ 日本\r\n"
LARGE_TEXT = (_TEXT * (300_000 // len(_TEXT.encode()) + 1)).encode()
LARGE_BINARY = bytes(range(256)) * 1200


def _recorded(body: bytes) -> Exchange:
    return exchange(
        "PUT",
        "/upload?x=1",
        [(b"Content-Type", b"text/plain; charset=utf-8"), (b"X-Kind", b"large")],
        body,
    )


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({"length": len(body), "sha256": hashlib.sha256(body).hexdigest()})


async def _run_in_shell(shell: str, script: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        shell,
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode(errors="replace")
    return out


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize(
    "body",
    [LARGE_TEXT, b"@" + LARGE_TEXT, LARGE_BINARY],
    ids=["text", "at-sign", "binary"],
)
def test_a_300_kb_body_reaches_the_server_from_a_posix_shell(
    tmp_path: Path, shell: str, body: bytes
) -> None:
    if shutil.which(shell) is None or shutil.which("curl") is None:
        pytest.skip(f"needs {shell} and curl")
    if body is LARGE_BINARY and shutil.which("base64") is None:
        pytest.skip("needs base64")
    assert len(body) > 2 * POSIX_ARGUMENT_MAX

    async def main() -> bytes:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_put("/upload", _echo)
        runner, url = await serve(app)
        try:
            command, _ = curl_command(_recorded(body), url, ORIGIN, show_secrets=True)
            assert max(len(line.encode()) for line in command.splitlines()) < 2 * 1024 * 1024
            script = tmp_path / "posix.sh"
            script.write_text(command + "\n", encoding="utf-8")
            return await _run_in_shell(shell, str(script))
        finally:
            await runner.cleanup()

    out = asyncio.run(main())
    assert out.startswith(b"HTTP/1.1 200")
    answer = out.rsplit(b"\r\n\r\n", 1)[1].decode()
    assert f'"length": {len(body)}' in answer
    assert hashlib.sha256(body).hexdigest() in answer


def test_a_small_text_body_stays_an_argument() -> None:
    command, _ = curl_command(_recorded(b"small 'body'"), "http://h:1", ORIGIN)
    assert "printf" not in command and "--data-binary 'small '\"'\"'body'\"'\"''" in command


@pytest.mark.parametrize("body", [LARGE_TEXT, LARGE_BINARY], ids=["text", "binary"])
def test_a_large_powershell_body_goes_through_the_temporary_file(body: bytes) -> None:
    recorded = _recorded(body)
    command, _ = curl_command(recorded, "http://h:1", ORIGIN, shell="powershell", show_secrets=True)
    lines = command.splitlines()
    assert max(map(len, lines)) < 32_000
    assert "--data-raw" not in command
    assert lines[:3] == ["$body = New-TemporaryFile", "try {", "  $base64 = @("]
    end = lines.index("  ) -join ''")
    chunks = [re.fullmatch(r"    '([A-Za-z0-9+/=]+)'", line) for line in lines[3:end]]
    assert all(chunks)
    assert base64.b64decode("".join(m.group(1) for m in chunks if m)) == body
    assert lines[end + 1] == (
        "  [IO.File]::WriteAllBytes($body.FullName, [Convert]::FromBase64String($base64))"
    )
    assert lines[end + 2] == "  curl.exe -sS -i `"
    assert lines[-2] == '    --data-binary "@$($body.FullName)"'
    assert lines[-1] == "} finally { Remove-Item $body.FullName }"


def test_a_powershell_text_body_under_the_limit_stays_an_argument() -> None:
    body = b"x" * (POWERSHELL_ARGUMENT_MAX - 2)
    command, _ = curl_command(_recorded(body), "http://h:1", ORIGIN, shell="powershell")
    assert command.splitlines()[-1] == f"  --data-raw '{body.decode()}'"
    command, _ = curl_command(_recorded(body + b"x"), "http://h:1", ORIGIN, shell="powershell")
    assert "--data-raw" not in command and "New-TemporaryFile" in command
