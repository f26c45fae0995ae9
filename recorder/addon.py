"""The parity recorder, a mitmproxy addon: every exchange that crosses the proxy is
appended to a session file the moment it completes.

Use it alone with mitmproxy's own tools, parity installed in mitmproxy's environment
(`pipx inject mitmproxy parity`, or `pip install parity` beside mitmproxy):

    mitmdump --mode reverse:http://127.0.0.1:5000 --listen-host 127.0.0.1 \\
        -s recorder/addon.py --set parity_sessions=.parity/sessions --set parity_label=pilot-ana

The file imports the installed `parity` (never the repository's folders), so any copy of
it works; without parity there, it logs one line saying what to install and mitmdump
exits. mitmproxy listens on all interfaces unless told otherwise: the addon warns once
when it does (`parity record` binds 127.0.0.1).

Encrypted at rest with `--set parity_encrypt=true` and a key from
`--set parity_key_file=PATH`, `$PARITY_KEY_FILE` or `$PARITY_PASSPHRASE`.

or through `parity record`, which runs the same addon in-process.

A plain response is written in the `response` hook, before mitmproxy sends it on, so
a client never receives an answer that is not on disk. If the session file cannot be
written, the flow is killed and the proxy exits: traffic never passes unrecorded in
silence (mitmproxy's save addon behaves the same way).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mitmproxy.version
from mitmproxy import ctx, exceptions, http
from mitmproxy import flow as mitmflow
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy import mode_specs

logger = logging.getLogger(__name__)

MISSING_PARITY = (
    "parity: this addon needs the parity package in mitmproxy's Python ({python}): "
    "`pipx inject mitmproxy parity`, or `pip install parity` in that environment"
)

try:
    from parity.exceptions import ParityError
    from parity.recorder.capture import SocketChunks, StreamTap, capture
    from parity.recorder.redaction import Redaction
    from parity.sessions import (
        Exchange,
        KeySource,
        Message,
        Rotation,
        SessionFileError,
        SessionKeyError,
        SessionStore,
        SessionWriter,
        parse_rotation,
    )
    from parity.sessions.crypto import KEY_FILE_ENV, PASSPHRASE_ENV, ready_to_write
    from parity.sessions.model import Record
    from parity.sessions.parts import name_part
    from parity.sessions.redact import RedactionPolicy
    from parity.sessions.streams import EVENTS, STREAMED
except ModuleNotFoundError as missing:  # `mitmdump -s addon.py` without parity installed
    if (missing.name or "").partition(".")[0] != "parity":
        raise
    # One line, not a traceback; an error logged at startup makes mitmdump exit.
    logger.error(MISSING_PARITY.format(python=sys.executable))
    PARITY_MISSING = True
else:
    PARITY_MISSING = False

_RECORDED = "parity.recorded"
_SEQ = "parity.seq"
"""The seq of an event stream's exchange, given when its first chunk is written."""
_HEAD = "parity.head"
EXIT_CANNOT_WRITE = 2
# Exchanges with bodies from this size up are redacted, encoded and written off the event
# loop: a 1 MB copy to the page cache costs ~0.5 ms of CPU and the secret scan ~1.3 ms
# (`sessions.scan`, GIL released), which other flows need not wait for.
OFFLOAD_BYTES = 256 * 1024


def upstream_of(modes: list[str] | tuple[str, ...]) -> str | None:
    """The reverse-proxy target among mitmproxy's `mode` specs, if there is one."""
    for spec in modes:
        try:
            mode = mode_specs.ProxyMode.parse(spec)
        except ValueError:
            continue
        if isinstance(mode, mode_specs.ReverseMode):
            return mode.data
    return None


ALL_INTERFACES = ("", "0.0.0.0", "::")


def open_listeners(modes: list[str] | tuple[str, ...], listen_host: str) -> list[str]:
    """The mode specs among `modes` whose server listens on every interface (mitmproxy's
    default `listen_host` is "", all of them), as `mode@*`."""
    found = []
    for spec in modes:
        try:
            mode = mode_specs.ProxyMode.parse(spec)
        except ValueError:
            continue
        if mode.listen_host(listen_host) in ALL_INTERFACES and mode.listen_port() is not None:
            found.append(spec)
    return found


