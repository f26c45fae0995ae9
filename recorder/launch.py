"""Running mitmproxy in-process with the recorder: what `parity record` does."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import addons, exceptions, log, master, options
from mitmproxy.addons import errorcheck

from parity.exceptions import ParityError
from parity.recorder.addon import Recorder
from parity.sessions import KeySource, SessionWriter
from parity.sessions.redact import RedactionPolicy


class RecorderStartError(ParityError):
    """The proxy could not be configured or started; the message says why, in one line."""


@dataclass(slots=True)
class RecordSettings:
    upstream: str | None
    """Reverse-proxy target, e.g. `http://127.0.0.1:5000`; None with `mode="regular"`."""
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    label: str = ""
    sessions: Path = Path(".parity/sessions")
    mode: str = "reverse"
    ssl_insecure: bool = False
    redaction: RedactionPolicy | None = None
    """None: the default policy."""
    state: Path = Path(".parity")
    """The project's state directory: its key and secret store."""
    encrypt: KeySource | None = None
    """Encrypt the session file with a key from this source (`--encrypt`)."""
    rotate: str = ""
    """Start a new part at this age or size (`--rotate 30m`; empty: one file)."""


class _StartupCheck(errorcheck.ErrorCheck):
    """mitmproxy's startup error check, but raising one error instead of printing and exiting."""

    name = "errorcheck"

    async def shutdown_if_errored(self) -> None:
        await asyncio.sleep(0)
        if self.logger.has_errored:
            # mitmproxy adds a second line of advice on its own flags; keep the first.
            raise RecorderStartError(self.logger.has_errored[0].getMessage().splitlines()[0])


class _Warnings(log.MitmLogHandler):
    """Once the proxy runs, mitmproxy's warnings and errors go to stderr, one line each."""

    def __init__(self, err: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.err = err
        self.active = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.active:
            self.err(f"parity record: {record.levelname.lower()}: {record.getMessage()}")


def _mode_spec(settings: RecordSettings) -> str:
    if settings.mode == "reverse":
        if not settings.upstream:
            raise RecorderStartError("--upstream is required in reverse mode")
        return f"reverse:{settings.upstream}"
    if settings.mode == "regular":
        return "regular"
    raise RecorderStartError(f"unknown mode {settings.mode!r} (choose reverse or regular)")


def record(
    settings: RecordSettings,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> SessionWriter | None:
    """Run the recording proxy until Ctrl-C or SIGTERM; return the closed session's writer.

    Raises `RecorderStartError` when the proxy cannot start (bad upstream, port in use).
    """
    spec = _mode_spec(settings)
    closed: list[SessionWriter] = []

    async def main() -> None:
        opts = options.Options()
        proxy = master.Master(opts, with_termlog=False)
        proxy.addons.add(*addons.default_addons())
        proxy.addons.add(_StartupCheck())
        warnings = _Warnings(err)
        warnings.install()

        def opened(path: Path) -> None:
            server = proxy.addons.get("proxyserver")
            for host, port, *_ in server.listen_addrs():
                out(f"parity record: listening on http://{host}:{port}")
            target = settings.upstream if settings.mode == "reverse" else "(regular proxy)"
            out(f"parity record: forwarding to {target}")
            out(f"parity record: recording to {path}")
            out("parity record: press Ctrl-C to stop")
            warnings.active = True

        def finished(writer: SessionWriter) -> None:
            closed.append(writer)
            parts = f" (the last of {recorder.part} parts)" if recorder.part > 1 else ""
            out(
                f"parity record: {recorder.exchanges} exchanges ({recorder.errors} errors) "
                f"in {writer.path}{parts}"
            )

        recorder = Recorder(
            on_open=opened,
            on_close=finished,
            policy=settings.redaction,
            encrypt=settings.encrypt,
            on_rotate=lambda path: out(f"parity record: continuing in {path}"),
        )
        proxy.addons.add(recorder)
        try:
            opts.update(
                mode=[spec],
                listen_host=settings.listen_host,
                listen_port=settings.listen_port,
                parity_sessions=str(settings.sessions),
                parity_label=settings.label,
                parity_state=str(settings.state),
                parity_rotate=settings.rotate,
                ssl_insecure=settings.ssl_insecure,
                # A recorder must not rewrite what it records.
                anticache=False,
                anticomp=False,
                # Connect upstream per request, so a dead backend becomes a recorded 502
                # exchange instead of a silently dropped client connection.
                connection_strategy="lazy",
            )
        except exceptions.OptionsError as exc:
            raise RecorderStartError(str(exc)) from None
        _install_signal_handlers(proxy)
        try:
            await proxy.run()
        finally:
            warnings.uninstall()

    asyncio.run(main())
    return closed[0] if closed else None


def _install_signal_handlers(proxy: master.Master) -> None:
    loop = asyncio.get_running_loop()

    def stop(*_: object) -> None:
        loop.call_soon_threadsafe(proxy.shutdown)

    try:
        loop.add_signal_handler(signal.SIGINT, stop)
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (NotImplementedError, RuntimeError):
        # Windows' proactor loop has no add_signal_handler; plain handlers work there.
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
