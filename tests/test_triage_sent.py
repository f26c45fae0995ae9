"""`format_sent`: the request as sent after correlation, as `parity show` prints it."""

from __future__ import annotations

from typing import Any

from parity.triage.sent import format_sent


def _sub(recorded: Any, sent: Any, at: str, seq: int | None, path: str) -> dict[str, Any]:
    return {
        "recorded": recorded,
        "sent": sent,
        "at": at,
        "minted_by": {"session": "s1", "seq": seq, "path": path},
    }


def _request(method: str, url: str, *subs: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": method,
        "url": url,
        "headers": [["Host", "127.0.0.1:6001"], ["Authorization", "***"]],
        "body_preview": "",
        "body_bytes": 0,
        "substitutions": list(subs),
    }


def test_each_substitution_says_where_what_and_which_exchange_minted_it() -> None:
    sent = {
        "target": _request(
            "PUT",
            "/posts/41/comments/77?postId=41",
            _sub("13", "41", "path segment 2", 3, "$.id"),
            _sub("13", "77", "path segment 4", 5, "$.comments[0].id"),
            _sub("13", "41", "query postId", 3, "$.id"),
            _sub(13, 41, "$.post.id", 3, "$.id"),
            _sub('"e1"', '"e9"', "header If-Match", 6, "header ETag"),
            _sub("5", "9", "path segment 2", None, "header Location"),
        ),
        "baseline": _request("PUT", "/posts/13/comments/13?postId=13"),
    }
    assert format_sent(sent) == [
        "sent to target: PUT /posts/41/comments/77?postId=41",
        "  /posts/13 → /posts/41: `13` minted as `41` by exchange 3 at $.id",
        "  /posts/41/comments/13 → /posts/41/comments/77: `13` minted as `77` by exchange 5 at"
        " $.comments[0].id",
        "  query postId: `13` minted as `41` by exchange 3 at $.id",
        "  $.post.id: `13` minted as `41` by exchange 3 at $.id",
        '  header If-Match: `"e1"` minted as `"e9"` by exchange 6 at header ETag',
        "  path segment 2: `5` minted as `9` at header Location",
        "sent to baseline: PUT /posts/13/comments/13?postId=13",
        "  sent as recorded",
    ]


def test_secret_values_are_masked_whatever_the_record_holds() -> None:
    sent = {
        "target": _request(
            "GET",
            "/me?access_token=newTOKEN&page=2",
            _sub("Bearer recTOKEN", "Bearer newTOKEN", "header Authorization", 1, "$.token"),
            _sub("recTOKEN", "newTOKEN", "query access_token", 1, "$.token"),
            _sub("recSID", "newSID", "header Cookie", 1, "header Set-Cookie sid"),
            _sub("recPW", "newPW", "$.auth.password", 1, "$.password"),
            _sub("u-1", "u-2", "$.user", 1, "$.session_token"),
        ),
        "baseline": None,
    }
    lines = format_sent(sent)
    assert lines == [
        "sent to target: GET /me?access_token=***&page=2",
        "  header Authorization: `***` minted as `***` by exchange 1 at $.token",
        "  query access_token: `***` minted as `***` by exchange 1 at $.token",
        "  header Cookie: `***` minted as `***` by exchange 1 at header Set-Cookie sid",
        "  $.auth.password: `***` minted as `***` by exchange 1 at $.password",
        "  $.user: `***` minted as `***` by exchange 1 at $.session_token",
    ]
    assert not any("TOKEN" in line or "SID" in line or "PW" in line for line in lines)


def test_nothing_sent_is_no_lines() -> None:
    assert format_sent(None) == []
    assert format_sent({"target": None, "baseline": None}) == []