class Recorder:
    """Writes one parity session file per proxy run.

    `on_open(path)` and `on_close(writer)` let a launcher (`parity record`) talk to its
    user; by default both are logged. `policy` is the redaction policy (`parity record`
    passes parity.toml's `[redact]`; alone under mitmdump, the defaults, switched off with
    `--set parity_redact=false`); the project key and the secret store are in the
    `parity_state` directory (`.parity`). With `encrypt`, the file is encrypted with a
    key from that source.

    With `parity_rotate` (`30m`, `500MB`, `sessions.parse_rotation`), the session is
    written in parts (`sessions.parts`): when the current file reaches that age or size,
    the next record goes to a new file of the same session, and the old one is closed
    with its trailer on the writer thread (after the writes queued for it). An exchange
    is written once, to the part that is current when it completes; `on_rotate(path)`
    is told of each new part. The redactor, the secret store, the key source and the
    seq counter are the run's, not a part's.
    """

    def __init__(
        self,
        on_open: Callable[[Path], None] | None = None,
        on_close: Callable[[SessionWriter], None] | None = None,
        policy: RedactionPolicy | None = None,
        encrypt: KeySource | None = None,
        on_rotate: Callable[[Path], None] | None = None,
    ) -> None:
        self.policy = policy or RedactionPolicy()
        self.redaction: Redaction | None = None
        self.writer: SessionWriter | None = None
        self._in_flight: dict[str, http.HTTPFlow] = {}
        self._sockets: dict[str, SocketChunks] = {}
        """Open WebSockets' chunks, by flow id (until the exchange is written)."""
        self._seq = 0
        self._thread: ThreadPoolExecutor | None = None
        self._queued = 0
        self._on_open = on_open
        self._on_close = on_close
        self._on_rotate = on_rotate
        self._encrypt = encrypt
        self.rotation: Rotation | None = None
        self.part = 0
        self.exchanges = 0
        """Exchanges written in all parts (the trailer of each counts its own)."""
        self.errors = 0
        self._store_dir: SessionStore | None = None
        self._header: dict[str, object] = {}
        self._part_bytes = 0
        self._part_records = 0
        self._part_started = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Future[None]] = set()

    # -- options ----------------------------------------------------------------------

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "parity_sessions", str, ".parity/sessions", "Directory for parity session files."
        )
        loader.add_option(
            "parity_label", str, "", "A label for the session (stored in its header)."
        )
        loader.add_option(
            "parity_redact",
            bool,
            True,
            "Replace secrets by keyed-hash tokens before anything is written.",
        )
        loader.add_option(
            "parity_state",
            str,
            ".parity",
            "The project's state directory: its key and secret store.",
        )
        loader.add_option(
            "parity_rotate",
            str,
            "",
            "Start a new part of the session file at this age or size: 30m, 90s, 500MB "
            "(empty: one file).",
        )
        loader.add_option(
            "parity_encrypt",
            bool,
            False,
            "Encrypt session files (AES-256-GCM) with a key from parity_key_file, "
            "$PARITY_KEY_FILE or $PARITY_PASSPHRASE.",
        )
        loader.add_option(
            "parity_key_file",
            str,
            "",
            "Key file for parity_encrypt (default: $PARITY_KEY_FILE).",
        )

    def configure(self, updated: set[str]) -> None:
        if "parity_sessions" in updated:
            root = Path(ctx.options.parity_sessions)
            if root.exists() and not root.is_dir():
                raise exceptions.OptionsError(f"parity_sessions: {root} is not a directory")
        if "parity_rotate" in updated:
            text = ctx.options.parity_rotate
            try:
                self.rotation = parse_rotation(text) if text.strip() else None
            except ValueError as exc:
                raise exceptions.OptionsError(f"parity_rotate: {exc}") from None

    # -- lifecycle --------------------------------------------------------------------

    def running(self) -> None:
        if self.writer is None:
            self._warn_open_listeners()
            self.open()
        if self.rotation is not None and self.rotation.seconds is not None:
            # An idle recorder still closes a part on time (never an empty one).
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def _warn_open_listeners(self) -> None:
        """Once per run: say so when mitmproxy listens on every interface (its default),
        since whoever reaches this machine could then send traffic into the recording."""
        wide = open_listeners(list(ctx.options.mode), ctx.options.listen_host)
        if wide:
            logger.warning(
                "parity: mitmproxy listens on all interfaces (%s): anyone who can reach "
                "this machine can send requests through it into the session file; "
                "--listen-host 127.0.0.1 keeps it to this machine",
                ", ".join(wide),
            )

    def open(self) -> SessionWriter:
        """Create the session file (done in `running`; tests may call it directly)."""
        store = SessionStore(Path(ctx.options.parity_sessions))
        modes = list(ctx.options.mode)
        meta: dict[str, object] = {"modes": modes}
        if ctx.options.parity_redact and self.policy.enabled:
            meta["redaction"] = self._start_redaction(Path(ctx.options.parity_state))
        if self._encrypt is None and ctx.options.parity_encrypt:
            self._encrypt = self._key_source(store.root)
        self._store_dir = store
        self._header = {
            "label": ctx.options.parity_label,
            "upstream": upstream_of(modes),
            "recorder": {
                "parity": _parity_version(),
                "mitmproxy": mitmproxy.version.VERSION,
                "python": sys.version.split()[0],
            },
            "meta": meta,
        }
        if self.rotation is None and ctx.options.parity_rotate.strip():
            self.configure({"parity_rotate"})  # options set before the addon was added
        self.writer = self._create(1 if self.rotation is not None else None)
        if self._on_open:
            self._on_open(self.writer.path)
        else:
            logger.info(f"parity: recording to {self.writer.path}")
        return self.writer

    def _create(self, part: int | None) -> SessionWriter:
        """A new session file (a part of this run's session, with rotation)."""
        assert self._store_dir is not None
        session_id = name_part(self.writer.path)[0] if self.writer is not None else None
        try:
            writer = self._store_dir.create(
                **self._header,  # type: ignore[arg-type]
                encrypt=self._encrypt,
                part=part,
                session_id=session_id,
            )
        except (SessionFileError, SessionKeyError) as exc:
            self._fail(str(exc))
            raise  # _fail exits
        self.part = part or 1
        self._part_bytes = self._part_records = 0
        self._part_started = time.monotonic()
        return writer

    # -- rotation ---------------------------------------------------------------------

    def _current(self) -> SessionWriter:
        """The writer for the next record: a new part first when this one is due."""
        writer = self.writer
        if writer is None or writer.closed:
            self._fail("parity: no open session file; refusing to pass traffic unrecorded")
        assert writer is not None
        if self._due():
            self._rotate(writer)
            assert self.writer is not None
            return self.writer
        return writer

    def _due(self) -> bool:
        rotation = self.rotation
        if rotation is None or not self._part_records:
            return False  # never an empty part
        if rotation.bytes is not None and self._part_bytes >= rotation.bytes:
            return True
        return (
            rotation.seconds is not None
            and time.monotonic() - self._part_started >= rotation.seconds
        )

    def _rotate(self, old: SessionWriter) -> None:
        """Open the next part, then close `old` with its trailer (`continued`) on the
        writer thread, after the records already queued for it."""
        self.writer = self._create(self.part + 1)
        closing = self._executor(_retire, old)
        self._retiring.add(closing)
        closing.add_done_callback(self._retired)
        if self._on_rotate:
            self._on_rotate(self.writer.path)
        else:
            logger.info(f"parity: recording part {self.part} to {self.writer.path}")

    def _retired(self, closing: asyncio.Future[None]) -> None:
        self._retiring.discard(closing)
        if not closing.cancelled() and closing.exception() is not None:
            self._fail(str(closing.exception()))

    async def _tick(self) -> None:
        assert self.rotation is not None and self.rotation.seconds is not None
        interval = min(1.0, self.rotation.seconds / 4)
        while self.writer is not None and not self.writer.closed:
            await asyncio.sleep(interval)
            writer = self.writer
            if writer is not None and not writer.closed and self._due():
                self._rotate(writer)

    def _key_source(self, sessions: Path) -> KeySource:
        """The key for `parity_encrypt` under mitmdump (`parity record` passes its own)."""
        key_file = ctx.options.parity_key_file or os.environ.get(KEY_FILE_ENV) or None
        source = KeySource(
            passphrase=os.environ.get(PASSPHRASE_ENV) or None,
            key_file=Path(key_file).expanduser() if key_file else None,
        )
        if not source.can_write:
            self._fail(
                "parity_encrypt needs a key: set PARITY_PASSPHRASE or PARITY_KEY_FILE, "
                "or --set parity_key_file=PATH"
            )
        try:
            ready_to_write(source, sessions)
        except SessionKeyError as exc:
            self._fail(str(exc))
        return source

    def _start_redaction(self, state: Path) -> dict[str, object]:
        """The redactor and secret store of this run; the header's note of them."""
        try:
            self.redaction = Redaction(self.policy, state)
        except ParityError as exc:
            self._fail(str(exc))
            raise  # _fail exits
        return self.redaction.header_note()

    async def done(self) -> None:
        writer = self.writer
        if writer is None or writer.closed:
            return
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for flow in list(self._in_flight.values()):
            # Still open at shutdown (a hanging request, a live WebSocket): keep what we have.
            if flow.error is None and flow.response is None:
                flow.error = mitmflow.Error("recorder stopped before the exchange completed")
            await self._record(flow)
        writer = self.writer  # the last part
        assert writer is not None
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        try:
            writer.close(trailer=True)
        except SessionFileError as exc:
            self._fail(str(exc))
        if self._on_close:
            self._on_close(writer)
        else:
            parts = f" (part {self.part})" if self.rotation is not None else ""
            logger.info(f"parity: {self.exchanges} exchanges recorded to {writer.path}{parts}")

    # -- traffic ----------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._in_flight[flow.id] = flow
        if flow.request.stream is True:
            flow.request.stream = StreamTap()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        content_type = flow.response.headers.get("content-type", "")
        if content_type.lower().startswith("text/event-stream"):
            # Stream server-sent events as they come (buffering would hold them back
            # from the client) and write them in chunks as they arrive: a stream open
            # for hours costs one chunk of memory, and a kill keeps what was written.
            flow.response.stream = StreamTap(
                sse=True, on_chunk=lambda tap: self._write_events(flow, tap)
            )
        elif flow.response.stream is True:
            flow.response.stream = StreamTap()

    async def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            await self._record(flow)
        # A WebSocket's exchange is written when it ends, with its messages.

    async def error(self, flow: http.HTTPFlow) -> None:
        await self._record(flow)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        ws = flow.websocket
        if ws is None or flow.metadata.get(_RECORDED):
            return
        chunks = self._sockets.get(flow.id)
        if chunks is None:
            chunks = self._sockets[flow.id] = SocketChunks(
                lambda chunks, count: self._write_messages(flow, chunks, count)
            )
        chunks.arrived(ws)

    async def websocket_end(self, flow: http.HTTPFlow) -> None:
        await self._record(flow)

    # -- internals --------------------------------------------------------------------

    async def _record(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get(_RECORDED):
            return  # e.g. a client that went away after its response was recorded
        if self.writer is None or self.writer.closed:
            flow.kill()
        writer = self._current()
        tap = _events_tap(flow)
        if tap is not None:
            tap.close()
        socket = self._sockets.pop(flow.id, None)
        if socket is not None:
            socket.close()
        seq = flow.metadata.get(_SEQ)
        if seq is None:
            self._seq += 1
            seq = self._seq
        exchange = capture(flow, seq)
        chunked = tap or socket
        streamed = chunked.flushed if chunked is not None and chunked.flushed else None
        writer.count(exchange)
        self._part_records += 1
        self.exchanges += 1
        self.errors += exchange.error is not None
        flow.metadata[_RECORDED] = True
        self._in_flight.pop(flow.id, None)
        try:
            if self._queued or _body_bytes(exchange) >= OFFLOAD_BYTES:
                await self._in_thread(writer, exchange, streamed)
            else:
                self._store(writer, exchange, streamed)
        except ParityError as exc:  # the file or the secret store cannot be written
            flow.kill()
            self._fail(str(exc))

    def _store(self, writer: SessionWriter, exchange: Exchange, streamed: int | None) -> None:
        """Redact, encode and append one exchange. On the event loop when nothing is
        queued for the writer thread, else on that thread: one at a time either way, so
        the redactor, the encoder and the file see exchanges in completion order.
        `streamed`: the events of its stream already written in chunks."""
        if self.redaction is not None:
            exchange = self._redact(exchange, writer)
        record = exchange.to_record()
        if streamed is not None and record["response"] is not None:
            # The chunks' events are put back by the reader (`sessions.streams`); nil,
            # not b"", so that an older reader passes it over as malformed rather than
            # replaying a stream it cannot put together.
            record["response"]["body"] = None
            record[STREAMED] = streamed
        self._append(writer, record)

    def _append(self, writer: SessionWriter, record: Record) -> None:
        pieces = writer.encode(record)
        self._part_bytes += sum(map(len, pieces))
        writer.write(pieces)

    def _write_events(self, flow: http.HTTPFlow, tap: StreamTap) -> None:
        """Write the events of an open stream that arrived since the last chunk (called
        by the tap, on the event loop)."""
        self._write_chunk(flow, tap.take())

    def _write_messages(self, flow: http.HTTPFlow, chunks: SocketChunks, count: int) -> None:
        """Write the first `count` (-1: all) messages of an open WebSocket and drop them
        from the flow (called by its `SocketChunks`, on the event loop)."""
        if flow.websocket is not None:
            self._write_chunk(flow, chunks.take(flow.websocket, count))

    def _write_chunk(self, flow: http.HTTPFlow, events: list[Message]) -> None:
        """Write a chunk of an open stream's events or messages; the first chunk carries
        the exchange as known at the time (`head`) and gives the exchange its seq.
        Redacted, encoded and written as an exchange is: on the loop, or behind what is
        queued for the writer thread."""
        if not events or flow.metadata.get(_RECORDED):
            return
        writer = self._current()
        seq = flow.metadata.get(_SEQ)
        if seq is None:
            self._seq += 1
            seq = flow.metadata[_SEQ] = self._seq
        head = None
        if not flow.metadata.get(_HEAD):
            head = capture(flow, seq)
            head.messages = []
            flow.metadata[_HEAD] = True
        self._part_records += 1
        try:
            if self._queued:
                pending = self._executor(self._store_events, writer, seq, events, head)
                self._queued += 1
                pending.add_done_callback(self._queued_done)
            else:
                self._store_events(writer, seq, events, head)
        except ParityError as exc:
            flow.kill()
            self._fail(str(exc))

    def _store_events(
        self, writer: SessionWriter, seq: int, events: list[Message], head: Exchange | None
    ) -> None:
        """Redact (as an exchange's messages, same tokens), encode and append a chunk."""
        if self.redaction is not None:
            events = self.redaction.messages(events, writer.path.stem)
            if head is not None:
                head = self._redact(head, writer)
        record: Record = {"kind": EVENTS, "seq": seq, "messages": [m.to_record() for m in events]}
        if head is not None:
            record["head"] = head.to_record()
        self._append(writer, record)

    def _queued_done(self, done: asyncio.Future[None]) -> None:
        self._queued -= 1
        if not done.cancelled() and done.exception() is not None:
            self._fail(str(done.exception()))

    def _executor(self, call: Callable[..., None], *args: object) -> asyncio.Future[None]:
        """`call(*args)` on the writer thread, after what is queued there."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parity-writer")
        return asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    def _redact(self, exchange: Exchange, writer: SessionWriter) -> Exchange:
        """The exchange with its secrets replaced by tokens (`recorder.redaction`)."""
        assert self.redaction is not None
        return self.redaction.apply(exchange, writer.path.stem)

    async def _in_thread(
        self, writer: SessionWriter, exchange: Exchange, streamed: int | None
    ) -> None:
        """Large exchanges are redacted, encoded and copied to the OS by one writer
        thread, so the event loop serves other flows meanwhile; this flow still waits
        until its record is written. While anything is queued there, small exchanges
        queue behind it: file order stays completion order."""
        self._queued += 1
        try:
            await self._executor(self._store, writer, exchange, streamed)
        finally:
            self._queued -= 1

    def _fail(self, message: str) -> None:
        # Not a log line: logging may be what failed. Exiting from a hook stops the
        # whole proxy, which is the point (mitmproxy's save addon does the same).
        sys.stderr.write(
            f"parity record: {message}; stopping so that no traffic passes unrecorded\n"
        )
        sys.stderr.flush()
        raise SystemExit(EXIT_CANNOT_WRITE)


def _retire(writer: SessionWriter) -> None:
    """Close a part that the session goes on from (on the writer thread)."""
    writer.close(trailer=True, continued=True)


def _events_tap(flow: http.HTTPFlow) -> StreamTap | None:
    """The tap that writes a server-sent event stream in chunks, if the flow has one."""
    stream = flow.response.stream if flow.response is not None else None
    if isinstance(stream, StreamTap) and stream.sse and stream.on_chunk is not None:
        return stream
    return None


def _body_bytes(exchange: Exchange) -> int:
    response = exchange.response
    return len(exchange.request.body) + (len(response.body) if response is not None else 0)


def _parity_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parity")
    except PackageNotFoundError:
        return "unknown"


addons = [] if PARITY_MISSING else [Recorder()]
