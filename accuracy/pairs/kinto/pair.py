"""Kinto, two major versions from PyPI: 14.8.0 (old) against 26.5.0 (new).

Both run on the memory backends with the basicauth policy and one fixed HMAC secret, so a
fixed user gets the same user id on both and may create buckets. The client is a
deterministic, stateful Kinto user: buckets, collections, records with minted ids and
ETags, filtered and paginated lists, conditional writes, deletes and errors.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from accuracy.client import Answer, JsonClient

NAME = "kinto"
OLD, NEW = "14.8.0", "26.5.0"
DESCRIPTION = f"Kinto {OLD} (old) vs Kinto {NEW} (new): two major versions, memory backend"
READY_PATH = "/v1/"
# Kinto 14.8 predates pyramid_multiauth 1.0 (security policies): pinned to the last 0.x.
PACKAGES = {"old": [f"kinto=={OLD}", "pyramid_multiauth==0.9.0"], "new": [f"kinto=={NEW}"]}

CONFIG = """\
[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.storage.memory
kinto.storage_url =
kinto.cache_backend = kinto.core.cache.memory
kinto.cache_url =
kinto.permission_backend = kinto.core.permission.memory
kinto.permission_url =
kinto.userid_hmac_secret = parity-accuracy-fixed-secret
multiauth.policies = basicauth
multiauth.policy.basicauth.use = kinto.core.authentication.BasicAuthAuthenticationPolicy
kinto.bucket_create_principals = system.Authenticated
kinto.bucket_read_principals = system.Authenticated

[server:main]
use = egg:waitress#main
listen = 127.0.0.1:{port}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = plain

[formatter_plain]
format = %(levelname)s %(name)s %(message)s
"""


def _venv(work: Path, side: str) -> Path:
    return work / side


def install(work: Path) -> None:
    """One venv per version under `work`; a stamp file makes a second call a no-op."""
    for side, packages in PACKAGES.items():
        venv = _venv(work, side)
        stamp = venv / (".installed-" + "-".join(packages).replace("=", ""))
        if stamp.exists():
            continue
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            with (work / f"pip-{side}.log").open("wb") as log:
                subprocess.run(
                    [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *packages],
                    check=True,
                    timeout=900,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise SystemExit(
                f"accuracy: cannot install {' '.join(packages)} (see {work}/pip-{side}.log): {exc}"
            ) from exc
        stamp.touch()


def command(work: Path, side: str, port: int, data: Path) -> tuple[list[str], dict[str, str]]:
    """`kinto start` on a config written into `data` (memory backends: no other state)."""
    ini = data / "kinto.ini"
    ini.write_text(CONFIG.format(port=port), encoding="utf-8")
    kinto = _venv(work, side) / "bin" / "kinto"
    return [str(kinto), "start", "--ini", str(ini)], {}


# --- the client -----------------------------------------------------------------------

USER = "Basic " + base64.b64encode(b"alice:wonderland").decode("ascii")
OTHER = "Basic " + base64.b64encode(b"bob:builder").decode("ascii")


class _Client:
    """`accuracy.client.JsonClient` with Kinto's basic auth: `auth=None` sends none."""

    def __init__(self, base: str) -> None:
        self.http = JsonClient(base)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        auth: str | None = USER,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = auth
        return self.http.call(method, path, body, raw=raw, headers=sent)


def _data(answer: Any) -> dict[str, Any]:
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) else {}


TEXTS = ["Björk", "Sigur Rós", "Motörhead", "Mötley Crüe", "Æther", "plain"]


