"""Azurite 3.17.1 (2022) against Azurite 3.37.0: the Azure Blob Storage REST API.

Both servers come from the npm registry and serve the Blob service on one port, path
style (`/devstoreaccount1/<container>/<blob>`). The client authenticates with an
account SAS in the query string, signed once with the published development key and a
fixed start and expiry: the same bytes in every run, and a signature that covers none
of the values a replay substitutes (ETags in `If-Match`, lease ids, snapshot times).
Shared Key would sign those headers and fail every replayed request that carries a
minted value; see README.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

NAME = "azurite"
DESCRIPTION = "Azurite 3.17.1 (old) vs Azurite 3.37.0 (new): Azure Blob Storage REST API"
READY_PATH = "/devstoreaccount1?comp=list"

VERSIONS = {"old": "3.17.1", "new": "3.37.0"}

ACCOUNT = "devstoreaccount1"
# The well-known Azurite / storage emulator development key (published by Microsoft).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
API_VERSION = "2020-08-04"
NPM_QUIET = ("--no-audit", "--no-fund", "--loglevel=error")


def install(work: Path) -> None:
    """Install both Azurite versions under `work/<side>` (npm prefixes); `work` is the
    pair's own directory (`.accuracy/azurite`)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("accuracy: npm is not on PATH (needed to install Azurite)")
    for side, version in VERSIONS.items():
        prefix = work / side
        package = prefix / "node_modules" / "azurite" / "package.json"
        if package.is_file() and json.loads(package.read_text())["version"] == version:
            continue
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(prefix), f"azurite@{version}", *NPM_QUIET],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(f"accuracy: npm install azurite@{version} failed: {last}")


def command(work: Path, side: str, port: int, data: Path) -> tuple[list[str], dict[str, str]]:
    """Argv and environment that start the Blob service of one side on 127.0.0.1:port."""
    binary = work / side / "node_modules" / ".bin" / "azurite-blob"
    argv = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    argv += ["--location", str(data), "--silent", "--skipApiVersionCheck", "--loose"]
    if side == "new":
        argv.append("--disableTelemetry")  # 3.37 would otherwise try to phone home
    return argv, {}


def account_sas() -> str:
    """An account SAS query string: fixed start and expiry, so the same bytes every run."""
    fields = {
        "sv": API_VERSION,
        "ss": "b",
        "srt": "sco",
        "sp": "rwdlacupt",
        "st": "2020-01-01T00:00:00Z",
        "se": "2099-01-01T00:00:00Z",
        "spr": "http",
    }
    # Account SAS string-to-sign (service versions before 2020-12-06): account,
    # permissions, services, resource types, start, expiry, IP, protocol, version.
    order = ("sp", "ss", "srt", "st", "se", "sip", "spr", "sv")
    to_sign = "\n".join([ACCOUNT, *(fields.get(name, "") for name in order), ""])
    key = base64.b64decode(ACCOUNT_KEY)
    signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest())
    fields["sig"] = signature.decode()
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in fields.items())


SAS = account_sas()


