"""Streams written as they arrive, put back together on reading: server-sent events and
WebSocket messages.

A stream that stays open for hours cannot be held in the recorder's memory until it
ends. The recorder writes it in pieces (docs/session-format.md, "Streams"; a WebSocket's
messages as a stream's events, its 101 answer as the head):

    events    {"kind": "events", "seq": N, "head": {exchange map}, "messages": []}
              when the response headers arrive: the exchange as known then (its
              request, the response's head with an empty body)
    events    {"kind": "events", "seq": N, "messages": [up to 256 events]} ...
              each time a chunk is full (events or bytes) or a second after its first event
    exchange  {"kind": "exchange", "seq": N, "streamed": K, "messages": [the rest],
              "response": {..., "body": nil}, ...} when the stream ends

`Streams` turns those back into one ordinary exchange record: every event in order, the
response body their concatenation (as an event stream's body always was; a WebSocket's
answer keeps its empty body), in the place of the
final record. A stream whose end never came (a `kill -9` of the recorder) is still one
exchange, from its head and the events that reached the file, with an error saying so.
A stream that ended before any chunk was written has a plain exchange record (the
format older readers know); its head is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from parity.sessions.model import Record, RecordError

EVENTS = "events"
STREAMED = "streamed"

STOPPED = "recording stopped before the stream ended (or its end is in a missing part)"


@dataclass(slots=True)
class _Open:
    head: Record | None
    messages: list[Any] = field(default_factory=list)


def _seq(record: Record) -> int:
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise RecordError("events.seq must be an int >= 0")
    return seq


class Streams:
    """The open streams of one session while its records are read (across its parts)."""

    def __init__(self) -> None:
        self._open: dict[int, _Open] = {}
        self.problems: list[str] = []
        """What was lost (events of a stream not found): the reader counts each as a
        malformed record, so a replay warns and the gate fails."""

    def events(self, record: Record) -> None:
        """Take an `events` record; `RecordError` when it is malformed."""
        seq = _seq(record)
        messages = record.get("messages")
        head = record.get("head")
        if not isinstance(messages, list):
            raise RecordError("events.messages must be a list")
        if head is not None and not isinstance(head, dict):
            raise RecordError("events.head must be a map")
        stream = self._open.get(seq)
        if stream is None:
            # Without its head (in a part that is missing) the events cannot be replayed.
            stream = self._open[seq] = _Open(head)
        elif head is not None:
            raise RecordError(f"stream {seq} has a second head")
        stream.messages.extend(messages)

    def exchange(self, record: Record) -> Record:
        """An exchange record, with the events written before it put back (a streamed
        one); a plain exchange of a stream that was never chunked drops its head."""
        seq = record.get("seq")
        stream = self._open.pop(seq, None) if isinstance(seq, int) else None
        if STREAMED not in record:
            return record
        written = record.pop(STREAMED)
        earlier = stream.messages if stream is not None else []
        tail = record.get("messages")
        if not isinstance(written, int) or not isinstance(tail, list):
            raise RecordError("a streamed exchange needs streamed (int) and messages (list)")
        if written != len(earlier):
            lost = f"stream {seq}: {written} events written before its end, {len(earlier)} found"
            self.problems.append(lost)
            notes = record.get("notes")
            record["notes"] = [*notes, lost] if isinstance(notes, list) else [lost]
        record["messages"] = earlier + tail
        _join_body(record)
        return record

    def unfinished(self) -> Iterator[Record]:
        """The streams whose end is not in the file (the recorder was killed), each as an
        exchange with the events that arrived and an error; then forgotten."""
        for seq in sorted(self._open):
            stream = self._open.pop(seq)
            if stream.head is None:
                self.problems.append(
                    f"stream {seq}: {len(stream.messages)} events without their exchange's head"
                )
                continue
            record = dict(stream.head)
            record["kind"], record["seq"] = "exchange", seq
            record["messages"] = stream.messages
            last = _last_time(stream.messages, record)
            record["error"] = {"message": STOPPED, "timestamp": last}
            _join_body(record)
            yield record


def _join_body(record: Record) -> None:
    """A server-sent event stream's body is its events, byte for byte (a WebSocket's
    messages are not its body: its 101 answer has none)."""
    response = record.get("response")
    if not isinstance(response, dict):
        return
    if not _events(record["messages"]):
        if response.get("body") is None:
            response["body"] = b""
        return
    contents = [m.get("content") for m in record["messages"] if isinstance(m, dict)]
    response["body"] = b"".join(c for c in contents if isinstance(c, bytes))


def _events(messages: list[Any]) -> bool:
    return any(isinstance(m, dict) and m.get("kind") == "sse" for m in messages)


def _last_time(messages: list[Any], record: Record) -> float:
    for message in reversed(messages):
        stamp = message.get("timestamp") if isinstance(message, dict) else None
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            return float(stamp)
    response = record.get("response")
    stamp = response.get("timestamp_start") if isinstance(response, dict) else None
    return float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else 0.0
