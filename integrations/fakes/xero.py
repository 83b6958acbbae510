"""A fake Xero: OAuth with rotating refresh tokens, /connections, /Accounts, PUT/POST
/ManualJournals with Idempotency-Key replay and validation errors (whole-request 400 or per item
with summarizeErrors=false), /Organisation with MS-JSON lock dates, 60 calls/min per tenant with
Retry-After and the X-*Limit-Remaining headers."""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from .chart import default_chart
from .server import FakeVendor, Request, Response

SYSTEM_ACCOUNTS = {"1100": "DEBTORS", "2000": "CREDITORS", "2300": "GST"}
XERO_TYPES = {"asset": "CURRENT", "liability": "CURRLIAB", "equity": "EQUITY", "revenue": "REVENUE", "expense": "EXPENSE"}
NARRATION = re.compile(r"^closebooks JE-(\d+)\b")
DAY_LIMIT = 5000
APP_MINUTE_LIMIT = 10000


def ms_date(value: date) -> str:
    ms = int(datetime.combine(value, time(0), tzinfo=UTC).timestamp() * 1000)
    return f"/Date({ms}+0000)/"


class FakeXero(FakeVendor):
    vendor = "Xero"
    access_ttl = 1800
    rotate_refresh_tokens = True
    refresh_grace = 1800.0  # a lost refresh response: the old token works for 30 minutes
    quotas = {"calls": 60}
    concurrency = 5
    organisation_tz = timezone(timedelta(hours=13))  # the demo organisation keeps Auckland (summer) time

    def __init__(
        self,
        *,
        accounts: list[dict] | None = None,
        period_lock_date: date | None = None,
        end_of_year_lock_date: date | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.chart = accounts if accounts is not None else default_chart()
        self.accounts = [
            {
                "AccountID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"xero-account-{a['number']}")),
                "Code": a["number"],
                "Name": a["name"],
                "Type": XERO_TYPES.get(a["type"], a["type"].upper()),
                "Status": "ACTIVE" if a["active"] else "ARCHIVED",
                "Class": a["type"].upper(),
                **({"SystemAccount": SYSTEM_ACCOUNTS[a["number"]]} if a["number"] in SYSTEM_ACCOUNTS else {}),
            }
            for a in self.chart
        ]
        self.period_lock_date = period_lock_date
        self.end_of_year_lock_date = end_of_year_lock_date
        self.journals: dict[str, dict] = {}
        self.replies: dict[str, Response] = {}
        self.invoices: list[dict] = []  # made in Xero, for the inbound pull
        self.payments: list[dict] = []
        self.day_calls = 0
        self.token_events: dict[str, str] = {}  # refresh token -> its sign-in's authentication_event_id
        self.auth_events: list[str] = []
        self.pending_event = ""
        # Every organisation this user ever connected to the app, one row per sign-in that authorised it.
        self.connections: list[dict] = [
            {
                "tenantId": str(uuid.uuid4()),
                "tenantName": "Another organisation (an earlier sign-in)",
                "authEventId": str(uuid.uuid4()),
            }
        ]
        self.also_authorise: list[tuple[str, str]] = []  # further organisations ticked on the next consent
        self.warnings_next: list[str] = []  # Warnings the next saved journals carry

    def new_tenant_id(self) -> str:
        return str(uuid.uuid4())

    # ------------------------------------------------------------ sign-ins and organisations

    def mint_access_token(self, refresh_token: str | None) -> str:
        """A JWT like Xero's, whose ``authentication_event_id`` names the sign-in: a code exchange is a
        new sign-in (every organisation ticked on the consent screen joins it); a refresh keeps its event."""
        event = self.token_events.get(refresh_token or "") or str(uuid.uuid4())
        if refresh_token is None:
            self.auth_events.append(event)
        claims = {"authentication_event_id": event, "xero_userid": "fake-user", "jti": secrets.token_hex(8)}
        encode = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        token = f"{encode({'alg': 'RS256', 'typ': 'JWT'})}.{encode(claims)}.{secrets.token_urlsafe(16)}"
        self.pending_event = event
        return token

    def _issue(self, refresh_token: str | None = None, scope: str | None = None) -> dict:
        body = super()._issue(refresh_token=refresh_token, scope=scope)
        self.token_events[body["refresh_token"]] = self.pending_event
        if refresh_token is None:
            # This sign-in authorised the demo organisation, and any "also" ones the test ticked.
            for tenant_id, name in [(self.tenant_id, self.tenant_name), *self.also_authorise]:
                self.connections.append({"tenantId": tenant_id, "tenantName": name, "authEventId": self.pending_event})
        return body

    def contract_error(self, request: Request, message: str) -> Response:
        # Xero's schemas.Error shape: a body it cannot read is a PostDataInvalidException (ErrorNumber 14).
        return Response(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": message})

    def unauthorized(self) -> Response:
        return Response(
            401,
            {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"},
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    def tenant_of(self, request: Request, token: dict):
        if request.path == "/connections":
            return self.tenant_id
        if request.headers.get("xero-tenant-id") != self.tenant_id:
            return Response(403, {"Type": None, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"})
        return self.tenant_id

    def buckets(self, request: Request) -> list[str]:
        return [] if request.path == "/connections" else ["calls"]

    def throttle(self, request: Request, bucket: str, wait: float) -> Response:
        return Response(
            429,
            {"Title": "Too Many Requests", "Status": 429},
            headers={
                "Retry-After": str(max(1, math.ceil(wait))),
                "X-Rate-Limit-Problem": "minute" if bucket != "concurrent" else "concurrent",
                **self.limit_headers(request),
            },
        )

    def limit_headers(self, request: Request) -> dict:
        return {
            "X-DayLimit-Remaining": str(max(0, DAY_LIMIT - self.day_calls)),
            "X-MinLimit-Remaining": str(self.remaining(self.tenant_id, "calls")),
            "X-AppMinLimit-Remaining": str(APP_MINUTE_LIMIT - len(self.windows[(self.tenant_id, "calls")])),
        }

    def decorate(self, response: Response, tenant: str) -> Response:
        with self.lock:
            self.day_calls += 1
            response.headers.update(self.limit_headers(None))
        return response

    def configure(self, options: dict) -> None:
        super().configure(options)
        with self.lock:
            for name in ("period_lock_date", "end_of_year_lock_date"):
                if name in options:
                    setattr(self, name, date.fromisoformat(options[name]) if options[name] else None)

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
            return Counter(int(m.group(1)) for j in self.journals.values() if (m := NARRATION.match(j.get("Narration", ""))))

    # ------------------------------------------------------------ API

    def route(self, request: Request, tenant: str) -> Response:
        path = request.path
        if path == "/connections" and request.method == "GET":
            # xero-identity.yaml: GET /Connections, optionally filtered by authEventId. Without it, every
            # organisation the user ever connected is listed (Xero "Managing connections").
            event = request.query.get("authEventId")
            with self.lock:
                rows = [c for c in self.connections if not event or c["authEventId"] == event]
            return Response(
                200,
                [
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, c["tenantId"] + c["authEventId"])),
                        "authEventId": c["authEventId"],
                        "tenantId": c["tenantId"],
                        "tenantType": "ORGANISATION",
                        "tenantName": c["tenantName"],
                        "createdDateUtc": datetime.now(UTC).isoformat(),
                    }
                    for c in rows
                ],
            )
        resource = path.rsplit("/", 1)[-1]
        if resource == "Accounts" and request.method == "GET":
            return Response(200, {"Id": str(uuid.uuid4()), "Status": "OK", "Accounts": self.accounts})
        if resource in ("Invoices", "Payments") and request.method == "GET":
            rows = self.invoices if resource == "Invoices" else self.payments
            since = request.headers.get("if-modified-since")
            if since:
                cutoff = datetime.fromisoformat(since)
                if cutoff.tzinfo is None:  # no offset: Xero reads the organisation's local time, not UTC
                    cutoff = cutoff.replace(tzinfo=self.organisation_tz)
                rows = [r for r in rows if r["_updated"] > cutoff]
            if resource == "Invoices" and request.query.get("Statuses"):
                rows = [r for r in rows if r["Status"] in request.query["Statuses"].split(",")]
            page = int(request.query.get("page", "1"))
            rows = [{k: v for k, v in r.items() if k != "_updated"} for r in rows[(page - 1) * 100 : page * 100]]
            return Response(200, {"Id": str(uuid.uuid4()), "Status": "OK", resource: rows})
        if resource == "Organisation" and request.method == "GET":
            org = {"Name": self.tenant_name, "BaseCurrency": "USD", "FinancialYearEndDay": 31, "FinancialYearEndMonth": 12}
            if self.period_lock_date:
                org["PeriodLockDate"] = ms_date(self.period_lock_date)
            if self.end_of_year_lock_date:
                org["EndOfYearLockDate"] = ms_date(self.end_of_year_lock_date)
            return Response(200, {"Id": str(uuid.uuid4()), "Status": "OK", "Organisations": [org]})
        if resource == "ManualJournals" and request.method in ("PUT", "POST"):
            key = request.headers.get("idempotency-key", "")
            if len(key) > 128:
                return Response(400, {"ErrorNumber": 10, "Type": "ValidationException", "Message": "Idempotency-Key too long"})
            if key:
                with self.lock:
                    original = self.replies.get(key)
                if original is not None:
                    return original
            response = self.manual_journals(request)
            if key:
                with self.lock:
                    self.replies[key] = response
            return response
        return Response(404, {"Title": "Not Found", "Status": 404})

    def manual_journals(self, request: Request) -> Response:
        try:
            items = (request.json() or {}).get("ManualJournals") or []
        except ValueError:
            return Response(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": "Invalid JSON"})
        summarize = request.query.get("summarizeErrors", "true").lower() != "false"
        results = []
        with self.lock:
            checked = [(item, self.validate(item, update=request.method == "POST")) for item in items]
            if summarize and any(errors for _, errors in checked):
                return Response(
                    400,
                    {
                        "ErrorNumber": 10,
                        "Type": "ValidationException",
                        "Message": "A validation exception occurred",
                        "Elements": [{**item, "ValidationErrors": [{"Message": m} for m in errors]} for item, errors in checked],
                    },
                )
            for item, errors in checked:
                if errors:
                    results.append(
                        {**item, "StatusAttributeString": "ERROR", "ValidationErrors": [{"Message": m} for m in errors]}
                    )
                    continue
                journal_id = item.get("ManualJournalID") or str(uuid.uuid4())
                saved = {
                    **item,
                    "ManualJournalID": journal_id,
                    "Date": ms_date(date.fromisoformat(item["Date"])),
                    "UpdatedDateUTC": ms_date(datetime.now(UTC).date()),
                    "Status": item.get("Status") or "DRAFT",
                }
                self.journals[journal_id] = saved
                warnings = [{"Message": m} for m in self.warnings_next]
                results.append({**saved, "StatusAttributeString": "OK", "Warnings": warnings})
        return Response(
            200,
            {
                "Id": str(uuid.uuid4()),
                "Status": "OK",
                "ProviderName": "closebooks",
                "DateTimeUTC": ms_date(datetime.now(UTC).date()),
                "ManualJournals": results,
            },
        )

    def add_invoice(
        self, *, kind: str, number: str, txn_date: date, contact: str, lines: list[tuple[str, Decimal]], tax: Decimal = Decimal(0)
    ) -> dict:
        """``kind`` ACCREC (sales invoice) or ACCPAY (bill); ``lines``: (account code, amount excl. tax)."""
        subtotal = sum((a for _, a in lines), Decimal(0))
        row = {
            "InvoiceID": str(uuid.uuid4()),
            "Type": kind,
            "InvoiceNumber": number,
            "Date": ms_date(txn_date),
            "Status": "AUTHORISED",
            "LineAmountTypes": "Exclusive",
            "Contact": {"Name": contact},
            "LineItems": [{"Description": contact, "LineAmount": a, "AccountCode": code} for code, a in lines],
            "SubTotal": subtotal,
            "TotalTax": tax,
            "Total": subtotal + tax,
            "_updated": datetime.now(UTC),
        }
        with self.lock:
            self.invoices.append(row)
        return row

    def add_payment(self, *, invoice: dict, txn_date: date, amount: Decimal, bank_code: str = "1000") -> dict:
        bank = next(a for a in self.accounts if a["Code"] == bank_code)
        row = {
            "PaymentID": str(uuid.uuid4()),
            "Date": ms_date(txn_date),
            "Amount": amount,
            "Reference": invoice["InvoiceNumber"],
            "Account": {"AccountID": bank["AccountID"], "Code": bank_code},
            "Invoice": {"InvoiceID": invoice["InvoiceID"], "Type": invoice["Type"]},
            "Status": "AUTHORISED",
            "_updated": datetime.now(UTC),
        }
        with self.lock:
            self.payments.append(row)
        return row

    def validate(self, item: dict, *, update: bool) -> list[str]:
        errors = []
        if not item.get("Narration"):
            errors.append("Narration is required")
        if item.get("ManualJournalID") and (not update or item["ManualJournalID"] not in self.journals):
            errors.append(f"ManualJournal {item['ManualJournalID']} could not be found")
        status = {a["Code"]: a["Status"] for a in self.accounts}
        codes = {a["AccountID"]: a["Code"] for a in self.accounts}
        total = Decimal(0)
        debits = credits = Decimal(0)
        for line in item.get("JournalLines") or []:
            code = codes.get(str(line.get("AccountID")), "?") if line.get("AccountID") else str(line.get("AccountCode", ""))
            amount = Decimal(str(line.get("LineAmount", 0)))
            total += amount
            if amount > 0:
                debits += amount
            else:
                credits += amount
            if code not in status:
                errors.append(f"Account code '{code}' is not a valid code for this document.")
            elif status[code] != "ACTIVE":
                errors.append(
                    f"Account code '{code}' has been archived, or has been deleted. "
                    "Each line item must reference a valid account."
                )
        if len(item.get("JournalLines") or []) < 2:
            errors.append("At least two journal lines are required")
        if total != 0:
            errors.append(f"The total debits ({debits:.2f}) must equal total credits ({credits:.2f})")
        try:
            when = date.fromisoformat(str(item.get("Date", "")))
        except ValueError:
            errors.append("Date is not a valid date")
            return errors
        if item.get("Status", "DRAFT") == "POSTED":  # drafts may still be saved inside a locked period
            if self.end_of_year_lock_date and when <= self.end_of_year_lock_date:
                errors.append(
                    f"The document date cannot be before the end of year lock date, currently set at "
                    f"{self.end_of_year_lock_date:%d-%b-%Y}"
                )
            elif self.period_lock_date and when <= self.period_lock_date:
                errors.append(f"The document date cannot be before the period lock date of {self.period_lock_date:%d %b %Y}")
        return errors
