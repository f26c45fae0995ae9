"""Memory of one large body: `parity replay` of a 100 MB JSON body against a slightly
different one, and `parity show` of that mismatch, each measured as a real process.

    .venv/bin/python bench/run.py --only large          # or:
    .venv/bin/python -m bench.large_bench [--mb 100]

It writes a session with one exchange whose recorded response is an N MB JSON body,
serves the same body with one value changed from an upstream on 127.0.0.1 (its own
process), runs `parity replay` and `parity show` as subprocesses and reports each one's
peak RSS (`wait4`'s `ru_maxrss`), the results database's growth and whether the one
difference was found. Goal: replay peaks at <= 600 MB for 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/large_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs
from examples.procs import Proc

BODY_MB = 100
GOAL_REPLAY_MB = 600.0
MARK_START = "<!-- large-bench:start -->"
MARK_END = "<!-- large-bench:end -->"
CHANGED_PATH = "$.items[{index}].title"


def _prose(size: int) -> bytes:
    """`size` bytes of words in a fixed pseudo-random order (compresses like text)."""
    import random

    words = [
        b"vault", b"entry", b"search", b"the", b"of", b"and", b"journal", b"speech", b"note",
        b"morning", b"filter", b"sidebar", b"tab", b"login", b"sync", b"draft", b"page",
        b"today", b"a", b"to", b"in", b"was", b"quiet", b"long", b"walk", b"river", b"city",
    ]  # fmt: skip
    chooser = random.Random(7)
    out = bytearray()
    while len(out) < size:
        out += chooser.choice(words) + b" "
    return bytes(out[:size])


def make_body(mb: int) -> tuple[bytes, bytes, str]:
    """An N MB JSON body, the same with one title changed, and the changed path. Each
    item's text is its own 800 bytes of prose (no two alike, as in a real listing)."""
    item = b'{"id":%d,"title":"entry %d","tags":["a","b"],"text":"%s"}'
    pool = _prose(1 << 20)
    items = []
    size = 0
    index = 0
    while size < mb * 1_000_000:
        start = (index * 7919) % (len(pool) - 800)
        encoded = item % (index, index, pool[start : start + 800])
        items.append(encoded)
        size += len(encoded) + 1
        index += 1
    middle = index // 2
    recorded = b'{"items":[' + b",".join(items) + b"]}"
    items[middle] = items[middle].replace(b'"entry %d"' % middle, b'"Entry %d"' % middle)
    served = b'{"items":[' + b",".join(items) + b"]}"
    return recorded, served, CHANGED_PATH.format(index=middle)


def write_session(root: Path, body: bytes, port: int) -> None:
    from parity.sessions import Exchange, Request, Response, SessionStore

    host = f"127.0.0.1:{port}".encode()
    json_type = [(b"Content-Type", b"application/json; charset=utf-8")]
    with SessionStore(root).create(label="large", upstream=f"http://127.0.0.1:{port}") as w:
        w.append(
            Exchange(
                seq=1,
                request=Request(
                    "GET",
                    "http",
                    "127.0.0.1",
                    port,
                    "/large",
                    "HTTP/1.1",
                    [(b"Host", host), (b"Accept", b"application/json")],
                    b"",
                    1_700_000_000.0,
                    1_700_000_000.1,
                ),
                response=Response(200, "OK", "HTTP/1.1", json_type, body, 1.7e9, 1.7e9),
            )
        )


