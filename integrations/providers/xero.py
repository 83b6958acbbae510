"""Xero Accounting API, as documented by Xero (reference: integration-apis.md §2)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from .base import (
    ClosedDate,
    ClosedPeriodRejected,
    ConnectionBroken,
    EntryRejected,
    InboundLine,
    InboundTransaction,
    Provider,
    PushEntry,
    PushOutcome,
    RemoteAccount,
    TenantChoiceNeeded,
    TokenExpired,
    Tokens,
    UnexpectedResponse,
    vendor_money,
)
from .http import dumps, json_body, make_client, raise_for_transport, send, token_request

VENDOR = "Xero"
SCOPES = "offline_access accounting.transactions accounting.settings"
BATCH_MAX = 50  # "batches of about 50 items are recommended"
MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
LOCK_MESSAGES = ("period lock date", "end of year lock date", "lock date")


ZERO = Decimal("0.00")
PAGE = 100  # Xero pages Invoices and Payments by 100


def _money(value: object) -> Decimal:
    return vendor_money(value, vendor=VENDOR)


def ms_json_date(value: object) -> date | None:
    """Xero's MS-JSON dates: ``/Date(1546214400000+0000)/`` (milliseconds since the epoch, UTC)."""
    if value in (None, ""):
        return None
    match = MS_DATE.match(str(value))
    if not match:
        raise UnexpectedResponse(f"{VENDOR} date {value!r} is not in the documented /Date(ms+zone)/ format.")
    try:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).date()
    except (OverflowError, OSError, ValueError):
        raise UnexpectedResponse(f"{VENDOR} date {value!r} is out of range.") from None


