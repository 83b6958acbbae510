"""A fake Oracle NetSuite account (integration-apis.md §4): OAuth 2.0 with PKCE (the account id
returned as ``company`` on the redirect), SuiteQL over ``/query/v1/suiteql`` (``Prefer: transient``,
limit/offset paging with ``hasMore``, ``T``/``F`` booleans) for ``account``, ``accountingperiod`` and
``transaction`` joined to ``transactionline`` (the inbound pull), journal entries created with
``POST /record/v1/journalentry`` or upserted with ``PUT …/eid:<externalId>`` (204 + Location),
``o:errorDetails`` errors, closed periods refusing postings, the per-account concurrency limit as
429, and the closebooks bundle's RESTlet reporting its version."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from .chart import default_chart
from .server import FakeVendor, Request, Response

TYPES = {"asset": "OthCurrAsset", "liability": "OthCurrLiab", "equity": "Equity", "income": "Income", "expense": "Expense"}
EID = re.compile(r"^closebooks-JE-(\d+)$")
CLOSED_TEXT = "The transaction date you specified is not within the date range of your accounting period."


def error(status: int, code: str, detail: str, path: str = "") -> Response:
    titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
    return Response(
        status,
        {
            "type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.{status - 399}",
            "title": titles.get(status, "Error"),
            "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code, "o:errorPath": path}],
        },
    )


def month_periods(first: date, months: int) -> list[dict]:
    rows, start = [], first
    for i in range(months):
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        rows.append(
            {
                "id": str(i + 1),
                "periodname": start.strftime("%b %Y"),
                "startdate": start.isoformat(),
                "enddate": end.isoformat(),
                "closed": "F",
                "closedondate": None,
                "alllocked": "F",
                "aplocked": "F",
                "arlocked": "F",
                "isadjust": "F",
            }
        )
        if start.month == 12:
            # A year-end adjustment period: it overlaps December ("Accounting Period" record, isAdjust).
            rows.append({**rows[-1], "id": f"A{i + 1}", "periodname": f"Adjust {start:%b %Y}", "isadjust": "T"})
        start = end + timedelta(days=1)
    return rows


def ns_date(value: date | None, fmt: str) -> str | None:
    """A date as SuiteQL returns it: in the user's preference (no leading zeros), or ISO through TO_CHAR."""
    if value is None:
        return None
    if fmt == "YYYY-MM-DD":
        return value.isoformat()
    if fmt == "D/M/YYYY":
        return f"{value.day}/{value.month}/{value.year}"
    return f"{value.month}/{value.day}/{value.year}"  # M/D/YYYY


def _column_format(query: str, column: str, preference: str) -> str:
    return "YYYY-MM-DD" if re.search(rf"to_char\(\s*(?:\w+\.)?{column}\s*,\s*'yyyy-mm-dd'\s*\)", query, re.I) else preference


