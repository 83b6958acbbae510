"""The vendors' published contracts, checked on every request a provider client sends and every
request a fake vendor receives (issue 22).

Each vendor's own material is kept in ``schemas/<vendor>/`` where its licence allows (schemas/README.md
says where each file comes from and under which licence); where it does not, the file there is our own
subset written from the vendor's documentation, with the source cited inside it.

- Xero: the Accounting and Identity OpenAPI 3.0 documents (XeroAPI/Xero-OpenAPI, MIT), checked with
  openapi-core: path, query, headers (``If-Modified-Since`` must be an RFC 3339 date-time) and body.
- NetSuite: our OpenAPI 3.0 subset of the REST record and SuiteQL services, checked the same way.
- QuickBooks Online: the V3 entity XSDs (intuit/QuickBooks-V3-Java-SDK, Apache-2.0). The API speaks
  JSON with the same entity model, so a JSON body is written as the XML the XSD describes (children in
  the XSD's order, ``value`` as the element text of a reference, the other keys of a simple-content
  element as attributes) and validated with lxml.
- Sage Intacct: the XML API 3.0 schema (intacct/intacct_dtd ``v3.0/api.xsd``, Apache-2.0) for the
  envelope and functions, plus our subset for the GLBATCH object inside ``create`` (which api.xsd leaves
  open, ``xs:any``), written from intacct-sdk-php's JournalEntryCreate/JournalEntryLineCreate.
- QuickBooks Desktop: our qbXML 13.0 subset XSD for the requests closebooks queues, and our Web
  Connector SOAP subset XSD for the messages both sides exchange (Intuit's own files carry licences
  that do not allow copying).

A request that does not match raises ``ContractViolation`` and is recorded in ``VIOLATIONS``; the test
suite fails any test during which one was recorded (tests/conftest.py), so a malformed request fails
loudly wherever it is made. Schemas are loaded once per process and their compiled validators cached.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import warnings
from decimal import Decimal
from functools import cache
from pathlib import Path

from lxml import etree

SCHEMAS = Path(__file__).resolve().parent / "schemas"
XS = "{http://www.w3.org/2001/XMLSchema}"
QBO_NS = "http://schema.intuit.com/finance/v3"

# Every problem found, in this process, in the order found: the test suite reads it.
VIOLATIONS: list[str] = []
_LOCK = threading.Lock()


class ContractViolation(AssertionError):
    """A request (or answer) that the vendor's published contract does not allow."""


def _parser() -> etree.XMLParser:
    # Vendor schemas and the documents checked against them: no entities, no DTD, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def record(vendor: str, what: str, problems: list[str]) -> None:
    """Record and raise: ``problems`` found in ``what`` sent to ``vendor``."""
    message = f"{vendor} contract: {what} does not match the published schema: " + "; ".join(problems[:5])
    with _LOCK:
        VIOLATIONS.append(message)
    raise ContractViolation(message)


_ON_PURPOSE = threading.local()


def sending_on_purpose() -> bool:
    """True inside ``expect_violations`` in this thread: a client-side check lets the request go, so
    that the fake vendor's own check can be seen refusing it."""
    return getattr(_ON_PURPOSE, "active", False)


@contextlib.contextmanager
def expect_violations():
    """For tests that send a malformed request on purpose: the violations recorded inside are taken
    out of ``VIOLATIONS`` and handed to the test (a list filled when the block ends)."""
    with _LOCK:
        start = len(VIOLATIONS)
    found: list[str] = []
    _ON_PURPOSE.active = True
    try:
        yield found
    finally:
        _ON_PURPOSE.active = False
        with _LOCK:
            found.extend(VIOLATIONS[start:])
            del VIOLATIONS[start:]


# ---------------------------------------------------------------- OpenAPI (Xero, NetSuite)


@cache
def _openapi(name: str):
    import yaml
    from openapi_core import Config, OpenAPI

    with open(SCHEMAS / name, "rb") as handle:
        spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader
    # The documents themselves are the vendors'; validating them (seconds for Xero's) is not our job.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


