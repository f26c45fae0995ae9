"""Error parity: both sides reject, differently -> one `error_changed`; one accepts and
the other rejects -> a status `changed` plus the body, as before."""

from __future__ import annotations

from parity.differ import DiffKind, Outcome, Where
from parity.differ.errors import MAX_DETAILS, message_of
from tests.test_differ_support import compare, kinds, response

NOT_FOUND = {"error": {"code": "entry_not_found", "message": "No entry 1042"}}
VALIDATION = {
    "error": {
        "code": "validation_error",
        "message": "Invalid request",
        "fields": {"title": "must be a non-empty string"},
    }
}
PROBLEM = {
    "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    "title": "One or more validation errors occurred.",
    "status": 400,
    "errors": {"Title": ["The Title field must be a non-empty string."]},
}


def test_another_error_status_is_one_error_changed() -> None:
    verdict = compare(response(NOT_FOUND, status=404), response(NOT_FOUND, status=400))
    (difference,) = verdict.differences
    assert (difference.where, difference.path, difference.kind) == (
        Where.STATUS,
        "",
        DiffKind.ERROR_CHANGED,
    )
    assert difference.expected == {
        "status": 404,
        "content_type": "application/json; charset=utf-8",
        "message": "No entry 1042",
        "details": [{"where": "status", "path": "", "kind": "changed", "value": 404}],
    }
    assert difference.actual["status"] == 400 and difference.actual["message"] == "No entry 1042"
    assert verdict.outcome is Outcome.MISMATCHED and verdict.signature


def test_a_json_error_vs_a_problem_document_is_one_error_changed_with_details() -> None:
    verdict = compare(
        response(VALIDATION, status=422),
        response(PROBLEM, status=400, content_type="application/problem+json"),
    )
    (difference,) = verdict.differences
    assert difference.kind is DiffKind.ERROR_CHANGED
    assert difference.expected["message"] == "Invalid request"
    assert difference.actual["message"] == "One or more validation errors occurred."
    assert difference.actual["content_type"] == "application/problem+json"
    shown = {(d["where"], d["path"], d["kind"]) for d in difference.actual["details"]}
    assert ("status", "", "changed") in shown
    assert ("header", "content-type", "changed") in shown
    assert ("body", "$.title", "added") in shown
    assert [d["value"] for d in difference.expected["details"] if d["where"] == "status"] == [422]


def test_an_html_error_page_vs_json() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    verdict = compare(
        response({"error": "voice unavailable"}, status=502),
        response(page, status=502, content_type="text/html"),
    )
    (difference,) = verdict.differences
    assert difference.kind is DiffKind.ERROR_CHANGED
    assert (difference.expected["message"], difference.actual["message"]) == (
        "voice unavailable",
        "502 Bad Gateway",
    )


def test_equal_errors_match_and_noise_is_taken_out_first() -> None:
    assert compare(response(NOT_FOUND, status=404), response(NOT_FOUND, status=404)).outcome is (
        Outcome.MATCHED
    )
    verdict = compare(
        response({"error": "at 1"}, status=500),
        response({"error": "at 2"}, status=500),
        response({"error": "at 3"}, status=500),
    )
    assert verdict.outcome is Outcome.MATCHED and [d.path for d in verdict.noise] == ["$.error"]


def test_one_accepting_and_one_rejecting_stays_a_status_change_with_the_body() -> None:
    verdict = compare(
        response({"jsonrpc": "2.0", "id": 5, "error": {"code": -32001}}),
        response({"error": "voice unavailable"}, status=502),
    )
    assert ("status", "", "changed") in kinds(verdict)
    assert ("body", "$.jsonrpc", "removed") in kinds(verdict)
    assert all(d.kind is not DiffKind.ERROR_CHANGED for d in verdict.differences)


def test_details_are_bounded() -> None:
    expected = response({f"k{n}": n for n in range(40)}, status=400)
    actual = response({f"k{n}": n + 1 for n in range(40)}, status=400)
    (difference,) = compare(expected, actual).differences
    assert len(difference.expected["details"]) == MAX_DETAILS
    assert difference.expected["more"] == 40 - MAX_DETAILS


def test_error_messages_in_common_shapes() -> None:
    assert message_of({"error": {"message": "No entry 5"}}, "application/json") == "No entry 5"
    assert message_of({"error": "denied"}, "application/json") == "denied"
    assert message_of({"message": "Not Found"}, "application/json") == "Not Found"
    assert message_of({"title": "Bad", "detail": "title missing"}, "application/problem+json") == (
        "Bad: title missing"
    )
    assert message_of("<title> Oops </title>", "text/html") == "Oops"
    assert message_of("plain failure\n", "text/plain") == "plain failure"
    assert message_of({"data": 1}, "application/json") is None
    assert message_of(None, "") is None
