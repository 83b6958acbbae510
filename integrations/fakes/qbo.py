"""A fake QuickBooks Online: OAuth (Intuit's token endpoint), /query for accounts, /journalentry
and /batch with ``requestid`` replay, /preferences with BookCloseDate, Fault envelopes (also inside
HTTP 200), 429 ThrottleExceeded at 500 calls/min (40 batch calls/min) per realm."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

from .chart import default_chart
from .server import FakeVendor, Request, Response

QBO_TYPES = {
    "asset": "Other Current Asset",
    "liability": "Other Current Liability",
    "equity": "Equity",
    "revenue": "Income",
    "expense": "Expense",
}
SPECIAL = {"1000": "Bank", "1010": "Bank", "1020": "Bank", "1100": "Accounts Receivable", "2000": "Accounts Payable"}
DOC_NUMBER = re.compile(r"^CB-(\d+)$")
QUERY = re.compile(
    r"select \* from (?P<entity>\w+)(?P<where>.*?)(?:startposition (?P<start>\d+))?\s*(?:maxresults (?P<max>\d+))?\s*$",
    re.I | re.S,
)
UPDATED_SINCE = re.compile(r"metadata\.lastupdatedtime\s*>\s*'([^']+)'", re.I)
SUBTYPES = {"2300": "SalesTaxPayable", "1400": "UndepositedFunds"}
INACTIVE_TOO = re.compile(r"active\s+in\s*\(\s*true\s*,\s*false\s*\)", re.I)
CLOSED_DETAIL = (
    "The account period has closed and the account books cannot be updated through the QBO Services API. "
    "Please use the QBO website to make these changes."
)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fault(message: str, detail: str, code: str, kind: str = "ValidationFault") -> dict:
    return {"Error": [{"Message": message, "Detail": detail, "code": code, "element": ""}], "type": kind}


class FakeQuickBooksOnline(FakeVendor):
    vendor = "QuickBooks Online"
    access_ttl = 3600
    quotas = {"calls": 500, "batch": 40}
    concurrency = 10

    def __init__(
        self, *, accounts: list[dict] | None = None, book_close_date: date | None = None, faults_in_200: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.chart = accounts if accounts is not None else default_chart()
        self.accounts = [
            {
                "Id": str(n),
                "Name": a["name"],
                "FullyQualifiedName": a["name"],
                "AcctNum": a["number"],
                "AccountType": SPECIAL.get(a["number"], QBO_TYPES.get(a["type"], a["type"])),
                "Active": a["active"],
                "Classification": a["type"].title(),
                **({"AccountSubType": SUBTYPES[a["number"]]} if a["number"] in SUBTYPES else {}),
                "SyncToken": "0",
            }
            for n, a in enumerate(self.chart, start=30)
        ]
        self.book_close_date = book_close_date
        self.faults_in_200 = faults_in_200
        self.journals: dict[str, dict] = {}
        self.replies: dict[tuple[str, str], Response] = {}
        # Transactions made in QuickBooks, for the inbound pull: one Item per income account.
        self.tables: dict[str, list[dict]] = {"Item": [], "Invoice": [], "Bill": [], "Payment": []}
        for account in self.accounts:
            if account["AccountType"] == "Income":
                self.tables["Item"].append(
                    {
                        "Id": f"9{account['Id']}",
                        "Name": account["Name"],
                        "Type": "Service",
                        "IncomeAccountRef": {"value": account["Id"]},
                    }
                )
        self.next_id = 100

    # ------------------------------------------------------------ vendor specifics

    def new_tenant_id(self) -> str:
        return str(9130350000000000 + secrets.randbelow(10**6))

    def callback_extra(self) -> dict:
        return {"realmId": self.tenant_id}

    def token_body(self, access: str, refresh: str) -> dict:
        return {**super().token_body(access, refresh), "x_refresh_token_expires_in": 8726400}

    def contract_error(self, request: Request, message: str) -> Response:
        # Intuit answers a body its schema refuses with a ValidationFault (code 2010: "Request has
        # invalid or unsupported property"), HTTP 400.
        return Response(400, {"Fault": fault("Request has invalid or unsupported property", message, "2010"), "time": now_text()})

    def unauthorized(self) -> Response:
        return Response(
            401,
            {
                "fault": {
                    "error": [
                        {
                            "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                            "detail": "Token expired",
                            "code": "3200",
                        }
                    ],
                    "type": "AUTHENTICATION",
                },
                "time": now_text(),
            },
        )

    def tenant_of(self, request: Request, token: dict):
        match = re.match(r"^/v3/company/([^/]+)/", request.path)
        if not match or match.group(1) != self.tenant_id:
            return Response(
                403,
                {
                    "Fault": fault("ApplicationAuthorizationFailed", "realm not authorized", "003100", "AUTHORIZATION"),
                    "time": now_text(),
                },
            )
        return match.group(1)

    def buckets(self, request: Request) -> list[str]:
        return ["calls", "batch"] if request.path.endswith("/batch") else ["calls"]

    def throttle(self, request: Request, bucket: str, wait: float) -> Response:
        return Response(
            429,
            {
                "Fault": fault("ThrottleExceeded", f"Throttle exceeded ({bucket}).", "003001", "ThrottleExceeded"),
                "time": now_text(),
            },
            headers={"intuit_tid": secrets.token_hex(8)},
        )

    def configure(self, options: dict) -> None:
        super().configure(options)
        with self.lock:
            if "book_close_date" in options:
                value = options["book_close_date"]
                self.book_close_date = date.fromisoformat(value) if value else None

    def state(self) -> dict:
        counts = self.entries_by_local()
        return {
            **super().state(),
            "journals": len(self.journals),
            "local_entries": len(counts),
            "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        }

    def entries_by_local(self) -> Counter:
        with self.lock:
            return Counter(int(m.group(1)) for j in self.journals.values() if (m := DOC_NUMBER.match(j.get("DocNumber", ""))))

    # ------------------------------------------------------------ API

    def route(self, request: Request, tenant: str) -> Response:
        resource = request.path.rsplit("/", 1)[-1]
        if request.method == "GET" and (match := re.search(r"/journalentry/([^/]+)$", request.path)):
            with self.lock:
                journal = self.journals.get(match.group(1))
            if journal is None:
                return self.fault_response(fault("Object Not Found", f"JournalEntry {match.group(1)} not found", "610"))
            return Response(200, {"JournalEntry": journal, "time": now_text()})
        if resource == "query":
            return self.query(request)
        if resource == "preferences" and request.method == "GET":
            prefs = {"FirstMonthOfFiscalYear": "January", "UseAccountNumbers": True}
            if self.book_close_date:
                prefs["BookCloseDate"] = self.book_close_date.isoformat()
            return Response(200, {"Preferences": {"AccountingInfoPrefs": prefs, "SyncToken": "6"}, "time": now_text()})
        if resource in ("journalentry", "batch") and request.method == "POST":
            key = request.query.get("requestid")
            if key:
                if len(key) > (36 if resource == "batch" else 50):
                    return self.fault_response(fault("Invalid requestid", "requestid is too long", "4001"))
                with self.lock:
                    original = self.replies.get((resource, key))
                if original is not None:
                    return original  # the original response, never a second entry
            response = self.batch(request) if resource == "batch" else self.journal_entry(request)
            if key:
                with self.lock:
                    self.replies[(resource, key)] = response
            return response
        return Response(404, {"Fault": fault("Unsupported", f"{request.method} {resource}", "500"), "time": now_text()})

    def fault_response(self, body: dict, status: int = 400) -> Response:
        return Response(200 if self.faults_in_200 else status, {"Fault": body, "time": now_text()})

    def query(self, request: Request) -> Response:
        sql = request.query.get("query") or request.body.decode()
        match = QUERY.match(sql.strip())
        if not match or (match.group("entity") != "Account" and match.group("entity") not in self.tables):
            return self.fault_response(fault("QueryParserError", f"Encountered an error parsing: {sql[:80]}", "4000"))
        entity, where = match.group("entity"), match.group("where") or ""
        if entity == "Account":
            rows = [a for a in self.accounts if INACTIVE_TOO.search(where) or a["Active"]]
        else:
            rows = list(self.tables[entity])
            since = UPDATED_SINCE.search(where)
            if since:
                cutoff = datetime.fromisoformat(since.group(1))
                rows = [r for r in rows if datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) > cutoff]
        start, size = int(match.group("start") or 1), min(int(match.group("max") or 100), 1000)
        page = rows[start - 1 : start - 1 + size]
        return Response(
            200, {"QueryResponse": {entity: page, "startPosition": start, "maxResults": len(page)}, "time": now_text()}
        )

    # ------------------------------------------------------------ transactions made in QuickBooks

    def account_id(self, number: str) -> str:
        return next(a["Id"] for a in self.accounts if a["AcctNum"] == number)

    def _add(self, table: str, row: dict) -> dict:
        with self.lock:
            self.next_id += 1
            row = {
                "Id": str(self.next_id),
                "SyncToken": "0",
                "domain": "QBO",
                "MetaData": {"CreateTime": now_text(), "LastUpdatedTime": now_text()},
                **row,
            }
            self.tables[table].append(row)
        return row

    def add_invoice(
        self, *, number: str, txn_date: date, customer: str, lines: list[tuple[str, Decimal]], tax: Decimal = Decimal(0)
    ):
        """``lines``: (income account number, amount) pairs, sold through that account's item."""
        items = {i["IncomeAccountRef"]["value"]: i for i in self.tables["Item"]}
        body = [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "Description": f"{customer} {number}",
                "SalesItemLineDetail": {"ItemRef": {"value": items[self.account_id(n)]["Id"]}},
            }
            for n, amount in lines
        ]
        total = sum((a for _, a in lines), Decimal(0)) + tax
        body.append({"Amount": total - tax, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        return self._add(
            "Invoice",
            {
                "DocNumber": number,
                "TxnDate": txn_date.isoformat(),
                "Line": body,
                "TotalAmt": total,
                "TxnTaxDetail": {"TotalTax": tax},
                "CustomerRef": {"value": "1", "name": customer},
            },
        )

    def add_bill(self, *, number: str, txn_date: date, vendor: str, lines: list[tuple[str, Decimal]]):
        body = [
            {
                "Amount": amount,
                "DetailType": "AccountBasedExpenseLineDetail",
                "Description": vendor,
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": self.account_id(n)}},
            }
            for n, amount in lines
        ]
        return self._add(
            "Bill",
            {
                "DocNumber": number,
                "TxnDate": txn_date.isoformat(),
                "Line": body,
                "TotalAmt": sum((a for _, a in lines), Decimal(0)),
                "VendorRef": {"value": "1", "name": vendor},
            },
        )

    def add_payment(self, *, txn_date: date, customer: str, amount: Decimal, deposit_to: str = "1000"):
        return self._add(
            "Payment",
            {
                "TxnDate": txn_date.isoformat(),
                "TotalAmt": amount,
                "DepositToAccountRef": {"value": self.account_id(deposit_to)},
                "CustomerRef": {"value": "1", "name": customer},
            },
        )

    def edit_in_quickbooks(self, journal_id: str) -> None:
        """Someone changes the entry in QuickBooks: its SyncToken moves on (the one closebooks holds is stale)."""
        with self.lock:
            journal = self.journals[journal_id]
            journal["SyncToken"] = str(int(journal["SyncToken"]) + 1)

    def journal_entry(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return self.fault_response(fault("Request has invalid or unsupported property", "Invalid JSON", "2010"))
        result = self.save(body)
        if "Fault" in result:
            return self.fault_response(result["Fault"])
        return Response(200, {"JournalEntry": result, "time": now_text()})

    def batch(self, request: Request) -> Response:
        body = request.json() or {}
        items = body.get("BatchItemRequest") or []
        if not items or len(items) > 30:
            return self.fault_response(fault("Batch size", "A batch carries 1 to 30 BatchItemRequest items", "4002"))
        replies = []
        for item in items:
            result = self.save(item.get("JournalEntry") or {})
            replies.append(
                {"bId": item.get("bId"), **({"Fault": result["Fault"]} if "Fault" in result else {"JournalEntry": result})}
            )
        return Response(200, {"BatchItemResponse": replies, "time": now_text()})

    def save(self, body: dict) -> dict:
        """Validate and create (or update, when ``Id`` is given) one JournalEntry."""
        lines = body.get("Line") or []
        debit = credit = Decimal(0)
        active = {a["Id"]: a["Active"] for a in self.accounts}
        for line in lines:
            detail = line.get("JournalEntryLineDetail") or {}
            amount = Decimal(str(line.get("Amount", 0)))
            account = (detail.get("AccountRef") or {}).get("value")
            if account not in active:
                return {
                    "Fault": fault(
                        "Invalid Reference Id", f"Invalid Reference Id : Accounts element id {account} not found", "2500"
                    )
                }
            if not active[account]:
                return {"Fault": fault("Invalid Reference Id", f"Account {account} is inactive and cannot be used", "2500")}
            if amount <= 0:
                return {"Fault": fault("Invalid Amount", "Line amounts must be positive; PostingType gives the side", "2160")}
            if detail.get("PostingType") == "Debit":
                debit += amount
            else:
                credit += amount
        if not debit or not credit:
            return {
                "Fault": fault(
                    "A business validation error has occurred while processing your request",
                    "Business Validation Error: a journal entry needs at least one debit and one credit line",
                    "6000",
                )
            }
        if debit != credit:
            return {
                "Fault": fault(
                    "A business validation error has occurred while processing your request",
                    f"Business Validation Error: debits ({debit}) and credits ({credit}) must be equal",
                    "6000",
                )
            }
        try:
            txn_date = date.fromisoformat(body.get("TxnDate", ""))
        except ValueError:
            return {"Fault": fault("Invalid Date", "TxnDate is not a date", "2090")}
        if self.book_close_date and txn_date <= self.book_close_date:
            return {"Fault": fault("Account Period Closed", CLOSED_DETAIL, "6210")}
        with self.lock:
            if body.get("Id"):
                current = self.journals.get(str(body["Id"]))
                if current is None:
                    return {"Fault": fault("Object Not Found", f"JournalEntry {body['Id']} not found", "610")}
                if str(body.get("SyncToken")) != current["SyncToken"]:
                    return {"Fault": fault("Stale Object Error", "You and another user were working on the same thing", "5010")}
                saved = {
                    **body,
                    "Id": current["Id"],
                    "SyncToken": str(int(current["SyncToken"]) + 1),
                    "domain": "QBO",
                    "MetaData": {**current["MetaData"], "LastUpdatedTime": now_text()},
                }
            else:
                self.next_id += 1
                saved = {
                    **body,
                    "Id": str(self.next_id),
                    "SyncToken": "0",
                    "domain": "QBO",
                    "MetaData": {"CreateTime": now_text(), "LastUpdatedTime": now_text()},
                }
            self.journals[saved["Id"]] = saved
        return saved


__all__ = ["FakeQuickBooksOnline"]
