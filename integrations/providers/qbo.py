"""QuickBooks Online (v3 REST), as documented by Intuit (reference: integration-apis.md §1)."""

from __future__ import annotations

from datetime import date, datetime
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
    ProviderError,
    PushEntry,
    PushOutcome,
    RateLimited,
    RemoteAccount,
    TokenExpired,
    Tokens,
    TransientError,
    UnexpectedResponse,
    vendor_date,
    vendor_money,
)
from .http import DEFAULT_RETRY_AFTER, dumps, json_body, make_client, raise_for_transport, send, token_request

VENDOR = "QuickBooks Online"
MINOR_VERSION = "75"
SCOPE = "com.intuit.quickbooks.accounting"
PAGE = 1000
BATCH_MAX = 30  # BatchItemRequest payloads per batch call
JSON = {"Content-Type": "application/json"}


ZERO = Decimal("0.00")


def _money(value: object) -> Decimal:
    return vendor_money(value, vendor=VENDOR)


def _name(row: dict, ref: str) -> str:
    return str((row.get(ref) or {}).get("name", ""))


def _txn(kind: str, row: dict, lines: list[InboundLine]) -> InboundTransaction:
    return InboundTransaction(
        kind=kind,
        external_id=str(row["Id"]),
        number=str(row.get("DocNumber") or row["Id"]),
        txn_date=vendor_date(row["TxnDate"], vendor=VENDOR, what=f"{kind} {row['Id']} date"),
        memo=str(row.get("PrivateNote") or f"QuickBooks {kind} {row.get('DocNumber') or row['Id']}"),
        lines=tuple(lines),
    )


def is_closed_period(error: dict) -> bool:
    """Matched on the message, never on the code: sources disagree on the code (6210, 5010)."""
    text = f"{error.get('Message', '')} {error.get('Detail', '')}".lower()
    return "account period closed" in text or "account period has closed" in text


def fault_error(fault: dict) -> ProviderError:
    errors = fault.get("Error") or fault.get("error") or [{}]
    first = {k[:1].upper() + k[1:]: v for k, v in (errors[0] if isinstance(errors[0], dict) else {}).items()}
    kind = str(fault.get("type", ""))
    message = str(first.get("Message", "")) or kind or "Fault"
    detail = str(first.get("Detail", ""))
    code = str(first.get("Code", ""))
    text = f"{message}: {detail}" if detail else message
    if is_closed_period(first):
        return ClosedPeriodRejected(f"{VENDOR} refused an entry in its closed period: {text}")
    if code.lstrip("0") == "3001" or "throttle" in message.lower():
        return RateLimited(f"{VENDOR} is throttling requests ({text}).", retry_after=DEFAULT_RETRY_AFTER)
    if kind.upper() == "AUTHENTICATION" or code.lstrip("0") in {"3200", "100"}:
        return TokenExpired(f"{VENDOR} refused the access token ({text}).")
    if kind == "SystemFault":
        return TransientError(f"{VENDOR} system fault: {text}")
    return EntryRejected(f"{VENDOR} refused the entry ({kind} {code}): {text}")


