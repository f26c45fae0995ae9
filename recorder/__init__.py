"""The record side: a mitmproxy addon (`recorder/addon.py`, usable alone with
`mitmdump -s`) and the in-process launcher behind `parity record`.

This room imports mitmproxy; the CLI imports it only when recording, so that
`parity --help` stays fast.
"""

from recorder.addon import Recorder, upstream_of
from recorder.capture import StreamTap, capture
from recorder.launch import RecorderStartError, RecordSettings, record

__all__ = [
    "RecordSettings",
    "Recorder",
    "RecorderStartError",
    "StreamTap",
    "capture",
    "record",
    "upstream_of",
]