class FakeNetSuite(FakeVendor):
    vendor = "netsuite"
    quotas: dict[str, int] = {}
    concurrency = 5  # the shared tier's per-account concurrency
    require_pkce = True  # Oracle: authorization code grant with PKCE
    all_scopes = ("rest_webservices", "restlets")
    # Oracle "Refresh Token POST Request": the answer holds a new access token only.
    refresh_answer_has_refresh_token = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.chart = default_chart()
        self.accounts = {str(100 + i): row for i, row in enumerate(self.chart)}
        self.periods = month_periods(date(2025, 10, 1), 9)
        self.records: dict[str, dict] = {}
        self.by_eid: dict[str, str] = {}
        self.next_id = 640
        self.bundle_version = "3.2.1"
        self.transactions: list[dict] = []  # made in NetSuite, for the inbound pull
        self.tenant_name = "NetSuite demo account"
        # OneWorld: journal entries need a subsidiary ("Use Case for Creating a Journal Entry").
        self.oneworld = True
        self.subsidiaries: dict[str, dict] = {
            "1": {"name": "Closebooks demo (parent)", "iselimination": "F", "isinactive": "F"},
            "3": {"name": "Elimination", "iselimination": "T", "isinactive": "F"},
        }
        # The user's date format preference: SuiteQL returns dates in it unless TO_CHAR formats them.
        self.date_format = "D/M/YYYY"

    def new_tenant_id(self) -> str:
        return f"{1000000 + secrets.randbelow(8999999)}"

    def callback_extra(self) -> dict:
        return {"company": self.tenant_id, "role": "3", "entity": "-5"}

    def contract_error(self, request: Request, message: str) -> Response:
        # Oracle "Error Handling in REST Web Services": a request the record's metadata refuses is a 400
        # with o:errorDetails (INVALID_CONTENT for a body that does not match the record).
        return error(400, "INVALID_CONTENT", message)

    def unauthorized(self) -> Response:
        return error(401, "INVALID_LOGIN", "Invalid login attempt. For more details, see the Login Audit Trail.")

    def buckets(self, request: Request) -> list[str]:
        return []

    def throttle(self, request: Request, bucket: str, wait: float) -> Response:
        return error(429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked.")

    def handle(self, request: Request) -> Response:
        if request.path.endswith("/authorize.nl"):
            with self.lock:
                self.requests.append(request)
            return self.authorize(request)
        return super().handle(request)

    # ------------------------------------------------------------ test controls

    def close_through(self, last: date, *, locked_after: int = 0) -> None:
        """Close every period ending on or before ``last``; lock (not close) the next ``locked_after``."""
        with self.lock:
            for p in self.periods:
                if date.fromisoformat(p["enddate"]) <= last:
                    p["closed"], p["closedondate"], p["alllocked"] = "T", p["enddate"], "T"
                elif locked_after > 0:
                    p["aplocked"], p["arlocked"] = "T", "T"
                    locked_after -= 1

    def add_transaction(
        self, *, type: str, when: date, lines: list[tuple[str, str, str]], tranid: str = "", memo: str = ""
    ) -> str:
        """A posting transaction made in NetSuite (``type`` Journal, CustInvc, VendBill or CustPymt),
        ``lines`` as its GL postings (account number, debit, credit) in the base currency, tax and cost
        lines included, as transactionaccountingline holds them."""
        numbers = {row["number"]: key for key, row in self.accounts.items()}
        with self.lock:
            record = str(self.next_id)
            self.next_id += 1
            self.transactions.append(
                {
                    "id": record,
                    "tranid": tranid or f"{type[:3].upper()}{record}",
                    "trandate": when,
                    "type": type,
                    "memo": memo,
                    "externalid": None,
                    "lastmodifieddate": datetime.now(UTC),
                    "lines": [(numbers[a], debit, credit) for a, debit, credit in lines],
                }
            )
            return record

    def _transaction_rows(self, query: str) -> list[dict]:
        """transaction joined to transactionaccountingline (primary book): one row per GL posting line."""
        since = re.search(r"lastmodifieddate >= TO_TIMESTAMP\('([0-9: -]+)'", query)
        cutoff = datetime.strptime(since.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) if since else None
        pushed = [
            {
                "id": record,
                "tranid": body.get("tranid") or record,
                "trandate": date.fromisoformat(body["trandate"]),
                "type": "Journal",
                "memo": body.get("memo") or "",
                "externalid": body.get("externalId"),
                "lastmodifieddate": body.get("_modified") or datetime.now(UTC),
                "lines": [
                    (str(i["account"]["id"]), str(i.get("debit", "")), str(i.get("credit", ""))) for i in body["line"]["items"]
                ],
            }
            for record, body in self.records.items()
        ]
        rows = []
        date_format = _column_format(query, "trandate", self.date_format)
        for t in sorted(self.transactions + pushed, key=lambda t: int(t["id"])):
            if cutoff is not None and t["lastmodifieddate"].replace(microsecond=0) < cutoff:
                continue
            for n, (account, debit, credit) in enumerate(t["lines"], start=1):
                rows.append(
                    {
                        "id": t["id"],
                        "tranid": t["tranid"],
                        "trandate": ns_date(t["trandate"], date_format),
                        "type": t["type"],
                        "memo": t["memo"],
                        "externalid": t["externalid"],
                        "line": str(n),
                        "account": account,
                        "debit": debit or None,
                        "credit": credit or None,
                        "linememo": None,
                        "entity": None,
                    }
                )
        return rows

    def entries_by_local(self) -> Counter:
        with self.lock:
            return Counter(int(m.group(1)) for r in self.records.values() if (m := EID.match(r.get("externalId") or "")))

    def state(self) -> dict:
        counts = self.entries_by_local()
        return {
            **super().state(),
            "journals": len(self.records),
            "local_entries": len(counts),
            "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        }

    # ------------------------------------------------------------ API

    def route(self, request: Request, tenant: str) -> Response:
        path = request.path
        token = self.access_tokens.get(request.headers.get("authorization", "")[7:], {})
        needed = "restlets" if path == "/app/site/hosting/restlet.nl" else "rest_webservices"
        if needed not in token.get("scopes", ()):
            # "OAuth 2.0 for Integration Applications": the token's scopes decide what it may call.
            return error(401, "INVALID_LOGIN", f"The access token is not valid for this service (scope {needed} not granted).")
        if path == "/app/site/hosting/restlet.nl" and request.method == "GET":
            if not self.bundle_version:
                return error(404, "SSS_INVALID_SCRIPTLET_ID", "That Suitelet is invalid, disabled, or no longer exists.")
            return Response(200, {"bundleVersion": self.bundle_version})
        if path == "/services/rest/query/v1/suiteql" and request.method == "POST":
            return self.suiteql(request)
        if path == "/services/rest/record/v1/journalentry" and request.method == "POST":
            return self.save(request, None)
        match = re.match(r"^/services/rest/record/v1/journalentry/eid:(.+)$", path)
        if match and request.method == "PUT":
            return self.save(request, match.group(1), replace_lines=request.query.get("replace") == "line")
        return error(404, "NONEXISTENT_ID", f"Unknown resource {path}.")

    def suiteql(self, request: Request) -> Response:
        if request.headers.get("prefer") != "transient":
            return error(400, "INVALID_PARAMETER", "SuiteQL over REST needs the header Prefer: transient.")
        try:
            query = str((request.json() or {})["q"])
            limit = min(1000, int(request.query.get("limit", 1000)))
            offset = int(request.query.get("offset", 0))
        except (KeyError, TypeError, ValueError):
            return error(400, "INVALID_PARAMETER", 'Body must be {"q": ...}; limit and offset are numbers.')
        lowered = query.lower()
        if "from transaction t join transactionaccountingline tal" in lowered:
            with self.lock:
                rows = self._transaction_rows(query)
        elif "from subsidiary" in lowered:
            if not self.oneworld:
                return error(400, "INVALID_SEARCH", "Invalid search query: Record 'subsidiary' was not found.")
            rows = [{"id": key, **row} for key, row in self.subsidiaries.items()]
        elif "from accountingperiod" in lowered:
            with self.lock:
                periods = [dict(p) for p in self.periods]
            if re.search(r"isadjust\s*=\s*'f'", lowered):
                periods = [p for p in periods if p["isadjust"] == "F"]
            rows = []
            for p in periods:
                row = dict(p)
                for column in ("startdate", "enddate", "closedondate"):
                    value = date.fromisoformat(p[column]) if p[column] else None
                    row[column] = ns_date(value, _column_format(query, column, self.date_format))
                rows.append(row)
        elif "from account" in lowered:
            rows = [
                {
                    "id": key,
                    "acctnumber": row["number"],
                    "fullname": row["name"],
                    "accttype": TYPES.get(row["type"], "Expense"),
                    "isinactive": "F" if row["active"] else "T",
                }
                for key, row in self.accounts.items()
            ]
        else:
            return error(400, "INVALID_SEARCH", "Invalid search query. Detailed unprocessed description follows.")
        page = rows[offset : offset + limit]
        return Response(
            200,
            {
                "links": [],
                "count": len(page),
                "hasMore": offset + len(page) < len(rows),
                "items": page,
                "offset": offset,
                "totalResults": len(rows),
            },
        )

    def _closed(self, when: date) -> bool:
        return any(
            p["closed"] == "T" and date.fromisoformat(p["startdate"]) <= when <= date.fromisoformat(p["enddate"])
            for p in self.periods
        )

    def save(self, request: Request, eid: str | None, *, replace_lines: bool = True) -> Response:
        try:
            body = request.json()
            when = date.fromisoformat(body["trandate"])
            items = body["line"]["items"]
        except (KeyError, TypeError, ValueError):
            return error(400, "INVALID_FLD_VALUE", "trandate and line.items are required.", "trandate")
        if eid is not None:
            body["externalId"] = eid
        if self.oneworld:
            subsidiary = str((body.get("subsidiary") or {}).get("id", ""))
            if not subsidiary:
                return error(400, "USER_ERROR", "Please enter value(s) for: Subsidiary", "subsidiary")
            if subsidiary not in self.subsidiaries or self.subsidiaries[subsidiary]["iselimination"] == "T":
                return error(400, "INVALID_KEY_OR_REF", f"Invalid subsidiary reference key {subsidiary}.", "subsidiary")
        if len(items) < 2:
            return error(400, "USER_ERROR", "A journal entry needs at least two lines.", "line")
        total = Decimal(0)
        for item in items:
            account = str((item.get("account") or {}).get("id", ""))
            if account not in self.accounts:
                return error(400, "INVALID_KEY_OR_REF", f"Invalid account reference key {account}.", "line.account")
            if not self.accounts[account]["active"]:
                return error(400, "INVALID_KEY_OR_REF", f"Account {account} is inactive.", "line.account")
            total += Decimal(str(item.get("debit", 0))) - Decimal(str(item.get("credit", 0)))
        if total != 0:
            return error(400, "USER_ERROR", "The transaction is out of balance.", "line")
        with self.lock:
            if self._closed(when):
                return error(400, "USER_ERROR", CLOSED_TEXT, "trandate")
            existing = self.by_eid.get(body.get("externalId") or "")
            if existing is not None and eid is None:
                return error(400, "DUP_RCRD", "A record with this external ID already exists.", "externalId")
            record = existing or str(self.next_id)
            if existing is None:
                self.next_id += 1
            elif not replace_lines:
                # "Replacing a Sublist": without ?replace=line an update merges the sublist; lines sent
                # without a line key are added to the ones the record has.
                body["line"] = {"items": self.records[existing]["line"]["items"] + items}
            self.records[record] = body
            if body.get("externalId"):
                self.by_eid[body["externalId"]] = record
        return Response(204, headers={"Location": f"{self.url}/services/rest/record/v1/journalentry/{record}"})
