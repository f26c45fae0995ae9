"""HAR and mitmproxy flows in and out (issue 13): `parity import`, `parity replay FILE.har`,
`parity export`, on real processes.

One pass of the journal traffic (`tests/interop_driver.py`) goes through one mitmdump
in front of the journal baseline with parity's addon (the native recording), mitmproxy's
`savehar` (`--set hardump=`) and `-w` (a flow file) at once, so the three hold the same
exchanges; a HAR in the shape Chromium's devtools export is written from the native
recording by hand, following the HAR 1.2 spec. Each is replayed against the journal
candidate (reset before each session) and must give the native recording's findings.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from mitmproxy.io import FlowReader

from parity.sessions import Exchange, SessionReader, SessionStore
from parity.sessions.keys import project_key
from parity.sessions.reveal import lookup_in, revealed
from parity.sessions.secretstore import SecretStore
from tests.journal import RESET, start_backend
from tests.procs import BIN, ROOT, Proc, parity, python


@dataclass
class Capture:
    root: Path
    native: Path
    savehar: Path
    flows: Path
    candidate: str

    def run(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            parity(*args),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=90,
            env=_env(self.root),
        )
        if check is not None:
            assert done.returncode == check, done.stderr
        return done

    def findings(self, *sessions: Path, db: str) -> set[tuple[str, str]]:
        """Replay `sessions` against the candidate; the run's (finding id, kind)s."""
        replay = self.run(
            "replay",
            *map(str, sessions),
            "--target",
            self.candidate,
            "--reset",
            RESET,
            "--no-baseline",
            "--db",
            db,
            "-q",
            check=1,
        )
        run_id = replay.stdout.strip().splitlines()[-1]
        report = json.loads(self.run("report", run_id, "--db", db, "--json").stdout)
        return {(f["id"], f["kind"]) for f in report["findings"]}


