"""The record side: a mitmproxy addon (`recorder/addon.py`, usable alone with
`mitmdump -s`) and the in-process launcher behind `parity record`.

This room imports mitmproxy; the CLI imports it only when recording, so that
`parity --help` stays fast.
"""

from parity.recorder.addon import Recorder, upstream_of
from parity.recorder.capture import StreamTap, capture
from parity.recorder.launch import RecorderStartError, RecordSettings, record

__all__ = [
    "RecordSettings",
    "Recorder",
    "RecorderStartError",
    "StreamTap",
    "capture",
    "record",
    "upstream_of",
]
