"""A fake QuickBooks Desktop with its Web Connector (integration-apis.md §5). The Web Connector is a
SOAP 1.1 client that polls closebooks like the real one: serverVersion, clientVersion,
authenticate, then sendRequestXML / receiveResponseXML until the percentage reaches 100 (or an
error, then getLastError), and closeConnection. The QuickBooks side answers qbXML the way QuickBooks
does: JournalEntryAdd (balanced, positive amounts, RefNumber of at most 11 characters, refused on or
before the closing date with 3171), JournalEntryQuery by RefNumber (statusCode 1 when nothing
matches; by ModifiedDateRangeFilter for the inbound pull), AccountQuery, PreferencesQuery (ClosingDate),
ItemQuery (each item's income account) and InvoiceQuery (IncludeLineItems). No deduplication: an entry sent twice is
held twice, as in QuickBooks.

``transport(body: bytes, action: str) -> bytes`` carries one SOAP call to closebooks (the Django
test client, an HTTP client, or ``integrations.qbd.soap_handle`` in-process)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - builds messages; answers are parsed with defusedxml
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree as SafeET

from integrations import contracts

from .chart import default_chart

NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
REF = re.compile(r"^CB(\d+)$")
SALES_TAX_PAYABLE = "2300"  # the demo chart's sales tax payable account
TYPES = {"asset": "OtherCurrentAsset", "liability": "OtherCurrentLiability", "equity": "Equity", "income": "Income"}


class WebConnectorStopped(Exception):
    """The conversation ended with an error the Web Connector would show its user."""


class QbxmlRefused(Exception):
    """QuickBooks could not parse a request against its qbXML schema."""


# QBWC Programmer's Guide: when QuickBooks cannot parse the request, receiveResponseXML gets an empty
# response, this HRESULT and QuickBooks' message.
PARSE_HRESULT = "0x80040400"
PARSE_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."


class FakeQuickBooksDesktop:
    def __init__(self, transport: Callable[[bytes, str], bytes], *, username: str, password: str, version="2.0.8250.9"):
        self.transport = transport
        self.username, self.password, self.version = username, password, version
        self.chart = default_chart()
        self.accounts = {f"8000{i:04d}-1234567890": row for i, row in enumerate(self.chart)}
        self.journals: dict[str, dict] = {}
        self.items: dict[str, dict] = {}  # ListID -> {name, type, income account ListID or ""}
        self.invoices: dict[str, dict] = {}
        self.closing_date: date | None = None
        self.next_txn = 1000
        self.lose_responses = 0  # answers that never reach closebooks (QuickBooks did the work)
        self.calls: list[str] = []
        self.last_error = ""
        self.percentages: list[int] = []
        self.iterators: dict[str, tuple[list, int]] = {}

    # ------------------------------------------------------------ the Web Connector

    def call(self, method: str, **args) -> ET.Element:
        ET.register_namespace("soap", SOAP_NS)
        envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
        node = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP_NS}}}Body"), f"{{{NS}}}{method}")
        for name, value in args.items():
            ET.SubElement(node, f"{{{NS}}}{name}").text = str(value)
        self.calls.append(method)
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(envelope)
        contracts.check_soap(body, f"the Web Connector's {method} call")
        answer = self.transport(body, f"{NS}{method}")
        try:
            # The Web Connector reads closebooks' answer as the WSDL's message types; anything else ends
            # the session with an error on its screen.
            contracts.check_soap(answer, f"closebooks' answer to {method}")
        except contracts.ContractViolation as exc:
            raise WebConnectorStopped(str(exc)) from None
        root = SafeET.fromstring(answer)
        fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
        if fault is not None:
            raise WebConnectorStopped(f"SOAP fault on {method}: {fault.findtext('faultstring')}")
        result = root.find(f"{{{SOAP_NS}}}Body/{{{NS}}}{method}Response/{{{NS}}}{method}Result")
        if result is None:
            raise WebConnectorStopped(f"No {method}Result in the answer.")
        return result

    def poll(self) -> int:
        """One scheduled run of the Web Connector; returns how many requests it carried."""
        self.call("serverVersion")
        verdict = self.call("clientVersion", strVersion=self.version).text or ""
        if verdict.startswith(("E:", "O:")):
            raise WebConnectorStopped(verdict)
        ticket, work = [s.text or "" for s in self.call("authenticate", strUserName=self.username, strPassword=self.password)][:2]
        if work == "nvu" or not ticket:
            raise WebConnectorStopped("closebooks refused the user name or password (nvu).")
        carried = 0
        try:
            if work == "none":
                return 0
            while True:
                request = self.call(
                    "sendRequestXML",
                    ticket=ticket,
                    strHCPResponse="",
                    strCompanyFileName="C:\\Company\\demo.qbw",
                    qbXMLCountry="US",
                    qbXMLMajorVers="13",
                    qbXMLMinorVers="0",
                ).text
                if not request:
                    self.last_error = self.call("getLastError", ticket=ticket).text or ""
                    return carried
                try:
                    response, hresult, message = self.quickbooks(request), "", ""
                except QbxmlRefused:
                    response, hresult, message = "", PARSE_HRESULT, PARSE_MESSAGE
                carried += 1
                if self.lose_responses > 0:
                    self.lose_responses -= 1
                    self.call("connectionError", ticket=ticket, hresult="0x80072EE2", message="The operation timed out")
                    return carried
                percent = int(
                    self.call("receiveResponseXML", ticket=ticket, response=response, hresult=hresult, message=message).text
                )
                self.percentages.append(percent)
                if percent < 0:
                    self.last_error = self.call("getLastError", ticket=ticket).text or ""
                    return carried
                if percent >= 100:
                    return carried
        finally:
            self.call("closeConnection", ticket=ticket)

    def poll_until_idle(self, limit: int = 100) -> int:
        total = 0
        for _ in range(limit):
            carried = self.poll()
            total += carried
            if carried == 0:
                return total
        return total

    # ------------------------------------------------------------ made in QuickBooks (inbound)

    def list_id(self, number: str) -> str:
        return next(key for key, row in self.accounts.items() if row["number"] == number)

    def add_item(self, name: str, *, income_account: str | None, kind: str = "ItemService") -> str:
        """An item; ``income_account`` is the account number its sales post to (None: no account)."""
        list_id = f"{0x80000100 + len(self.items):X}-1700000000"
        self.items[list_id] = {"name": name, "type": kind, "income": self.list_id(income_account) if income_account else ""}
        return list_id

    def _stamp(self) -> str:
        self.next_txn += 1
        return f"{self.next_txn:X}-1700000000"

    def add_invoice(
        self, *, when: date, lines: list[tuple[str, str]], ref: str, customer: str = "Acme", tax: str = "", tax_item: str = ""
    ) -> str:
        """A receivable invoice: ``lines`` as (item ListID, amount); AR is account 1100; ``tax`` collected
        through the sales tax item ``tax_item``."""
        txn = self._stamp()
        self.invoices[txn] = {
            "tax": tax or "0.00",
            "tax_item": tax_item,
            "TxnID": txn,
            "TxnDate": when.isoformat(),
            "RefNumber": ref,
            "Customer": customer,
            "AR": self.list_id("1100"),
            "lines": lines,
            "TimeModified": datetime.now(UTC),
        }
        return txn

    def add_journal(self, *, when: date, lines: list[tuple[str, str, str]], ref: str = "", memo: str = "") -> str:
        """A journal entry made in QuickBooks: ``lines`` as (account number, "debit"|"credit", amount)."""
        txn = self._stamp()
        self.journals[txn] = {
            "TxnID": txn,
            "EditSequence": "1700000000",
            "TxnNumber": self.next_txn,
            "TxnDate": when.isoformat(),
            "RefNumber": ref,
            "Memo": memo,
            "lines": [(self.list_id(a), side, amount) for a, side, amount in lines],
            "TimeModified": datetime.now(UTC),
        }
        return txn

    @staticmethod
    def _modified_filter(rq: ET.Element):
        text = rq.findtext("ModifiedDateRangeFilter/FromModifiedDate")
        if not text:
            return lambda row: True
        since = datetime.fromisoformat(text)
        return lambda row: row["TimeModified"].replace(microsecond=0) >= since

    def _paged(self, rq: ET.Element, rows: list):
        """(this page's rows, the Rs element): OSR "Iterators". iterator="Start" with MaxReturned opens
        an iterator over the matching rows; "Continue" with its iteratorID gives the next page; the Rs
        carries iteratorRemainingCount and iteratorID. Without an iterator, every row at once."""
        iterator = rq.get("iterator")
        if iterator == "Continue":
            state = self.iterators.get(rq.get("iteratorID") or "")
            if state is None:
                return None, self._rs(rq, "3170", "The iterator ID is not valid or has expired.")
            rows, size = state
        else:
            size = int(rq.findtext("MaxReturned") or 0) or len(rows) or 1
        page, rest = rows[:size], rows[size:]
        if iterator is None:
            return page, self._rs(rq)
        iterator_id = rq.get("iteratorID") if iterator == "Continue" else f"{{{len(self.iterators) + 1:08d}-fake-iterator}}"
        self.iterators[iterator_id] = (rest, size)
        rs = self._rs(rq)
        rs.set("iteratorRemainingCount", str(len(rest)))
        rs.set("iteratorID", iterator_id)
        return page, rs

    def _items(self, rq: ET.Element) -> ET.Element:
        if not self.items:
            return self._rs(rq, "1", "A query request did not find a matching object in QuickBooks")
        page, rs = self._paged(rq, list(self.items.items()))
        if page is None:
            return rs
        for list_id, item in page:
            ret = ET.SubElement(rs, f"{item['type']}Ret")
            for tag, value in (("ListID", list_id), ("Name", item["name"]), ("FullName", item["name"]), ("IsActive", "true")):
                ET.SubElement(ret, tag).text = value
            if item["type"] in ("ItemSalesTax", "ItemSalesTaxGroup"):
                # A sales tax item names its rate and agency, never an account (OSR ItemSalesTaxRet).
                ET.SubElement(ret, "TaxRate").text = item.get("rate", "8.0")
            elif item["income"]:
                if item["type"] == "ItemInventory":
                    ET.SubElement(ET.SubElement(ret, "IncomeAccountRef"), "ListID").text = item["income"]
                else:
                    ref = ET.SubElement(ET.SubElement(ret, "SalesOrPurchase"), "AccountRef")
                    ET.SubElement(ref, "ListID").text = item["income"]
        return rs

    def _invoices(self, rq: ET.Element) -> ET.Element:
        keep = self._modified_filter(rq)
        found = [i for i in self.invoices.values() if keep(i)]
        if not found and rq.get("iterator") != "Continue":
            return self._rs(rq, "1", "A query request did not find a matching object in QuickBooks")
        found, rs = self._paged(rq, found)
        if found is None:
            return rs
        with_lines = (rq.findtext("IncludeLineItems") or "").strip() == "true"
        for inv in found:
            ret = ET.SubElement(rs, "InvoiceRet")
            for tag, value in (("TxnID", inv["TxnID"]), ("TimeModified", inv["TimeModified"].isoformat(timespec="seconds"))):
                ET.SubElement(ret, tag).text = value
            ET.SubElement(ET.SubElement(ret, "CustomerRef"), "FullName").text = inv["Customer"]
            ET.SubElement(ET.SubElement(ret, "ARAccountRef"), "ListID").text = inv["AR"]
            ET.SubElement(ret, "TxnDate").text = inv["TxnDate"]
            ET.SubElement(ret, "RefNumber").text = inv["RefNumber"]
            total = sum((Decimal(a) for _, a in inv["lines"]), Decimal(0))
            if inv.get("tax_item"):
                ET.SubElement(ET.SubElement(ret, "ItemSalesTaxRef"), "ListID").text = inv["tax_item"]
            ET.SubElement(ret, "Subtotal").text = f"{total:.2f}"
            ET.SubElement(ret, "SalesTaxTotal").text = inv.get("tax", "0.00")
            if with_lines:
                for n, (item, amount) in enumerate(inv["lines"], start=1):
                    line = ET.SubElement(ret, "InvoiceLineRet")
                    ET.SubElement(line, "TxnLineID").text = f"{n}-{inv['TxnID']}"
                    ET.SubElement(ET.SubElement(line, "ItemRef"), "ListID").text = item
                    ET.SubElement(line, "Amount").text = amount
        return rs

    # ------------------------------------------------------------ QuickBooks

    def entries_by_local(self) -> Counter:
        return Counter(int(m.group(1)) for j in self.journals.values() if (m := REF.match(j["RefNumber"])))

    def quickbooks(self, qbxml: str) -> str:
        """QuickBooks' answer to one qbXML request. A request that does not parse against qbXML 13.0
        is refused whole, as QuickBooks does (the Web Connector then reports its HRESULT)."""
        try:
            contracts.check_qbxml(qbxml)
        except contracts.ContractViolation as exc:
            raise QbxmlRefused(str(exc)) from None
        root = SafeET.fromstring(qbxml.encode())
        answers = ET.Element("QBXMLMsgsRs")
        for rq in root.find("QBXMLMsgsRq"):
            answers.append(self._answer(rq))
        out = ET.Element("QBXML")
        out.append(answers)
        return '<?xml version="1.0"?>' + ET.tostring(out, encoding="unicode")

    def _rs(self, rq: ET.Element, code: str = "0", message: str = "Status OK") -> ET.Element:
        severity = "Info" if code in ("0", "1") else "Error"
        return ET.Element(
            rq.tag[:-2] + "Rs",
            requestID=rq.get("requestID", ""),
            statusCode=code,
            statusSeverity=severity,
            statusMessage=message,
        )

    def _answer(self, rq: ET.Element) -> ET.Element:
        if rq.tag == "JournalEntryAddRq":
            return self._add(rq)
        if rq.tag == "ItemQueryRq":
            return self._items(rq)
        if rq.tag == "InvoiceQueryRq":
            return self._invoices(rq)
        if rq.tag == "JournalEntryQueryRq":
            ref = rq.findtext("RefNumber")
            keep = self._modified_filter(rq)
            found = [j for j in self.journals.values() if (ref is None or j["RefNumber"] == ref) and keep(j)]
            if not found and rq.get("iterator") != "Continue":
                return self._rs(rq, "1", "A query request did not find a matching object in QuickBooks")
            found, rs = self._paged(rq, found)
            if found is None:
                return rs
            # OSR JournalEntryQuery: "IncludeLineItems: if true, line items are returned"; without it, none.
            with_lines = (rq.findtext("IncludeLineItems") or "").strip() == "true"
            for j in found:
                rs.append(self._ret(j, with_lines=with_lines))
            return rs
        if rq.tag == "AccountQueryRq":
            rs = self._rs(rq)
            for list_id, row in self.accounts.items():
                ret = ET.SubElement(rs, "AccountRet")
                for tag, value in (
                    ("ListID", list_id),
                    ("EditSequence", "1"),
                    ("Name", row["name"]),
                    ("FullName", row["name"]),
                    ("IsActive", "true" if row["active"] else "false"),
                    ("AccountType", TYPES.get(row["type"], "Expense")),
                    ("AccountNumber", row["number"]),
                ):
                    ET.SubElement(ret, tag).text = value
                if row["number"] == SALES_TAX_PAYABLE:  # QuickBooks' own account for the sales tax collected
                    ET.SubElement(ret, "SpecialAccountType").text = "SalesTaxPayable"
            return rs
        if rq.tag == "PreferencesQueryRq":
            rs = self._rs(rq)
            prefs = ET.SubElement(ET.SubElement(rs, "PreferencesRet"), "AccountingPreferences")
            ET.SubElement(prefs, "IsUsingAccountNumbers").text = "true"
            if self.closing_date is not None:
                ET.SubElement(prefs, "ClosingDate").text = self.closing_date.isoformat()
            return rs
        return self._rs(rq, "3250", f"This feature is not enabled or not available: {rq.tag}.")

    def _ret(self, journal: dict, *, with_lines: bool = True) -> ET.Element:
        ret = ET.Element("JournalEntryRet")
        for tag in ("TxnID", "EditSequence", "TxnNumber", "TxnDate", "RefNumber"):
            ET.SubElement(ret, tag).text = str(journal[tag])
        if journal.get("Memo"):
            ET.SubElement(ret, "Memo").text = journal["Memo"]
        for list_id, side, amount in journal.get("lines", []) if with_lines else []:
            line = ET.SubElement(ret, "JournalDebitLine" if side == "debit" else "JournalCreditLine")
            ET.SubElement(ET.SubElement(line, "AccountRef"), "ListID").text = list_id
            ET.SubElement(line, "Amount").text = amount
        return ret

    def _add(self, rq: ET.Element) -> ET.Element:
        add = rq.find("JournalEntryAdd")
        try:
            when = date.fromisoformat(add.findtext("TxnDate") or "")
        except ValueError:
            return self._rs(rq, "3020", "There was an error when converting the date value.")
        ref = add.findtext("RefNumber") or ""
        if len(ref) > 11:
            return self._rs(rq, "3070", f'The string "{ref}" in the field "RefNumber" is too long.')
        total = Decimal(0)
        lines = add.findall("JournalDebitLine") + add.findall("JournalCreditLine")
        for line in lines:
            list_id = line.findtext("AccountRef/ListID") or ""
            if list_id not in self.accounts:
                return self._rs(
                    rq, "3140", f'There is an invalid reference to QuickBooks Account "{list_id}" in the Journal Entry.'
                )
            try:
                amount = Decimal(line.findtext("Amount") or "")
            except InvalidOperation:
                return self._rs(rq, "3020", "There was an error when converting the amount.")
            if amount < 0:
                return self._rs(rq, "3020", "Negative amounts are not allowed in journal lines.")
            total += amount if line.tag == "JournalDebitLine" else -amount
        if len(lines) < 2 or total != 0:
            return self._rs(rq, "3180", "There was an error when saving a Journal Entry: the transaction is not in balance.")
        if self.closing_date is not None and when <= self.closing_date:
            return self._rs(
                rq,
                "3171",
                "An attempt was made to modify a Journal Entry with a date that is on or before the closing date of the "
                "company. If you are sure you really want to do this, please ask a user with Admin rights to remove the "
                "password for editing transactions on or before the closing date.",
            )
        self.next_txn += 1
        journal = {
            "TxnID": f"{self.next_txn:X}-1700000000",
            "EditSequence": "1700000000",
            "TxnNumber": self.next_txn,
            "TxnDate": when.isoformat(),
            "RefNumber": ref,
            "Memo": add.findtext("Memo") or "",
            "lines": [
                (
                    line.findtext("AccountRef/ListID") or "",
                    "debit" if line.tag == "JournalDebitLine" else "credit",
                    line.findtext("Amount") or "",
                )
                for line in lines
            ],
            "TimeModified": datetime.now(UTC),
        }
        self.journals[journal["TxnID"]] = journal
        rs = self._rs(rq)
        rs.append(self._ret(journal))
        return rs
