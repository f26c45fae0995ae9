"""Turning two or three responses into a verdict. Does no I/O and imports no other room.

    from differ import Differ, load_rules
    differ = Differ(load_rules(tomllib.load(f)))   # load_rules({}) = the defaults
    verdict = differ.compare(request, expected, actual, baseline, actual_values=...)

Modules: `content` (decoding), `jsonpath` (paths and patterns), `rules` (the rules file),
`placeholders` and `values` (what may differ), `normalize`, `headers` (header policy),
`structure` (tree diff), `serialization` (literal details), `bodies` (text/binary),
`signature`, `routes`/`routekeys` (route keys), `compare` (the Differ).
"""

from differ.compare import Differ
from differ.model import (
    Difference,
    DiffKind,
    HttpRequest,
    HttpResponse,
    Outcome,
    Verdict,
    Where,
)
from differ.routes import is_variable_segment, route_of, template_path
from differ.rules import Rules, RulesError, load_rules
from differ.signature import signature_of

__all__ = [
    "DiffKind",
    "Differ",
    "Difference",
    "HttpRequest",
    "HttpResponse",
    "Outcome",
    "Rules",
    "RulesError",
    "Verdict",
    "Where",
    "is_variable_segment",
    "load_rules",
    "route_of",
    "signature_of",
    "template_path",
]
