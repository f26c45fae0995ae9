"""A replay run (`replayer.run`): one read of each session file up front gives the ids,
the counts, the route keys and the correlation seeds; the replay reads each file once
more. Real session files, the real CLI in-process, a real server on 127.0.0.1."""

from __future__ import annotations

import builtins
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.replayer import scan_sessions, session_files
from parity.replayer.run import ROUTE_SCAN_BODY
from parity.sessions import SessionStore
from tests.factories import make_exchange
from tests.procs import Proc, python

pytestmark = pytest.mark.timeout(60)


def _session(store: SessionStore, requests: list[tuple[str, bytes]]) -> Path:
    with store.create(label="t", upstream="http://127.0.0.1:5000") as writer:
        for seq, (path, body) in enumerate(requests, 1):
            exchange = make_exchange(seq, path=path)
            exchange.request.method = "POST" if body else "GET"
            exchange.request.headers = [
                (b"Host", b"127.0.0.1:5000"),
                (b"Content-Type", b"application/json"),
            ]
            exchange.request.body = body
            exchange.messages = []
            writer.append(exchange)
        return writer.path


def _count_opens(monkeypatch: pytest.MonkeyPatch, watched: list[Path]) -> Counter[Path]:
    """Every open of a watched file, by `open()` or `Path.open` (which calls `io.open`)."""
    opened: Counter[Path] = Counter()
    names = {p.resolve(): p for p in watched}

    def counting(real: Any) -> Any:
        def wrapped(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, str | Path) and Path(file).resolve() in names:
                opened[names[Path(file).resolve()]] += 1
            return real(file, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(io, "open", counting(io.open))
    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    return opened


def test_each_session_file_is_opened_at_most_twice_per_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionStore(tmp_path / "sessions")
    for n in range(3):
        _session(store, [(f"/json?size=200&n={n}", b""), ("/dup", b""), ("/json?n=9", b"")])
    files = session_files([store.root])
    assert len(files) == 3
    db = tmp_path / "parity.db"
    with Proc(python("tests/upstream.py")) as upstream:
        url = upstream.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)
        opened = _count_opens(monkeypatch, files)
        result = CliRunner().invoke(
            cli,
            ["replay", str(store.root), "--target", url, "--baseline", url, "--db", str(db)],
        )
        monkeypatch.undo()
    # the baseline (the same server) answers like the target: what differs is noise
    assert result.exit_code == 0, result.output
    assert "3 sessions, 9 exchanges" in result.output
    assert opened == {path: 2 for path in files}
    report = CliRunner().invoke(cli, ["report", "--db", str(db), "--json"])
    assert json.loads(report.output)["totals"]["exchanges"] == 9


def test_the_first_read_gives_ids_counts_route_keys_and_correlation_seeds(
    tmp_path: Path,
) -> None:
    store = SessionStore(tmp_path / "sessions")
    rpc = [
        ("/api/bridge", json.dumps({"method": m, "params": {"entryId": "e-41"}}).encode())
        for m in ("journal.list", "journal.get", "journal.list")
    ]
    first = _session(store, rpc)
    second = _session(store, [("/api/entries/7?cursor=c9", b"")])
    scan = scan_sessions([first, second])
    assert [(s.path, s.id, s.exchanges) for s in scan.sessions] == [
        (first, first.stem, 3),
        (second, second.stem, 1),
    ]
    assert scan.exchanges == 4
    assert {"e-41", "journal.get"} <= scan.sessions[0].wanted
    assert {"entries", 7, "7", "c9"} <= scan.sessions[1].wanted
    assert [(r.match, r.source, r.key) for r in scan.route_keys] == [
        ("POST /api/bridge", "json", "$.method")
    ]


def test_the_route_key_pass_skips_bodies_over_a_mib_but_the_seeds_do_not(
    tmp_path: Path,
) -> None:
    store = SessionStore(tmp_path / "sessions")
    pad = "x" * ROUTE_SCAN_BODY
    huge = [
        ("/api/bridge", json.dumps({"method": m, "entryId": "e-41", "pad": pad}).encode())
        for m in ("journal.list", "journal.get")
    ]
    scan = scan_sessions([_session(store, huge)])
    assert scan.route_keys == []
    assert "e-41" in scan.sessions[0].wanted
