"""Replaying against an HTTPS target with a self-signed certificate: refused by default
(an error verdict saying why), accepted with `--insecure`."""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import threading
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from parity.cli import cli
from parity.sessions import Exchange, Request, Response, SessionStore

pytestmark = pytest.mark.timeout(60)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture
def https_target(tmp_path: Path):
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    app.router.add_get("/ping", ping)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()
    port: list[int] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        loop.run_until_complete(site.start())
        port.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    yield f"https://127.0.0.1:{port[0]}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_a_self_signed_target_needs_insecure(https_target: str, tmp_path: Path) -> None:
    body = b'{"pong": true}'
    with SessionStore(tmp_path / "s").create(upstream=https_target) as writer:
        writer.append(
            Exchange(
                seq=1,
                request=Request(
                    "GET", "https", "127.0.0.1", 443, "/ping", "HTTP/1.1", [], b"", 1.0, 1.0
                ),
                response=Response(
                    200,
                    "OK",
                    "HTTP/1.1",
                    [(b"Content-Type", b"application/json; charset=utf-8")],
                    body,
                    1.0,
                    1.0,
                ),
            )
        )
    db = tmp_path / "parity.db"
    refused = CliRunner().invoke(
        cli, ["replay", str(tmp_path / "s"), "--target", https_target, "--db", str(db)]
    )
    assert refused.exit_code == 1, refused.output
    report = json.loads(CliRunner().invoke(cli, ["report", "--db", str(db), "--json"]).output)
    assert report["totals"]["errors"] == 1
    assert "certificate" in report["mismatches"][0]["error"].lower()

    accepted = CliRunner().invoke(
        cli,
        ["replay", str(tmp_path / "s"), "--target", https_target, "--db", str(db), "--insecure"],
    )
    assert accepted.exit_code == 0, accepted.output
