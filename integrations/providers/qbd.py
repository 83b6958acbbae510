"""QuickBooks Desktop through the Web Connector (reference: integration-apis.md §5).

Nothing can be sent to QuickBooks Desktop: the Web Connector on the customer's Windows machine polls
closebooks' SOAP endpoints (``integrations.qbwc``) and carries one qbXML request per
``sendRequestXML`` to QuickBooks, and the answer back through ``receiveResponseXML``. So this
provider's transport is queued, not direct: it builds and reads qbXML, ``integrations.services.queued``
leaves its requests for the next poll, and ``integrations.qbd`` serves them to the Web Connector."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - builds requests only; answers are parsed with defusedxml
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from defusedxml import ElementTree as SafeET

from ledger.guard import QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES
from ledger.money import money_parse

from .base import (
    QUEUED,
    ClosedDate,
    InboundLine,
    InboundTransaction,
    Provider,
    ProviderError,
    PushEntry,
    PushOutcome,
    RemoteAccount,
    Tokens,
)

VENDOR = "QuickBooks Desktop"
QBXML_VERSION = "13.0"
MIN_CONNECTOR = "2.0.8250.9"
CLOSED_CODES = {"3171"}
OWN_REF = re.compile(r"^CB\d+$")  # RefNumber of the entries closebooks adds (ref_number)
ZERO = Decimal("0.00")
NOT_POLLED = "QuickBooks Desktop is reached only when its Web Connector polls closebooks; the request waits in the queue."


def version_tuple(text: str) -> tuple[int, ...]:
    text = text.strip()
    for prefix in ("v_", "v", "V"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return ()


def ref_number(local_id: int) -> str:
    """RefNumber holds at most 11 characters: the local entry id, tagged."""
    ref = f"CB{local_id}"
    if len(ref) > 11:
        raise ProviderError(f"Entry {local_id} has an id too long for a QuickBooks Desktop RefNumber.")
    return ref


def _envelope(request: ET.Element) -> str:
    root = ET.Element("QBXML")
    messages = ET.SubElement(root, "QBXMLMsgsRq", onError="stopOnError")
    messages.append(request)
    return f'<?xml version="1.0"?><?qbxml version="{QBXML_VERSION}"?>' + ET.tostring(root, encoding="unicode")


def journal_entry_add(entry: PushEntry, request_id: str) -> str:
    rq = ET.Element("JournalEntryAddRq", requestID=request_id)
    add = ET.SubElement(rq, "JournalEntryAdd")
    ET.SubElement(add, "TxnDate").text = entry.entry_date.isoformat()
    ET.SubElement(add, "RefNumber").text = ref_number(entry.local_id)
    ET.SubElement(add, "Memo").text = (entry.memo or f"closebooks JE-{entry.local_id}")[:4095]
    for line in entry.lines:
        debit = line.debit > 0
        node = ET.SubElement(add, "JournalDebitLine" if debit else "JournalCreditLine")
        ET.SubElement(ET.SubElement(node, "AccountRef"), "ListID").text = line.external_account_id
        ET.SubElement(node, "Amount").text = f"{abs(line.debit if debit else line.credit):.2f}"
        if line.description:
            ET.SubElement(node, "Memo").text = line.description[:4095]
    return _envelope(rq)


def journal_entry_query(ref: str, request_id: str) -> str:
    rq = ET.Element("JournalEntryQueryRq", requestID=request_id)
    ET.SubElement(rq, "RefNumber").text = ref
    return _envelope(rq)


def account_query(request_id: str) -> str:
    rq = ET.Element("AccountQueryRq", requestID=request_id)
    ET.SubElement(rq, "ActiveStatus").text = "All"
    return _envelope(rq)


def preferences_query(request_id: str) -> str:
    rq = ET.Element("PreferencesQueryRq", requestID=request_id)
    ET.SubElement(rq, "IncludeRetElement").text = "AccountingPreferences"
    return _envelope(rq)


def _modified_since(rq: ET.Element, since: datetime | None) -> None:
    if since is not None:  # qbXML DATETIMETYPE: ISO 8601 with the UTC offset
        ET.SubElement(ET.SubElement(rq, "ModifiedDateRangeFilter"), "FromModifiedDate").text = since.isoformat(timespec="seconds")


def item_query(request_id: str) -> str:
    """The item list: each item's income account is where an invoice line selling it posts."""
    rq = ET.Element("ItemQueryRq", requestID=request_id)
    ET.SubElement(rq, "ActiveStatus").text = "All"
    return _envelope(rq)


