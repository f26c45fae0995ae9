"""What the differ takes and what it gives back. Plain data: the replayer builds the
inputs from sessions and target answers; triage stores the outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The recorded request, as far as the differ needs it (route keys, rule matching)."""

    method: str
    path: str
    headers: Headers = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One answer: the recording's (expected), the candidate's (actual) or the baseline's."""

    status: int
    headers: Headers
    body: bytes
    origin: str | None = None
    """`scheme://host:port` of whoever answered; the origins of the recording, the target
    and the baseline are equivalent wherever they appear (Location, Link, bodies)."""
    http_version: str | None = None
    """`HTTP/1.1`, `HTTP/2`, ... if known. HTTP/2 and HTTP/3 send header names in lower
    case, so the case of header names is compared only when neither side used them."""


class DiffKind(StrEnum):
    CHANGED = "changed"
    TYPE_CHANGED = "type_changed"
    ADDED = "added"
    REMOVED = "removed"
    ORDER_CHANGED = "order_changed"
    ERROR_CHANGED = "error_changed"
    """Both sides are errors (status >= 400) but not the same error: one difference at the
    status whose expected/actual summarize each side (see `differ.errors`)."""


_JSON_TYPES = (
    (bool, "boolean"),
    (int, "int"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def json_type(value: Any) -> str:
    """JSON type name of a decoded value (`null`, `boolean`, `int`, `number`, `string`,
    `array`, `object`; other values by their Python type): what a `type_changed` is
    about, in finding classes (`int → string`) and in sentences."""
    if value is None:
        return "null"
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


class Where(StrEnum):
    STATUS = "status"
    HEADER = "header"
    BODY = "body"


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference between expected and actual.

    `path` is `$.a.b[3]` for bodies (`$` for a whole non-JSON body), the lower-case header
    name for headers, and empty for the status.
    """

    where: Where
    path: str
    kind: DiffKind
    expected: Any = None
    actual: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where.value,
            "path": self.path,
            "kind": self.kind.value,
            "expected": self.expected,
            "actual": self.actual,
        }


class Outcome(StrEnum):
    MATCHED = "matched"
    MISMATCHED = "mismatched"
    ERROR = "error"
    """The target did not answer (dead, slow, reset); `Verdict.error` says why."""


@dataclass(slots=True)
class Verdict:
    outcome: Outcome
    route: str
    differences: list[Difference] = field(default_factory=list)
    noise: list[Difference] = field(default_factory=list)
    """Differences suppressed because a baseline differed from the recording there too
    (or, after `Differ.settle`, because learned noise explains them)."""
    signature: str | None = None
    """Stable id of the mismatch's shape: route + sorted set of (kind, templated path)."""
    rules_applied: list[str] = field(default_factory=list)
    error: str | None = None
    suspects: list[Difference] = field(default_factory=list)
    """Differences at spots where learned noise says the reference itself disagrees
    sometimes. Not counted in `outcome` until `Differ.settle` (at the end of a run) moves
    each to `differences` (the candidate differs there clearly more often) or to `noise`."""
    baseline_differences: list[Difference] = field(default_factory=list)
    """What differed between the recording and each baseline, and between baselines,
    deduplicated by (where, templated path, kind): the noise observations of this
    exchange, for the learned-noise table. Empty without a baseline."""
    serialization: list[Difference] = field(default_factory=list)
    """Differences only on the wire (header-name case, JSON escape or number spelling,
    header order): the values are equal by the protocol. Shown and counted apart, not in
    `outcome`, unless the rules put them in `differences` (`[serialization] gate`)."""
    error_sides: tuple[dict[str, Any], dict[str, Any]] | None = None
    """When both expected and actual are errors (status >= 400): a summary of each side
    (status, content type, message), from which `error_changed` is built; `settle` uses
    it when suspects turn out to be real."""
