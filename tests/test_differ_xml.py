"""XML bodies are compared as trees: elements, attributes and namespaces at JSON paths."""

from __future__ import annotations

import json

from parity.differ import Differ, Outcome, load_rules
from parity.differ.content import decode_body
from tests.test_differ_support import REQUEST, compare, kinds, response

XML = "application/xml"


def listing(
    *blobs: tuple[str, str, str],
    extra: str = "",
    delimiter: str = "<Delimiter/>",
    service_version: str = "",
) -> bytes:
    """An Azure-Storage-like blob listing of (name, etag, last-modified) items."""
    items = "".join(
        f"<Blob><Name>{name}</Name><Properties>"
        f"<Creation-Time>Sun, 04 Jan 2026 08:15:30 GMT</Creation-Time>"
        f"<Last-Modified>{modified}</Last-Modified><Etag>{etag}</Etag>"
        f"<Content-Length>12</Content-Length>{extra}</Properties></Blob>\n    "
        for name, etag, modified in blobs
    )
    version = f"<DefaultServiceVersion>{service_version}</DefaultServiceVersion>"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1/" '
        'ContainerName="photos">\n'
        f"  <Prefix>img</Prefix>{delimiter}\n"
        f"  <Blobs>\n    {items}</Blobs>\n"
        f"  {version if service_version else ''}<NextMarker/>\n"
        "</EnumerationResults>\n"
    ).encode()


A = ("a.png", "0x8DC1F0A2B3C4D5E", "Sun, 04 Jan 2026 08:15:30 GMT")
B = ("b.png", "0x8DC1F0A2B3C4D6F", "Sun, 04 Jan 2026 08:15:31 GMT")
C = ("c.png", "0x8DC1F0A2B3C4D70", "Sun, 04 Jan 2026 08:15:32 GMT")
BLOBS = "$.EnumerationResults.Blobs.Blob"


def xml(body: bytes, content_type: str = XML) -> object:
    return response(body, content_type=content_type)


def test_an_xml_body_is_a_tree_rooted_at_its_tag() -> None:
    body = decode_body([(b"Content-Type", b"application/xml")], listing(A, B))
    assert body.kind == "xml"
    assert body.value == {
        "EnumerationResults": {
            "@ServiceEndpoint": "http://127.0.0.1:10000/devstoreaccount1/",
            "@ContainerName": "photos",
            "Prefix": "img",
            "Delimiter": "",
            "Blobs": {
                "Blob": [
                    {
                        "Name": name,
                        "Properties": {
                            "Creation-Time": "Sun, 04 Jan 2026 08:15:30 GMT",
                            "Last-Modified": modified,
                            "Etag": etag,
                            "Content-Length": "12",
                        },
                    }
                    for name, etag, modified in (A, B)
                ]
            },
            "NextMarker": "",
        }
    }


def test_xml_media_types_and_sniffing() -> None:
    for content_type in (
        "application/xml",
        "text/xml; charset=utf-8",
        "application/atom+xml",
        "application/vnd.ms-something+xml",
    ):
        assert decode_body([(b"Content-Type", content_type.encode())], b"<a/>").kind == "xml"
    assert decode_body([], b'<?xml version="1.0"?><a>1</a>').value == {"a": "1"}
    assert decode_body([(b"Content-Type", b"text/plain")], b"<?xml version='1.0'?><a/>").kind == (
        "xml"
    )
    # HTML is not XML, even when it happens to be well-formed.
    assert decode_body([(b"Content-Type", b"text/html")], b"<p>hi</p>").kind == "text"
    assert decode_body([], b"<a>no declaration</a>").kind == "text"


def test_the_charset_parameter_is_honoured() -> None:
    body = decode_body(
        [(b"Content-Type", b"text/xml; charset=iso-8859-1")], "<a>café</a>".encode("latin-1")
    )
    assert body.value == {"a": "café"}
    utf16 = "<?xml version='1.0' encoding='utf-16'?><a>ü</a>".encode("utf-16")
    assert decode_body([(b"Content-Type", b"text/xml")], utf16).value == {"a": "ü"}
    unknown = decode_body([(b"Content-Type", b"text/xml; charset=bogus")], b"<a>1</a>")
    assert unknown.value == {"a": "1"}


def test_an_added_element_is_one_added() -> None:
    verdict = compare(xml(listing(A)), xml(listing(A, extra="<Sealed>false</Sealed>")))
    assert kinds(verdict) == {("body", f"{BLOBS}[0].Properties.Sealed", "added")}
    assert verdict.differences[0].actual == "false"