def inbound_journal_query(request_id: str, since: datetime | None) -> str:
    rq = ET.Element("JournalEntryQueryRq", requestID=request_id)
    _modified_since(rq, since)
    return _envelope(rq)


def invoice_query(request_id: str, since: datetime | None) -> str:
    rq = ET.Element("InvoiceQueryRq", requestID=request_id)
    _modified_since(rq, since)
    ET.SubElement(rq, "IncludeLineItems").text = "true"
    return _envelope(rq)


@dataclass(frozen=True)
class Answer:
    """One ``*Rs`` of a qbXML response."""

    tag: str
    request_id: str
    status_code: str
    severity: str
    message: str
    element: ET.Element

    @property
    def ok(self) -> bool:
        return self.status_code == "0"

    @property
    def no_match(self) -> bool:
        return self.status_code == "1"


def parse_response(text: str) -> list[Answer]:
    """Every ``*Rs`` element; raises ProviderError for XML that is not a qbXML response."""
    try:
        root = SafeET.fromstring(text.encode() if isinstance(text, str) else text)
    except (SafeET.ParseError, ValueError):
        raise ProviderError("The Web Connector returned a qbXML response that is not well-formed XML.") from None
    messages = root.find("QBXMLMsgsRs")
    if root.tag != "QBXML" or messages is None:
        raise ProviderError("The Web Connector returned XML that is not a qbXML response (no QBXMLMsgsRs).")
    return [
        Answer(
            tag=rs.tag,
            request_id=rs.get("requestID", ""),
            status_code=rs.get("statusCode", ""),
            severity=rs.get("statusSeverity", ""),
            message=rs.get("statusMessage", ""),
            element=rs,
        )
        for rs in messages
    ]


def accounts_from(answer: Answer) -> list[RemoteAccount]:
    return [
        RemoteAccount(
            external_id=(ret.findtext("ListID") or "").strip(),
            number=(ret.findtext("AccountNumber") or "").strip(),
            name=(ret.findtext("FullName") or ret.findtext("Name") or "").strip(),
            type=(ret.findtext("AccountType") or "").strip(),
            active=(ret.findtext("IsActive") or "true").strip().lower() == "true",
        )
        for ret in answer.element.findall("AccountRet")
    ]


@dataclass(frozen=True)
class RemoteItem:
    external_id: str
    name: str
    type: str
    income_account_id: str
    active: bool


INCOME_ACCOUNT_PATHS = (
    "IncomeAccountRef/ListID",  # inventory, inventory assembly
    "SalesAndPurchase/IncomeAccountRef/ListID",  # service, non-inventory, other charge bought and sold
    "SalesOrPurchase/AccountRef/ListID",  # service, non-inventory, other charge sold only
)


def items_from(answer: Answer) -> list[RemoteItem]:
    items = []
    for ret in answer.element:
        if not (ret.tag.startswith("Item") and ret.tag.endswith("Ret")):
            continue
        income = next((ret.findtext(p) for p in INCOME_ACCOUNT_PATHS if ret.findtext(p)), "") or ""
        items.append(
            RemoteItem(
                external_id=(ret.findtext("ListID") or "").strip(),
                name=(ret.findtext("FullName") or ret.findtext("Name") or "").strip(),
                type=ret.tag[4:-3],
                income_account_id=income.strip(),
                active=(ret.findtext("IsActive") or "true").strip().lower() == "true",
            )
        )
    return items


def _amount(text: str | None) -> Decimal:
    # The one money parser; its MoneyError is a ValueError, which the Web Connector handler reports
    # as "a value closebooks cannot read" before anything of the answer is posted.
    return money_parse(text, label=f"An amount from {VENDOR}")