class _OpenAPIRequest:
    """The request shape openapi-core reads (openapi_core.protocols.Request)."""

    def __init__(self, method: str, host_url: str, path: str, query: dict, headers: dict, body: bytes | None):
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.method = method.lower()
        self.host_url = host_url
        self.path = path
        self.body = body or None
        lowered = {k.lower(): v for k, v in headers.items()}
        self.content_type = lowered.get("content-type", "application/octet-stream") if body else "application/octet-stream"
        self.parameters = RequestParameters(query=ImmutableMultiDict(query), header=Headers(headers), cookie={})


def _openapi_problems(exc: Exception) -> list[str]:
    cause = exc.__cause__
    errors = getattr(cause, "schema_errors", None) or []
    details = [getattr(e, "message", str(e)).split("\n")[0] for e in errors]
    return [str(exc).split("\n")[0][:300], *details[:4]]


def check_openapi(vendor: str, document: str, server: str, method: str, path: str, query: dict, headers: dict, body) -> None:
    """Validate one HTTP request against an OpenAPI 3.0 document (its server URL's host and path)."""
    from openapi_core.exceptions import OpenAPIError

    api = _openapi(document)
    request = _OpenAPIRequest(method, server, path, query, headers, body if isinstance(body, bytes) else None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unsupported scheme type": OAuth2 security is not checked here
            api.validate_request(request)
    except OpenAPIError as exc:
        record(vendor, f"{method} {path}", _openapi_problems(exc))


# ---------------------------------------------------------------- XSD (lxml)


@cache
def xml_schema(relative: str) -> etree.XMLSchema:
    """A compiled XSD (with the files it includes, beside it)."""
    path = SCHEMAS / relative
    document = etree.parse(str(path), _parser())
    if relative == "intacct/intacct_api_v3.xsd":
        _relax_intacct(document)
    return etree.XMLSchema(document)


def _relax_intacct(document) -> None:
    """libxml2 refuses one content model of Intacct's api.xsd as non-deterministic (``arguments``: a
    choice between an optional element and an unbounded ``xs:any``), so the schema would not load.
    That element belongs to report functions closebooks never calls; its content is opened to
    ``xs:any`` in memory, the file stays as published."""
    for element in document.getroot().iterfind(f"{XS}element[@name='arguments']"):
        complex_type = element.find(f"{XS}complexType")
        for child in list(complex_type):
            complex_type.remove(child)
        sequence = etree.SubElement(complex_type, f"{XS}sequence")
        etree.SubElement(sequence, f"{XS}any", processContents="skip", minOccurs="0", maxOccurs="unbounded")


def parse_xml(body: bytes | str) -> etree._Element:
    data = body.encode() if isinstance(body, str) else body
    return etree.fromstring(data, _parser())


def validate_element(vendor: str, what: str, schema: str, element) -> None:
    compiled = xml_schema(schema)
    if not compiled.validate(element):
        record(vendor, what, [f"line {e.line}: {e.message}" for e in compiled.error_log])


def check_xml(vendor: str, what: str, schema: str, body: bytes | str) -> etree._Element:
    try:
        element = parse_xml(body)
    except etree.XMLSyntaxError as exc:
        record(vendor, what, [f"not well-formed XML: {exc}"])
    validate_element(vendor, what, schema, element)
    return element


# ---------------------------------------------------------------- QuickBooks Online (JSON over the XSD)


class _XsdModel:
    """The order of child elements, the attributes and the simple-content types of Intuit's V3 XSDs,
    read from the files themselves: enough to write a JSON entity as the XML those files describe."""

    FILES = ("IntuitBaseTypes.xsd", "IntuitNamesTypes.xsd", "Finance.xsd", "Report.xsd", "IntuitRestServiceDef.xsd")

    def __init__(self):
        self.types: dict[str, dict] = {}
        self.elements: dict[str, str] = {}  # global element -> its type
        self.substitutes: dict[str, list[str]] = {}  # head element -> members
        for name in self.FILES:
            root = etree.parse(str(SCHEMAS / "qbo" / name), _parser()).getroot()
            for node in root:
                if node.tag == f"{XS}complexType" and node.get("name"):
                    self.types[node.get("name")] = self._complex(node)
                elif node.tag == f"{XS}element" and node.get("name"):
                    self.elements[node.get("name")] = node.get("type") or ""
                    if node.get("substitutionGroup"):
                        self.substitutes.setdefault(node.get("substitutionGroup"), []).append(node.get("name"))

    def _complex(self, node) -> dict:
        info = {"base": None, "children": [], "attributes": set(), "simple": False}
        for child in node.iter():
            if child.tag in (f"{XS}extension", f"{XS}restriction") and child.getparent().tag in (
                f"{XS}complexContent",
                f"{XS}simpleContent",
            ):
                info["base"] = child.get("base")
                info["simple"] = child.getparent().tag == f"{XS}simpleContent"
            elif child.tag == f"{XS}element" and child is not node:
                if child.get("name"):
                    info["children"].append((child.get("name"), child.get("type") or ""))
                elif child.get("ref"):
                    info["children"].append((child.get("ref"), None))
            elif child.tag == f"{XS}attribute" and child.get("name"):
                info["attributes"].add(child.get("name"))
        return info

    def layout(self, type_name: str) -> tuple[list[tuple[str, str]], set[str], bool]:
        """(children in order, base type's first; attribute names; simple content?)"""
        children, attributes, simple, chain = [], set(), False, []
        name = type_name
        while name and name in self.types and name not in chain:
            chain.append(name)
            name = self.types[name]["base"]
        for name in reversed(chain):
            info = self.types[name]
            for child_name, child_type in info["children"]:
                if child_type is None:  # a ref: the element itself, or its substitution group's members
                    members = self.substitutes.get(child_name, [])
                    children.extend((m, self.elements.get(m, "")) for m in members)
                    children.append((child_name, self.elements.get(child_name, "")))
                else:
                    children.append((child_name, child_type))
            attributes |= info["attributes"]
            simple = simple or info["simple"]
        return children, attributes, simple


@cache
def _qbo_model() -> _XsdModel:
    return _XsdModel()


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def qbo_json_to_xml(root: str, body) -> etree._Element:
    """A QuickBooks Online JSON body as the XML document the V3 XSD describes (root element ``root``)."""
    model = _qbo_model()

    def build(tag: str, type_name: str, value) -> etree._Element:
        element = etree.Element(f"{{{QBO_NS}}}{tag}")
        if not isinstance(value, dict):
            element.text = _scalar(value)
            return element
        children, attributes, simple = model.layout(type_name)
        order = {name: i for i, (name, _) in enumerate(children)}
        types = dict(children)
        for key, item in value.items():
            if key in attributes and not isinstance(item, (dict, list)):
                element.set(key, _scalar(item))
        if simple and "value" in value:
            element.text = _scalar(value["value"])
        rest = [k for k in value if k not in attributes and not (simple and k == "value")]
        # Known children in the XSD's order; anything the XSD does not know goes last, and fails.
        for key in sorted(rest, key=lambda k: order.get(k, len(order))):
            items = value[key] if isinstance(value[key], list) else [value[key]]
            for item in items:
                element.append(build(key, types.get(key, ""), item))
        return element

    return build(root, model.elements.get(root, root), body)


def check_qbo(method: str, resource: str, query: dict, body: bytes | None) -> None:
    """POST /v3/company/<realm>/<resource>: journalentry (create, update, delete) and batch bodies."""
    if method != "POST" or resource not in ("journalentry", "batch"):
        return
    try:
        data = json.loads(body or b"null", parse_float=Decimal)
    except ValueError as exc:
        record("QuickBooks Online", f"POST /{resource}", [f"not JSON: {exc}"])
    if not isinstance(data, dict):
        record("QuickBooks Online", f"POST /{resource}", ["the body is not a JSON object"])
    if resource == "batch":
        document = qbo_json_to_xml("IntuitBatchRequest", data)
    else:
        document = qbo_json_to_xml("JournalEntry", data)
    validate_element("QuickBooks Online", f"POST /{resource}", "qbo/IntuitRestServiceDef.xsd", document)
    _check_requestid(query.get("requestid", ""), 36 if resource == "batch" else 50)


def _check_requestid(value: str, limit: int) -> None:
    # Intuit "Request ID update": unique per company, at most 50 characters (36 for batch).
    if value and len(value) > limit:
        record("QuickBooks Online", "requestid", [f"{len(value)} characters, at most {limit} allowed"])


# ---------------------------------------------------------------- per vendor, by request


QBO_PATH = re.compile(r"^/v3/company/[^/]+/(?P<resource>[A-Za-z]+)$")


def check_http(method: str, url_path: str, query: dict, headers: dict, body: bytes | None) -> None:
    """Check one HTTP request a provider client sends, recognised by its path (the fakes share one
    host in tests, the vendors' own hosts differ). Token endpoints and the authorize screen are
    OAuth 2.0 (RFC 6749) forms, not in the vendors' schema files: not checked here."""
    if match := QBO_PATH.match(url_path):
        check_qbo(method, match.group("resource"), query, body)
    elif "/api.xro/2.0/" in url_path:
        check_openapi(
            "Xero",
            "xero/xero_accounting.yaml",
            "https://api.xero.com",
            method,
            "/api.xro/2.0/" + url_path.split("/api.xro/2.0/", 1)[1],
            query,
            headers,
            body,
        )
    elif url_path.rstrip("/").lower() == "/connections":
        check_openapi("Xero", "xero/xero-identity.yaml", "https://api.xero.com", method, "/Connections", query, headers, body)
    elif url_path.endswith("/ia/xml/xmlgw.phtml"):
        check_intacct(body or b"")
    elif url_path.startswith("/services/rest/") and "/auth/oauth2/" not in url_path:
        check_openapi(
            "NetSuite",
            "netsuite/netsuite-rest-subset.yaml",
            "https://account.suitetalk.api.netsuite.com",
            method,
            url_path,
            query,
            headers,
            body,
        )
    elif url_path == "/app/site/hosting/restlet.nl":
        check_openapi(
            "NetSuite",
            "netsuite/netsuite-rest-subset.yaml",
            "https://account.restlets.api.netsuite.com",
            method,
            url_path,
            query,
            headers,
            body,
        )


# ---------------------------------------------------------------- Sage Intacct


def check_intacct(body: bytes) -> etree._Element:
    """The envelope against api.xsd; each GLBATCH inside ``create`` against our GLBATCH subset."""
    root = check_xml("Sage Intacct", "the request", "intacct/intacct_api_v3.xsd", body)
    for batch in root.iterfind("operation/content/function/create/GLBATCH"):
        validate_element("Sage Intacct", "create GLBATCH", "intacct/glbatch-subset.xsd", batch)
    for call in root.iterfind("operation/content/function/update"):
        if call.find("GLBATCH") is not None:
            # intacct-sdk-php offers JournalEntryCreate and JournalEntryDelete for GLBATCH, no update; the
            # published schema leaves <update> open (xs:any), so it neither offers nor describes one.
            record("Sage Intacct", "update GLBATCH", ["journal entries are deleted and created again, never updated"])
    return root


# ---------------------------------------------------------------- QuickBooks Desktop


def check_qbxml(text: str | bytes, what: str = "qbXML request") -> etree._Element:
    """A qbXML 13.0 request (the ``<?qbxml version?>`` processing instruction is required before the root)."""
    data = text.encode() if isinstance(text, str) else text
    if b"<?qbxml version=" not in data[:200]:
        record("QuickBooks Desktop", what, ['the <?qbxml version="13.0"?> processing instruction is missing'])
    return check_xml("QuickBooks Desktop", what, "qbd/qbxml13-subset.xsd", data)


def check_soap(body: bytes | str, what: str) -> etree._Element:
    """A Web Connector SOAP 1.1 envelope: its body's call or answer against our subset of the WSDL's types."""
    root = check_xml("QuickBooks Web Connector", what, "qbd/qbwebconnector-subset.xsd", body)
    return root


__all__ = [
    "VIOLATIONS",
    "ContractViolation",
    "check_http",
    "check_intacct",
    "check_openapi",
    "check_qbo",
    "check_qbxml",
    "check_soap",
    "expect_violations",
    "qbo_json_to_xml",
    "xml_schema",
]