def _env(root: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PARITY_")}
    env["PARITY_SESSIONS"] = str(root / "auto")
    return env


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    root = tmp_path_factory.mktemp("interop")
    with ExitStack() as stack:
        upstream = start_backend(stack, "baseline")
        cmd = [str(BIN / "mitmdump"), "--mode", f"reverse:{upstream}", "--listen-host"]
        cmd += ["127.0.0.1", "--listen-port", "0", "-s", str(ROOT / "recorder" / "addon.py")]
        cmd += ["--set", f"parity_sessions={root / 'native'}"]
        cmd += ["--set", f"parity_state={root / '.parity'}"]
        cmd += ["--set", f"hardump={root / 'savehar.har'}", "-w", str(root / "flows.mitm")]
        with Proc(cmd) as proxy:
            port = proxy.wait_for(r"listening at \S+:(\d+)").group(1)
            proxy.wait_for("parity: recording to")
            driver = python("-m", "tests.interop_driver", f"http://127.0.0.1:{port}")
            with Proc(driver) as client:
                assert client.popen.wait(90) == 0, client.output()
            assert proxy.terminate() == 0, proxy.output()
        candidate = start_backend(stack, "candidate")
        (native,) = SessionStore(root / "native").paths()
        yield Capture(root, native, root / "savehar.har", root / "flows.mitm", candidate)


@pytest.fixture(scope="module")
def native_findings(capture: Capture) -> set[tuple[str, str]]:
    found = capture.findings(capture.native, db="native.db")
    assert len(found) > 10  # the journal candidate's divergences
    return found


# -- import --------------------------------------------------------------------------------


def test_a_savehar_har_given_to_replay_is_imported_once_and_finds_what_the_recording_finds(
    capture: Capture, native_findings: set[tuple[str, str]]
) -> None:
    assert capture.findings(capture.savehar, db="savehar.db") == native_findings
    again = capture.run(
        "replay", str(capture.savehar), "--target", capture.candidate, "--reset", RESET,
        "--no-baseline", "--db", "savehar.db", "-q", check=1,
    )  # fmt: skip
    assert "imported before" in again.stderr
    (imported,) = SessionStore(capture.root / "auto").paths()
    with SessionReader(imported) as reader:
        note = reader.header.meta["imported"]
        assert note["format"] == "har" and note["creator"].startswith("mitmproxy")
        assert any("exact body bytes" in line for line in note["cannot_hold"])
        assert reader.header.meta["redaction"]["tokens"] == "PARITY_REDACTED_"


def test_a_mitmdump_flow_file_imports_and_finds_what_the_recording_finds(
    capture: Capture, native_findings: set[tuple[str, str]]
) -> None:
    """The driver logs in on one client connection and goes on on a second (a browser's
    pool reconnecting): one session per file keeps the login, so the findings are the
    recording's; split per connection, the second has no login (reset before it)."""
    with capture.flows.open("rb") as file:
        assert len({f.client_conn.id for f in FlowReader(file).stream()}) == 2
    out = capture.run("import", str(capture.flows), "--sessions", "flows", "--label", "dump")
    (path,) = map(Path, out.stdout.split())
    assert "exchanges in 1 session\n" in out.stderr, out.stderr
    assert capture.findings(capture.root / path, db="flows.db") == native_findings
    native, imported = _exchanges(capture.native), _exchanges(capture.root / path)
    assert [_wire(e) for e in imported] == [_wire(e) for e in native]  # byte for byte
    split = capture.run("import", str(capture.flows), "--sessions", "split", "--split",
                        "connection")  # fmt: skip
    first, second = map(Path, split.stdout.split())
    assert "in 2 sessions" in split.stderr
    assert len(_exchanges(capture.root / first)) + len(_exchanges(capture.root / second)) == len(
        native
    )
    with SessionReader(capture.root / second) as reader:
        assert reader.header.meta["imported"]["client_conn"]
    wrong = capture.run("import", str(capture.flows), "--sessions", "s", "--split", "page", check=2)
    assert "--split page needs a HAR file" in wrong.stderr


def test_a_chromium_shaped_har_imports_and_finds_what_the_recording_finds(
    capture: Capture, native_findings: set[tuple[str, str]]
) -> None:
    har = capture.root / "devtools.har"
    har.write_text(json.dumps(_chromium_har(capture)), encoding="utf-8")
    out = capture.run("import", str(har), "--sessions", "chromium")
    (path,) = map(Path, out.stdout.split())
    assert capture.findings(capture.root / path, db="chromium.db") == native_findings
    with SessionReader(capture.root / path) as reader:
        note = reader.header.meta["imported"]
        assert (note["page"], note["title"]) == ("page_1", "Journal")
        assert "HTTP/2 pseudo-headers (2 dropped)" in note["cannot_hold"]
        imported = list(reader)
    native = _exchanges(capture.native)
    assert [_decoded(e) for e in imported] == [_decoded(e) for e in native]


def test_split_pages_are_sessions_in_order_of_their_start(
    tmp_path: Path,
) -> None:
    har = {"log": {"version": "1.2", "creator": {"name": "Charles", "version": "4.6"},
        "pages": [{"id": "b", "title": "later", "startedDateTime": _iso(200.0)},
                  {"id": "a", "title": "earlier", "startedDateTime": _iso(100.0)}],
        "entries": [
            _entry("b", 201.0, "GET", "http://api.test/b2"),
            _entry("b", 200.5, "POST", "http://api.test/b1", post={"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "q", "value": "a b"}]}),
            _entry("a", 100.0, "GET", "https://api.test/a1", status=0),
        ]}}  # fmt: skip
    path = tmp_path / "charles.har"
    path.write_text(json.dumps(har))
    done = subprocess.run(
        parity("import", str(path), "--sessions", str(tmp_path / "s"), "--no-redact",
               "--split", "page"),
        cwd=tmp_path, capture_output=True, text=True, timeout=30, env=_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, second = (Path(p) for p in done.stdout.split())
    with SessionReader(first) as reader:
        assert reader.header.meta["imported"]["title"] == "earlier"
        (failed,) = list(reader)
        assert failed.response is None and failed.error is not None
        assert "no response in the HAR (net::ERR_FAILED)" in failed.error.message
    with SessionReader(second) as reader:
        assert reader.header.label == "charles"
        b1, b2 = list(reader)
    assert (b1.seq, b1.request.path, b1.request.body) == (1, "/b1", b"q=a+b")
    assert (b2.seq, b2.request.path) == (2, "/b2")
    assert b2.response is not None and b2.response.body == b"\x00\x01binary"
    assert not any(name.startswith(b":") for name, _ in b2.request.headers)
    assert (b"X-Dup", b"1") in b2.request.headers and (b"X-Dup", b"2") in b2.request.headers
    # HTTP/2 in a HAR: Host from :authority, no Content-Length the HAR did not have
    assert b2.request.headers[0] == (b"Host", b"api.test")
    assert not any(name.lower() == b"content-length" for name, _ in b2.request.headers)
    with SessionReader(second) as reader:
        notes = reader.header.meta["imported"]["cannot_hold"]
    assert "Host from the HTTP/2 :authority pseudo-header (3 requests)" in notes


def test_har_pages_are_one_session_by_default_so_a_login_carries_over(tmp_path: Path) -> None:
    har = {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
        "pages": [{"id": "p1", "title": "login", "startedDateTime": _iso(100.0)},
                  {"id": "p2", "title": "app", "startedDateTime": _iso(200.0)}],
        "entries": [_entry("p2", 200.0, "GET", "http://api.test/me"),
                    _entry("p1", 100.0, "POST", "http://api.test/login")]}}  # fmt: skip
    path = tmp_path / "tabs.har"
    path.write_text(json.dumps(har))
    run = ("import", str(path), "--no-redact", "--sessions")
    done = subprocess.run(
        parity(*run, str(tmp_path / "one")),
        cwd=tmp_path, capture_output=True, text=True, timeout=30, env=_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (one,) = map(Path, done.stdout.split())
    assert "2 exchanges in 1 session\n" in done.stderr
    assert [e.request.path for e in _exchanges(one)] == ["/login", "/me"]
    done = subprocess.run(
        parity(*run, str(tmp_path / "two"), "--split", "page"),
        cwd=tmp_path, capture_output=True, text=True, timeout=30, env=_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 2 and "in 2 sessions" in done.stderr


@pytest.mark.parametrize(
    "content, why",
    [
        (b"", "empty file"),
        (b"\x00\x01\x02 not a capture", "not a mitmproxy flow file"),
        (b"\x00\x01\x02 not a capture", "input.har: not valid JSON, so not a HAR file"),
        (b'{"not": "a har"}', "not a HAR file (no log.entries)"),
        (b"{broken json", "not valid JSON"),
        (b"[1, 2]", "a JSON array, not a HAR object (no log.entries)"),
        (b"not json", "not valid JSON, so not a HAR file"),
        (b'{"log": {"entries": [{"request": {}}]}}', "entry 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / ("input.mitm" if "flow file" in why else "input.har")
    path.write_bytes(content)
    done = subprocess.run(
        parity("import", str(path), "--sessions", str(tmp_path / "s")),
        cwd=tmp_path, capture_output=True, text=True, timeout=30, env=_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and why in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())


def test_json_that_is_no_har_gets_the_har_message_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "capture.mitm"
    path.write_bytes(b'"a JSON string"')
    done = subprocess.run(
        parity("import", str(path), "--sessions", str(tmp_path / "s")),
        cwd=tmp_path, capture_output=True, text=True, timeout=30, env=_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2
    assert "a JSON string, not a HAR object (no log.entries)" in done.stderr, done.stderr


def test_a_torn_flow_file_and_a_session_file_are_one_line_exit_2(capture: Capture) -> None:
    torn = capture.root / "torn.mitm"
    torn.write_bytes(capture.flows.read_bytes()[:-500])
    for path, why in ((torn, "torn or corrupt after 20 flows"), (capture.native, "already")):
        done = capture.run("import", str(path), "--sessions", "torn", check=2)
        assert len(done.stderr.strip().splitlines()) == 1 and why in done.stderr, done.stderr
    assert not (capture.root / "torn").exists()


# -- export --------------------------------------------------------------------------------


def test_an_exported_har_reimported_gives_the_same_exchanges(capture: Capture) -> None:
    capture.run("export", str(capture.native), "--format", "har", "--out", "out.har")
    har = json.loads((capture.root / "out.har").read_text())
    _validate_har(har)
    assert [p["id"] for p in har["log"]["pages"]] == [capture.native.stem]
    out = capture.run("import", "out.har", "--sessions", "again")
    (path,) = map(Path, out.stdout.split())
    native, again = _exchanges(capture.native), _exchanges(capture.root / path)
    assert [_decoded(e) for e in again] == [_decoded(e) for e in native]


def test_an_exported_flow_file_opens_in_mitmproxy_and_reimports_byte_for_byte(
    capture: Capture,
) -> None:
    capture.run("export", capture.native.stem, "--sessions", "native", "--format", "mitm",
                "--out", "out.mitm")  # fmt: skip
    with (capture.root / "out.mitm").open("rb") as file:
        flows = list(FlowReader(file).stream())
    native = _exchanges(capture.native)
    assert [f.request.path for f in flows] == [e.request.path for e in native]  # type: ignore[attr-defined]
    out = capture.run("import", "out.mitm", "--sessions", "again-mitm")
    (path,) = map(Path, out.stdout.split())
    assert [_wire(e) for e in _exchanges(capture.root / path)] == [_wire(e) for e in native]
    lines = capture.run("export", str(capture.native), "--format", "ndjson").stdout
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [r["request"]["url"] for r in rows] == [e.request.url for e in native]


def test_a_mismatch_exports_as_har_curl_and_powershell(
    capture: Capture, native_findings: set[tuple[str, str]]
) -> None:
    runs = json.loads(capture.run("runs", "--db", "native.db", "--json").stdout)
    report = json.loads(capture.run("report", runs[0]["id"], "--db", "native.db", "--json").stdout)
    mismatch = next(m for m in report["mismatches"] if m["url"] == "/api/login")
    common = ("--mismatch", mismatch["id"], "--db", "native.db", "--sessions", "native")
    har = json.loads(capture.run("export", *common, "--format", "har").stdout)
    _validate_har(har)
    expected, actual = har["log"]["entries"]
    assert expected["request"] == actual["request"]
    assert expected["request"]["url"] == capture.candidate + "/api/login"
    assert '"password": "***"' in expected["request"]["postData"]["text"]
    assert expected["response"]["status"] == mismatch["expected_status"]
    assert actual["response"]["status"] == mismatch["actual_status"]
    assert "expires_at" in actual["response"]["content"]["text"]
    assert expected["comment"].startswith("expected") and actual["comment"].startswith("actual")
    curl = capture.run("export", *common, "--format", "curl").stdout
    assert f"{capture.candidate}/api/login" in curl and '"password": "***"' in curl
    shown = capture.run("export", *common, "--format", "powershell", "--show-secrets").stdout
    assert "curl.exe" in shown and "ana-pilot-2026" in shown  # from the secret store
    assert "***" not in shown
    for shell in ("powershell", "posix"):  # repro's --show-secrets means the same
        args = ("repro", *common[1:], "--shell", shell, "--show-secrets")
        repro = capture.run(*args).stdout
        assert "ana-pilot-2026" in repro and "PARITY_REDACTED_" not in repro, repro
        assert "***" not in repro and "no original" not in repro
    # Elsewhere, without the project's secret store: the tokens stay, and a note says so.
    elsewhere = capture.root / "elsewhere"
    shutil.copytree(capture.root / "native", elsewhere / "native")
    for db in capture.root.glob("native.db*"):
        shutil.copy(db, elsewhere / db.name)
    for command in (("repro", *common[1:]), ("export", *common, "--format", "powershell")):
        done = subprocess.run(
            parity(*command, "--show-secrets"), cwd=elsewhere, capture_output=True, text=True,
            timeout=90, env=_env(elsewhere),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "PARITY_REDACTED_" in done.stdout and "ana-pilot-2026" not in done.stdout
        assert re.search(r"^# \d+ redacted values? ha(s|ve) no original in the project's "
                         r"secret store", done.stdout, re.M), done.stdout  # fmt: skip


def _exchanges(path: Path) -> list[Exchange]:
    with SessionReader(path) as reader:
        return list(reader)


def _wire(e: Exchange) -> tuple[Any, ...]:
    """What a replay uses of an exchange, as bytes on the wire."""
    r = e.response
    return (
        e.request.method, e.request.url, e.request.headers, e.request.body,
        r and (r.status, r.headers, r.body),
    )  # fmt: skip


def _decoded(e: Exchange) -> tuple[Any, ...]:
    """An exchange as a HAR can hold it: bodies decoded, Content-Length aside."""
    r = e.response

    def headers(pairs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        return [(k, v) for k, v in pairs if k.lower() != b"content-length"]

    return (
        e.request.method, e.request.url, headers(e.request.headers), e.request.body,
        r and (r.status, headers(r.headers), _body(r.headers, r.body)),
    )  # fmt: skip


def _body(headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    if (b"Content-Encoding", b"gzip") in [(k.title(), v) for k, v in headers]:
        return gzip.decompress(body)
    return body


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")


def _pairs(headers: list[tuple[bytes, bytes]]) -> list[dict[str, str]]:
    return [{"name": k.decode("latin-1"), "value": v.decode("latin-1")} for k, v in headers]


def _entry(
    page: str, start: float, method: str, url: str, *, status: int = 200, post: Any = None
) -> dict[str, Any]:
    """A small HAR entry as Charles writes them (HTTP/2, a binary body in base64)."""
    entry: dict[str, Any] = {
        "pageref": page, "startedDateTime": _iso(start), "time": 12.5,
        "request": {"method": method, "url": url, "httpVersion": "HTTP/2",
                    "headers": [{"name": ":authority", "value": "api.test"},
                                {"name": "X-Dup", "value": "1"}, {"name": "X-Dup", "value": "2"}],
                    "cookies": [], "queryString": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/2",
                     "headers": [], "cookies": [], "redirectURL": "", "headersSize": -1,
                     "bodySize": 8, "content": {"size": 8, "mimeType": "application/octet-stream",
                     "text": base64.b64encode(b"\x00\x01binary").decode(), "encoding": "base64"}},
        "cache": {}, "timings": {"send": 1, "wait": 10, "receive": 1.5},
    }  # fmt: skip
    if post is not None:
        entry["request"]["postData"] = post
    if status == 0:
        entry["response"]["_error"] = "net::ERR_FAILED"
    return entry


def _chromium_har(capture: Capture) -> dict[str, Any]:
    """The native recording as Chromium's devtools would export it (HAR 1.2 plus its
    `_` fields): a page, each entry's `_initiator`, `_resourceType`, `connection`,
    cookies parsed, decoded bodies (every other one in base64), compressed sizes, two
    HTTP/2 pseudo-headers on the first request. Secrets are the originals, as a browser
    has them (`parity import` redacts them again)."""
    state = capture.root / ".parity"
    key = project_key(state, create=False)
    assert key is not None
    lookup = lookup_in({t: s.value for t, s in SecretStore(state, key).load().items()})
    exchanges = [revealed(e, lookup) for e in _exchanges(capture.native)]
    entries = []
    for n, e in enumerate(exchanges):
        request, response = e.request, e.response
        assert response is not None
        decoded = _body(response.headers, response.body)
        content: dict[str, Any] = {
            "size": len(decoded),
            "compression": len(decoded) - len(response.body),
            "mimeType": _header(response.headers, b"content-type"),
        }
        try:
            if n % 2:
                raise UnicodeDecodeError("utf-8", b"", 0, 1, "every other one in base64")
            content["text"] = decoded.decode("utf-8")
        except UnicodeDecodeError:
            content["text"] = base64.b64encode(decoded).decode()
            content["encoding"] = "base64"
        request_headers = _pairs(request.headers)
        if n == 0:
            request_headers[:0] = [
                {"name": ":method", "value": request.method},
                {"name": ":path", "value": request.path},
            ]
        entry: dict[str, Any] = {
            "_initiator": {"type": "script", "stack": {"callFrames": []}},
            "_priority": "High",
            "_resourceType": "fetch",
            "cache": {},
            "connection": str(40000 + n % 3),
            "pageref": "page_1",
            "request": {
                "method": request.method,
                "url": request.url,
                "httpVersion": request.http_version,
                "headers": request_headers,
                "queryString": [
                    {"name": k, "value": v} for k, v in parse_qsl(urlsplit(request.url).query)
                ],
                "cookies": _cookies(_header(request.headers, b"cookie")),
                "headersSize": -1,
                "bodySize": len(request.body),
            },
            "response": {
                "status": response.status,
                "statusText": response.reason,
                "httpVersion": response.http_version,
                "headers": _pairs(response.headers),
                "cookies": _cookies(_header(response.headers, b"set-cookie").split(";")[0]),
                "content": content,
                "redirectURL": _header(response.headers, b"location"),
                "headersSize": -1,
                "bodySize": len(response.body),
                "_transferSize": len(response.body) + 200,
                "_error": None,
            },
            "serverIPAddress": "127.0.0.1",
            "startedDateTime": _iso(request.timestamp_start),
            "time": 1000 * ((response.timestamp_end or 0) - request.timestamp_start),
            "timings": {
                "blocked": 0.4,
                "dns": -1,
                "ssl": -1,
                "connect": -1,
                "send": 1000 * ((request.timestamp_end or 0) - request.timestamp_start),
                "wait": 1000 * (response.timestamp_start - (request.timestamp_end or 0)),
                "receive": 1000 * ((response.timestamp_end or 0) - response.timestamp_start),
                "_blocked_queueing": 0.2,
            },
        }
        if request.body:
            entry["request"]["postData"] = {
                "mimeType": _header(request.headers, b"content-type"),
                "text": request.body.decode("utf-8"),
            }
        entries.append(entry)
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [
                {
                    "startedDateTime": _iso(exchanges[0].request.timestamp_start),
                    "id": "page_1",
                    "title": "Journal",
                    "pageTimings": {"onContentLoad": -1, "onLoad": -1},
                }
            ],
            "entries": entries,
        }
    }


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


def _cookies(text: str) -> list[dict[str, Any]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, value = part.partition("=")
        out.append({"name": name, "value": value, "path": "/", "domain": "127.0.0.1",
                    "expires": None, "httpOnly": True, "secure": False})  # fmt: skip
    return out


# The HAR 1.2 spec's required fields (http://www.softwareishard.com/blog/har-12-spec/).
_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "log": {"version": str, "creator": dict, "entries": list},
    "creator": {"name": str, "version": str},
    "page": {"startedDateTime": str, "id": str, "title": str, "pageTimings": dict},
    "entry": {"startedDateTime": str, "time": (int, float), "request": dict,
              "response": dict, "cache": dict, "timings": dict},
    "request": {"method": str, "url": str, "httpVersion": str, "cookies": list,
                "headers": list, "queryString": list, "headersSize": int, "bodySize": int},
    "response": {"status": int, "statusText": str, "httpVersion": str, "cookies": list,
                 "headers": list, "content": dict, "redirectURL": str, "headersSize": int,
                 "bodySize": int},
    "content": {"size": int, "mimeType": str},
    "timings": {"send": (int, float), "wait": (int, float), "receive": (int, float)},
    "pair": {"name": str, "value": str},
    "postData": {"mimeType": str},
}  # fmt: skip


def _check(obj: Any, kind: str, where: str) -> None:
    assert isinstance(obj, dict), f"{where} is not an object"
    for key, types in _REQUIRED[kind].items():
        assert key in obj, f"{where} has no {key!r}"
        assert isinstance(obj[key], types) and not isinstance(obj[key], bool), (
            f"{where}.{key} is {type(obj[key]).__name__}"
        )


def _validate_har(har: Any) -> None:
    """HAR 1.2's required structure: keys and their types, ISO 8601 dates, pagerefs that
    name pages, `postData` with `text` or `params`."""
    assert isinstance(har, dict) and set(har) == {"log"}
    log = har["log"]
    _check(log, "log", "log")
    assert log["version"] == "1.2"
    _check(log["creator"], "creator", "log.creator")
    pages = {p["id"] for p in log.get("pages", [])}
    for i, p in enumerate(log.get("pages", [])):
        _check(p, "page", f"pages[{i}]")
        datetime.fromisoformat(p["startedDateTime"])
    for i, entry in enumerate(log["entries"]):
        where = f"entries[{i}]"
        _check(entry, "entry", where)
        datetime.fromisoformat(entry["startedDateTime"])
        assert "pageref" not in entry or entry["pageref"] in pages
        _check(entry["request"], "request", where + ".request")
        _check(entry["response"], "response", where + ".response")
        _check(entry["response"]["content"], "content", where + ".response.content")
        _check(entry["timings"], "timings", where + ".timings")
        for part in ("request", "response"):
            for j, pair in enumerate(entry[part]["headers"] + entry[part]["cookies"]):
                _check(pair, "pair", f"{where}.{part}.headers/cookies[{j}]")
        for j, pair in enumerate(entry["request"]["queryString"]):
            _check(pair, "pair", f"{where}.request.queryString[{j}]")
        post = entry["request"].get("postData")
        if post is not None:
            _check(post, "postData", where + ".request.postData")
            assert "text" in post or "params" in post


# -- messages, sessions show, replay by id ---------------------------------------------------


def _streaming_session(root: Path) -> Path:
    """A session of a WebSocket (text and binary frames, closed) and an event stream."""
    from parity.sessions import Message, Request, Response, save_session

    def request(seq: int, path: str) -> Request:
        return Request("GET", "http", "127.0.0.1", 5000, path, "HTTP/1.1",
                       [(b"Host", b"127.0.0.1:5000")], b"", 1000.0 + seq, 1000.0 + seq)  # fmt: skip

    ws = Exchange(
        1, request(1, "/ws"),
        Response(101, "Switching Protocols", "HTTP/1.1", [(b"Upgrade", b"websocket")], b"",
                 1001.0, 1001.1),
        messages=[Message("text", True, b'{"hello": 1}', 1001.2),
                  Message("binary", False, b"\x00\xffbin", 1001.3),
                  Message("text", False, "é ok".encode(), 1001.4)],
        websocket_close={"code": 1000, "reason": "", "closed_by_client": True},
    )  # fmt: skip
    events = [b"event: tick\ndata: 1\n\n", b"data: 2\r\n\r\n", b"data: 3\n\n"]
    sse = Exchange(
        2, request(2, "/events"),
        Response(200, "OK", "HTTP/1.1", [(b"Content-Type", b"text/event-stream")],
                 b"".join(events), 1002.0, 1003.0),
        messages=[Message("sse", False, e, 1002.1 + n / 10) for n, e in enumerate(events)],
    )  # fmt: skip
    return save_session(str(root / "stream.parity"), [ws, sse], label="stream")


def _messages(path: Path) -> list[list[tuple[str, bool, bytes, float]]]:
    return [
        [(m.kind, m.from_client, m.content, round(m.timestamp, 3)) for m in e.messages]
        for e in _exchanges(path)
    ]


@pytest.mark.parametrize("fmt", ["har", "mitm"])
def test_websocket_and_sse_messages_survive_an_export_and_import(tmp_path: Path, fmt: str) -> None:
    session = _streaming_session(tmp_path)
    env = _env(tmp_path)
    for args in (
        ("export", str(session), "--format", fmt, "--out", f"out.{fmt}"),
        ("import", f"out.{fmt}", "--sessions", "again", "--no-redact"),
    ):
        done = subprocess.run(parity(*args), cwd=tmp_path, capture_output=True, text=True,
                              timeout=30, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
    (again,) = map(Path, done.stdout.split())
    expected = _messages(session)
    got = _messages(tmp_path / again)
    if fmt == "har":  # a HAR keeps no event times: each event at the response's start
        expected[1] = [(k, c, b, 1002.0) for k, c, b, _ in expected[1]]
    assert got == expected
    assert [e.response and e.response.body for e in _exchanges(tmp_path / again)][1] == (
        b"event: tick\ndata: 1\n\ndata: 2\r\n\r\ndata: 3\n\n"
    )


def test_chromium_websocket_messages_are_read(tmp_path: Path) -> None:
    entry = _entry("p", 100.0, "GET", "http://api.test/socket", status=101)
    entry["_resourceType"] = "websocket"
    entry["_webSocketMessages"] = [
        {"type": "send", "time": 100.25, "opcode": 1, "data": "ping"},
        {"type": "receive", "time": 100.5, "opcode": 2, "data": base64.b64encode(b"\x01\x02").decode()},
        {"type": "receive", "time": 100.75, "opcode": 9, "data": ""},
    ]  # fmt: skip
    path = tmp_path / "ws.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "WebInspector",
                    "version": "537.36"}, "entries": [entry]}}))  # fmt: skip
    done = subprocess.run(
        parity("import", str(path), "--sessions", "s", "--no-redact"),
        cwd=tmp_path, capture_output=True, text=True, timeout=30, env=_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (session,) = map(Path, done.stdout.split())
    assert _messages(tmp_path / session) == [
        [("text", True, b"ping", 100.25), ("binary", False, b"\x01\x02", 100.5)]
    ]


def test_sessions_show_lists_what_an_import_noted(capture: Capture) -> None:
    har = capture.root / "shown.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "Charles",
        "version": "4.6"}, "entries": [_entry("a", 100.0, "GET", "http://api.test/x")]}}))  # fmt: skip
    capture.run("import", str(har), "--sessions", "shown")
    (path,) = SessionStore(capture.root / "shown").paths()
    text = capture.run("sessions", "show", path.stem, "--sessions", "shown").stdout
    assert "imported  from shown.har (har, written by Charles 4.6)" in text
    assert "not held  timings in milliseconds" in text
    assert "Host from the HTTP/2 :authority pseudo-header (1 request)" in text


def test_replay_takes_a_session_id_or_prefix(
    capture: Capture, native_findings: set[tuple[str, str]]
) -> None:
    env = dict(_env(capture.root), PARITY_SESSIONS=str(capture.native.parent))
    args = ("--target", capture.candidate, "--reset", RESET, "--no-baseline", "--db", "byid.db")
    prefix = capture.native.stem[:-2]
    done = subprocess.run(parity("replay", prefix, *args), cwd=capture.root, capture_output=True,
                          text=True, timeout=90, env=env)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert ": 1 session, " in done.stderr, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    report = json.loads(capture.run("report", run_id, "--db", "byid.db", "--json").stdout)
    assert {(f["id"], f["kind"]) for f in report["findings"]} == native_findings
    missing = subprocess.run(parity("replay", "nosuchsession", *args), cwd=capture.root,
                             capture_output=True, text=True, timeout=30, env=env)  # fmt: skip
    assert missing.returncode == 2
    assert "nosuchsession: no such file or directory, and no session" in missing.stderr