def serve(body_path: Path) -> None:
    """The upstream: every request gets the file's bytes as JSON (own process)."""
    import asyncio

    body = body_path.read_bytes()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                if not request:
                    break
                writer.write(head)
                writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print(f"LARGE_UPSTREAM http://127.0.0.1:{port}", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def _measured(argv: list[str], cwd: Path) -> tuple[int, float, float, str]:
    """Run `argv`; its exit code, peak RSS in MB, wall seconds and stdout."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        popen = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(popen.pid, 0)
        popen.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return popen.returncode, usage.ru_maxrss / 1024, time.monotonic() - started, text


def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def run_large(
    mb: int = BODY_MB, log: Any = print, parity_bin: Path | None = None
) -> dict[str, Any]:
    parity = str(parity_bin or procs.BIN / "parity")
    with tempfile.TemporaryDirectory(prefix="parity-large-") as tmp:
        work = Path(tmp)
        recorded, served, path = make_body(mb)
        (work / "served.json").write_bytes(served)
        del served
        upstream = Proc(
            [sys.executable, "-m", "bench.large_bench", "serve", str(work / "served.json")]
        )
        try:
            url = upstream.wait_for(r"LARGE_UPSTREAM (\S+)", timeout=60).group(1)
            port = int(url.rsplit(":", 1)[1])
            write_session(work / "sessions", recorded, port)
            body_mb = len(recorded) / 1e6
            del recorded
            db = work / "parity.db"
            code, replay_mb, replay_s, out = _measured(
                [parity, "replay", str(work / "sessions"), "--target", url, "--db", str(db)],
                work,
            )
            log(f"large: replay exit {code}, peak {replay_mb:.0f} MB, {replay_s:.1f} s")
            if code not in (0, 1):
                raise RuntimeError(f"parity replay failed ({code}):\n{out}")
        finally:
            upstream.terminate()
        growth = _db_bytes(db)
        report = json.loads(
            subprocess.run(
                [parity, "report", "--db", str(db), "--json"],
                cwd=work,
                capture_output=True,
                check=True,
            ).stdout
        )
        mismatches = report["mismatches"]
        found = bool(mismatches) and any(d["path"] == path for d in mismatches[0]["differences"])
        show_code, show_mb, show_s, shown = (1, 0.0, 0.0, "")
        if mismatches:
            show_code, show_mb, show_s, shown = _measured(
                [parity, "show", mismatches[0]["id"], "--db", str(db)], work
            )
        log(f"large: show exit {show_code}, peak {show_mb:.0f} MB, {show_s:.1f} s")
    return {
        "body_mb": round(body_mb, 1),
        "replay_exit": code,
        "replay_peak_mb": round(replay_mb, 1),
        "replay_s": round(replay_s, 2),
        "db_growth_mb": round(growth / 1e6, 1),
        "found": found,
        "show_exit": show_code,
        "show_peak_mb": round(show_mb, 1),
        "show_s": round(show_s, 2),
        "show_names_path": path.split(".")[-1] in shown,
        "goal_replay_mb": GOAL_REPLAY_MB,
        "goal_met": found and replay_mb <= GOAL_REPLAY_MB,
    }


def print_large(result: dict[str, Any]) -> None:
    print(
        f"\nLarge body ({result['body_mb']} MB JSON, one value changed):\n"
        f"  parity replay  peak {result['replay_peak_mb']} MB, {result['replay_s']} s, "
        f"exit {result['replay_exit']}, difference found: {result['found']}\n"
        f"  database growth {result['db_growth_mb']} MB\n"
        f"  parity show    peak {result['show_peak_mb']} MB, {result['show_s']} s, "
        f"exit {result['show_exit']}\n"
        f"  goal: replay peak <= {result['goal_replay_mb']:.0f} MB: "
        f"{'met' if result['goal_met'] else 'NOT met'}"
    )


def markdown_section(result: dict[str, Any], env: dict[str, Any], command: str) -> str:
    """The large-body section of BENCHMARKS.md."""
    return "\n".join(
        [
            MARK_START,
            "## One large body (bench/large_bench.py)",
            "",
            f"`{command}` on {env.get('nproc')} CPUs ({env.get('cpu_model', '')}), "
            f"Python {env.get('python')}, commit {env.get('commit', '')}.",
            "",
            f"A session with one exchange whose recorded response is a {result['body_mb']} MB "
            "JSON body (items of ~900 bytes, each with its own 800 bytes of prose), replayed against a real upstream on 127.0.0.1 "
            "serving the same body with one title changed; `parity replay` and `parity show` "
            "of the mismatch run as subprocesses, peak RSS from `wait4`.",
            "",
            "| | peak RSS | wall | |",
            "|---|---|---|---|",
            f"| `parity replay` | {result['replay_peak_mb']:.0f} MB | {result['replay_s']:.1f} s "
            f"| difference found: {'yes' if result['found'] else 'NO'} |",
            f"| `parity show` | {result['show_peak_mb']:.0f} MB | {result['show_s']:.1f} s | |",
            f"| database growth | {result['db_growth_mb']} MB | | |",
            "",
            f"Goal: replay peak <= {result['goal_replay_mb']:.0f} MB: "
            f"{'met' if result['goal_met'] else 'not met'}.",
            MARK_END,
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_argument("command", nargs="?", default="run", choices=["run", "serve"])
    del sub
    parser.add_argument("file", nargs="?")
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--parity", type=Path, default=None, help="the parity executable")
    args = parser.parse_args()
    if args.command == "serve":
        serve(Path(args.file))
        return
    result = run_large(args.mb, parity_bin=args.parity)
    print_large(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
