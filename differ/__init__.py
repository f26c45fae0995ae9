"""Turning two or three responses into a verdict. Does no I/O and imports no other room.

    from differ import Differ, load_rules
    differ = Differ(load_rules(tomllib.load(f)))   # load_rules({}) = the defaults
    verdict = differ.compare(request, expected, actual, baselines=[...], actual_values=...)

Modules: `content` (decoding), `jsonpath` (paths and patterns), `rules` (the rules file),
`equivalences` (profiles), `placeholders` and `values` (what may differ), `normalize`,
`headers` (header policy), `derived` (headers that follow from the body), `structure`
(tree diff), `serialization` (wire-only differences: escapes, number spellings), `bodies` (text/binary), `errors` (error parity),
`signature`, `routes`/`routekeys` (route keys, detected ones too), `noise` (learned
noise), `compare` (the Differ).
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
from differ.noise import (
    LearnedNoise,
    NoiseKey,
    NoiseObservations,
    NoisePolicy,
    NoiseStats,
    noise_key,
)
from differ.routekeys import detect_route_keys
from differ.routes import is_variable_segment, route_of, template_path
from differ.rules import RouteRule, Rules, RulesError, load_rules
from differ.signature import signature_of

__all__ = [
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
    "RouteRule",
    "Rules",
    "RulesError",
    "Verdict",
    "Where",
    "detect_route_keys",
    "is_variable_segment",
    "load_rules",
    "noise_key",
    "route_of",
    "signature_of",
    "template_path",
]
