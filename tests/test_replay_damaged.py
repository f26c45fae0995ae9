"""Torn and corrupt session files, through the real CLI against a real upstream: the run
finishes with every complete record replayed, one warning per damaged file, `parity
sessions list` marks them, `parity gate` fails the run unless --allow-torn."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from parity.sessions import SessionStore
from tests.factories import make_exchange
from tests.procs import Proc, parity, python

pytestmark = pytest.mark.timeout(60)

HOSTILE_ARRAY = b"\xdd\x7f\xff\xff\xff"
"""A msgpack array header declaring 2**31 - 1 elements."""
GARBAGE = b"\x00 garbage \xc1 after the header"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with Proc(python("tests/upstream.py")) as proc:
        yield proc.wait_for(r"UPSTREAM_LISTENING (\S+)").group(1)


def _live_exchange(url: str, seq: int) -> dict[str, object]:
    """Exchange `seq` as a record: GET /json?n=SEQ with the answer the upstream gives."""
    path = f"/json?n={seq}&size=200"
    with urllib.request.urlopen(url + path, timeout=10) as answer:
        body = answer.read()
        status = answer.status
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    exchange = make_exchange(seq, path=path)
    exchange.request.method = "GET"
    exchange.request.body = b""
    exchange.request.headers = [(b"Host", b"127.0.0.1:5000")]
    assert exchange.response is not None
    exchange.response.status = status
    exchange.response.headers = headers
    exchange.response.body = body
    return exchange.to_record()


def _recording(root: Path, url: str, label: str, records: list[object]) -> tuple[Path, list[int]]:
    """A session file of `records` (a dict is an exchange record, bytes are written as
    they are); returns its path and its size after the header and after each record."""
    writer = SessionStore(root).create(label=label, upstream=url)
    sizes = [writer.path.stat().st_size]
    for record in records:
        writer.write([record] if isinstance(record, bytes) else writer.encode(record))  # type: ignore[arg-type]
        sizes.append(writer.path.stat().st_size)
    writer.close(trailer=False)
    return writer.path, sizes


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        parity(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_damaged_files_replay_what_is_whole_warn_once_and_fail_the_gate(
    tmp_path: Path, upstream: str
) -> None:
    root = tmp_path / "sessions"
    good, _ = _recording(root, upstream, "good", [_live_exchange(upstream, i) for i in (1, 2)])
    # Cut inside its fifth record: four exchanges complete.
    torn, sizes = _recording(
        root, upstream, "torn", [_live_exchange(upstream, i) for i in range(1, 7)]
    )
    with torn.open("r+b") as f:
        f.truncate(sizes[4] + 100)
    garbage, _ = _recording(root, upstream, "garbage", [GARBAGE])
    bad_client = dict(_live_exchange(upstream, 2), client=["h"])
    client, _ = _recording(
        root,
        upstream,
        "client",
        [_live_exchange(upstream, 1), bad_client, _live_exchange(upstream, 3)],
    )
    whole = msgpack.packb(_live_exchange(upstream, 2), use_bin_type=True)
    hostile_record = whole[: whole.index(b"\xa8messages") + 9] + HOSTILE_ARRAY + b"\x00" * 64
    hostile, _ = _recording(
        root,
        upstream,
        "hostile",
        [_live_exchange(upstream, 1), hostile_record, _live_exchange(upstream, 3)],
    )
    db = tmp_path / "parity.db"

    replay = _run("replay", str(root), "--target", upstream, "--db", str(db), cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert "Traceback" not in replay.stderr
    # 2 + 4 + 0 + 2 + 1 complete exchanges, all replayed and matched.
    assert "9 exchanges: 9 matched, 0 mismatched, 0 errors" in replay.stderr
    warnings = [line for line in replay.stderr.splitlines() if "warning: session" in line]
    assert len(warnings) == 4, replay.stderr
    for path, what in [
        (torn, "is torn: 100 bytes skipped (torn tail"),
        (garbage, f"is torn: {len(GARBAGE)} bytes skipped (corrupt record at byte"),
        (client, "is partly corrupt: 1 malformed record passed over (first: exchange.client"),
        (hostile, "array of 2147483647 items declared"),
    ]:
        mine = [line for line in warnings if f"session {path.stem} ({path})" in line]
        assert len(mine) == 1 and what in mine[0], (what, warnings)
    assert not any(good.stem in line for line in warnings)
    assert "4 exchanges recovered" in next(line for line in warnings if torn.stem in line)
    run_id = replay.stdout.strip()

    listed = _run("sessions", "list", "--sessions", str(root), "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    by_id = {s["id"]: s for s in json.loads(listed.stdout)}
    assert by_id[torn.stem]["skipped_bytes"] == 100 and by_id[torn.stem]["exchanges"] == 4
    assert by_id[client.stem]["malformed_records"] == 1 and by_id[client.stem]["exchanges"] == 2
    assert by_id[hostile.stem]["exchanges"] == 1 and by_id[hostile.stem]["skipped_bytes"] > 0
    assert by_id[garbage.stem]["exchanges"] == 0
    table = _run("sessions", "list", "--sessions", str(root), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "torn (100 B skipped)" in table.stdout and "1 malformed" in table.stdout

    out = tmp_path / "gate.json"
    gate = _run("gate", run_id, "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    artifact = json.loads(out.read_text())
    assert artifact["reasons"] == [
        "4 session files torn or partly corrupt "
        f"({', '.join(sorted(p.stem for p in [torn, garbage, client, hostile])[:3])} and 1 more): "
        "not every recorded exchange was replayed; --allow-torn accepts that"
    ]
    damaged = {d["session"]: d for d in artifact["damaged_sessions"]}
    assert set(damaged) == {torn.stem, garbage.stem, client.stem, hostile.stem}
    assert damaged[torn.stem]["exchanges"] == 4 and damaged[torn.stem]["skipped_bytes"] == 100
    assert damaged[client.stem]["malformed_records"] == 1

    allowed = _run("gate", run_id, "--db", str(db), "--out", str(out), "--allow-torn", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    artifact = json.loads(out.read_text())
    assert artifact["passed"] is True and artifact["thresholds"]["allow_torn"] is True
    assert "allowed by --allow-torn" in allowed.stdout


def test_a_header_followed_by_garbage_alone_warns_and_fails_the_gate(
    tmp_path: Path, upstream: str
) -> None:
    root = tmp_path / "sessions"
    garbage, _ = _recording(root, upstream, "garbage", [b"\x93\x01\x02garbage"])
    db = tmp_path / "parity.db"
    replay = _run("replay", str(garbage), "--target", upstream, "--db", str(db), cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert "0 exchanges: 0 matched" in replay.stderr
    assert replay.stderr.count(f"warning: session {garbage.stem}") == 1
    assert "corrupt record at byte" in replay.stderr and "not a map" in replay.stderr
    gate = _run("gate", "--db", str(db), "--out", str(tmp_path / "g.json"), cwd=tmp_path)
    assert gate.returncode == 1
    reasons = json.loads((tmp_path / "g.json").read_text())["reasons"]
    assert any("torn or partly corrupt" in r for r in reasons)
