"""Turning two or three responses into a verdict. Does no I/O and imports no other room.

    from parity.differ import Differ, load_rules
    differ = Differ(load_rules(tomllib.load(f)))   # load_rules({}) = the defaults
    verdict = differ.compare(request, expected, actual, baselines=[...], actual_values=...)

Modules: `content` (decoding), `jsonpath` (paths and patterns), `rules` (the rules file),
`equivalences` (profiles), `placeholders` and `values` (what may differ), `normalize`,
`headers` (header policy), `derived` (headers that follow from the body), `structure`
(tree diff), `serialization` (wire-only differences: escapes, number spellings), `bodies` (text/binary), `errors` (error parity),
`signature`, `routes`/`routekeys` (route keys, detected ones too), `noise` (learned
noise), `compare` (the Differ).

Readers of stored results (triage's sentences) decode bodies, look up paths and compare
values as the differ does through the names below (`decode_body`, `body_tree`, `get_at`,
`canonical`, `identity_key`, `json_type`, ...), not through its modules.
"""

from parity.differ.charsets import printable
from parity.differ.compare import Differ
from parity.differ.content import Body, decode_body
from parity.differ.errors import message_of
from parity.differ.jsonpath import Part, PathSyntaxError, get_at, parse_concrete
from parity.differ.model import (
    Difference,
    DiffKind,
    HttpRequest,
    HttpResponse,
    Outcome,
    Verdict,
    Where,
    json_type,
)
from parity.differ.noise import (
    LearnedNoise,
    NoiseKey,
    NoiseObservations,
    NoisePolicy,
    NoiseStats,
    noise_key,
)
from parity.differ.normalize import body_tree
from parity.differ.placeholders import substitute_value
from parity.differ.routekeys import detect_route_keys
from parity.differ.routes import is_variable_segment, route_of, template_path
from parity.differ.rules import RouteRule, Rules, RulesError, load_rules
from parity.differ.signature import signature_of
from parity.differ.structure import PREVIEW_CHARS, canonical, identity_key

__all__ = [
    "PREVIEW_CHARS",
    "Body",
    "DiffKind",
    "Differ",
    "Difference",
    "HttpRequest",
    "HttpResponse",
    "LearnedNoise",
    "NoiseKey",
    "NoiseObservations",
    "NoisePolicy",
    "NoiseStats",
    "Outcome",
    "Part",
    "PathSyntaxError",
    "RouteRule",
    "Rules",
    "RulesError",
    "Verdict",
    "Where",
    "body_tree",
    "canonical",
    "decode_body",
    "detect_route_keys",
    "get_at",
    "identity_key",
    "is_variable_segment",
    "json_type",
    "load_rules",
    "message_of",
    "noise_key",
    "parse_concrete",
    "printable",
    "route_of",
    "signature_of",
    "substitute_value",
    "template_path",
]