def test_a_removed_element_is_one_removed() -> None:
    verdict = compare(xml(listing(A, B)), xml(listing(A, B, delimiter="")))
    assert kinds(verdict) == {("body", "$.EnumerationResults.Delimiter", "removed")}
    rich = "<Metadata><color>red</color></Metadata>"
    verdict = compare(xml(listing(A, B, extra=rich)), xml(listing(A, B)))
    assert kinds(verdict) == {
        ("body", f"{BLOBS}[0].Properties.Metadata", "removed"),
        ("body", f"{BLOBS}[1].Properties.Metadata", "removed"),
    }


def test_a_changed_value_is_one_changed() -> None:
    verdict = compare(
        xml(listing(A, service_version="2021-08-06")),
        xml(listing(A, service_version="2020-10-02")),
    )
    assert kinds(verdict) == {("body", "$.EnumerationResults.DefaultServiceVersion", "changed")}
    assert (verdict.differences[0].expected, verdict.differences[0].actual) == (
        "2021-08-06",
        "2020-10-02",
    )


def test_items_in_another_order_are_found() -> None:
    verdict = compare(xml(listing(A, B, C)), xml(listing(C, A, B)))
    assert kinds(verdict) == {("body", BLOBS, "order_changed")}
    rules = {"array": [{"path": BLOBS, "unordered": True}]}
    assert compare(xml(listing(A, B, C)), xml(listing(C, A, B)), rules=rules).differences == []


def test_one_item_against_two_is_an_added_item_not_a_type_change() -> None:
    verdict = compare(xml(listing(A)), xml(listing(A, B)))
    assert kinds(verdict) == {("body", f"{BLOBS}[1]", "added")}
    verdict = compare(xml(listing(A, B)), xml(listing(B)))
    assert kinds(verdict) == {("body", f"{BLOBS}[0]", "removed")}
    # Nested lists are aligned too: one <Tag> in an item against two in the same item.
    one = b"<r><i><t>a</t></i><i><t>b</t></i></r>"
    two = b"<r><i><t>a</t></i><i><t>b</t><t>c</t></i></r>"
    assert kinds(compare(xml(one), xml(two))) == {("body", "$.r.i[1].t[1]", "added")}


def test_a_baseline_that_differs_only_in_etags_and_dates_makes_them_noise() -> None:
    fresh = [(name, etag[:-3] + "FFF", "Mon, 05 Jan 2026 10:00:00 GMT") for name, etag, _ in (A, B)]
    candidate = [(name, etag[:-3] + "EEE", modified) for name, etag, modified in fresh]
    verdict = compare(xml(listing(A, B)), xml(listing(*candidate)), xml(listing(*fresh)))
    assert verdict.outcome is Outcome.MATCHED and verdict.differences == []
    assert {d.path for d in verdict.noise} == {
        f"{BLOBS}[0].Properties.Etag",
        f"{BLOBS}[1].Properties.Etag",
    }
    # A real change inside the same noisy listing is still found.
    changed = compare(
        xml(listing(A, B)),
        xml(listing(*candidate, extra="<Sealed>false</Sealed>")),
        xml(listing(*fresh)),
    )
    assert kinds(changed) == {
        ("body", f"{BLOBS}[0].Properties.Sealed", "added"),
        ("body", f"{BLOBS}[1].Properties.Sealed", "added"),
    }


def test_rules_address_xml_paths() -> None:
    rules = {"ignore": [{"paths": [f"{BLOBS}[*].Properties.Etag"]}]}
    candidate = [(name, "0x1", modified) for name, _, modified in (A, B)]
    verdict = compare(xml(listing(A, B)), xml(listing(*candidate)), rules=rules)
    assert verdict.differences == []


def test_serialization_alone_is_no_difference() -> None:
    expected = b"<r a='1' b=\"2\"><x></x>\n  <y>v</y></r>"
    actual = b'<?xml version="1.0"?>\n<r b="2" a="1"><x/><y>v</y></r>'
    verdict = compare(xml(expected), xml(actual))
    assert verdict.outcome is Outcome.MATCHED
    assert verdict.differences == [] and verdict.serialization == []