def client(base: str) -> None:
    """84 requests in a fixed order; ids and ETags come from the server's answers."""
    c = _Client(base)
    c.call("GET", "/v1/")
    c.call("GET", "/v1/__heartbeat__")
    c.call("GET", "/v1/contribute.json")
    c.call("GET", "/v1/buckets", auth=None)  # 401: no credentials
    c.call("PUT", "/v1/buckets/music", {"data": {"title": "Music"}})
    c.call("GET", "/v1/buckets/music")
    c.call("PUT", "/v1/buckets/music/collections/albums", {"data": {"kind": "album"}})
    c.call("POST", "/v1/buckets/music/collections", {"data": {"id": "artists"}})
    c.call("GET", "/v1/buckets/music/collections")
    c.call("GET", "/v1/buckets/music/collections/albums")

    albums = "/v1/buckets/music/collections/albums/records"
    ids: list[str] = []
    etags: list[str] = []
    for n, text in enumerate(TEXTS):
        _, headers, answer = c.call(
            "POST", albums, {"data": {"title": text, "year": 1990 + n, "rank": n % 3}}
        )
        record = _data(answer)
        ids.append(str(record.get("id", f"missing-{n}")))
        etags.append(headers.get("etag", '"0"'))
    for record_id in ids:
        c.call("GET", f"{albums}/{record_id}")

    c.call("GET", albums)
    c.call("GET", f"{albums}?_sort=year")
    c.call("GET", f"{albums}?_sort=-year&_limit=2")
    _, headers, _ = c.call("GET", f"{albums}?_sort=year&_limit=2")
    next_page = headers.get("next-page")
    pages = 0
    while next_page and pages < 4:
        parts = urlsplit(next_page)
        _, headers, _ = c.call("GET", parts.path + ("?" + parts.query if parts.query else ""))
        next_page = headers.get("next-page")
        pages += 1
    c.call("GET", f"{albums}?rank=1")
    c.call("GET", f"{albums}?min_year=1992&_sort=year")
    c.call("GET", f"{albums}?in_rank=0,2&_sort=title")
    c.call("GET", f"{albums}?_fields=title")
    c.call("GET", f"{albums}?like_title=*%C3%B6*")
    c.call("HEAD", albums)
    _, headers, _ = c.call("GET", albums)
    collection_etag = headers.get("etag", '"0"')
    c.call("GET", albums, headers={"If-None-Match": collection_etag})  # 304
    c.call("GET", f"{albums}?_since={collection_etag.strip(chr(34))}")

    # Conditional writes: the ETag of each record's creation is its If-Match.
    c.call("PATCH", f"{albums}/{ids[0]}", {"data": {"rank": 9}}, headers={"If-Match": etags[0]})
    c.call("PATCH", f"{albums}/{ids[0]}", {"data": {"rank": 8}}, headers={"If-Match": etags[0]})
    _, headers, _ = c.call("GET", f"{albums}/{ids[0]}")
    c.call(
        "PUT",
        f"{albums}/{ids[0]}",
        {"data": {"title": "Björk — Debut", "year": 1993}},
        headers={"If-Match": headers.get("etag", '"0"')},
    )
    c.call("GET", f"{albums}/{ids[0]}", headers={"If-None-Match": etags[0]})
    c.call("PATCH", f"{albums}/{ids[1]}", {"data": {"title": "Ágætis byrjun"}})
    c.call(
        "PATCH",
        f"{albums}/{ids[2]}",
        raw=json.dumps([{"op": "replace", "path": "/data/rank", "value": 5}]).encode(),
        headers={"Content-Type": "application/json-patch+json"},
    )
    c.call("PUT", f"{albums}/hand-picked", {"data": {"title": "Hand picked", "year": 2001}})
    c.call("GET", f"{albums}/hand-picked")
    c.call(
        "PUT", f"{albums}/hand-picked", {"data": {"title": "Again"}}, headers={"If-None-Match": "*"}
    )
    c.call("GET", f"{albums}?_since={etags[2].strip(chr(34))}&_sort=last_modified")

    # Errors.
    c.call("POST", albums, raw=b'{"data": {"title": ')  # invalid JSON
    c.call("POST", albums, {"data": "not an object"})
    c.call("POST", albums, {"data": {"title": "x"}, "permissions": {"read": "everyone"}})
    c.call("GET", f"{albums}?_sort=")
    c.call("GET", f"{albums}?_limit=abc")
    c.call("GET", f"{albums}?min_year=abc")
    c.call("GET", f"{albums}/does-not-exist")
    c.call("GET", "/v1/buckets/nope/collections/albums/records")
    c.call("GET", "/v1/buckets/music/collections/albums/records/" + "x" * 300)
    c.call("PUT", "/v1/buckets/bad%20id", {"data": {}})
    c.call("GET", f"{albums}/{ids[3]}", auth=OTHER)  # 403: someone else's bucket
    c.call("DELETE", "/v1/buckets/music", auth=OTHER)
    c.call("PATCH", albums, {"data": {"x": 1}})  # 405
    c.call("GET", "/v1/nowhere")
    c.call("GET", "/v1/__version__")  # 500 on both: no version.json in a pip install
    c.call("GET", albums, headers={"Accept": "text/html"})
    c.call(
        "PUT",
        "/v1/buckets/music/collections/genres",
        raw=b'{"data": {}}',
        headers={"Content-Type": "text/plain"},
    )

    # Deletes, then the deleted ones again.
    c.call("DELETE", f"{albums}/{ids[4]}", headers={"If-Match": etags[4]})
    c.call("GET", f"{albums}/{ids[4]}")
    c.call("DELETE", f"{albums}/{ids[4]}")
    c.call("DELETE", f"{albums}/{ids[5]}", headers={"If-Match": '"1"'})  # 412
    c.call("DELETE", f"{albums}/{ids[5]}")
    c.call("GET", f"{albums}?_since={etags[3].strip(chr(34))}")
    c.call("DELETE", f"{albums}?rank=1")
    c.call("GET", albums)

    # A second collection with records that reference the first one's ids.
    artists = "/v1/buckets/music/collections/artists/records"
    for text, album in zip(TEXTS[:3], ids[:3], strict=True):
        c.call("POST", artists, {"data": {"name": text, "album": album}})
    c.call("GET", f"{artists}?album={ids[0]}")
    c.call("GET", f"{artists}?_sort=name")
    c.call("DELETE", "/v1/buckets/music/collections/artists")
    c.call("GET", "/v1/buckets/music/collections/artists")
    c.call("GET", "/v1/buckets/music/collections")
    c.call("DELETE", "/v1/buckets/music")
    c.call("GET", "/v1/buckets/music")
    c.call("GET", "/v1/buckets")
    c.http.conn.close()
