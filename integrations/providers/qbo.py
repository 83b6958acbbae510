"""QuickBooks Online (v3 REST), as documented by Intuit (reference: integration-apis.md §1)."""

from __future__ import annotations

import dataclasses
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


# Intuit "Error codes": 6190 Invalid Company Status (the company's subscription is cancelled or its
# trial ended); 5010 Stale Object Error (the SyncToken sent is not the entity's current one).
BROKEN_CODES = {"6190"}
STALE_CODE = "5010"


class StaleObject(EntryRejected):
    """5010: the SyncToken sent is not the current one (someone changed the entry in QuickBooks)."""


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
    if kind == "AuthorizationFault" or code.lstrip("0") in BROKEN_CODES:
        # The app may no longer act for this company (permissions withdrawn, subscription lapsed: 6190
        # "Invalid Company Status"): every further entry would be refused the same way. Stop and reconnect.
        return ConnectionBroken(f"{VENDOR} refused access to the company ({kind} {code}): {text}. Reconnect it.")
    if code.lstrip("0") == STALE_CODE:
        return StaleObject(f"{VENDOR}: the entry was changed in QuickBooks since it was read ({text}).")
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
            except StaleObject:
                return [self._retry_stale(entry, key)]
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
                if isinstance(error, (RateLimited, TokenExpired, TransientError, ConnectionBroken)):
                    raise error
                if isinstance(error, StaleObject) and entry.external_id:
                    outcomes.append(self._retry_stale(entry, key))
                    continue
                outcomes.append(PushOutcome(entry.local_id, error=error))
            else:
                outcomes.append(self._outcome(entry.local_id, item.get("JournalEntry")))
        return outcomes

    def _retry_stale(self, entry: PushEntry, key: str) -> PushOutcome:
        """5010 Stale Object: read the entry's current SyncToken and send the update once more (Intuit
        "Change data capture" / "Update an entity": an update must carry the latest SyncToken). The retry
        has its own requestid, derived from the request's, so a resend of the whole request replays both."""
        try:
            current = self._call("GET", self._url(f"journalentry/{entry.external_id}")).get("JournalEntry") or {}
            token = str(current["SyncToken"])
            retried = dataclasses.replace(entry, external_version=token)
            body = self._call(
                "POST",
                self._url("journalentry", requestid=f"{key[:36]}-s{entry.local_id}"[:50]),
                content=dumps(self.journal_entry_body(retried)),
                headers=JSON,
            )
        except (KeyError, TypeError):
            return PushOutcome(entry.local_id, error=UnexpectedResponse(f"{VENDOR} answered JournalEntry without SyncToken."))
        except (EntryRejected, UnexpectedResponse) as exc:
            return PushOutcome(entry.local_id, error=exc)
        return self._outcome(entry.local_id, body.get("JournalEntry"))

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
        """Invoices (Dr AR; Cr each item's income account, through item groups; Dr the discount account;
        Cr sales tax), bills (Dr each line's expense account, or its item's expense account; Cr AP) and
        payments (Dr the deposit account, Cr AR) changed since ``since`` (Finance.xsd: Line's DetailType
        SalesItemLineDetail, GroupLineDetail (its own Line list), DiscountLineDetail, SubTotalLineDetail;
        AccountBasedExpenseLineDetail and ItemBasedExpenseLineDetail). A document closebooks cannot read
        (a line type it does not know, a missing account, an amount it cannot hold) is refused on its
        own, with the reason; the others are imported."""
        where = f" WHERE MetaData.LastUpdatedTime > '{since.isoformat(timespec='seconds')}'" if since else ""
        accounts = self._query("Account", " WHERE Active IN (true,false)")

        def account_of(kind: str, subtype: str = "") -> str:
            for a in accounts:
                if a.get("AccountType") == kind and (not subtype or a.get("AccountSubType") == subtype):
                    return str(a["Id"])
            raise UnexpectedResponse(f"{VENDOR} has no {subtype or kind} account.")

        items = {str(i.get("Id")): i for i in self._query("Item") if isinstance(i, dict)}

        def item_account(line: dict, detail: str, refs: tuple[str, ...], what: str) -> str:
            item = items.get(str(line[detail]["ItemRef"]["value"]), {})
            for ref in refs:
                if (item.get(ref) or {}).get("value"):
                    return str(item[ref]["value"])
            raise UnexpectedResponse(
                f"item {line[detail]['ItemRef'].get('name') or line[detail]['ItemRef']['value']} has no {what} account"
            )

        def sales_lines(lines: list) -> list[InboundLine]:
            found = []
            for line in lines or []:
                kind = line.get("DetailType")
                if kind == "SalesItemLineDetail":
                    income = item_account(line, kind, ("IncomeAccountRef",), "income")
                    found.append(InboundLine(ZERO, _money(line["Amount"]), income, description=line.get("Description", "")))
                elif kind == "GroupLineDetail":  # a bundle: its own lines carry the items and amounts
                    found.extend(sales_lines((line.get("GroupLineDetail") or {}).get("Line") or []))
                elif kind == "DiscountLineDetail":
                    detail = line.get("DiscountLineDetail") or {}
                    discount = (detail.get("DiscountAccountRef") or {}).get("value") or account_of(
                        "Income", "DiscountsRefundsGiven"
                    )
                    found.append(InboundLine(_money(line["Amount"]), ZERO, str(discount), description="Discount"))
                elif kind in ("SubTotalLineDetail", "DescriptionOnly"):
                    continue  # a subtotal or a text line posts nothing
                else:
                    raise UnexpectedResponse(f"a line of type {kind!r} that closebooks does not know how to post")
            return found

        found: list[InboundTransaction] = []

        def read(kind: str, row: dict, build) -> None:
            number = str(row.get("DocNumber") or row.get("Id") or "?")
            try:
                found.append(_txn(kind, row, build(row)))
            except UnexpectedResponse as exc:
                found.append(InboundTransaction.refused(kind, str(row.get("Id") or number), number, f"{VENDOR}: {exc.message}"))
            except (KeyError, TypeError, AttributeError):
                found.append(
                    InboundTransaction.refused(
                        kind, str(row.get("Id") or number), number, f"{VENDOR} sent this {kind} without its documented fields."
                    )
                )

        def invoice(inv: dict) -> list[InboundLine]:
            lines = sales_lines(inv.get("Line") or [])
            tax = _money((inv.get("TxnTaxDetail") or {}).get("TotalTax", 0))
            if tax:
                lines.append(
                    InboundLine(ZERO, tax, account_of("Other Current Liability", "SalesTaxPayable"), description="Sales tax")
                )
            ar = (inv.get("ARAccountRef") or {}).get("value") or account_of("Accounts Receivable")
            return [InboundLine(_money(inv["TotalAmt"]), ZERO, str(ar), description=_name(inv, "CustomerRef")), *lines]

        def bill(row: dict) -> list[InboundLine]:
            lines = []
            for line in row.get("Line") or []:
                kind = line.get("DetailType")
                if kind == "AccountBasedExpenseLineDetail":
                    account = str(line[kind]["AccountRef"]["value"])
                elif kind == "ItemBasedExpenseLineDetail":  # an item bought: its expense (or inventory asset) account
                    account = item_account(line, kind, ("ExpenseAccountRef", "AssetAccountRef"), "expense")
                else:
                    raise UnexpectedResponse(f"a bill line of type {kind!r} that closebooks does not know how to post")
                lines.append(InboundLine(_money(line["Amount"]), ZERO, account, description=line.get("Description", "")))
            tax = _money((row.get("TxnTaxDetail") or {}).get("TotalTax", 0))
            if tax:
                lines.append(InboundLine(tax, ZERO, account_of("Other Current Liability", "SalesTaxPayable"), description="Tax"))
            ap = (row.get("APAccountRef") or {}).get("value") or account_of("Accounts Payable")
            lines.append(InboundLine(ZERO, _money(row["TotalAmt"]), str(ap), description=_name(row, "VendorRef")))
            return lines

        def payment(pay: dict) -> list[InboundLine]:
            deposit = (pay.get("DepositToAccountRef") or {}).get("value") or account_of("Other Current Asset", "UndepositedFunds")
            ar = (pay.get("ARAccountRef") or {}).get("value") or account_of("Accounts Receivable")
            amount = _money(pay["TotalAmt"])
            return [
                InboundLine(amount, ZERO, str(deposit)),
                InboundLine(ZERO, amount, str(ar), description=_name(pay, "CustomerRef")),
            ]

        for row in self._query("Invoice", where):
            read("invoice", row, invoice)
        for row in self._query("Bill", where):
            read("bill", row, bill)
        for row in self._query("Payment", where):
            read("payment", row, payment)
        return found

    def remote_version(self) -> str:
        return f"QuickBooks Online API v3, minorversion {MINOR_VERSION}"

    def close(self) -> None:
        self.http.close()


__all__ = ["QuickBooksOnline", "fault_error", "is_closed_period"]
