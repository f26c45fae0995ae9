"""What the replayer hands to triage: one `RunInfo` per run, one `ExchangeResult` per
replayed exchange. Plain data; the verdict types come from `differ.model`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parity.differ.model import Headers, HttpResponse, Verdict


@dataclass(slots=True, kw_only=True)
class RunInfo:
    """One replay run: where it went and what it replayed."""

    target: str
    """The candidate's base URL, e.g. `http://127.0.0.1:5001`."""
    sessions: list[str]
    """The ids of the replayed sessions."""
    started_at: float
    """Unix time."""
    baseline: str | None = None
    """The live Python backend used to learn noise, if any."""
    label: str = ""
    rules_path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """Anything else worth keeping with the run (concurrency, pacing, versions); JSON."""


@dataclass(slots=True, kw_only=True)
class ExchangeResult:
    """One replayed exchange and its verdict.

    `url` (path and query) must come already masked (`sessions.secrets.mask_path`):
    triage stores and prints it as given. Request and response headers are masked here.
    """

    session: str
    seq: int
    method: str
    url: str
    route: str
    verdict: Verdict
    request_headers: Headers = field(default_factory=list)
    request_body: bytes = b""
    expected: HttpResponse | None = None
    """The recorded response (None if the recording holds an error)."""
    actual: HttpResponse | None = None
    """The candidate's response (None if it did not answer: `verdict.error` says why)."""
    baseline_status: int | None = None
    expected_ms: float | None = None
    """How long the recorded response took."""
    actual_ms: float | None = None
    """How long the candidate took."""
    expected_rendered: str | None = None
    """The normalized expected body as text, from the differ, for `parity show`'s diff."""
    actual_rendered: str | None = None
    sent: dict[str, Any] | None = None
    """The request as it was sent to each target after correlation, for `parity show`:
    `{"target": {"method", "url", "headers", "body_preview", "body_bytes",
    "substitutions": [{"recorded", "sent", "at", "minted_by": {"session", "seq", "path"}}]},
    "baseline": {...} | None}`; None when nothing was substituted and nothing is known."""
    ambiguous_ids: list[str] = field(default_factory=list)
    """Recorded values this request used that the value map could not place: two scopes
    minted the same recorded value and the request's context names neither. An exchange
    with any is stored as depending on an ambiguous id, not counted as a regression."""