class Answer:
    """One response as the client needs it: status, headers (lower-case names), body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


class Storage:
    """A tiny Blob REST client: every request signed by the account SAS, never raising."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.base = base.rstrip("/")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.count = 0

    def send(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        sas: bool = True,
    ) -> Answer:
        """Send one request to `/devstoreaccount1<path>?<query>&<sas>`."""
        self.count += 1
        target = f"/{ACCOUNT}{quote(path, safe='/')}"
        params = "&".join(part for part in (query, SAS if sas else "") if part)
        if params:
            target += f"?{params}"
        sent = {"x-ms-version": API_VERSION, "x-ms-client-request-id": f"parity-{self.count:03d}"}
        sent.update(headers or {})
        if method in ("PUT", "POST") or body:
            sent["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, target, body=body or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
            found = {name.lower(): value for name, value in response.getheaders()}
            return Answer(response.status, found, data)
        finally:
            connection.close()


def block_id(number: int) -> str:
    return base64.b64encode(f"block-{number:04d}".encode()).decode()


def text_between(body: bytes, tag: str) -> str:
    """The text of the first `<tag>...</tag>` in an XML body ('' when absent)."""
    text = body.decode("utf-8", "replace")
    start = text.find(f"<{tag}>")
    if start < 0:
        return ""
    end = text.find(f"</{tag}>", start)
    return text[start + len(tag) + 2 : end]


def client(base: str) -> None:
    """The deterministic, stateful client: 111 Blob requests against `base`."""
    s = Storage(base)
    blob = {"x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain"}

    # Account level: account information, service properties, CORS rules.
    s.send("GET", "", "restype=account&comp=properties")
    s.send("GET", "", "restype=service&comp=properties")
    cors = (
        b'<?xml version="1.0" encoding="utf-8"?><StorageServiceProperties><Cors><CorsRule>'
        b"<AllowedOrigins>http://example.test</AllowedOrigins><AllowedMethods>GET,PUT"
        b"</AllowedMethods><MaxAgeInSeconds>60</MaxAgeInSeconds><ExposedHeaders>x-ms-*"
        b"</ExposedHeaders><AllowedHeaders>x-ms-*</AllowedHeaders></CorsRule></Cors>"
        b"</StorageServiceProperties>"
    )
    s.send("PUT", "", "restype=service&comp=properties", {"Content-Type": "application/xml"}, cors)
    s.send("GET", "", "restype=service&comp=properties")

    # Containers: create, conflict, bad name, properties, metadata, ACL.
    s.send("PUT", "/photos", "restype=container", {"x-ms-meta-owner": "ada"})
    s.send("PUT", "/photos", "restype=container")
    s.send("PUT", "/docs", "restype=container", {"x-ms-blob-public-access": "blob"})
    s.send("PUT", "/scratch", "restype=container")
    s.send("PUT", "/Bad_Name", "restype=container")
    s.send("GET", "/photos", "restype=container")
    s.send("HEAD", "/docs", "restype=container")
    s.send("PUT", "/photos", "restype=container&comp=metadata", {"x-ms-meta-team": "blue"})
    s.send("GET", "/photos", "restype=container&comp=metadata")
    # A non-ASCII metadata value: the header goes out as Latin-1, listings answer UTF-8.
    s.send("PUT", "/docs", "restype=container&comp=metadata", {"x-ms-meta-city": "Z\u00fcrich"})
    s.send("GET", "/docs", "restype=container&comp=metadata")
    s.send("GET", "/docs", "restype=container&comp=acl")
    acl = (
        b'<?xml version="1.0" encoding="utf-8"?><SignedIdentifiers><SignedIdentifier>'
        b"<Id>read-only</Id><AccessPolicy><Start>2020-01-01T00:00:00.0000000Z</Start>"
        b"<Expiry>2099-01-01T00:00:00.0000000Z</Expiry><Permission>r</Permission>"
        b"</AccessPolicy></SignedIdentifier></SignedIdentifiers>"
    )
    s.send("PUT", "/docs", "restype=container&comp=acl", {"Content-Type": "application/xml"}, acl)
    s.send("GET", "/docs", "restype=container&comp=acl")

    # Container listings, one page at a time with the marker of the previous answer.
    s.send("GET", "", "comp=list")
    first = s.send("GET", "", "comp=list&maxresults=2&include=metadata")
    marker = text_between(first.body, "NextMarker")
    s.send("GET", "", f"comp=list&maxresults=2&marker={quote(marker, safe='')}")
    s.send("GET", "", "comp=list&prefix=ph")

    # Block blobs: put with metadata, read back, ranges.
    created = s.send("PUT", "/photos/a.txt", "", blob | {"x-ms-meta-kind": "note"}, b"hello azure")
    etag = created.header("etag")
    s.send("PUT", "/photos/b.txt", "", blob, b"second blob body")
    s.send("PUT", "/photos/dir/c.txt", "", blob, b"nested c")
    s.send("PUT", "/photos/dir/d.txt", "", blob, b"nested d")
    s.send("PUT", "/photos/dir/sub/e.txt", "", blob, b"nested e")
    s.send("PUT", "/photos/caf\u00e9/\u00fcber.txt", "", blob, "gr\u00fc\u00dfe".encode())
    s.send("GET", "/photos/a.txt")
    s.send("HEAD", "/photos/a.txt")
    s.send("GET", "/photos/caf\u00e9/\u00fcber.txt")
    s.send("GET", "/photos/a.txt", "", {"Range": "bytes=0-4"})
    s.send("GET", "/photos/a.txt", "", {"x-ms-range": "bytes=6-"})
    s.send("GET", "/photos/a.txt", "", {"Range": "bytes=500-600"})

    # Conditional requests on the minted ETag.
    s.send("GET", "/photos/a.txt", "", {"If-None-Match": etag})
    s.send("GET", "/photos/a.txt", "", {"If-Match": etag})
    s.send("HEAD", "/photos/a.txt", "", {"If-Modified-Since": "Sat, 01 Jan 2050 00:00:00 GMT"})
    s.send("GET", "/photos/a.txt", "", {"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    updated = s.send("PUT", "/photos/a.txt", "", blob | {"If-Match": etag}, b"hello again")
    s.send("PUT", "/photos/a.txt", "", blob | {"If-Match": etag}, b"stale write")
    s.send("PUT", "/photos/a.txt", "", blob | {"If-None-Match": "*"}, b"must not exist")
    s.send("GET", "/photos/a.txt", "", {"If-Match": updated.header("etag")})

    # Metadata and properties.
    s.send("PUT", "/photos/b.txt", "comp=metadata", {"x-ms-meta-color": "red", "x-ms-meta-n": "2"})
    s.send("GET", "/photos/b.txt", "comp=metadata")
    s.send(
        "PUT",
        "/photos/b.txt",
        "comp=properties",
        {"x-ms-blob-content-type": "text/markdown", "x-ms-blob-cache-control": "max-age=60"},
    )
    s.send("HEAD", "/photos/b.txt")
    s.send("PUT", "/photos/b.txt", "comp=tier", {"x-ms-access-tier": "Cool"})
    s.send("HEAD", "/photos/b.txt")

    # Blob index tags.
    tags = (
        b'<?xml version="1.0" encoding="utf-8"?><Tags><TagSet><Tag><Key>project</Key>'
        b"<Value>parity</Value></Tag></TagSet></Tags>"
    )
    s.send("PUT", "/photos/b.txt", "comp=tags", {"Content-Type": "application/xml"}, tags)
    s.send("GET", "/photos/b.txt", "comp=tags")

    # Blocks: stage two, commit them, read the block list.
    s.send("PUT", "/photos/blocks.bin", f"comp=block&blockid={quote(block_id(1))}", {}, b"AAAA")
    s.send("PUT", "/photos/blocks.bin", f"comp=block&blockid={quote(block_id(2))}", {}, b"BBBB")
    s.send("GET", "/photos/blocks.bin", "comp=blocklist&blocklisttype=all")
    commit = (
        f'<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>{block_id(1)}</Latest>'
        f"<Latest>{block_id(2)}</Latest></BlockList>"
    ).encode()
    s.send("PUT", "/photos/blocks.bin", "comp=blocklist", {}, commit)
    s.send("GET", "/photos/blocks.bin", "comp=blocklist&blocklisttype=committed")
    s.send("GET", "/photos/blocks.bin")
    s.send("PUT", "/photos/blocks.bin", "comp=blocklist", {}, b"<BlockList><Latest>")

    # Append and page blobs.
    s.send("PUT", "/photos/log.txt", "", {"x-ms-blob-type": "AppendBlob"})
    s.send("PUT", "/photos/log.txt", "comp=appendblock", {}, b"line one\n")
    s.send("PUT", "/photos/log.txt", "comp=appendblock", {}, b"line two\n")
    s.send("GET", "/photos/log.txt")
    page = {"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": "1024"}
    s.send("PUT", "/photos/disk.vhd", "", page)
    page_write = {"x-ms-page-write": "update", "x-ms-range": "bytes=0-511"}
    s.send("PUT", "/photos/disk.vhd", "comp=page", page_write, b"p" * 512)
    s.send("GET", "/photos/disk.vhd", "comp=pagelist")

    # Copy and snapshots. The copy source names a blob of the same account without a SAS:
    # both versions then copy inside the account whatever host the URL names (3.37 would
    # fetch a signed source URL over HTTP, and the recorded URL names the recorder's port).
    source = f"{s.base}/{ACCOUNT}/photos/b.txt"
    copied = s.send("PUT", "/docs/b-copy.txt", "", {"x-ms-copy-source": source})
    s.send("HEAD", "/docs/b-copy.txt")
    s.send("PUT", "/docs/b-copy.txt", "comp=copy", {"x-ms-copy-id": copied.header("x-ms-copy-id")})
    snapshot = s.send("PUT", "/photos/b.txt", "comp=snapshot", {"x-ms-meta-snap": "one"})
    stamp = quote(snapshot.header("x-ms-snapshot"), safe="")
    s.send("PUT", "/photos/b.txt", "", blob, b"after the snapshot")
    s.send("GET", "/photos/b.txt", f"snapshot={stamp}")
    s.send("GET", "/photos/b.txt")
    s.send("GET", "/photos", "restype=container&comp=list&include=snapshots&prefix=b")

    # Leases: acquire (server-minted id), write without and with it, renew, change, release.
    lease = s.send(
        "PUT",
        "/photos/dir/c.txt",
        "comp=lease",
        {"x-ms-lease-action": "acquire"} | {"x-ms-lease-duration": "30"},
    )
    lease_id = lease.header("x-ms-lease-id")
    s.send("PUT", "/photos/dir/c.txt", "", blob, b"no lease given")
    s.send("PUT", "/photos/dir/c.txt", "", blob | {"x-ms-lease-id": lease_id}, b"leased write")
    s.send(
        "PUT",
        "/photos/dir/c.txt",
        "comp=lease",
        {"x-ms-lease-action": "renew", "x-ms-lease-id": lease_id},
    )
    s.send("HEAD", "/photos/dir/c.txt")
    proposed = "11111111-2222-3333-4444-555555555555"
    s.send(
        "PUT",
        "/photos/dir/c.txt",
        "comp=lease",
        {
            "x-ms-lease-action": "change",
            "x-ms-lease-id": lease_id,
            "x-ms-proposed-lease-id": proposed,
        },
    )
    s.send(
        "PUT",
        "/photos/dir/c.txt",
        "comp=lease",
        {"x-ms-lease-action": "release", "x-ms-lease-id": lease_id},
    )
    s.send(
        "PUT",
        "/photos/dir/c.txt",
        "comp=lease",
        {"x-ms-lease-action": "release", "x-ms-lease-id": proposed},
    )
    s.send("DELETE", "/photos/dir/c.txt")
    s.send(
        "PUT",
        "/scratch",
        "restype=container&comp=lease",
        {"x-ms-lease-action": "acquire", "x-ms-lease-duration": "-1"},
    )
    s.send("DELETE", "/scratch", "restype=container")
    s.send(
        "PUT",
        "/scratch",
        "restype=container&comp=lease",
        {"x-ms-lease-action": "break", "x-ms-lease-break-period": "0"},
    )

    # Blob listings: flat, by prefix, by delimiter, in pages with the previous NextMarker.
    s.send("GET", "/photos", "restype=container&comp=list")
    s.send("GET", "/photos", "restype=container&comp=list&prefix=dir/&include=metadata")
    s.send("GET", "/photos", "restype=container&comp=list&delimiter=/")
    page_one = s.send("GET", "/photos", "restype=container&comp=list&maxresults=3")
    next_marker = quote(text_between(page_one.body, "NextMarker"), safe="")
    s.send("GET", "/photos", f"restype=container&comp=list&maxresults=3&marker={next_marker}")

    # Errors: missing blob and container, bad requests, no or bad credentials.
    s.send("GET", "/photos/missing.txt")
    s.send("HEAD", "/photos/missing.txt")
    s.send("GET", "/nowhere", "restype=container&comp=list")
    s.send("DELETE", "/nowhere", "restype=container")
    s.send("PUT", "/photos/untyped.txt", "", {"Content-Type": "text/plain"}, b"no blob type")
    s.send("PUT", "/photos/a.txt", "comp=nonsense", {}, b"")
    s.send("GET", "/photos/a.txt", "", sas=False)
    s.send("GET", "/photos/a.txt", SAS.replace("sp=rwdlacupt", "sp=r") + "&x=1", sas=False)
    s.send("GET", "/docs/b-copy.txt", "", sas=False)
    wrong_md5 = {"x-ms-blob-type": "BlockBlob", "Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}
    s.send("PUT", "/photos/md5.txt", "", wrong_md5, b"checked body")
    # A metadata name that is no C# identifier (nor an XML element name), then the
    # listing of its container, which has to write that name as an element.
    s.send("PUT", "/docs/badmeta.txt", "", blob | {"x-ms-meta-1st": "v"}, b"bad metadata")
    s.send("HEAD", "/docs/badmeta.txt")
    s.send("GET", "/docs", "restype=container&comp=list")

    # Deletes: blob with snapshots, a deleted blob read again, container delete and re-create.
    s.send("DELETE", "/photos/b.txt")
    s.send("DELETE", "/photos/b.txt", "", {"x-ms-delete-snapshots": "include"})
    s.send("GET", "/photos/b.txt")
    s.send("DELETE", "/photos/a.txt")
    s.send("GET", "/photos/a.txt")
    s.send("DELETE", "/scratch", "restype=container")
    s.send("GET", "/scratch", "restype=container")
    s.send("PUT", "/scratch", "restype=container")
    s.send("GET", "", "comp=list")
