"""Sage Intacct (XML gateway), as documented by Sage (reference: integration-apis.md §3).

Two layers of credentials: the sender id and password of closebooks' Web Services licence
(``ProviderConfig.client_id``/``client_secret``) in every request's ``<control>``, and a Web
Services user of the customer's company (``tenant_id`` = company id, the user id and password kept
encrypted as the connection's refresh token) from which ``getAPISession`` makes a session id (the
access token). Every answer is HTTP 200: the control, authentication and each result status are read.

There is no documented call that returns the books-closed date (see the reference); the provider
reports the entities (locations) and learns a closed period from the "Periods are closed" rejection.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - builds requests only; answers are parsed with defusedxml
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from defusedxml import ElementTree as SafeET

from .base import (
    ClosedDate,
    ClosedPeriodRejected,
    ConnectionBroken,
    EntryRejected,
    InboundLine,
    InboundTransaction,
    Provider,
    ProviderError,
    PushEntry,
    PushOutcome,
    RemoteAccount,
    TokenExpired,
    Tokens,
    UnexpectedResponse,
    vendor_money,
    xml_identifier,
    xml_text,
)
from .http import make_client, raise_for_transport, send

VENDOR = "Sage Intacct"
GATEWAY_PATH = "/ia/xml/xmlgw.phtml"
PAGE = 1000
SESSION_TTL = timedelta(minutes=30)  # Intacct extends the session on each call; refreshed on refusal anyway
BAD_SIGN_IN = {"XL03000006"}
CLOSED_TEXT = "periods are closed"
BATCH_FIELDS = "RECORDNO,BATCHNO,BATCH_DATE,BATCH_TITLE,JOURNAL,REFERENCENO,STATE,WHENMODIFIED"
ENTRY_FIELDS = "RECORDNO,BATCHNO,LINE_NO,ACCOUNTNO,TR_TYPE,TRX_AMOUNT,LOCATION,DESCRIPTION"
BATCHES_PER_QUERY = 100  # GLENTRY lines are read for this many batches per query (then paged with readMore)
ZERO = Decimal("0.00")


def ia_date(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def parse_ia_date(text: str) -> date:
    return datetime.strptime(text.strip(), "%m/%d/%Y").date()  # noqa: DTZ007 - a calendar date


def controlid_for(key: str, local_id: int) -> str:
    """The function controlid of one entry under one request key: stable across retries. With
    ``uniqueid=true`` the gateway refuses a function whose controlid it already executed and completed
    (Intacct "XML Requests", uniqueid: "a request cannot be repeated") instead of repeating it, so a
    resend after a lost answer never makes a second batch; the refusal sends us to REFERENCENO."""
    return f"je-{local_id}-{key}"[:256]


def reference_for(local_id: int) -> str:
    """The REFERENCENO closebooks gives the batch of local entry ``local_id``: how it is found again."""
    return f"JE-{local_id}"


# Intacct's documented hosts ("Web Services overview": api.intacct.com; getAPISession answers the
# endpoint of the company's own data centre, always an intacct.com host). Any other endpoint in an
# answer is not followed: the session id would be sent to it.
TRUSTED_ENDPOINT = re.compile(r"^https://([a-z0-9-]+\.)*intacct\.com(:443)?/", re.IGNORECASE)
# Intacct's system exchange rate type ("Exchange rate types" in Sage Intacct help): sent with CURRENCY
# for an entry in a currency other than the entity's base currency, as JournalEntryLineCreate does.
DEFAULT_RATE_TYPE = "Intacct Daily Rate"


def credentials_secret(user_id: str, password: str) -> str:
    return json.dumps({"userid": user_id, "password": password})


def _errors(node: ET.Element | None) -> tuple[str, str]:
    """(first error number, all descriptions joined) of an ``<errormessage>``."""
    if node is None:
        return "", ""
    numbers, texts = [], []
    for error in node.iter("error"):
        numbers.append((error.findtext("errorno") or "").strip())
        for tag in ("description", "description2", "correction"):
            text = (error.findtext(tag) or "").strip()
            if text:
                texts.append(text)
    return (numbers[0] if numbers else ""), " ".join(texts)


class SageIntacct(Provider):
    code = "intacct"
    name = VENDOR
    batch_size = 50  # functions per request; each has its own controlid and result
    quotas = ()  # billed per transaction, not blocked (performance tiers)
    uses_oauth = False
    multi_entity = True

    def __init__(self, config, *, tenant_id="", tokens=None):
        super().__init__(config, tenant_id=tenant_id, tokens=tokens)
        self.client = make_client()
        self.endpoint = config.api_base_url.rstrip("/") + GATEWAY_PATH

    # ---- credentials (no OAuth: sender + user credentials)

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        raise ProviderError("Sage Intacct connects with a Web Services user, not through an authorize screen.")

    def exchange_code(self, *, code: str, redirect_uri: str) -> Tokens:
        raise ProviderError("Sage Intacct connects with a Web Services user, not through an authorize screen.")

    def tenant_from_callback(self, params: dict[str, str]) -> tuple[str, str]:
        raise ProviderError("Sage Intacct connects with a Web Services user, not through an authorize screen.")

    def sign_in(self, *, company_id: str, user_id: str, password: str) -> Tokens:
        """``getAPISession`` with the user's login (alone in its request, as documented)."""
        self.tenant_id = xml_identifier(company_id, "company id")
        secret = credentials_secret(xml_identifier(user_id, "user id"), xml_identifier(password, "password"))
        return self._session(secret)

    def refresh(self) -> Tokens:
        if self.tokens is None or not self.tokens.refresh_token:
            raise ConnectionBroken("No Sage Intacct user is stored on this connection: connect again.")
        return self._session(self.tokens.refresh_token)

    def _session(self, secret: str) -> Tokens:
        try:
            login = json.loads(secret)
        except (TypeError, ValueError):
            raise ConnectionBroken("The stored Sage Intacct user is unreadable: connect again.") from None
        auth = ET.Element("login")
        ET.SubElement(auth, "userid").text = login["userid"]
        ET.SubElement(auth, "companyid").text = self.tenant_id
        ET.SubElement(auth, "password").text = login["password"]
        function = ET.Element("getAPISession")
        results = self._call(auth, [(uuid.uuid4().hex, function)], login=True)
        data = results[0].find("data/api")
        if data is None or not (data.findtext("sessionid") or "").strip():
            raise UnexpectedResponse("Sage Intacct's getAPISession answer has no sessionid.")
        endpoint = (data.findtext("endpoint") or "").strip()
        if endpoint and TRUSTED_ENDPOINT.match(endpoint):
            self.endpoint = endpoint
        self.tokens = Tokens(
            access_token=data.findtext("sessionid").strip(),
            refresh_token=secret,
            access_expires_at=datetime.now(UTC) + SESSION_TTL,
        )
        return self.tokens

    # ---- transport

    def _call(
        self, auth: ET.Element | None, functions: list[tuple[str, ET.Element]], *, login: bool = False, transaction: bool = False
    ) -> list[ET.Element]:
        """One request of ``functions`` (controlid, element); the results in the same order.
        Raises on control or authentication failure; per-function failures stay in the results.
        ``transaction``: every function of the request is rolled back if one fails."""
        request = ET.Element("request")
        control = ET.SubElement(request, "control")
        ET.SubElement(control, "senderid").text = self.config.client_id
        ET.SubElement(control, "password").text = self.config.client_secret
        ET.SubElement(control, "controlid").text = uuid.uuid4().hex
        ET.SubElement(control, "uniqueid").text = "true"
        ET.SubElement(control, "dtdversion").text = "3.0"
        ET.SubElement(control, "includewhitespace").text = "false"
        operation = ET.SubElement(request, "operation", transaction="true" if transaction else "false")
        authentication = ET.SubElement(operation, "authentication")
        if auth is not None:
            authentication.append(auth)
        else:
            if self.tokens is None:
                raise TokenExpired("No Sage Intacct session yet.")
            ET.SubElement(authentication, "sessionid").text = self.tokens.access_token
        content = ET.SubElement(operation, "content")
        for controlid, element in functions:
            function = ET.SubElement(content, "function", controlid=controlid)
            function.append(element)
        body = b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(request)
        response = send(self.client, "POST", self.endpoint, content=body, headers={"Content-Type": "application/xml"})
        raise_for_transport(response, VENDOR)
        try:
            root = SafeET.fromstring(response.content)
        except (SafeET.ParseError, ValueError):
            raise UnexpectedResponse(f"Sage Intacct answered {response.status_code} with a body that is not XML.") from None
        if root.tag != "response":
            raise UnexpectedResponse("Sage Intacct answered XML without a <response> root.")
        if (root.findtext("control/status") or "").strip() != "success":
            number, text = _errors(root.find("errormessage"))
            if number in BAD_SIGN_IN:
                raise ConnectionBroken(f"Sage Intacct refused closebooks' sender credentials ({number}): {text}")
            raise UnexpectedResponse(f"Sage Intacct refused the request ({number or 'control'}): {text or 'no detail'}")
        if (root.findtext("operation/authentication/status") or "").strip() != "success":
            number, text = _errors(root.find("operation/errormessage"))
            if login:
                raise ConnectionBroken(f"Sage Intacct refused the user ({number}): {text or 'sign-in failed'}")
            raise TokenExpired(f"Sage Intacct refused the session ({number}): {text or 'expired'}")
        results = root.findall("operation/result")
        if len(results) != len(functions):
            raise UnexpectedResponse(f"Sage Intacct answered {len(results)} results for {len(functions)} functions.")
        return results

    def _ok(self, result: ET.Element) -> ET.Element:
        if (result.findtext("status") or "").strip() == "success":
            return result
        number, text = _errors(result.find("errormessage"))
        raise UnexpectedResponse(f"Sage Intacct refused {result.findtext('function') or 'a function'} ({number}): {text}")

    # ---- data

    def _read_all(self, obj: str, fields: str, query: str = "") -> list[ET.Element]:
        rows: list[ET.Element] = []
        read = ET.Element("readByQuery")
        ET.SubElement(read, "object").text = obj
        ET.SubElement(read, "fields").text = fields
        ET.SubElement(read, "query").text = query
        ET.SubElement(read, "pagesize").text = str(PAGE)
        function = read
        while True:
            (result,) = self._call(None, [(uuid.uuid4().hex, function)])
            data = self._ok(result).find("data")
            if data is None:
                raise UnexpectedResponse(f"Sage Intacct's {obj} answer has no data.")
            rows.extend(list(data))
            remaining = int(data.get("numremaining") or 0)
            result_id = data.get("resultId") or ""
            if remaining <= 0 or not result_id:
                return rows
            function = ET.Element("readMore")
            ET.SubElement(function, "resultId").text = result_id

    def list_accounts(self) -> list[RemoteAccount]:
        return [
            RemoteAccount(
                external_id=(row.findtext("ACCOUNTNO") or "").strip(),
                number=(row.findtext("ACCOUNTNO") or "").strip(),
                name=(row.findtext("TITLE") or "").strip(),
                type=(row.findtext("ACCOUNTTYPE") or "").strip(),
                active=(row.findtext("STATUS") or "active").strip().lower() == "active",
            )
            for row in self._read_all("GLACCOUNT", "RECORDNO,ACCOUNTNO,TITLE,ACCOUNTTYPE,NORMALBALANCE,CLOSINGTYPE,STATUS")
        ]

    def list_entities(self) -> list[tuple[str, str]]:
        """The entities of a multi-entity company: (location id, name) of each entity-type location."""
        rows = self._read_all("LOCATIONENTITY", "RECORDNO,LOCATIONID,NAME,STATUS")
        return [
            ((r.findtext("LOCATIONID") or "").strip(), (r.findtext("NAME") or "").strip())
            for r in rows
            if (r.findtext("STATUS") or "active").strip().lower() == "active"
        ]

    def _glbatch(self, entry: PushEntry) -> ET.Element:
        """``<create><GLBATCH>`` as intacct-sdk-php's JournalEntryCreate/JournalEntryLineCreate write it."""
        create = ET.Element("create")
        batch = ET.SubElement(create, "GLBATCH")
        ET.SubElement(batch, "JOURNAL").text = "GJ"
        ET.SubElement(batch, "BATCH_DATE").text = ia_date(entry.entry_date)
        ET.SubElement(batch, "BATCH_TITLE").text = xml_text(entry.memo or f"closebooks JE-{entry.local_id}")[:100]
        ET.SubElement(batch, "REFERENCENO").text = reference_for(entry.local_id)
        ET.SubElement(batch, "STATE").text = "Posted"
        entries = ET.SubElement(batch, "ENTRIES")
        foreign = bool(entry.base_currency) and entry.currency != entry.base_currency
        for line in entry.lines:
            debit = line.debit > 0
            amount = line.debit if debit else line.credit
            gl = ET.SubElement(entries, "GLENTRY")
            ET.SubElement(gl, "ACCOUNTNO").text = line.external_account_code or line.external_account_id
            ET.SubElement(gl, "TR_TYPE").text = "1" if debit else "-1"
            ET.SubElement(gl, "TRX_AMOUNT").text = f"{abs(amount):.2f}"
            if foreign:  # CURRENCY only with its rate type; the base currency is the entity's own, sent as nothing
                ET.SubElement(gl, "CURRENCY").text = entry.currency
                ET.SubElement(gl, "EXCH_RATE_TYPE_ID").text = DEFAULT_RATE_TYPE
            if entry.entity:
                ET.SubElement(gl, "LOCATION").text = entry.entity
            ET.SubElement(gl, "DESCRIPTION").text = xml_text(line.description or "")[:1000]
        return create

    @staticmethod
    def _delete(record: str) -> ET.Element:
        """``<delete>`` of a GLBATCH (intacct-sdk-php JournalEntryDelete)."""
        delete = ET.Element("delete")
        ET.SubElement(delete, "object").text = "GLBATCH"
        ET.SubElement(delete, "keys").text = record
        return delete

    def _outcome(self, entry: PushEntry, result: ET.Element) -> PushOutcome:
        if (result.findtext("status") or "").strip() == "success":
            record = result.findtext("data/glbatch/RECORDNO") or result.findtext("key") or ""
            if not record.strip():
                return PushOutcome(entry.local_id, error=UnexpectedResponse("Sage Intacct gave no RECORDNO."))
            return PushOutcome(entry.local_id, external_id=record.strip())
        number, text = _errors(result.find("errormessage"))
        if CLOSED_TEXT in text.lower():
            return PushOutcome(entry.local_id, error=ClosedPeriodRejected(f"Sage Intacct: {text}"))
        return PushOutcome(
            entry.local_id, error=EntryRejected(f"Sage Intacct refused JE-{entry.local_id} ({number}): {text or 'no detail'}")
        )

    def batches_by_reference(self, local_ids: list[int]) -> dict[int, str]:
        """{local entry id: RECORDNO} of the batches in Intacct whose REFERENCENO is closebooks' for them."""
        found: dict[int, str] = {}
        for start in range(0, len(local_ids), BATCHES_PER_QUERY):
            chunk = local_ids[start : start + BATCHES_PER_QUERY]
            wanted = ", ".join(f"'{reference_for(i)}'" for i in chunk)
            for row in self._read_all("GLBATCH", "RECORDNO,REFERENCENO", f"REFERENCENO IN ({wanted})"):
                reference = (row.findtext("REFERENCENO") or "").strip()
                if reference.startswith("JE-") and reference[3:].isdigit():
                    found.setdefault(int(reference[3:]), (row.findtext("RECORDNO") or "").strip())
        return found

    def push_entries(self, entries: list[PushEntry], *, key: str) -> list[PushOutcome]:
        """New entries go as one request of ``create`` functions. An entry changed after its sync is
        deleted and created again in a request of its own that Intacct runs as one transaction: the SDK
        offers no update of GLBATCH (JournalEntryCreate and JournalEntryDelete only).

        A function Intacct refuses may be one it already ran for a request whose answer was lost: the
        gateway refuses the repeated controlid rather than repeating it. So every refused entry is
        looked up by its REFERENCENO before the refusal is believed; a batch found is the entry, synced."""
        new = [e for e in entries if not e.external_id]
        outcomes: dict[int, PushOutcome] = {}
        delete_failed: set[int] = set()
        if new:
            results = self._call(None, [(controlid_for(key, e.local_id), self._glbatch(e)) for e in new])
            for entry, result in zip(new, results, strict=True):
                outcomes[entry.local_id] = self._outcome(entry, result)
        for entry in (e for e in entries if e.external_id):
            delete, create = self._call(
                None,
                [
                    (f"del-{entry.local_id}-{key}"[:256], self._delete(entry.external_id)),
                    (controlid_for(key, entry.local_id), self._glbatch(entry)),
                ],
                transaction=True,
            )
            # In a transaction one failure rolls the other function back ("aborted", no error of its own):
            # the result that carries the error says why.
            failed_delete = delete.find("errormessage") is not None
            outcomes[entry.local_id] = self._outcome(entry, delete if failed_delete else create)
            if failed_delete:
                delete_failed.add(entry.local_id)  # the old batch may be gone already
        refused = [e for e in entries if outcomes[e.local_id].error is not None]
        if refused:
            found = self.batches_by_reference([e.local_id for e in refused])
            for entry in refused:
                record = found.get(entry.local_id)
                if record and record != entry.external_id:
                    outcomes[entry.local_id] = PushOutcome(entry.local_id, external_id=record)
                elif not record and entry.local_id in delete_failed:
                    # The batch to replace is not in Intacct any more (deleted there, or by our own lost
                    # request whose create was refused): create it afresh under a new controlid.
                    (result,) = self._call(None, [(controlid_for(f"{key}-new", entry.local_id), self._glbatch(entry))])
                    outcomes[entry.local_id] = self._outcome(entry, result)
        return [outcomes[e.local_id] for e in entries]

    def read_closed_dates(self) -> list[ClosedDate]:
        """No documented call returns the close date: one row per entity, with no date from the API
        (closebooks combines the manual date and the dates Intacct refused as closed)."""
        entities = self.list_entities()
        detail = {"source": "none", "note": "Sage Intacct has no API for the books-closed date."}
        return [ClosedDate(None, entity="", detail=detail)] + [ClosedDate(None, entity=e, detail=detail) for e, _ in entities]

    def pull_inbound(self, *, since: datetime | None) -> list[InboundTransaction]:
        """Journal entries (GLBATCH, with their GLENTRY lines) posted in Sage Intacct and changed
        since ``since``; each belongs to the entity (location) its lines name, whose own closed date
        decides it (BC9). Batches closebooks pushed itself (REFERENCENO ``JE-…``) are not pulled back."""
        query = "STATE = 'Posted'"
        if since is not None:
            query += f" AND WHENMODIFIED >= '{since.astimezone(UTC):%m/%d/%Y %H:%M:%S}'"
        batches = [
            b
            for b in self._read_all("GLBATCH", BATCH_FIELDS, query)
            if not (b.findtext("REFERENCENO") or "").strip().startswith("JE-")
        ]
        lines: dict[str, list[ET.Element]] = {}
        records = [(b.findtext("RECORDNO") or "").strip() for b in batches]
        for start in range(0, len(records), BATCHES_PER_QUERY):
            chunk = ", ".join(f"'{r}'" for r in records[start : start + BATCHES_PER_QUERY])
            for row in self._read_all("GLENTRY", ENTRY_FIELDS, f"BATCHNO IN ({chunk})"):
                lines.setdefault((row.findtext("BATCHNO") or "").strip(), []).append(row)
        found = []
        for batch, record in zip(batches, records, strict=True):
            try:
                entries = lines.get(record, [])
                inbound = []
                for row in entries:
                    amount = vendor_money(row.findtext("TRX_AMOUNT"), vendor=VENDOR)
                    debit = (row.findtext("TR_TYPE") or "").strip() == "1"
                    inbound.append(
                        InboundLine(
                            amount if debit else ZERO,
                            ZERO if debit else amount,
                            external_account_id=(row.findtext("ACCOUNTNO") or "").strip(),
                            description=(row.findtext("DESCRIPTION") or "").strip(),
                        )
                    )
                locations = sorted({(r.findtext("LOCATION") or "").strip() for r in entries} - {""})
                found.append(
                    InboundTransaction(
                        kind="journal",
                        external_id=record,
                        number=f"{(batch.findtext('JOURNAL') or 'GJ').strip()}-{(batch.findtext('BATCHNO') or record).strip()}",
                        txn_date=parse_ia_date(batch.findtext("BATCH_DATE") or ""),
                        memo=(batch.findtext("BATCH_TITLE") or "").strip(),
                        lines=tuple(inbound),
                        entity="+".join(locations),
                    )
                )
            except (ArithmeticError, ValueError):
                raise UnexpectedResponse(f"Sage Intacct's GLBATCH {record} has a line without a valid amount or date.") from None
        return found

    def remote_version(self) -> str:
        return "XML gateway dtdversion 3.0"


__all__ = ["SageIntacct", "controlid_for", "credentials_secret", "ia_date", "parse_ia_date"]