def journals_from(answer: Answer) -> list[InboundTransaction]:
    """Journal entries made in QuickBooks Desktop; those closebooks added (RefNumber ``CB…``) are not pulled back."""
    found = []
    for ret in answer.element.findall("JournalEntryRet"):
        ref = (ret.findtext("RefNumber") or "").strip()
        if OWN_REF.match(ref):
            continue
        lines = []
        for node in ret:
            if node.tag in ("JournalDebitLine", "JournalCreditLine"):
                amount = _amount(node.findtext("Amount"))
                debit = node.tag == "JournalDebitLine"
                lines.append(
                    InboundLine(
                        amount if debit else ZERO,
                        ZERO if debit else amount,
                        external_account_id=(node.findtext("AccountRef/ListID") or "").strip(),
                        description=(node.findtext("Memo") or "").strip(),
                    )
                )
        found.append(_txn("journal", ret, ref, lines))
    return found


def invoices_from(answer: Answer) -> list[InboundTransaction]:
    """Receivable invoices: Dr the invoice's AR account, Cr each line's item (its income account
    comes from the item list; an item without a mapped one makes the invoice wait)."""
    found = []
    for ret in answer.element.findall("InvoiceRet"):
        credits = []
        for line in ret.findall("InvoiceLineRet"):
            amount = _amount(line.findtext("Amount"))
            if not amount:
                continue
            credits.append(
                InboundLine(
                    ZERO,
                    amount,
                    external_item_id=(line.findtext("ItemRef/ListID") or "").strip(),
                    description=(line.findtext("Desc") or "").strip(),
                )
            )
        tax = _amount(ret.findtext("SalesTaxTotal"))
        if tax:
            credits.append(InboundLine(ZERO, tax, external_item_id=(ret.findtext("ItemSalesTaxRef/ListID") or "").strip()))
        total = sum((c.credit for c in credits), ZERO)
        customer = (ret.findtext("CustomerRef/FullName") or "").strip()
        ar = InboundLine(
            total, ZERO, external_account_id=(ret.findtext("ARAccountRef/ListID") or "").strip(), description=customer
        )
        found.append(_txn("invoice", ret, (ret.findtext("RefNumber") or "").strip(), [ar, *credits]))
    return found


def _txn(kind: str, ret: ET.Element, ref: str, lines: list[InboundLine]) -> InboundTransaction:
    return InboundTransaction(
        kind=kind,
        external_id=(ret.findtext("TxnID") or "").strip(),
        number=ref,
        txn_date=date.fromisoformat((ret.findtext("TxnDate") or "").strip()),
        memo=(ret.findtext("Memo") or "").strip(),
        lines=tuple(lines),
    )


def closing_date_from(answer: Answer) -> date | None:
    text = answer.element.findtext("PreferencesRet/AccountingPreferences/ClosingDate")
    return date.fromisoformat(text.strip()) if text and text.strip() else None


class QuickBooksDesktop(Provider):
    code = "qbd"
    name = VENDOR
    transport = QUEUED  # the Web Connector polls closebooks; integrations.services.queued leaves its requests
    inbound_policy = QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES
    batch_size = 500  # outbox rows frozen into queued requests at a time (one request each is sent per poll)
    uses_oauth = False
    min_closed_date_version = MIN_CONNECTOR

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        raise ProviderError("QuickBooks Desktop connects through a .qwc file loaded into the Web Connector.")

    def exchange_code(self, *, code: str, redirect_uri: str) -> Tokens:
        raise ProviderError("QuickBooks Desktop connects through a .qwc file loaded into the Web Connector.")

    def tenant_from_callback(self, params: dict[str, str]) -> tuple[str, str]:
        raise ProviderError("QuickBooks Desktop connects through a .qwc file loaded into the Web Connector.")

    def refresh(self) -> Tokens:
        raise ProviderError("QuickBooks Desktop has no tokens: the Web Connector signs in with its password.")

    def list_accounts(self) -> list[RemoteAccount]:
        raise ProviderError(NOT_POLLED)

    def push_entries(self, entries: list[PushEntry], *, key: str) -> list[PushOutcome]:
        raise ProviderError(NOT_POLLED)

    def read_closed_dates(self) -> list[ClosedDate]:
        raise ProviderError(NOT_POLLED)

    def pull_inbound(self, *, since: datetime | None) -> list[InboundTransaction]:
        raise ProviderError(NOT_POLLED)

    def remote_version(self) -> str:
        return ""
