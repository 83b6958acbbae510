"""Oracle NetSuite (SuiteTalk REST), as documented by Oracle (reference: integration-apis.md §4).

OAuth 2.0 authorization code (the account id comes back as ``company`` on the redirect). Journal
entries are upserted by external id (``PUT /record/v1/journalentry/eid:…``): sending one again,
after a lost answer or a crash, updates the same record instead of making a second. The closed date
is read from ``accountingperiod`` through SuiteQL: the end of the last contiguous closed base period.
Closed-date sync needs the closebooks bundle 3.2.0 or later in the account (BC7); its version is
read from the bundle's RESTlet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
    UnexpectedResponse,
    vendor_money,
)
from .http import DEFAULT_RETRY_AFTER, dumps, json_body, make_client, raise_for_transport, send, token_request

VENDOR = "NetSuite"
SCOPE = "rest_webservices"
REST = "/services/rest"
PAGE = 1000
MIN_BUNDLE = "3.2.0"
BUNDLE_RESTLET = "/app/site/hosting/restlet.nl?script=customscript_closebooks_bundle&deploy=customdeploy_closebooks_bundle"
PERIODS_QUERY = (
    "SELECT id, periodname, startdate, enddate, closed, closedondate, alllocked, aplocked, arlocked "
    "FROM accountingperiod WHERE isquarter='F' AND isyear='F' ORDER BY startdate"
)
ACCOUNTS_QUERY = "SELECT id, acctnumber, fullname, accttype, isinactive FROM account ORDER BY acctnumber"
# Posting transactions and their lines. Column names follow the SuiteQL records browser for
# transaction and transactionline (debitforeignamount/creditforeignamount, expenseaccount as the
# line's account); they are marked unverified in the reference.
INBOUND_QUERY = (
    "SELECT t.id, t.tranid, t.trandate, t.type, t.memo, t.externalid, tl.id AS line, tl.expenseaccount AS account, "
    "tl.debitforeignamount AS debit, tl.creditforeignamount AS credit, tl.memo AS linememo "
    "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
    "WHERE t.posting = 'T' AND t.type IN ('Journal', 'CustInvc', 'VendBill', 'CustPymt'){where} ORDER BY t.id, tl.id"
)
INBOUND_KINDS = {"Journal": "journal", "CustInvc": "invoice", "VendBill": "bill", "CustPymt": "payment"}
CLOSED_TEXTS = ("not within the date range of your accounting period", "period is closed", "closed period")
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


def version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.strip().lstrip("v").split("."))
    except ValueError:
        return ()


def external_id_for(local_id: int) -> str:
    return f"closebooks-JE-{local_id}"


def _ns_date(text: str) -> date:
    """SuiteQL dates: ISO, or the account's M/D/YYYY preference."""
    text = str(text).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return datetime.strptime(text, "%m/%d/%Y").date()  # noqa: DTZ007 - a calendar date


def closed_through_from_periods(rows: list[dict]) -> tuple[date | None, dict]:
    """(books closed through, what to show): the end of the last base period of the unbroken run of
    closed periods from the first one. Periods must follow each other day after day; a gap is a
    clear error (the date would be a guess). Locked-but-not-closed periods are listed as such."""
    periods = sorted(
        (
            {
                "name": str(r.get("periodname") or r.get("id")),
                "start": _ns_date(r["startdate"]),
                "end": _ns_date(r["enddate"]),
                "closed": r.get("closed") == "T",
                "locks": [k for k, f in (("all", "alllocked"), ("AP", "aplocked"), ("AR", "arlocked")) if r.get(f) == "T"],
                "closed_on": str(r.get("closedondate") or ""),
            }
            for r in rows
        ),
        key=lambda p: p["start"],
    )
    for before, after in zip(periods, periods[1:], strict=False):
        if after["start"] != before["end"] + timedelta(days=1):
            raise UnexpectedResponse(
                f"NetSuite's accounting periods are not contiguous: {before['name']} ends {before['end']} and "
                f"{after['name']} starts {after['start']}. Fix the periods in NetSuite; the closed date was not changed."
            )
    closed_through, broken = None, False
    closed_after_open, locked = [], []
    for p in periods:
        if p["closed"] and not broken:
            closed_through = p["end"]
        elif p["closed"]:
            closed_after_open.append(p["name"])
        else:
            broken = True
            if p["locks"]:
                locked.append({"period": p["name"], "locked": ", ".join(p["locks"]), "state": "locked, not closed"})
    detail = {
        "source": "accountingperiod (SuiteQL)",
        "periods": len(periods),
        "locked_not_closed": locked,
        "closed_after_an_open_period": closed_after_open,
    }
    return closed_through, detail


