"""PouchDB Server, two major versions from npm: 2.3.7 (old) against 4.2.0 (new).

Both serve the CouchDB HTTP API from the in-memory adapter (a fresh, empty server on every
start) with no admins configured ("admin party"), so the client may create databases.
Every write mints a `_rev` (`1-<32 hex>`, random in PouchDB) and POSTed documents get a
random server uuid: the client carries them back in `If-Match`, `?rev=`, `_rev` in bodies
and in paths, so a replay exercises value correlation. The client is a deterministic
CouchDB user: databases, documents with chosen and minted ids, updates and conflicts,
deletes, `_all_docs` windows, `_bulk_docs`, `_changes` feeds, attachments, Mango `_find`,
a design document with a view, non-ASCII text, and errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from accuracy.client import JSON, JsonClient

NAME = "pouchdb"
OLD, NEW = "2.3.7", "4.2.0"
DESCRIPTION = (
    f"PouchDB Server {OLD} (old) vs PouchDB Server {NEW} (new): two major versions, "
    "CouchDB API, in-memory adapter"
)
READY_PATH = "/"
VERSIONS = {"old": OLD, "new": NEW}
# Install scripts are skipped: the old major's leveldown 2.x does not compile on Node 20,
# and the in-memory adapter (memdown, pure JavaScript) needs no native module.
NPM_FLAGS = ["--ignore-scripts", "--no-audit", "--no-fund", "--no-save", "--loglevel=error"]


def _server_js(work: Path, side: str) -> Path:
    return work / side / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"


def _installed(work: Path, side: str) -> bool:
    manifest = work / side / "node_modules" / "pouchdb-server" / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return False
    return version == VERSIONS[side] and _server_js(work, side).exists()


def install(work: Path) -> None:
    """`npm install --prefix work/SIDE pouchdb-server@VERSION`; a no-op once installed."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("accuracy: pouchdb needs node and npm on PATH")
    for side, version in VERSIONS.items():
        if _installed(work, side):
            continue
        prefix = work / side
        prefix.mkdir(parents=True, exist_ok=True)
        log = work / f"npm-{side}.log"
        argv = [npm, "install", "--prefix", str(prefix), *NPM_FLAGS, f"pouchdb-server@{version}"]
        try:
            with log.open("wb") as out:
                subprocess.run(
                    argv,
                    check=True,
                    timeout=900,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise SystemExit(
                f"accuracy: cannot install pouchdb-server@{version} (see {log}): {exc}"
            ) from exc
        if not _installed(work, side):
            raise SystemExit(f"accuracy: pouchdb-server@{version} is not in {prefix} after npm")


def command(work: Path, side: str, port: int, data: Path) -> tuple[list[str], dict[str, str]]:
    """`pouchdb-server --in-memory` on 127.0.0.1:port; its config and log file in `data`."""
    node = shutil.which("node") or "node"
    argv = [
        node,
        # Both majors were written for Node releases where an unhandled promise rejection
        # was a warning; Node 20 would exit on the first one (a 404 inside a changes feed).
        "--unhandled-rejections=warn",
        str(_server_js(work, side)),
        "--in-memory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data),
        "--config",
        str(data / "config.json"),
        "--no-stdout-logs",
        "--no-color",
    ]
    return argv, {"NODE_NO_WARNINGS": "1"}


# --- the client -----------------------------------------------------------------------


def _field(answer: Any, key: str, fallback: str) -> str:
    """A string field of a JSON object answer, or `fallback` so the request order holds."""
    if isinstance(answer, dict) and isinstance(answer.get(key), str | int):
        return str(answer[key])
    return fallback


def _key(value: Any) -> str:
    """A view/_all_docs key parameter: JSON, then percent-encoded."""
    return quote(json.dumps(value, ensure_ascii=False), safe="")


PEOPLE = [
    ("alice", {"name": "Alice", "city": "Oslo", "age": 34, "tags": ["admin"]}),
    ("bjork", {"name": "Björk", "city": "Reykjavík", "age": 58, "tags": ["singer"]}),
    ("carol", {"name": "Carol", "city": "Oslo", "age": 27, "tags": []}),
    ("dave", {"name": "Dave", "city": "Bergen", "age": 41, "tags": ["ops", "admin"]}),
    ("erin", {"name": "Erin", "city": "Tromsø", "age": 23, "tags": ["intern"]}),
    ("frank", {"name": "Frank", "city": "Bergen", "age": 66, "tags": ["retired"]}),
]
NOTES = [
    {"title": "groceries", "text": "milk, brød, ost"},
    {"title": "todo", "text": "call Zoë"},
    {"title": "idea", "text": "a café in Århus"},
    {"title": "plain", "text": "nothing special"},
]
VIEW = {
    "views": {
        "by_city": {
            "map": "function (doc) { if (doc.city) { emit(doc.city, doc.age); } }",
            "reduce": "_count",
        },
        "by_age": {"map": "function (doc) { if (doc.age) { emit(doc.age, doc.name); } }"},
    }
}


def client(base: str) -> None:
    """118 requests in a fixed order; revs and minted ids come from the answers."""
    c = JsonClient(base, {"Accept": JSON})
    c.call("GET", "/")
    c.call("GET", "/_all_dbs")
    c.call("GET", "/_uuids?count=2")
    c.call("PUT", "/people")
    c.call("PUT", "/people")  # 412 file_exists
    c.call("GET", "/people")

    revs: dict[str, str] = {}
    for doc_id, doc in PEOPLE:
        _, _, answer = c.call("PUT", f"/people/{doc_id}", doc)
        revs[doc_id] = _field(answer, "rev", "1-0")
    _, _, early = c.call("GET", "/people/_changes")
    since = _field(early, "last_seq", "0")

    for doc_id, _ in PEOPLE[:3]:
        c.call("GET", f"/people/{doc_id}")
    _, headers, _ = c.call("GET", "/people/alice")
    etag = headers.get("etag", '"0"')
    c.call("GET", "/people/alice", headers={"If-None-Match": etag})
    c.call("HEAD", "/people/bjork")

    # Updates: `_rev` in the body, `?rev=` in the query, and `If-Match` (which PouchDB
    # Server reads on DELETE only: this PUT is a 409 on both versions).
    first_alice = revs["alice"]
    _, _, answer = c.call(
        "PUT", "/people/alice", {**PEOPLE[0][1], "age": 35, "_rev": revs["alice"]}
    )
    revs["alice"] = _field(answer, "rev", revs["alice"])
    _, _, answer = c.call("PUT", f"/people/carol?rev={revs['carol']}", {**PEOPLE[2][1], "age": 28})
    revs["carol"] = _field(answer, "rev", revs["carol"])
    _, _, answer = c.call(
        "PUT",
        "/people/bjork",
        {**PEOPLE[1][1], "city": "London"},
        headers={"If-Match": revs["bjork"]},
    )
    revs["bjork"] = _field(answer, "rev", revs["bjork"])
    c.call("PUT", "/people/alice", {**PEOPLE[0][1], "age": 99, "_rev": first_alice})  # 409
    c.call("PUT", "/people/alice", {**PEOPLE[0][1], "age": 98})  # 409: no rev at all
    c.call("GET", "/people/alice")
    c.call("GET", f"/people/alice?rev={first_alice}")
    c.call("GET", "/people/alice?revs=true")
    c.call("GET", "/people/alice?revs_info=true")
    c.call("GET", "/people/alice", headers={"If-None-Match": etag})  # stale ETag: 200

    # Deletes: `?rev=`, `If-Match`, a stale rev.
    _, _, answer = c.call("DELETE", f"/people/frank?rev={revs['frank']}")
    revs["frank"] = _field(answer, "rev", revs["frank"])
    c.call("GET", "/people/frank")  # 404 deleted
    c.call("GET", "/people/nobody")  # 404 missing
    c.call("DELETE", "/people/erin", headers={"If-Match": revs["erin"]})
    c.call("DELETE", f"/people/dave?rev={first_alice}")  # 404 on both: a rev this doc never had
    c.call("GET", f"/people/frank?rev={revs['frank']}")  # the tombstone by its rev
    c.call("GET", "/people")

    # Listing: _all_docs windows.
    c.call("GET", "/people/_all_docs")
    c.call("GET", "/people/_all_docs?include_docs=true")
    c.call("GET", f"/people/_all_docs?startkey={_key('b')}&endkey={_key('d')}")
    c.call("GET", "/people/_all_docs?limit=2&skip=1")
    c.call("GET", "/people/_all_docs?descending=true&limit=2&include_docs=true")
    c.call("POST", "/people/_all_docs", {"keys": ["carol", "frank", "nobody", "alice"]})

    # _bulk_docs: two creates, one update, one stale update, one delete.
    _, _, answer = c.call(
        "POST",
        "/people/_bulk_docs",
        {
            "docs": [
                {"_id": "gina", "name": "Gina", "city": "Oslo", "age": 30, "tags": []},
                {"_id": "hugo", "name": "Hugo", "city": "Stavanger", "age": 45, "tags": ["ops"]},
                {**PEOPLE[2][1], "_id": "carol", "_rev": revs["carol"], "age": 29},
                {**PEOPLE[3][1], "_id": "dave", "_rev": first_alice},
                {"_id": "bjork", "_rev": revs["bjork"], "_deleted": True},
            ]
        },
    )
    results = answer if isinstance(answer, list) else []
    for row in results:
        if isinstance(row, dict) and isinstance(row.get("id"), str) and "rev" in row:
            revs[row["id"]] = str(row["rev"])
    c.call("GET", "/people/gina")
    c.call("GET", "/people/carol")
    c.call("POST", "/people/_bulk_docs", {"documents": []})  # 400: no docs

    # _changes: from the start, from a seq taken from an earlier answer, windows.
    c.call("GET", "/people/_changes?since=0")
    c.call("GET", f"/people/_changes?since={since}")
    c.call("GET", "/people/_changes?include_docs=true&limit=3")
    c.call("GET", "/people/_changes?descending=true&limit=2")
    c.call("POST", "/people/_changes", {"doc_ids": ["alice", "frank"]})
    c.call("GET", "/people/_changes?filter=_doc_ids&doc_ids=%5B%22gina%22%5D")

    # Attachments: a small text file on alice.
    _, _, answer = c.call(
        "PUT",
        f"/people/alice/note.txt?rev={revs['alice']}",
        raw="Hej från Alice\n".encode(),
        headers={"Content-Type": "text/plain"},
    )
    revs["alice"] = _field(answer, "rev", revs["alice"])
    c.call("GET", "/people/alice/note.txt")
    c.call("GET", "/people/alice")
    c.call("GET", "/people/alice?attachments=true")
    c.call("GET", "/people/alice/missing.txt")  # 404
    c.call("PUT", "/people/alice/other.txt", raw=b"no rev", headers={"Content-Type": "text/plain"})
    _, _, answer = c.call("DELETE", f"/people/alice/note.txt?rev={revs['alice']}")
    revs["alice"] = _field(answer, "rev", revs["alice"])
    c.call("GET", "/people/alice/note.txt")  # 404 after the delete

    # Mango: an index, queries, a bad selector.
    c.call("POST", "/people/_index", {"index": {"fields": ["age"]}, "name": "age-index"})
    c.call("GET", "/people/_index")
    c.call(
        "POST",
        "/people/_find",
        {"selector": {"age": {"$gt": 30}}, "fields": ["_id", "name", "age"], "sort": ["age"]},
    )
    c.call("POST", "/people/_find", {"selector": {"city": "Oslo"}, "fields": ["_id", "name"]})
    c.call("POST", "/people/_find", {"selector": {"name": {"$regex": "^B"}}, "limit": 1})
    c.call("POST", "/people/_find", {"selector": "not an object"})
    c.call(
        "POST", "/people/_find", {"selector": {"age": {"$gt": 60}}, "use_index": "no-such-index"}
    )
    c.call("POST", "/people/_explain", {"selector": {"age": {"$gt": 30}}})

    # Replication-style traffic: foreign revs (new_edits=false) make a conflict.
    c.call(
        "POST",
        "/people/_bulk_docs",
        {
            "new_edits": False,
            "docs": [
                {"_id": "ivan", "_rev": "1-aaaa", "name": "Ivan", "city": "Oslo", "age": 50},
                {"_id": "ivan", "_rev": "1-bbbb", "name": "Ivan", "city": "Bergen", "age": 50},
            ],
        },
    )
    c.call("GET", "/people/ivan?conflicts=true")
    c.call("GET", "/people/ivan?open_revs=all")
    c.call("GET", f"/people/ivan?open_revs={_key(['1-aaaa'])}")
    c.call("POST", "/people/_revs_diff", {"ivan": ["1-aaaa", "1-cccc"], "gina": ["9-dddd"]})
    c.call(
        "POST", "/people/_bulk_get", {"docs": [{"id": "ivan", "rev": "1-aaaa"}, {"id": "nobody"}]}
    )
    c.call("DELETE", "/people/ivan?rev=1-aaaa")  # resolve the conflict
    c.call("GET", "/people/ivan?conflicts=true")
    c.call("PUT", "/people/_local/checkpoint", {"last_seq": 12})
    c.call("GET", "/people/_local/checkpoint")

    # A design document with two views.
    _, _, answer = c.call("PUT", "/people/_design/stats", VIEW)
    design_rev = _field(answer, "rev", "1-0")
    c.call("GET", "/people/_design/stats")
    c.call("GET", "/people/_design/stats/_view/by_city?reduce=false")
    c.call("GET", "/people/_design/stats/_view/by_city?group=true")
    c.call(
        "GET",
        f"/people/_design/stats/_view/by_city?key={_key('Oslo')}&reduce=false&include_docs=true",
    )
    c.call("GET", "/people/_design/stats/_view/by_age?descending=true&limit=3")
    c.call("GET", "/people/_design/stats/_view/by_age?startkey=25&endkey=45&update_seq=true")
    c.call("GET", "/people/_design/stats/_view/missing")  # 404
    c.call("GET", "/people/_design/stats/_info")
    c.call("DELETE", f"/people/_design/stats?rev={design_rev}")

    # A second database of notes with server-minted ids (POST).
    c.call("PUT", "/notes")
    note_ids: list[str] = []
    note_revs: list[str] = []
    for n, note in enumerate(NOTES):
        _, _, answer = c.call("POST", "/notes", note)
        note_ids.append(_field(answer, "id", f"missing-{n}"))
        note_revs.append(_field(answer, "rev", "1-0"))
    for note_id in note_ids:
        c.call("GET", f"/notes/{note_id}")
    _, _, answer = c.call(
        "PUT", f"/notes/{note_ids[0]}", {**NOTES[0], "done": True, "_rev": note_revs[0]}
    )
    note_revs[0] = _field(answer, "rev", note_revs[0])
    c.call("GET", f"/notes/{note_ids[0]}")
    c.call("DELETE", f"/notes/{note_ids[1]}?rev={note_revs[1]}")
    c.call("GET", f"/notes/{note_ids[1]}")  # 404 deleted
    c.call("POST", "/notes/_bulk_docs", {"docs": [{"title": "bulk", "text": "minted in bulk"}]})
    c.call("GET", "/notes/_changes")
    c.call("GET", "/notes")

    # Errors.
    c.call("POST", "/people", raw=b'{"name": "broken",', headers={"Content-Type": JSON})  # 400
    c.call("PUT", "/people/broken", raw=b"{not json}", headers={"Content-Type": JSON})  # 400
    c.call("PUT", "/people/_reserved", {"name": "underscore"})  # 400: invalid doc id
    c.call("PUT", "/people/listdoc", raw=b"[1, 2]", headers={"Content-Type": JSON})  # 400
    c.call("GET", "/nosuchdb")  # 404
    c.call("GET", "/nosuchdb/alice")  # 404
    c.call("PUT", "/nosuchdb/alice", {"name": "Alice"})  # 404
    c.call("PUT", "/Bad%20Name")  # 201 on both: PouchDB Server accepts the space
    c.call("GET", "/people/_all_docs?startkey=%7Bbroken")  # 200 on both: read as a string
    c.call("GET", "/people/_design/nosuch/_view/none")  # 404

    # Tear down the notes database.
    c.call("DELETE", "/notes")
    c.call("GET", "/notes")  # 404
    c.call("GET", "/_all_dbs")
    c.call("GET", "/people")
