"""XML bodies as JSON-like trees, so the structured machinery (placeholders, value maps,
noise per path, `unordered` rules, the tree diff) applies to them unchanged.

The mapping, deterministic and schema-free:

- the document is `{ROOT_TAG: value-of-root}` (`{"EnumerationResults": {...}}`);
- an element without attributes or child elements is its text, exactly (`<Name>a</Name>`
  -> `"a"`; `<Delimiter/>` and `<Delimiter></Delimiter>` -> `""`);
- any other element is a dict: attributes as `@name` (`@xmlns`, `@xmlns:p` for namespace
  declarations; other attribute names as written, `@xsi:type`), text under `#text`
  (its non-blank pieces joined), child elements grouped by local tag: a tag seen once is
  its value, a tag seen more than once a list in document order (`Blob[*]`), and so is
  the only tag of an element named as its list (`<Blobs><Blob>`, `<TagSet><Tag>`): one
  item is a list of one, so a listing of one and of three share their paths;
- tags lose their namespace prefix (`s:Blob` -> `Blob`); the namespace URIs stay as the
  `@xmlns...` data of the element that declares them;
- whitespace-only text between elements is ignored, text is otherwise kept exactly.

So attribute order, quote style, blank text between elements and `<a/>` vs `<a></a>` are
not differences. A tag that occurs once in one body and twice in the other is a value on
one side and a list on the other: `align_repeated` makes the single one a list of one
before two trees are compared, so that is one `added` item, not a `type_changed`.

Parsing is expat's, hardened: a document type declaration (and with it any entity
declaration) makes the body unparsable, so nothing is expanded or fetched; an undefined
entity is an error too. Nesting deeper than MAX_DEPTH (JSON's limit) is refused. Every
failure raises `XmlRefused` or an expat error; the caller keeps such a body as text.
"""

from __future__ import annotations

from typing import NoReturn
from xml.parsers import expat

from parity.differ.charsets import text_encoding
from parity.exceptions import ParityError

MAX_DEPTH = 1024
"""As deep as orjson nests JSON: deeper documents stay text."""


class XmlRefused(ParityError, ValueError):
    """The body is not XML this module will turn into a tree (DTD, too deep, empty)."""


class _Element:
    """An element being built: its attributes, text pieces and children by local tag."""

    __slots__ = ("attributes", "children", "tag", "text")

    def __init__(self, tag: str, attributes: dict[str, str]) -> None:
        self.tag = tag
        self.attributes = attributes
        self.text: list[str] = []
        self.children: dict[str, list[object]] = {}

    def value(self) -> object:
        """The element's JSON-like value (see the module docstring)."""
        if not self.attributes and not self.children:
            return "".join(self.text)
        out: dict[str, object] = {f"@{name}": value for name, value in self.attributes.items()}
        pieces = [piece for piece in self.text if piece.strip()]
        if pieces:
            out["#text"] = "".join(pieces)
        for tag, values in self.children.items():
            single = len(values) == 1 and not _holds_items(self.tag, tag, len(self.children))
            out[tag] = values[0] if single else values
        return out


def _holds_items(parent: str, tag: str, tags: int) -> bool:
    """True if `parent` is a list of `tag` items by its name, so that one item is a list
    of one as well: `<Blobs><Blob>`, `<Buckets><Bucket>`, `<Entries><Entry>`, `<TagSet><Tag>`,
    `<ItemList><Item>`. Then a listing of one and a listing of three have the same paths
    (`Blobs.Blob[*].Name`) in every exchange, and one root cause is one finding."""
    if tags != 1:
        return False
    p, t = parent.lower(), tag.lower()
    if p in (t + "s", t + "es", t[:-1] + "ies" if t.endswith("y") else ""):
        return True
    return p in (t + "set", t + "list", t + "array", t + "collection")


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _known(charset: str | None) -> str | None:
    """`charset` if it names a character set (`differ.charsets`), else None."""
    return charset if text_encoding(charset) is not None else None


def _refuse_dtd(*_args: object) -> NoReturn:
    raise XmlRefused("document type declarations are not read")


def parse_xml(data: bytes, charset: str | None = None) -> dict[str, object]:
    """`data` as `{ROOT_TAG: value}`. `charset` (the Content-Type parameter) overrides the
    document's own declaration (an unknown one is left out, as text bodies do). Raises
    XmlRefused or `expat.ExpatError` (a ValueError)."""
    parser = expat.ParserCreate(_known(charset))
    parser.buffer_text = True
    parser.ordered_attributes = False
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    stack: list[_Element] = []
    root: list[_Element] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise XmlRefused(f"nested deeper than {MAX_DEPTH}")
        stack.append(_Element(_local(name), attributes))

    def end(_name: str) -> None:
        element = stack.pop()
        if stack:
            stack[-1].children.setdefault(element.tag, []).append(element.value())
        else:
            root.append(element)

    def text(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.Parse(data, True)
    if not root:
        raise XmlRefused("no root element")
    return {root[0].tag: root[0].value()}


def align_repeated(expected: object, actual: object) -> tuple[object, object]:
    """Two XML trees where a tag that occurs once on one side (a single value) and more
    than once on the other (a list) is a list on both: a listing of one item against a
    listing of two is one `added` item, not a `type_changed` of the whole listing. Lists
    are aligned item by item, by index. Returns new trees; the inputs are not changed."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        e_out, a_out = dict(expected), dict(actual)
        for key in expected.keys() & actual.keys():
            e_out[key], a_out[key] = align_repeated(*_as_lists(expected[key], actual[key]))
        return e_out, a_out
    if isinstance(expected, list) and isinstance(actual, list):
        pairs = [align_repeated(e, a) for e, a in zip(expected, actual, strict=False)]
        shared = len(pairs)
        return (
            [e for e, _ in pairs] + expected[shared:],
            [a for _, a in pairs] + actual[shared:],
        )
    return expected, actual


def _as_lists(expected: object, actual: object) -> tuple[object, object]:
    if isinstance(expected, list) and not isinstance(actual, list):
        return expected, [actual]
    if isinstance(actual, list) and not isinstance(expected, list):
        return [expected], actual
    return expected, actual