def auth_event_id(access_token: str) -> str:
    """The ``authentication_event_id`` claim of a Xero access token (a JWT; Xero "Access token" docs).
    Read, not verified: it only narrows the /connections list for this sign-in; "" if absent."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return ""
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return ""
    return str(payload.get("authentication_event_id") or "") if isinstance(payload, dict) else ""


def validation_error(messages: list[str]) -> EntryRejected:
    text = "; ".join(messages) or "validation failed"
    if any(marker in m.lower() for m in messages for marker in LOCK_MESSAGES):
        return ClosedPeriodRejected(f"{VENDOR} refused an entry in its locked period: {text}")
    return EntryRejected(f"{VENDOR} refused the entry: {text}")


def _messages(item: dict) -> list[str]:
    return [str(e.get("Message", "")) for e in item.get("ValidationErrors") or [] if isinstance(e, dict)]


class Xero(Provider):
    code = "xero"
    name = VENDOR
    batch_size = BATCH_MAX
    # 60 calls/min per tenant (5 concurrent, 5000/day, 10,000/min per app across tenants).
    quotas = (("calls", 60),)

    def __init__(self, config, *, tenant_id="", tokens=None):
        super().__init__(config, tenant_id=tenant_id, tokens=tokens)
        self.http = make_client()

    # ------------------------------------------------------------ OAuth

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": SCOPES,
                "state": state,
            }
        )
        return f"{self.config.authorize_url}?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str) -> Tokens:
        self.tokens = token_request(
            self.http, self.config, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, VENDOR
        )
        return self.tokens

    def tenant_from_callback(self, params: dict[str, str]) -> tuple[str, str]:
        """The organisation this sign-in authorised. /connections lists every organisation the user ever
        connected to this app; the ones of this sign-in carry the access token's
        ``authentication_event_id`` (xero-identity.yaml: GET /Connections?authEventId=…; Xero
        "Managing connections"). One: that one. Several: the user chooses (``params["tenant"]``)."""
        if self.tokens is None:
            raise ConnectionBroken(f"{VENDOR}: exchange the code before asking for tenants.")
        organisations = self.organisations()
        chosen = params.get("tenant", "")
        if chosen:
            for tenant_id, name in organisations:
                if tenant_id == chosen:
                    return tenant_id, name
            raise ConnectionBroken(f"{VENDOR}: that organisation was not authorised in this sign-in.")
        if len(organisations) > 1:
            raise TenantChoiceNeeded(VENDOR, organisations)
        return organisations[0]

    def organisations(self) -> list[tuple[str, str]]:
        """(tenantId, tenantName) of the organisations authorised in this sign-in."""
        event = auth_event_id(self.tokens.access_token)
        response = send(
            self.http,
            "GET",
            self.config.connections_url,
            params={"authEventId": event} if event else None,
            headers={"Authorization": f"Bearer {self.tokens.access_token}", "Accept": "application/json"},
        )
        raise_for_transport(response, VENDOR)
        if response.status_code == 401:
            raise TokenExpired(f"{VENDOR} refused the new access token.")
        body = json_body(response, VENDOR)
        if response.status_code != 200 or not isinstance(body, list):
            raise UnexpectedResponse(f"{VENDOR} /connections answered {response.status_code} without a list.")
        found = [
            (str(t["tenantId"]), str(t.get("tenantName") or t["tenantId"]))
            for t in body
            if isinstance(t, dict)
            and t.get("tenantType") == "ORGANISATION"
            and t.get("tenantId")
            and (not event or t.get("authEventId") in (None, event))
        ]
        if not found:
            raise ConnectionBroken(f"{VENDOR}: the authorisation gave access to no organisation.")
        return found

    def refresh(self) -> Tokens:
        if self.tokens is None:
            raise ConnectionBroken(f"{VENDOR}: no refresh token stored; connect again.")
        # Xero rotates refresh tokens: the response carries a new one that replaces this one.
        self.tokens = token_request(
            self.http, self.config, {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}, VENDOR
        )
        return self.tokens

    # ------------------------------------------------------------ plumbing

    def _call(self, method: str, path: str, *, params: dict | None = None, headers: dict | None = None, **kwargs) -> dict:
        if self.tokens is None:
            raise ConnectionBroken(f"{VENDOR}: not connected.")
        url = f"{self.config.api_base_url.rstrip('/')}/{path.lstrip('/')}"
        all_headers = {
            "Authorization": f"Bearer {self.tokens.access_token}",
            "xero-tenant-id": self.tenant_id,
            "Accept": "application/json",
            **(headers or {}),
        }
        response = send(self.http, method, url, params=params, headers=all_headers, **kwargs)
        if response.status_code == 401:
            raise TokenExpired(f"{VENDOR} answered 401: the access token expired or was revoked.")
        if response.status_code == 403:
            raise ConnectionBroken(f"{VENDOR} answered 403: the organisation is disconnected or the tenant is wrong.")
        raise_for_transport(response, VENDOR)
        body = json_body(response, VENDOR)
        if not isinstance(body, dict):
            raise UnexpectedResponse(f"{VENDOR} answered {response.status_code} with JSON that is not an object.")
        if response.status_code == 400 and body.get("Type") == "ValidationException":
            raise self._whole_request_error(body)
        if response.status_code != 200:
            raise UnexpectedResponse(
                f"{VENDOR} answered {response.status_code}: {body.get('Message') or body.get('Detail') or ''}"
            )
        return body

    @staticmethod
    def _whole_request_error(body: dict) -> EntryRejected:
        messages = [m for element in body.get("Elements") or [] if isinstance(element, dict) for m in _messages(element)]
        return validation_error(messages or [str(body.get("Message", "A validation exception occurred"))])

    # ------------------------------------------------------------ data

    def list_accounts(self) -> list[RemoteAccount]:
        body = self._call("GET", "Accounts", params={"order": "Name ASC"})
        rows = body.get("Accounts")
        if not isinstance(rows, list):
            raise UnexpectedResponse(f"{VENDOR} /Accounts response lacks Accounts.")
        try:
            return [
                RemoteAccount(
                    external_id=str(row["AccountID"]),
                    number=str(row.get("Code") or ""),
                    name=str(row["Name"]),
                    type=str(row.get("Type") or ""),
                    active=row.get("Status", "ACTIVE") == "ACTIVE",
                )
                for row in rows
            ]
        except (KeyError, TypeError):
            raise UnexpectedResponse(f"{VENDOR} returned an Account without AccountID or Name.") from None

    @staticmethod
    def manual_journal_body(entry: PushEntry) -> dict:
        journal = {
            "Narration": (f"closebooks JE-{entry.local_id} {entry.memo}").strip(),
            "Date": entry.entry_date.isoformat(),
            "Status": "POSTED",
            "LineAmountTypes": "NoTax",
            "JournalLines": [
                {
                    "LineAmount": line.debit if line.debit else -line.credit,
                    # AccountID: every account has one; Code is optional in Xero (Account.Code "Customer
                    # defined alpha numeric account code", not required).
                    "AccountID": line.external_account_id,
                    "Description": line.description,
                }
                for line in entry.lines
            ],
        }
        if entry.external_id:
            journal["ManualJournalID"] = entry.external_id
        return journal

    def push_entries(self, entries: list[PushEntry], *, key: str) -> list[PushOutcome]:
        if not entries:
            return []
        if len(entries) > BATCH_MAX:
            raise ValueError(f"a Xero ManualJournals request carries at most {BATCH_MAX} journals here")
        # PUT creates; POST creates or updates. Entries already in Xero (changed since) need POST.
        method = "POST" if any(e.external_id for e in entries) else "PUT"
        body = {"ManualJournals": [self.manual_journal_body(e) for e in entries]}
        try:
            response = self._call(
                method,
                "ManualJournals",
                params={"summarizeErrors": "false"},
                headers={"Idempotency-Key": key, "Content-Type": "application/json"},
                content=dumps(body),
            )
        except EntryRejected as exc:
            return [PushOutcome(e.local_id, error=exc) for e in entries]
        journals = response.get("ManualJournals")
        if not isinstance(journals, list) or len(journals) != len(entries):
            raise UnexpectedResponse(f"{VENDOR} answered with {len(journals or [])} journals for {len(entries)} sent.")
        outcomes = []
        for entry, journal in zip(entries, journals, strict=True):
            messages = _messages(journal) if isinstance(journal, dict) else ["malformed journal"]
            if messages or journal.get("StatusAttributeString") == "ERROR":
                outcomes.append(PushOutcome(entry.local_id, error=validation_error(messages)))
            elif not journal.get("ManualJournalID"):
                outcomes.append(
                    PushOutcome(entry.local_id, error=UnexpectedResponse(f"{VENDOR} answered without ManualJournalID."))
                )
            else:
                warnings = tuple(
                    str(w.get("Message", "")) for w in journal.get("Warnings") or [] if isinstance(w, dict) and w.get("Message")
                )
                outcomes.append(PushOutcome(entry.local_id, external_id=str(journal["ManualJournalID"]), warnings=warnings))
        return outcomes

    def read_closed_dates(self) -> list[ClosedDate]:
        body = self._call("GET", "Organisation")
        orgs = body.get("Organisations")
        if not isinstance(orgs, list) or not orgs or not isinstance(orgs[0], dict):
            raise UnexpectedResponse(f"{VENDOR} /Organisation response lacks Organisations.")
        org = orgs[0]
        period = ms_json_date(org.get("PeriodLockDate"))
        year_end = ms_json_date(org.get("EndOfYearLockDate"))
        # Which lock binds advisers is not documented for certain: the effective lock is the later one.
        effective = max((d for d in (period, year_end) if d is not None), default=None)
        return [ClosedDate(effective, detail={"PeriodLockDate": str(period or ""), "EndOfYearLockDate": str(year_end or "")})]

    def _pages(self, resource: str, headers: dict, params: dict | None = None) -> list[dict]:
        found: list[dict] = []
        page = 1
        while True:
            rows = self._call("GET", resource, params={**(params or {}), "page": str(page)}, headers=headers).get(resource)
            if not isinstance(rows, list):
                raise UnexpectedResponse(f"{VENDOR} /{resource} response lacks {resource}.")
            found.extend(rows)
            if len(rows) < PAGE:
                return found
            page += 1

    def pull_inbound(self, *, since: datetime | None) -> list[InboundTransaction]:
        """Sales invoices (ACCREC) and bills (ACCPAY) with their line accounts, tax and the
        receivable/payable control account, and payments against them, changed since ``since``."""
        # The spec's If-Modified-Since is an RFC 3339 date-time: with its UTC offset, or Xero reads local time.
        headers = {"If-Modified-Since": since.astimezone(UTC).isoformat(timespec="seconds")} if since else {}
        system = {
            a.get("SystemAccount"): a
            for a in self._call("GET", "Accounts").get("Accounts") or []
            if isinstance(a, dict) and a.get("SystemAccount")
        }

        def control(name: str) -> str:
            if name not in system:
                raise UnexpectedResponse(f"{VENDOR} has no {name} system account.")
            return str(system[name]["AccountID"])

        found: list[InboundTransaction] = []

        def invoice(inv: dict) -> InboundTransaction:
            if inv.get("Type") not in ("ACCREC", "ACCPAY"):
                raise UnexpectedResponse(f"an invoice of type {inv.get('Type')!r}, which closebooks does not know how to post")
            sale = inv["Type"] == "ACCREC"
            lines = []
            for item in inv.get("LineItems") or []:
                amount = _money(item["LineAmount"])
                if inv.get("LineAmountTypes") == "Inclusive":
                    amount -= _money(item.get("TaxAmount", 0))
                side = (ZERO, amount) if sale else (amount, ZERO)
                # AccountID when Xero gives it (Code is optional in Xero), else the code.
                lines.append(
                    InboundLine(
                        *side,
                        external_account_id=str(item.get("AccountID") or ""),
                        external_account_code="" if item.get("AccountID") else str(item["AccountCode"]),
                        description=item.get("Description", ""),
                    )
                )
            tax = _money(inv.get("TotalTax", 0))
            if tax:
                lines.append(
                    InboundLine(*((ZERO, tax) if sale else (tax, ZERO)), external_account_id=control("GST"), description="Tax")
                )
            total = _money(inv["Total"])
            contact = str((inv.get("Contact") or {}).get("Name", ""))
            lines.append(
                InboundLine(
                    *((total, ZERO) if sale else (ZERO, total)),
                    external_account_id=control("DEBTORS" if sale else "CREDITORS"),
                    description=contact,
                )
            )
            return InboundTransaction(
                "invoice" if sale else "bill",
                str(inv["InvoiceID"]),
                str(inv.get("InvoiceNumber") or ""),
                ms_json_date(inv["Date"]),
                f"Xero {inv['Type']} {inv.get('InvoiceNumber', '')} {contact}".strip(),
                tuple(lines),
            )

        def payment(pay: dict) -> InboundTransaction:
            sale = (pay.get("Invoice") or {}).get("Type", "ACCREC") == "ACCREC"
            amount, bank = _money(pay["Amount"]), str(pay["Account"]["AccountID"])
            other = control("DEBTORS" if sale else "CREDITORS")
            lines = (
                (InboundLine(amount, ZERO, bank), InboundLine(ZERO, amount, other))
                if sale
                else (InboundLine(amount, ZERO, other), InboundLine(ZERO, amount, bank))
            )
            return InboundTransaction(
                "payment",
                str(pay["PaymentID"]),
                str(pay.get("Reference") or ""),
                ms_json_date(pay["Date"]),
                f"Xero payment {pay.get('Reference', '')}".strip(),
                lines,
            )

        def read(kind: str, row: object, build, id_field: str, number_field: str) -> None:
            """One document; one that cannot be read is refused on its own, with the reason."""
            row = row if isinstance(row, dict) else {}
            external_id = str(row.get(id_field) or "")
            number = str(row.get(number_field) or external_id or "?")
            try:
                found.append(build(row))
            except UnexpectedResponse as exc:
                found.append(InboundTransaction.refused(kind, external_id or number, number, f"{VENDOR}: {exc.message}"))
            except (KeyError, TypeError, AttributeError):
                found.append(
                    InboundTransaction.refused(
                        kind, external_id or number, number, f"{VENDOR} sent this {kind} without its documented fields."
                    )
                )

        for inv in self._pages("Invoices", headers, {"Statuses": "AUTHORISED,PAID"}):
            read("invoice", inv, invoice, "InvoiceID", "InvoiceNumber")
        for pay in self._pages("Payments", headers):
            read("payment", pay, payment, "PaymentID", "Reference")
        return found

    def remote_version(self) -> str:
        return "Xero Accounting API 2.0"

    def close(self) -> None:
        self.http.close()