class NetSuite(Provider):
    code = "netsuite"
    name = VENDOR
    batch_size = 1  # one record per REST call
    quotas = ()  # concurrency-governed per account (429 when over), no per-minute quota
    min_closed_date_version = MIN_BUNDLE
    uses_pkce = True

    def __init__(self, config, *, tenant_id="", tokens=None):
        super().__init__(config, tenant_id=tenant_id, tokens=tokens)
        self.client = make_client()

    @property
    def base(self) -> str:
        return self.config.api_base_url.rstrip("/")

    # ---- OAuth 2.0

    def authorize_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        """The authorize screen, with the PKCE S256 challenge of a verifier the caller keeps (RFC 7636)."""
        if not code_challenge:
            raise ProviderError("NetSuite's authorization-code flow needs a PKCE code challenge.")
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.config.authorize_url}?{urlencode(query)}"

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> Tokens:
        if not code_verifier:
            raise ProviderError("NetSuite's code exchange needs the PKCE code verifier of the authorize request.")
        self.tokens = token_request(
            self.client,
            self.config,
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": code_verifier},
            VENDOR,
        )
        return self.tokens

    def tenant_from_callback(self, params: dict[str, str]) -> tuple[str, str]:
        account = params.get("company", "").strip()
        if not account:
            raise UnexpectedResponse("NetSuite's redirect did not name the account (company).")
        self.tenant_id = account
        return account, f"NetSuite account {account}"

    def refresh(self) -> Tokens:
        if self.tokens is None:
            raise ConnectionBroken("No NetSuite tokens are stored: connect again.")
        return token_request(
            self.client, self.config, {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}, VENDOR
        )

    # ---- transport

    def _request(self, method: str, path: str, **kwargs):
        if self.tokens is None:
            raise TokenExpired("No NetSuite access token yet.")
        headers = {**JSON, "Authorization": f"Bearer {self.tokens.access_token}", **kwargs.pop("headers", {})}
        response = send(self.client, method, f"{self.base}{path}", headers=headers, **kwargs)
        if response.status_code == 429:
            raise RateLimited("NetSuite is over the account's concurrency limit (429).", retry_after=DEFAULT_RETRY_AFTER)
        raise_for_transport(response, VENDOR)
        if response.status_code == 401:
            raise TokenExpired("NetSuite refused the access token (401).")
        return response

    @staticmethod
    def _error_text(body: object) -> tuple[str, str]:
        if not isinstance(body, dict):
            return "", ""
        details = body.get("o:errorDetails") or []
        codes = [str(d.get("o:errorCode", "")) for d in details if isinstance(d, dict)]
        texts = [str(d.get("detail", "")) for d in details if isinstance(d, dict)]
        return (codes[0] if codes else ""), " ".join(texts) or str(body.get("title", ""))

    def _suiteql(self, query: str) -> list[dict]:
        rows, offset = [], 0
        while True:
            response = self._request(
                "POST",
                f"{REST}/query/v1/suiteql?limit={PAGE}&offset={offset}",
                headers={"Prefer": "transient"},
                content=dumps({"q": query}),
            )
            body = json_body(response, VENDOR)
            if response.status_code != 200 or not isinstance(body, dict):
                code, text = self._error_text(body)
                raise UnexpectedResponse(f"NetSuite refused the SuiteQL query ({response.status_code} {code}): {text}")
            items = body.get("items")
            if not isinstance(items, list):
                raise UnexpectedResponse("NetSuite's SuiteQL answer has no items.")
            rows.extend(items)
            if not body.get("hasMore"):
                return rows
            offset += len(items)

    # ---- data

    def list_accounts(self) -> list[RemoteAccount]:
        return [
            RemoteAccount(
                external_id=str(r["id"]),
                number=str(r.get("acctnumber") or ""),
                name=str(r.get("fullname") or ""),
                type=str(r.get("accttype") or ""),
                active=r.get("isinactive") != "T",
            )
            for r in self._suiteql(ACCOUNTS_QUERY)
        ]

    def _record(self, entry: PushEntry) -> dict:
        return {
            "externalId": external_id_for(entry.local_id),
            "trandate": entry.entry_date.isoformat(),
            "memo": (entry.memo or f"closebooks JE-{entry.local_id}")[:999],
            "tranid": f"JE-{entry.local_id}",
            "line": {
                "items": [
                    {"account": {"id": line.external_account_id}, "memo": (line.description or "")[:999]}
                    | ({"debit": line.debit} if line.debit > 0 else {"credit": line.credit})
                    for line in entry.lines
                ]
            },
        }

    def push_entries(self, entries: list[PushEntry], *, key: str) -> list[PushOutcome]:
        """Upsert each entry on its external id: a resend updates the record it already made."""
        outcomes = []
        for entry in entries:
            eid = external_id_for(entry.local_id)
            response = self._request("PUT", f"{REST}/record/v1/journalentry/eid:{eid}", content=dumps(self._record(entry)))
            if response.status_code in (200, 204):
                location = response.headers.get("Location", "")
                record = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
                if not record:
                    raise UnexpectedResponse("NetSuite saved the journal entry but gave no Location.")
                outcomes.append(PushOutcome(entry.local_id, external_id=record, external_version=eid))
                continue
            body = json_body(response, VENDOR)
            code, text = self._error_text(body)
            if response.status_code == 400:
                if any(t in text.lower() for t in CLOSED_TEXTS):
                    error: ProviderError = ClosedPeriodRejected(f"NetSuite: {text}")
                else:
                    error = EntryRejected(f"NetSuite refused JE-{entry.local_id} ({code}): {text}")
                outcomes.append(PushOutcome(entry.local_id, error=error))
                continue
            if response.status_code == 403:
                raise ConnectionBroken(f"NetSuite refused access ({code}): {text}")
            raise UnexpectedResponse(f"NetSuite answered {response.status_code} ({code}): {text}")
        return outcomes

    def read_closed_dates(self) -> list[ClosedDate]:
        version = self.remote_version()
        if version_tuple(version) < version_tuple(MIN_BUNDLE):
            raise ProviderError(
                f"Closed-date sync needs the closebooks bundle {MIN_BUNDLE} or later in NetSuite; this account has "
                f"{version or 'no bundle'}. Update the bundle in NetSuite (Customization > SuiteBundler) and pull again."
            )
        closed, detail = closed_through_from_periods(self._suiteql(PERIODS_QUERY))
        return [ClosedDate(closed, detail={**detail, "bundle": version})]

    def pull_inbound(self, *, since: datetime | None) -> list[InboundTransaction]:
        """Posting transactions (journals, invoices, bills, payments) changed since ``since``, one
        SuiteQL row per line of ``transaction`` joined to ``transactionline``, paged with
        ``hasMore``/``offset``. Journal entries closebooks upserted itself (externalId
        ``closebooks-JE-…``) are not pulled back."""
        where = ""
        if since is not None:
            where = (
                f" AND t.lastmodifieddate >= TO_TIMESTAMP('{since.astimezone(UTC):%Y-%m-%d %H:%M:%S}', 'YYYY-MM-DD HH24:MI:SS')"
            )
        rows = self._suiteql(INBOUND_QUERY.format(where=where))
        grouped: dict[str, list[dict]] = {}
        for row in rows:
            grouped.setdefault(str(row["id"]), []).append(row)
        found = []
        try:
            for txn_id, lines in grouped.items():
                head = lines[0]
                if str(head.get("externalid") or "").startswith("closebooks-JE-"):
                    continue
                kind = INBOUND_KINDS.get(str(head.get("type")))
                if kind is None:
                    continue
                found.append(
                    InboundTransaction(
                        kind=kind,
                        external_id=txn_id,
                        number=str(head.get("tranid") or txn_id),
                        txn_date=_ns_date(head["trandate"]),
                        memo=str(head.get("memo") or ""),
                        lines=tuple(
                            InboundLine(
                                vendor_money(line.get("debit") or 0, vendor=VENDOR),
                                vendor_money(line.get("credit") or 0, vendor=VENDOR),
                                external_account_id=str(line["account"]),
                                description=str(line.get("linememo") or ""),
                            )
                            for line in lines
                            if line.get("account") is not None and (line.get("debit") or line.get("credit"))
                        ),
                    )
                )
        except (KeyError, ArithmeticError, ValueError):
            raise UnexpectedResponse("NetSuite returned a transaction line without its account, amount or date.") from None
        return found

    def remote_version(self) -> str:
        """The closebooks bundle's version, from its RESTlet ("" when it is not installed)."""
        response = self._request("GET", BUNDLE_RESTLET)
        if response.status_code == 404:
            return ""
        body = json_body(response, VENDOR)
        if response.status_code != 200 or not isinstance(body, dict):
            raise UnexpectedResponse(f"NetSuite's bundle RESTlet answered {response.status_code}.")
        return str(body.get("bundleVersion", ""))


__all__ = ["MIN_BUNDLE", "NetSuite", "closed_through_from_periods", "external_id_for", "version_tuple"]