class QuickBooksOnline(Provider):
    code = "qbo"
    name = VENDOR
    batch_size = BATCH_MAX
    # 500 requests/min per realm (batch calls included), 40 batch calls/min per realm.
    quotas = (("calls", 500), ("batch", 40))

    def __init__(self, config, *, tenant_id="", tokens=None):
        super().__init__(config, tenant_id=tenant_id, tokens=tokens)
        self.http = make_client()

    # ------------------------------------------------------------ OAuth

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "response_type": "code",
                "scope": SCOPE,
                "redirect_uri": redirect_uri,
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
        realm = (params.get("realmId") or "").strip()
        if not realm:
            raise UnexpectedResponse(f"{VENDOR} redirected back without a realmId.")
        return realm, f"QuickBooks company {realm}"

    def refresh(self) -> Tokens:
        if self.tokens is None:
            raise ConnectionBroken(f"{VENDOR}: no refresh token stored; connect again.")
        self.tokens = token_request(
            self.http, self.config, {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}, VENDOR
        )
        return self.tokens

    # ------------------------------------------------------------ plumbing

    def _url(self, resource: str, **params: str) -> str:
        query = urlencode({"minorversion": MINOR_VERSION, **params})
        return f"{self.config.api_base_url.rstrip('/')}/v3/company/{self.tenant_id}/{resource}?{query}"

    def _call(self, method: str, url: str, **kwargs) -> dict:
        if self.tokens is None:
            raise ConnectionBroken(f"{VENDOR}: not connected.")
        headers = {
            "Authorization": f"Bearer {self.tokens.access_token}",
            "Accept": "application/json",
            **kwargs.pop("headers", {}),
        }
        response = send(self.http, method, url, headers=headers, **kwargs)
        if response.status_code == 401:
            raise TokenExpired(f"{VENDOR} answered 401: the access token expired or was revoked.")
        if response.status_code == 403:
            raise ConnectionBroken(f"{VENDOR} answered 403: this app has no access to company {self.tenant_id}.")
        raise_for_transport(response, VENDOR)
        body = json_body(response, VENDOR)
        if not isinstance(body, dict):
            raise UnexpectedResponse(f"{VENDOR} answered {response.status_code} with JSON that is not an object.")
        # A Fault can arrive inside an HTTP 200 as well as with 4xx.
        if "Fault" in body or "fault" in body:
            raise fault_error(body.get("Fault") or body.get("fault") or {})
        if response.status_code != 200:
            raise UnexpectedResponse(f"{VENDOR} answered {response.status_code} without a Fault.")
        return body

    # ------------------------------------------------------------ data

    def _query(self, entity: str, where: str = "") -> list[dict]:
        """``SELECT * FROM <entity>`` through /query, page by page (1000 rows at most per page)."""
        found: list[dict] = []
        start = 1
        while True:
            # QBO's query language, not SQL sent to a database; entity and where are our own constants and ISO dates.
            sql = f"SELECT * FROM {entity}{where} STARTPOSITION {start} MAXRESULTS {PAGE}"  # noqa: S608
            body = self._call("POST", self._url("query"), content=sql, headers={"Content-Type": "application/text"})
            rows = (body.get("QueryResponse") or {}).get(entity, [])
            if not isinstance(rows, list):
                raise UnexpectedResponse(f"{VENDOR} /query answered {entity} that is not a list.")
            found.extend(rows)
            if len(rows) < PAGE:
                return found
            start += PAGE

    def list_accounts(self) -> list[RemoteAccount]:
        accounts: list[RemoteAccount] = []
        for row in self._query("Account", " WHERE Active IN (true,false)"):
            try:
                accounts.append(
                    RemoteAccount(
                        external_id=str(row["Id"]),
                        number=str(row.get("AcctNum") or ""),
                        name=str(row.get("FullyQualifiedName") or row["Name"]),
                        type=str(row.get("AccountType") or ""),
                        active=bool(row.get("Active", True)),
                    )
                )
            except (KeyError, TypeError):
                raise UnexpectedResponse(f"{VENDOR} returned an Account without Id or Name.") from None
        return accounts

    @staticmethod
    def journal_entry_body(entry: PushEntry) -> dict:
        body = {
            "TxnDate": entry.entry_date.isoformat(),
            "DocNumber": f"CB-{entry.local_id}"[:21],
            "PrivateNote": (f"closebooks JE-{entry.local_id} {entry.memo}").strip()[:4000],
            "CurrencyRef": {"value": entry.currency},
            "Line": [
                {
                    "Description": line.description[:4000],
                    "Amount": line.debit or line.credit,
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": {
                        "PostingType": "Debit" if line.debit else "Credit",
                        "AccountRef": {"value": line.external_account_id},
                    },
                }
                for line in entry.lines
            ],
        }
        if entry.external_id:
            body.update({"Id": entry.external_id, "SyncToken": entry.external_version or "0"})
        return body

    def push_entries(self, entries: list[PushEntry], *, key: str) -> list[PushOutcome]:
        if not entries:
            return []
        if len(entries) == 1:
            entry = entries[0]
            try:
                body = self._call(
                    "POST", self._url("journalentry", requestid=key), content=dumps(self.journal_entry_body(entry)), headers=JSON
                )
            except (EntryRejected, UnexpectedResponse) as exc:
                return [PushOutcome(local_id=entry.local_id, error=exc)]
            return [self._outcome(entry.local_id, body.get("JournalEntry"))]
        if len(entries) > BATCH_MAX:
            raise ValueError(f"a QuickBooks Online batch carries at most {BATCH_MAX} entries")
        request = {
            "BatchItemRequest": [
                {
                    "bId": str(e.local_id),
                    "operation": "update" if e.external_id else "create",
                    "JournalEntry": self.journal_entry_body(e),
                }
                for e in entries
            ]
        }
        body = self._call("POST", self._url("batch", requestid=key), content=dumps(request), headers=JSON)
        by_bid = {str(item.get("bId")): item for item in body.get("BatchItemResponse") or [] if isinstance(item, dict)}
        outcomes = []
        for entry in entries:
            item = by_bid.get(str(entry.local_id))
            if item is None:
                outcomes.append(
                    PushOutcome(entry.local_id, error=UnexpectedResponse(f"{VENDOR} batch response lacks bId {entry.local_id}."))
                )
            elif "Fault" in item:
                error = fault_error(item["Fault"] or {})
                if isinstance(error, (RateLimited, TokenExpired, TransientError)):
                    raise error
                outcomes.append(PushOutcome(entry.local_id, error=error))
            else:
                outcomes.append(self._outcome(entry.local_id, item.get("JournalEntry")))
        return outcomes

    @staticmethod
    def _outcome(local_id: int, journal: object) -> PushOutcome:
        if not isinstance(journal, dict) or not journal.get("Id"):
            return PushOutcome(local_id, error=UnexpectedResponse(f"{VENDOR} answered without JournalEntry.Id."))
        return PushOutcome(local_id, external_id=str(journal["Id"]), external_version=str(journal.get("SyncToken", "0")))

    def read_closed_dates(self) -> list[ClosedDate]:
        body = self._call("GET", self._url("preferences"))
        prefs = body.get("Preferences")
        if not isinstance(prefs, dict):
            raise UnexpectedResponse(f"{VENDOR} preferences response lacks Preferences.")
        raw = (prefs.get("AccountingInfoPrefs") or {}).get("BookCloseDate")
        if not raw:
            return [ClosedDate(None)]  # books never closed in QBO
        try:
            return [ClosedDate(date.fromisoformat(str(raw)[:10]), detail={"BookCloseDate": raw})]
        except ValueError:
            raise UnexpectedResponse(f"{VENDOR} BookCloseDate {raw!r} is not a date.") from None

    def pull_inbound(self, *, since: datetime | None) -> list[InboundTransaction]:
        """Invoices (Dr AR, Cr each item's income account, Cr sales tax), bills (Dr each line's
        expense account, Cr AP) and payments (Dr the deposit account, Cr AR) changed since ``since``."""
        where = f" WHERE MetaData.LastUpdatedTime > '{since.isoformat(timespec='seconds')}'" if since else ""
        accounts = self._query("Account", " WHERE Active IN (true,false)")

        def account_of(kind: str, subtype: str = "") -> str:
            for a in accounts:
                if a.get("AccountType") == kind and (not subtype or a.get("AccountSubType") == subtype):
                    return str(a["Id"])
            raise UnexpectedResponse(f"{VENDOR} has no {subtype or kind} account.")

        items = {str(i["Id"]): i for i in self._query("Item")}
        found: list[InboundTransaction] = []
        try:
            for inv in self._query("Invoice", where):
                lines = []
                for line in inv.get("Line") or []:
                    if line.get("DetailType") != "SalesItemLineDetail":
                        continue
                    item = items.get(str(line["SalesItemLineDetail"]["ItemRef"]["value"]), {})
                    income = (item.get("IncomeAccountRef") or {}).get("value")
                    if not income:
                        raise UnexpectedResponse(f"{VENDOR} invoice {inv['Id']} sells an item without an income account.")
                    lines.append(InboundLine(ZERO, _money(line["Amount"]), str(income), description=line.get("Description", "")))
                tax = _money((inv.get("TxnTaxDetail") or {}).get("TotalTax", 0))
                if tax:
                    lines.append(
                        InboundLine(ZERO, tax, account_of("Other Current Liability", "SalesTaxPayable"), description="Sales tax")
                    )
                ar = (inv.get("ARAccountRef") or {}).get("value") or account_of("Accounts Receivable")
                lines.insert(0, InboundLine(_money(inv["TotalAmt"]), ZERO, str(ar), description=_name(inv, "CustomerRef")))
                found.append(_txn("invoice", inv, lines))
            for bill in self._query("Bill", where):
                lines = [
                    InboundLine(
                        _money(line["Amount"]),
                        ZERO,
                        str(line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]),
                        description=line.get("Description", ""),
                    )
                    for line in bill.get("Line") or []
                    if line.get("DetailType") == "AccountBasedExpenseLineDetail"
                ]
                ap = (bill.get("APAccountRef") or {}).get("value") or account_of("Accounts Payable")
                lines.append(InboundLine(ZERO, _money(bill["TotalAmt"]), str(ap), description=_name(bill, "VendorRef")))
                found.append(_txn("bill", bill, lines))
            for pay in self._query("Payment", where):
                deposit = (pay.get("DepositToAccountRef") or {}).get("value") or account_of(
                    "Other Current Asset", "UndepositedFunds"
                )
                ar = (pay.get("ARAccountRef") or {}).get("value") or account_of("Accounts Receivable")
                amount = _money(pay["TotalAmt"])
                lines = [
                    InboundLine(amount, ZERO, str(deposit)),
                    InboundLine(ZERO, amount, str(ar), description=_name(pay, "CustomerRef")),
                ]
                found.append(_txn("payment", pay, lines))
        except (KeyError, TypeError):
            raise UnexpectedResponse(f"{VENDOR} returned an invoice, bill or payment without its documented fields.") from None
        return found

    def remote_version(self) -> str:
        return f"QuickBooks Online API v3, minorversion {MINOR_VERSION}"

    def close(self) -> None:
        self.http.close()


__all__ = ["QuickBooksOnline", "fault_error", "is_closed_period"]
