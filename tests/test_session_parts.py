"""Sessions in parts and event streams written in chunks, read back (`sessions/parts.py`,
`sessions/streams.py`): real files written by the session writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parity.sessions import (
    Exchange,
    Message,
    SessionStore,
    SessionWriter,
    group_sessions,
    open_session,
    parse_rotation,
    read_session,
)
from parity.sessions.model import RecordError
from parity.sessions.parts import Rotation, name_part, part_name
from tests.factories import make_exchange


def _events(start: int, stop: int) -> list[Message]:
    return [
        Message("sse", False, f"id: {k}\ndata: {k}\n\n".encode(), 1.0 + k)
        for k in range(start, stop)
    ]


def _events_record(
    seq: int, messages: list[Message], head: Exchange | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "events",
        "seq": seq,
        "messages": [m.to_record() for m in messages],
    }
    if head is not None:
        record["head"] = head.to_record()
    return record


def _stream_head(seq: int) -> Exchange:
    head = make_exchange(seq, path="/events", body=b"")
    assert head.response is not None
    head.response.headers = [(b"Content-Type", b"text/event-stream")]
    head.response.timestamp_end = None
    return head


def _streamed_end(seq: int, tail: list[Message], written: int) -> dict[str, Any]:
    end = _stream_head(seq)
    end.messages = tail
    record = end.to_record()
    record["response"]["body"] = None
    record["streamed"] = written
    return record


def _write(writer: SessionWriter, record: dict[str, Any]) -> None:
    writer.write(writer.encode(record))


def test_parts_are_named_to_sort_in_order_and_say_their_session() -> None:
    assert part_name("20261206-080000-abcdef", 1) == "20261206-080000-abcdef.part0001.parity"
    assert name_part(Path("20261206-080000-abcdef.part0012.parity")) == (
        "20261206-080000-abcdef",
        12,
    )
    assert name_part(Path("20261206-080000-abcdef.parity")) == ("20261206-080000-abcdef", None)


def test_parts_group_by_session_in_part_order(tmp_path: Path) -> None:
    for name in ("b.part0002.parity", "b.part10000.parity", "b.part0001.parity", "a.parity"):
        (tmp_path / name).write_bytes(b"")
    a, b = group_sessions([tmp_path])
    assert a.paths == (tmp_path / "a.parity",) and a.name == "a.parity"
    assert [p.name for p in b.paths] == [
        "b.part0001.parity",
        "b.part0002.parity",
        "b.part10000.parity",
    ]
    assert b.gaps()[:2] == [3, 4] and len(b.gaps()) == 9997
    # Given explicitly, the parts of one session are still one session.
    (given,) = group_sessions([tmp_path / "b.part0002.parity", tmp_path / "b.part0001.parity"])
    assert given.numbers == (1, 2) and given.gaps() == []


@pytest.mark.parametrize(
    ("text", "rotation"),
    [
        ("30m", Rotation(seconds=1800)),
        ("90s", Rotation(seconds=90)),
        ("2h", Rotation(seconds=7200)),
        ("500MB", Rotation(bytes=500_000_000)),
        ("200kb", Rotation(bytes=200_000)),
        ("1GiB", Rotation(bytes=1 << 30)),
    ],
)
def test_rotation_values(text: str, rotation: Rotation) -> None:
    assert parse_rotation(text) == rotation


@pytest.mark.parametrize("text", ["0", "0s", "5x", "", "10KB", "-3m", "1.5h"])
def test_bad_rotation_values_say_why(text: str) -> None:
    with pytest.raises(ValueError, match=r"not an age or a size|at least"):
        parse_rotation(text)


def _rotated(root: Path) -> list[Path]:
    """A session in three parts with an event stream open across the first two."""
    store = SessionStore(root)
    first = store.create(label="soak", part=1)
    session_id = first.path.name.split(".")[0]
    first.append(make_exchange(1))
    _write(first, _events_record(2, _events(0, 3), head=_stream_head(2)))
    first.close(continued=True)
    second = store.create(label="soak", part=2, session_id=session_id)
    _write(second, _events_record(2, _events(3, 6)))
    second.append(make_exchange(3))
    _write(second, _streamed_end(2, _events(6, 8), written=6))
    second.close(continued=True)
    third = store.create(label="soak", part=3, session_id=session_id)
    third.append(make_exchange(4))
    third.close()
    return [first.path, second.path, third.path]


def test_a_stream_across_parts_is_one_exchange_in_the_place_it_ended(tmp_path: Path) -> None:
    paths = _rotated(tmp_path)
    (parts,) = group_sessions([tmp_path])
    assert parts.paths == tuple(paths)
    with open_session(parts) as reader:
        assert reader.header.part == 1 and reader.header.label == "soak"
        exchanges = list(reader)
        result = reader.result
    assert [e.seq for e in exchanges] == [1, 3, 2, 4]
    stream = exchanges[2]
    assert [m.content for m in stream.messages] == [m.content for m in _events(0, 8)]
    assert stream.response is not None
    assert stream.response.body == b"".join(m.content for m in _events(0, 8))
    assert stream.error is None
    assert result.trailer is not None and not result.trailer.continued
    assert result.missing_parts == [] and result.malformed_records == 0

    listed = SessionStore(tmp_path).summaries()
    (summary,) = listed
    assert not isinstance(summary, Exception)
    assert summary.exchanges == 4 and summary.to_json()["parts"] == [str(p) for p in paths]


def test_a_missing_part_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    paths = _rotated(tmp_path)
    paths[0].unlink()  # the first part: the stream's head and its first events
    (parts,) = group_sessions([tmp_path])
    with open_session(parts) as reader:
        exchanges = list(reader)
        result = reader.result
    assert result.missing_parts == [1]
    assert [e.seq for e in exchanges] == [3, 2, 4]
    # The stream's end is there; its first events are not, and that is said.
    assert len(exchanges[1].messages) == 5 and exchanges[1].notes
    assert result.malformed_records == 1 and "6 events written" in result.first_malformed

    paths[2].unlink()  # the last part: the second's trailer says one followed
    (parts,) = group_sessions([tmp_path])
    with open_session(parts) as reader:
        list(reader)
        assert reader.result.missing_parts == [1, 3]


def test_a_stream_whose_end_never_came_is_kept_with_an_error(tmp_path: Path) -> None:
    writer = SessionStore(tmp_path).create()
    _write(writer, _events_record(1, _events(0, 4), head=_stream_head(1)))
    _write(writer, _events_record(1, _events(4, 6)))
    writer.close(trailer=False)  # as a kill -9 leaves it
    _header, (exchange,), result = read_session(writer.path)
    assert len(exchange.messages) == 6 and exchange.response is not None
    assert exchange.response.body == b"".join(m.content for m in _events(0, 6))
    assert exchange.error is not None and "before the stream ended" in exchange.error.message
    assert result.trailer is None and result.malformed_records == 0


def test_a_stream_that_ended_before_its_first_chunk_is_a_plain_exchange(tmp_path: Path) -> None:
    writer = SessionStore(tmp_path).create()
    plain = _stream_head(1)
    plain.messages = _events(0, 2)
    assert plain.response is not None
    plain.response.body = b"".join(m.content for m in plain.messages)
    writer.append(plain)
    writer.close()
    _header, (exchange,), _ = read_session(writer.path)
    assert exchange == plain


def test_an_older_reader_passes_a_chunked_stream_over_as_malformed(tmp_path: Path) -> None:
    """What parity before chunked streams did with one: its `Exchange.from_record` on the
    final record (the events records are an unknown kind to it) fails, so its replay
    warns and its gate fails instead of replaying a stream with no body."""
    with pytest.raises(RecordError, match="body"):
        Exchange.from_record(_streamed_end(2, _events(6, 8), written=6))
