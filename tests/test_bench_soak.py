"""The soak benchmark's pieces that need no process (bench/soak_bench.py runs the real
ones): its backend's answers, the flatness figure, the paced recording it writes and the
split of a recording into one session per client connection."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench.soak_bench import flatness, split_by_client, write_paced
from bench.soak_upstream import USERS, Backend, token_of
from parity.sessions import (
    Exchange,
    Request,
    Response,
    SessionStore,
    group_sessions,
    open_session,
)


def _body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_backend_answers_depend_on_the_request_alone() -> None:
    backend = Backend()
    login = orjson.dumps({"username": "ana", "password": USERS["ana"]})
    status, body = _body(backend.handle(b"POST", b"/api/login", {}, login))
    assert status == 200 and orjson.loads(body)["token"] == token_of("ana")
    assert _body(backend.handle(b"GET", b"/api/vaults", {}, b""))[0] == 401
    auth = {b"authorization": f"Bearer {token_of('ana')}".encode()}
    save = backend.handle(
        b"POST", b"/api/vaults/v-ana-personal/entries/1007/save", auth, b'{"version": 4}'
    )
    assert orjson.loads(_body(save)[1])["version"] == 5
    page = backend.handle(b"GET", b"/api/vaults/v-ana-personal/entries?page=3", auth, b"")
    assert page == backend.handle(b"GET", b"/api/vaults/v-ana-work/entries?page=3", auth, b"")
    assert backend.requests == 5
    backend.handle(b"GET", b"/__stats", {}, b"")
    assert backend.requests == 5


def test_flatness_is_the_largest_stray_from_the_checkpoint() -> None:
    samples = [(0, 50.0), (500, 70.0), (1000, 80.0), (1500, 76.0), (2000, 91.0), (2500, 85.0)]
    flat = flatness(samples, 1000)
    assert flat["at_checkpoint_mb"] == 80.0
    assert flat["deviation_mb"] == 11.0 and flat["drift_mb"] == 5.0
    assert flat["max_mb"] == 91.0
    assert flatness(samples, 5000)["deviation_mb"] is None


def test_paced_recording_spans_what_it_says(tmp_path: Path) -> None:
    written = write_paced(tmp_path, 8080, 30.0)
    starts = []
    for session in group_sessions(sorted(tmp_path.glob("*.parity"))):
        with open_session(session) as reader:
            starts += [exchange.request.timestamp_start for exchange in reader]
    assert len(starts) == written["exchanges"] and written["sessions"] == 3
    assert max(starts) - min(starts) == written["span_s"]
    assert abs(written["span_s"] - 30.0) < 1e-6


def test_split_gives_each_client_connection_its_session_in_order(tmp_path: Path) -> None:
    writer = SessionStore(tmp_path / "rec").create(label="soak", meta={"note": 1})
    paths = ["/api/login", "/a", "/api/login", "/b", "/api/logout", "/c", "/api/logout"]
    clients = [1, 1, 2, 2, 1, 2, 2]
    for seq, (path, client) in enumerate(zip(paths, clients, strict=True)):
        writer.append(
            Exchange(
                seq=seq,
                client=("127.0.0.1", client),
                request=Request("GET", "http", "h", 80, path, "HTTP/1.1", [], b"", 1.0 + seq),
                response=Response(200, "OK", "HTTP/1.1", [], b"{}", 1.5 + seq),
            )
        )
    writer.close()
    split = split_by_client(tmp_path / "rec", tmp_path / "split")
    assert split["sessions"] == 2 and split["exchanges"] == 7
    got = {}
    for session in group_sessions(sorted((tmp_path / "split").glob("*.parity"))):
        with open_session(session) as reader:
            assert reader.header.meta == {"note": 1}
            exchanges = list(reader)
        got[exchanges[0].client] = [(e.seq, e.request.path) for e in exchanges]
    assert got[("127.0.0.1", 1)] == [(0, "/api/login"), (1, "/a"), (2, "/api/logout")]
    assert got[("127.0.0.1", 2)] == [(0, "/api/login"), (1, "/b"), (2, "/c"), (3, "/api/logout")]
