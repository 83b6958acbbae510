"""Oracle NetSuite (SuiteTalk REST), as documented by Oracle (reference: integration-apis.md §4).

OAuth 2.0 authorization code (the account id comes back as ``company`` on the redirect). Journal
entries are upserted by external id (``PUT /record/v1/journalentry/eid:…``): sending one again,
after a lost answer or a crash, updates the same record instead of making a second. The closed date
is read from ``accountingperiod`` through SuiteQL: the end of the last contiguous closed base period.
Closed-date sync needs the closebooks bundle 3.2.0 or later in the account (BC7); its version is
read from the bundle's RESTlet."""

from __future__ import annotations

import dataclasses
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
# rest_webservices for REST records and SuiteQL, restlets for the closebooks bundle's RESTlet (Oracle
# "OAuth 2.0 for Integration Applications": a token is good only for the scopes it was granted).
SCOPE = "restlets rest_webservices"
REST = "/services/rest"
PAGE = 1000
MIN_BUNDLE = "3.2.0"
BUNDLE_RESTLET = "/app/site/hosting/restlet.nl?script=customscript_closebooks_bundle&deploy=customdeploy_closebooks_bundle"
# Account-specific hosts (Oracle "The REST API Browser" / "RESTlet URL and domain"): the account id in
# lower case with "_" as "-" (1234567_SB1 -> 1234567-sb1). A URL setting without {account} is used as it is
# (a fake vendor on 127.0.0.1).
SUITETALK_HOST = "https://{account}.suitetalk.api.netsuite.com"
RESTLETS_HOST = "https://{account}.restlets.api.netsuite.com"
# SuiteQL returns dates in the user's date format preference (D/M/YYYY, M/D/YYYY, ...); selected with
# TO_CHAR(..., 'YYYY-MM-DD') they are unambiguous ("SuiteQL Supported and Unsupported Functions": TO_CHAR).
PERIODS_QUERY = (
    "SELECT id, periodname, TO_CHAR(startdate, 'YYYY-MM-DD') AS startdate, TO_CHAR(enddate, 'YYYY-MM-DD') AS enddate, "
    "closed, TO_CHAR(closedondate, 'YYYY-MM-DD') AS closedondate, alllocked, aplocked, arlocked "
    "FROM accountingperiod WHERE isquarter='F' AND isyear='F' AND isadjust='F' ORDER BY startdate"
)
ACCOUNTS_QUERY = "SELECT id, acctnumber, fullname, accttype, isinactive FROM account ORDER BY acctnumber"
SUBSIDIARIES_QUERY = "SELECT id, name, iselimination, isinactive FROM subsidiary ORDER BY id"
# What a posting transaction posts: transactionaccountingline holds every GL line (tax, cost of goods
# and rounding lines included) with debit/credit in the base currency of the primary accounting book;
# transactionline's foreign amounts and expenseaccount miss those lines and give foreign amounts
# (SuiteQL Records Catalog: transactionaccountingline: account, debit, credit, posting, transactionline,
# accountingbook; accountingbook.isprimary).
INBOUND_QUERY = (
    "SELECT t.id, t.tranid, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, t.type, t.memo, t.externalid, "
    "tal.transactionline AS line, tal.account AS account, tal.debit AS debit, tal.credit AS credit, "
    "tl.memo AS linememo, tl.entity AS entity "
    "FROM transaction t JOIN transactionaccountingline tal ON tal.transaction = t.id "
    "JOIN accountingbook ab ON ab.id = tal.accountingbook AND ab.isprimary = 'T' "
    "LEFT JOIN transactionline tl ON tl.transaction = tal.transaction AND tl.id = tal.transactionline "
    "WHERE t.posting = 'T' AND tal.posting = 'T' AND t.type IN ('Journal', 'CustInvc', 'VendBill', 'CustPymt'){where} "
    "ORDER BY t.id, tal.transactionline"
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


def account_host(template: str, account: str) -> str:
    """``template`` with the account's host label, or ``template`` itself when it names no account."""
    label = account.strip().lower().replace("_", "-")
    return template.replace("{account}", label).rstrip("/")


def _ns_date(text: object) -> date:
    """A SuiteQL date selected as TO_CHAR(..., 'YYYY-MM-DD'). Anything else is refused with a clear
    error: a date in the user's format (12/01/2026) cannot be read without guessing the day and month."""
    value = str(text or "").strip()
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise UnexpectedResponse(
            f"NetSuite sent the date {value!r}, not as YYYY-MM-DD; closebooks asks for TO_CHAR(…, 'YYYY-MM-DD')."
        ) from None


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
        self._subsidiaries: list[tuple[str, str]] | None = None

    @property
    def base(self) -> str:
        return self.config.api_base_url.rstrip("/")

    @property
    def restlet_base(self) -> str:
        """The account's RESTlet host, kept in the connection's ``connections_url`` (the field Xero uses
        for its /connections URL); older connections derive it from the REST host."""
        if self.config.connections_url:
            return self.config.connections_url.rstrip("/")
        return self.base.replace(".suitetalk.api.netsuite.com", ".restlets.api.netsuite.com")

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

    def prepare_from_callback(self, params: dict[str, str]) -> None:
        """The redirect names the account (``company``); its token endpoint, REST and RESTlet hosts are
        the account's own (Oracle "Step Two: POST Request to the Token Endpoint":
        https://<accountID>.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token), so they are
        set before the code is exchanged, and the connection keeps them."""
        account = params.get("company", "").strip()
        if not account:
            raise UnexpectedResponse("NetSuite's redirect did not name the account (company).")
        self.tenant_id = account
        token_url = self.config.token_url or f"{SUITETALK_HOST}{REST}/auth/oauth2/v1/token"
        self.config = dataclasses.replace(
            self.config,
            token_url=account_host(token_url, account),
            api_base_url=account_host(self.config.api_base_url or SUITETALK_HOST, account),
            # No RESTlet URL configured: derived from the REST host when the RESTlet is called.
            connections_url=account_host(self.config.connections_url, account) if self.config.connections_url else "",
        )

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
        if not self.tenant_id:
            self.prepare_from_callback(params)
        return self.tenant_id, f"NetSuite account {self.tenant_id}"

    def refresh(self) -> Tokens:
        """Oracle "Refresh Token POST Request": the answer carries a new access token and no new
        refresh token; the one stored stays good until it expires (7 days)."""
        if self.tokens is None:
            raise ConnectionBroken("No NetSuite tokens are stored: connect again.")
        return token_request(
            self.client,
            self.config,
            {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token},
            VENDOR,
            current_refresh_token=self.tokens.refresh_token,
        )

    # ---- transport

    def _request(self, method: str, path: str, *, base: str = "", **kwargs):
        if self.tokens is None:
            raise TokenExpired("No NetSuite access token yet.")
        headers = {**JSON, "Authorization": f"Bearer {self.tokens.access_token}", **kwargs.pop("headers", {})}
        response = send(self.client, method, f"{base or self.base}{path}", headers=headers, **kwargs)
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
                raise SuiteQLRefused(f"NetSuite refused the SuiteQL query ({response.status_code} {code}): {text}", code=code)
            items = body.get("items")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise UnexpectedResponse("NetSuite's SuiteQL answer has no list of rows (items).")
            rows.extend(items)
            if not body.get("hasMore") or not items:
                return rows
            offset += len(items)

    # ---- data

    def list_accounts(self) -> list[RemoteAccount]:
        accounts = []
        for r in self._suiteql(ACCOUNTS_QUERY):
            if r.get("id") in (None, ""):
                raise UnexpectedResponse("NetSuite returned an account without its id.")
            accounts.append(
                RemoteAccount(
                    external_id=str(r["id"]),
                    number=str(r.get("acctnumber") or ""),
                    name=str(r.get("fullname") or ""),
                    type=str(r.get("accttype") or ""),
                    active=r.get("isinactive") != "T",
                )
            )
        return accounts

    def subsidiaries(self) -> list[tuple[str, str]]:
        """(id, name) of the active subsidiaries that take postings (elimination subsidiaries do not);
        [] for an account without OneWorld, which has no subsidiary record."""
        if self._subsidiaries is None:
            try:
                rows = self._suiteql(SUBSIDIARIES_QUERY)
            except SuiteQLRefused as exc:
                if exc.code not in NO_RECORD_CODES:
                    raise
                rows = []
            self._subsidiaries = [
                (str(r["id"]), str(r.get("name") or r["id"]))
                for r in rows
                if r.get("id") not in (None, "") and r.get("iselimination") != "T" and r.get("isinactive") != "T"
            ]
        return self._subsidiaries

    def _subsidiary_for(self, entry: PushEntry) -> str:
        """The subsidiary a journal entry is posted in: the run's entity, or the account's only one.
        OneWorld requires one on every journal entry ("Use Case for Creating a Journal Entry")."""
        if entry.entity:
            return entry.entity
        subsidiaries = self.subsidiaries()
        if len(subsidiaries) > 1:
            names = ", ".join(f"{i} {n}" for i, n in subsidiaries[:5])
            raise EntryRejected(
                f"NetSuite has several subsidiaries ({names}); sync the entries of one subsidiary at a time "
                "(choose it as the entity)."
            )
        return subsidiaries[0][0] if subsidiaries else ""

    def _record(self, entry: PushEntry, subsidiary: str) -> dict:
        record = {
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
        if subsidiary:
            record["subsidiary"] = {"id": subsidiary}
        return record

    def push_entries(self, entries: list[PushEntry], *, key: str) -> list[PushOutcome]:
        """Upsert each entry on its external id, replacing its lines (``?replace=line``): a resend
        updates the record it already made and its lines are the entry's, never added a second time."""
        outcomes = []
        for entry in entries:
            try:
                subsidiary = self._subsidiary_for(entry)
            except EntryRejected as exc:
                outcomes.append(PushOutcome(entry.local_id, error=exc))
                continue
            eid = external_id_for(entry.local_id)
            response = self._request(
                "PUT", f"{REST}/record/v1/journalentry/eid:{eid}?replace=line", content=dumps(self._record(entry, subsidiary))
            )
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
        """Posting transactions (journals, invoices, bills, payments) changed since ``since``: one SuiteQL
        row per GL posting line (transactionaccountingline, primary book), paged with
        ``hasMore``/``offset``. Journal entries closebooks upserted itself (externalId ``closebooks-JE-…``)
        are not pulled back. A transaction NetSuite sends without a readable date, account or amount is
        refused on its own (the others are still imported)."""
        where = ""
        if since is not None:
            where = (
                f" AND t.lastmodifieddate >= TO_TIMESTAMP('{since.astimezone(UTC):%Y-%m-%d %H:%M:%S}', 'YYYY-MM-DD HH24:MI:SS')"
            )
        rows = self._suiteql(INBOUND_QUERY.format(where=where))
        grouped: dict[str, list[dict]] = {}
        for row in rows:
            grouped.setdefault(str(row.get("id")), []).append(row)
        found = []
        for txn_id, lines in grouped.items():
            head = lines[0]
            if str(head.get("externalid") or "").startswith("closebooks-JE-"):
                continue
            kind = INBOUND_KINDS.get(str(head.get("type")))
            if kind is None:
                continue
            number = str(head.get("tranid") or txn_id)
            try:
                txn_date = _ns_date(head.get("trandate"))
                inbound = tuple(
                    InboundLine(
                        vendor_money(line.get("debit") or 0, vendor=VENDOR, what=f"{number}'s debit"),
                        vendor_money(line.get("credit") or 0, vendor=VENDOR, what=f"{number}'s credit"),
                        external_account_id=str(line["account"]),
                        description=str(line.get("linememo") or ""),
                    )
                    for line in lines
                    if line.get("account") not in (None, "") and (line.get("debit") or line.get("credit"))
                )
            except UnexpectedResponse as exc:
                found.append(InboundTransaction.refused(kind, txn_id, number, exc.message))
                continue
            found.append(
                InboundTransaction(
                    kind=kind,
                    external_id=txn_id,
                    number=number,
                    txn_date=txn_date,
                    memo=str(head.get("memo") or ""),
                    lines=inbound,
                )
            )
        return found

    def remote_version(self) -> str:
        """The closebooks bundle's version, from its RESTlet on the account's RESTlet host ("" when it
        is not installed)."""
        response = self._request("GET", BUNDLE_RESTLET, base=self.restlet_base)
        if response.status_code == 404:
            return ""
        body = json_body(response, VENDOR)
        if response.status_code != 200 or not isinstance(body, dict):
            raise UnexpectedResponse(f"NetSuite's bundle RESTlet answered {response.status_code}.")
        return str(body.get("bundleVersion", ""))


class SuiteQLRefused(UnexpectedResponse):
    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code


# "Record 'subsidiary' was not found" (an account without OneWorld): INVALID_SEARCH / NONEXISTENT_ID.
NO_RECORD_CODES = {"INVALID_SEARCH", "NONEXISTENT_ID", "SEARCH_ERROR"}


__all__ = ["MIN_BUNDLE", "NetSuite", "account_host", "closed_through_from_periods", "external_id_for", "version_tuple"]