def test_attributes_are_at_sign_keys() -> None:
    verdict = compare(
        xml(b'<Error Code="BlobNotFound"><Message>gone</Message></Error>'),
        xml(b'<Error Code="ContainerNotFound" Retry="no"><Message>gone</Message></Error>'),
    )
    assert kinds(verdict) == {
        ("body", '$.Error["@Code"]', "changed"),
        ("body", '$.Error["@Retry"]', "added"),
    }


def test_namespaces_are_data_not_part_of_the_tag() -> None:
    s3 = "http://s3.amazonaws.com/doc/2006-03-01/"
    prefixed = f'<s:ListBucketResult xmlns:s="{s3}"><s:Name>b</s:Name></s:ListBucketResult>'
    plain = f'<ListBucketResult xmlns="{s3}"><Name>b</Name></ListBucketResult>'
    assert decode_body([(b"Content-Type", b"application/xml")], prefixed.encode()).value == {
        "ListBucketResult": {"@xmlns:s": s3, "Name": "b"}
    }
    verdict = compare(xml(plain.encode()), xml(plain.replace("2006", "2099").encode()))
    assert kinds(verdict) == {("body", '$.ListBucketResult["@xmlns"]', "changed")}


def test_mixed_text_and_repeated_tags() -> None:
    body = b"<p>Hello <b>big</b> <b>bold</b> world<br/></p>"
    value = decode_body([(b"Content-Type", b"text/xml")], body).value
    assert value == {"p": {"#text": "Hello  world", "b": ["big", "bold"], "br": ""}}


def test_a_doctype_or_entity_body_stays_text() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>'
    )
    external = b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>'
    for body in (laughs, external, b'<!DOCTYPE html><html lang="en"/>'):
        decoded = decode_body([(b"Content-Type", b"application/xml")], body)
        assert decoded.kind == "text" and decoded.value == body.decode()
        assert decoded.notes == ("unparsable:xml:XmlRefused",)
    verdict = compare(xml(laughs), xml(laughs.replace(b"lolz>", b"lulz>")))
    assert kinds(verdict) == {("body", "$", "changed")}


def test_invalid_xml_stays_text() -> None:
    for body in (b"<a><b></a>", b"not xml at all", b"<a>&undefined;</a>", b"<a/><b/>"):
        decoded = decode_body([(b"Content-Type", b"application/xml")], body)
        assert decoded.kind == "text" and decoded.value == body.decode()
        assert decoded.notes == ("unparsable:xml:ExpatError",)
    verdict = compare(xml(b"<a><b></a>"), xml(b"<a><c></a>"))
    assert kinds(verdict) == {("body", "$", "changed")}
    verdict = compare(xml(b"<a><b/></a>"), xml(b"<a><b></a>"))
    assert kinds(verdict) == {("body", "$", "type_changed")}


def test_nesting_deeper_than_json_allows_stays_text() -> None:
    deep = b"<a>" * 1100 + b"x" + b"</a>" * 1100
    assert decode_body([(b"Content-Type", b"application/xml")], deep).kind == "text"


def test_render_shows_the_tree_as_indented_json() -> None:
    rendered = Differ(load_rules({})).render(xml(listing(A)), request=REQUEST)
    tree = json.loads(rendered)
    props = tree["EnumerationResults"]["Blobs"]["Blob"][0]["Properties"]
    assert props["Last-Modified"] == "<http-date>"
    assert props["Etag"] == "0x8DC1F0A2B3C4D5E"
    assert rendered.startswith('{\n  "EnumerationResults": {\n')


def test_a_listing_of_one_has_the_paths_of_a_listing_of_three() -> None:
    from parity.differ.xmltree import parse_xml

    one = parse_xml(b"<R><Blobs><Blob><Name>a</Name></Blob></Blobs></R>")
    three = parse_xml(
        b"<R><Blobs>"
        + b"".join(b"<Blob><Name>%d</Name></Blob>" % n for n in range(3))
        + b"</Blobs></R>"
    )
    assert one == {"R": {"Blobs": {"Blob": [{"Name": "a"}]}}}
    assert isinstance(three["R"]["Blobs"]["Blob"], list)  # type: ignore[index]
    tags = parse_xml(b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>")
    assert tags == {"Tagging": {"TagSet": {"Tag": [{"Key": "k"}]}}}
    # A lone child that is not the element's item stays a value.
    assert parse_xml(b"<R><Properties><Etag>x</Etag></Properties></R>") == {
        "R": {"Properties": {"Etag": "x"}}
    }
