"""The parity recorder, a mitmproxy addon: every exchange that crosses the proxy is
appended to a session file the moment it completes.

Use it alone with mitmproxy's own tools:

    mitmdump --mode reverse:http://127.0.0.1:5000 -s recorder/addon.py \\
        --set parity_sessions=.parity/sessions --set parity_label=pilot-ana

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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mitmproxy.version
from mitmproxy import ctx, exceptions, http
from mitmproxy import flow as mitmflow
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy import mode_specs

from parity.exceptions import ParityError
from parity.recorder.capture import StreamTap, capture
from parity.recorder.redaction import Redaction
from parity.sessions import (
    Exchange,
    KeySource,
    SessionFileError,
    SessionKeyError,
    SessionStore,
    SessionWriter,
)
from parity.sessions.crypto import KEY_FILE_ENV, PASSPHRASE_ENV, ready_to_write
from parity.sessions.redact import RedactionPolicy

logger = logging.getLogger(__name__)

_RECORDED = "parity.recorded"
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


class Recorder:
    """Writes one parity session file per proxy run.

    `on_open(path)` and `on_close(writer)` let a launcher (`parity record`) talk to its
    user; by default both are logged. `policy` is the redaction policy (`parity record`
    passes parity.toml's `[redact]`; alone under mitmdump, the defaults, switched off with
    `--set parity_redact=false`); the project key and the secret store are in the
    `parity_state` directory (`.parity`). With `encrypt`, the file is encrypted with a
    key from that source.
    """

    def __init__(
        self,
        on_open: Callable[[Path], None] | None = None,
        on_close: Callable[[SessionWriter], None] | None = None,
        policy: RedactionPolicy | None = None,
        encrypt: KeySource | None = None,
    ) -> None:
        self.policy = policy or RedactionPolicy()
        self.redaction: Redaction | None = None
        self.writer: SessionWriter | None = None
        self._in_flight: dict[str, http.HTTPFlow] = {}
        self._seq = 0
        self._thread: ThreadPoolExecutor | None = None
        self._queued = 0
        self._on_open = on_open
        self._on_close = on_close
        self._encrypt = encrypt

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

    # -- lifecycle --------------------------------------------------------------------

    def running(self) -> None:
        if self.writer is None:
            self.open()

    def open(self) -> SessionWriter:
        """Create the session file (done in `running`; tests may call it directly)."""
        store = SessionStore(Path(ctx.options.parity_sessions))
        modes = list(ctx.options.mode)
        meta: dict[str, object] = {"modes": modes}
        if ctx.options.parity_redact and self.policy.enabled:
            meta["redaction"] = self._start_redaction(Path(ctx.options.parity_state))
        encrypt = self._encrypt
        if encrypt is None and ctx.options.parity_encrypt:
            encrypt = self._key_source(store.root)
        try:
            self.writer = store.create(
                label=ctx.options.parity_label,
                upstream=upstream_of(modes),
                recorder={
                    "parity": _parity_version(),
                    "mitmproxy": mitmproxy.version.VERSION,
                    "python": sys.version.split()[0],
                },
                meta=meta,
                encrypt=encrypt,
            )
        except (SessionFileError, SessionKeyError) as exc:
            self._fail(str(exc))
        assert self.writer is not None
        if self._on_open:
            self._on_open(self.writer.path)
        else:
            logger.info(f"parity: recording to {self.writer.path}")
        return self.writer

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
        for flow in list(self._in_flight.values()):
            # Still open at shutdown (a hanging request, a live WebSocket): keep what we have.
            if flow.error is None and flow.response is None:
                flow.error = mitmflow.Error("recorder stopped before the exchange completed")
            await self._record(flow)
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
            logger.info(f"parity: {writer.exchanges} exchanges recorded to {writer.path}")

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
            # from the client) and keep a copy for the session.
            flow.response.stream = StreamTap(sse=True)
        elif flow.response.stream is True:
            flow.response.stream = StreamTap()

    async def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            await self._record(flow)
        # A WebSocket's exchange is written when it ends, with its messages.

    async def error(self, flow: http.HTTPFlow) -> None:
        await self._record(flow)

    async def websocket_end(self, flow: http.HTTPFlow) -> None:
        await self._record(flow)

    # -- internals --------------------------------------------------------------------

    async def _record(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get(_RECORDED):
            return  # e.g. a client that went away after its response was recorded
        writer = self.writer
        if writer is None or writer.closed:
            flow.kill()
            self._fail("parity: no open session file; refusing to pass traffic unrecorded")
        assert writer is not None
        self._seq += 1
        exchange = capture(flow, self._seq)
        writer.count(exchange)
        flow.metadata[_RECORDED] = True
        self._in_flight.pop(flow.id, None)
        try:
            if self._queued or _body_bytes(exchange) >= OFFLOAD_BYTES:
                await self._in_thread(writer, exchange)
            else:
                self._store(writer, exchange)
        except ParityError as exc:  # the file or the secret store cannot be written
            flow.kill()
            self._fail(str(exc))

    def _store(self, writer: SessionWriter, exchange: Exchange) -> None:
        """Redact, encode and append one exchange. On the event loop when nothing is
        queued for the writer thread, else on that thread: one at a time either way, so
        the redactor, the encoder and the file see exchanges in completion order."""
        if self.redaction is not None:
            exchange = self._redact(exchange, writer)
        writer.write(writer.encode(exchange.to_record()))

    def _redact(self, exchange: Exchange, writer: SessionWriter) -> Exchange:
        """The exchange with its secrets replaced by tokens (originals to the store)."""
        assert self.redaction is not None
        return self.redaction.apply(exchange, writer.path.stem)

    async def _in_thread(self, writer: SessionWriter, exchange: Exchange) -> None:
        """Large exchanges are redacted, encoded and copied to the OS by one writer
        thread, so the event loop serves other flows meanwhile; this flow still waits
        until its record is written. While anything is queued there, small exchanges
        queue behind it: file order stays completion order."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parity-writer")
        self._queued += 1
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._store, writer, exchange)
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


def _body_bytes(exchange: Exchange) -> int:
    response = exchange.response
    return len(exchange.request.body) + (len(response.body) if response is not None else 0)


def _parity_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parity")
    except PackageNotFoundError:
        return "unknown"


addons = [Recorder()]
