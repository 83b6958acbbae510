"""The JSON API for the systems around the books, version 1 (AP1), with its OpenAPI document at
``/api/v1/openapi.json`` (and a browsable page at ``/api/v1/docs``).

Every call presents a company's key (``Authorization: Bearer cbk_…``); the key answers only for
its own company (any other company is "not found"), only within its scope, and is rate limited.
Every call is logged (``ApiCallLogMiddleware``). Bad input answers a 4xx with a JSON body
``{"error": code, "message": text}``; the guard's decision comes from ``ledger.guard`` itself,
and postings go through ``ledger.services.journal_entry_create`` under it."""

from __future__ import annotations

import logging
from datetime import date, datetime
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from closebooks import selectors as close_selectors
from closebooks.checklist import selectors as checklist_selectors
from closebooks.checklist.models import ChecklistTask
from closebooks.models import Period
from ledger import services as ledger_services
from ledger.exceptions import BooksClosedError, LedgerError
from ledger.guard import Operation, books_closed_check
from ledger.models import Account, BooksClosedSetting, Company, LedgerEntity

from . import services
from .models import ApiKey

log = logging.getLogger(__name__)


class ApiRefusal(HttpError):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(status, message)
        self.code, self.extra = code, extra


# ---------------------------------------------------------------- authentication and rate limits


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


class CompanyKey(HttpBearer):
    """A company's API key as a bearer token. Unknown, revoked and expired keys answer 401; an
    address that keeps presenting bad keys is slowed down (429) before any key is looked up."""

    def __call__(self, request: HttpRequest):
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiRefusal(401, "no_key", "Send the company's API key as “Authorization: Bearer cbk_…”.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            raise ApiRefusal(401, "no_key", "Send the company's API key as “Authorization: Bearer cbk_…”.")
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str):
        ip = _client_ip(request)
        if services.bad_keys_seen(ip) >= settings.API_BAD_KEY_LIMIT:
            raise ApiRefusal(429, "rate_limited", "Too many calls with a bad key from this address: wait a minute.")
        try:
            key = services.api_key_check(token)
        except services.KeyRefused as exc:
            services.bad_key_record(ip)
            raise ApiRefusal(exc.status, exc.code, exc.message) from None
        request.api_key = key
        return key


class PerKey(BaseThrottle):
    """API_RATE_LIMIT calls per API_RATE_WINDOW seconds per key (fixed window in the shared cache)."""

    def __init__(self):
        self.retry_after: int | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        key = getattr(request, "auth", None)
        if key is None:
            return True
        self.retry_after = services.rate_limit_hit(f"key:{key.pk}", settings.API_RATE_LIMIT, settings.API_RATE_WINDOW)
        return self.retry_after is None

    def wait(self):
        return self.retry_after


api = NinjaAPI(
    title="closebooks API",
    version="1",
    description=(
        "The books-closed date and the guard's decision, period states, close progress, and journal entry "
        "posting, for the systems around the books. Authenticate with a company API key: "
        "`Authorization: Bearer cbk_…` (Settings → API keys)."
    ),
    urls_namespace="api-v1",
    auth=CompanyKey(),
    throttle=[PerKey()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request, status: int, code: str, message: str, **extra):
    response = api.create_response(request, {"error": code, "message": message, **extra}, status=status)
    return response


@api.exception_handler(ApiRefusal)
def _refusal(request, exc: ApiRefusal):
    response = _error(request, exc.status_code, exc.code, exc.message, **exc.extra)
    if exc.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="closebooks"'
    return response


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return _error(request, 401, "no_key", "Send the company's API key as “Authorization: Bearer cbk_…”.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if exc.status_code == 429:
        response = _error(request, 429, "rate_limited", "Too many calls with this key: wait and try again.")
        return response
    return _error(request, exc.status_code, "bad_request", str(exc))


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    problems = []
    for err in exc.errors:
        where = ".".join(str(part) for part in err.get("loc", ()) if part not in ("body", "payload", "query"))
        problems.append({"field": where, "message": err.get("msg", "invalid")})
    first = problems[0] if problems else {"field": "", "message": "invalid"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return _error(request, 422, "invalid", message, problems=problems)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(Exception)
def _unexpected(request, exc):
    log.exception("API call failed: %s %s", request.method, request.path)
    return _error(request, 500, "server_error", "Something went wrong on our side; the call changed nothing.")


def _company(request, slug: str, *, scope: str = ApiKey.Scope.READ) -> Company:
    """The key's own company, if ``slug`` names it (any other slug, known or not: 404), and the
    key's scope allows ``scope``."""
    key: ApiKey = request.auth
    if key.company.slug != slug:
        raise Http404(f"No company “{slug}” for this key.")
    if scope == ApiKey.Scope.POST and key.scope != ApiKey.Scope.POST:
        raise ApiRefusal(403, "scope", "This key may only read: posting needs a key with the post scope.")
    return key.company


class ErrorOut(Schema):
    error: str
    message: str


ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


# ---------------------------------------------------------------- books-closed date


class EntityDate(Schema):
    entity: str
    closed_date: date | None


class BooksClosedOut(Schema):
    company: str
    enabled: bool = Field(description="Closed books on; off: no date applies and every date is open.")
    closed_date: date | None = Field(description="Documents and lines dated on or before it are closed.")
    closed_through: date | None = Field(description="Closed for good (a closed period): the date never moves before it.")
    restrict_inbound: bool
    source: str = Field(description="manual or integration: who set the date last.")
    source_name: str
    source_at: datetime | None
    accounting_system_date: date | None = Field(description="The accounting system's own date, as last pulled.")
    accounting_system: str
    entities: list[EntityDate]


@api.get(
    "/companies/{slug}/books-closed", response={200: BooksClosedOut, **ERRORS}, url_name="books_closed", tags=["books closed"]
)
def books_closed(request, slug: str):
    """The books-closed date and where it came from."""
    company = _company(request, slug)
    setting = BooksClosedSetting.objects.filter(company=company, entity__isnull=True).first()
    entities = BooksClosedSetting.objects.filter(company=company, entity__isnull=False).select_related("entity")
    return {
        "company": company.slug,
        "enabled": bool(setting and setting.enabled),
        "closed_date": setting.closed_date if setting else None,
        "closed_through": setting.closed_through if setting else None,
        "restrict_inbound": bool(setting and setting.restrict_inbound),
        "source": setting.source if setting else "",
        "source_name": setting.source_name if setting else "",
        "source_at": setting.source_at if setting else None,
        "accounting_system_date": setting.pulled_date if setting else None,
        "accounting_system": setting.pulled_source if setting else "",
        "entities": [{"entity": s.entity.key, "closed_date": s.closed_date} for s in entities],
    }


OperationName = StrEnum("OperationName", {op.name.lower(): op.name.lower() for op in Operation})


class DateCheckIn(Schema):
    on: date = Field(..., alias="date", description="The document's or entry's date, YYYY-MM-DD.")
    operation: OperationName = Field(OperationName.entry_create, description="What the caller wants to do on that date.")
    entity: str = Field("", max_length=60, description="The entity's key, for a company with one closed date per entity.")


class DateCheckOut(Schema):
    date: date
    operation: str
    open: bool = Field(description="Whether the books accept this operation on this date.")
    closed_date: date | None
    post_on: date | None = Field(description="The date the change's entry would carry (an open date).")
    message: str = Field(description="The guard's refusal, when the date is not open.")


@api.get(
    "/companies/{slug}/books-closed/check",
    response={200: DateCheckOut, **ERRORS},
    url_name="date_check",
    tags=["books closed"],
)
def date_check(request, slug: str, params: Query[DateCheckIn]):
    """Whether ``date`` is open for ``operation``: the same answer closebooks gives itself."""
    company = _company(request, slug)
    on, operation, entity = params.on, params.operation, params.entity
    op = Operation[operation.value.upper()]
    entity_id = None
    if entity:
        entity_id = LedgerEntity.objects.filter(company=company, key=entity).values_list("pk", flat=True).first()
        if entity_id is None:
            raise Http404(f"No entity “{entity}” in this company.")
    try:
        decision = books_closed_check(company=company, operation=op, on_date=on, entity=entity_id)
    except BooksClosedError as exc:
        return {
            "date": on,
            "operation": operation.value,
            "open": False,
            "closed_date": exc.closed_date,
            "post_on": None,
            "message": exc.message,
        }
    return {
        "date": on,
        "operation": operation.value,
        "open": True,
        "closed_date": decision.closed_date,
        "post_on": decision.post_on,
        "message": "",
    }


# ---------------------------------------------------------------- periods and close progress


class PeriodOut(Schema):
    period: str = Field(description="YYYY-MM")
    state: str
    first_day: date
    last_day: date
    locked_at: datetime | None
    closed_at: datetime | None


@api.get("/companies/{slug}/periods", response={200: list[PeriodOut], **ERRORS}, url_name="periods", tags=["close"])
def periods(request, slug: str):
    """Every period from the company's first entry to this month, oldest first."""
    company = _company(request, slug)
    return [
        {
            "period": p.key,
            "state": p.state,
            "first_day": p.first_day,
            "last_day": p.last_day,
            "locked_at": p.locked_at,
            "closed_at": p.closed_at,
        }
        for p in close_selectors.company_periods(company)
    ]


class TaskOut(Schema):
    name: str
    state: str
    builtin: str
    due_date: date
    late: bool
    preparer: str | None
    reviewer: str | None


class ProgressOut(Schema):
    period: str
    state: str
    checklist: bool = Field(description="Whether the period has a checklist yet (it starts when the period ends).")
    tasks_total: int
    tasks_done: int
    tasks_late: int
    lock_waits_for: list[str] = Field(description="Tasks due before Lock that are not done.")
    tasks: list[TaskOut]


class ProgressIn(Schema):
    period: str = Field("", max_length=7, description="YYYY-MM; default: the next period to close.")


@api.get("/companies/{slug}/close-progress", response={200: ProgressOut, **ERRORS}, url_name="close_progress", tags=["close"])
def close_progress(request, slug: str, params: Query[ProgressIn]):
    """Where the close of a period stands: its state and its checklist."""
    company = _company(request, slug)
    period = params.period
    if period:
        chosen = close_selectors.period_get(company, period)
    else:
        open_periods = close_selectors.open_periods(company)
        chosen = open_periods[0] if open_periods else close_selectors.company_periods(company)[-1]
    tasks = checklist_selectors.checklist_tasks(company, chosen.month)
    today = company.today()
    waiting = checklist_selectors.lock_waiting_tasks(company, chosen.month)
    return {
        "period": chosen.key,
        "state": chosen.state,
        "checklist": bool(tasks) or checklist_selectors.checklist_for(company, chosen.month) is not None,
        "tasks_total": len(tasks),
        "tasks_done": sum(t.state == ChecklistTask.State.DONE for t in tasks),
        "tasks_late": sum(t.is_late(today) for t in tasks),
        "lock_waits_for": [t.name for t in waiting] if chosen.state == Period.State.OPEN else [],
        "tasks": [
            {
                "name": t.name,
                "state": t.state,
                "builtin": t.builtin,
                "due_date": t.due_date,
                "late": t.is_late(today),
                "preparer": t.preparer.get_username() if t.preparer_id else None,
                "reviewer": t.reviewer.get_username() if t.reviewer_id else None,
            }
            for t in tasks
        ],
    }


# ---------------------------------------------------------------- posting


class LineIn(Schema):
    account: str = Field(description="The account's code in the company's chart.", min_length=1, max_length=20)
    debit: str = Field("0", description='A decimal string with at most two places, e.g. "125.00".', max_length=40)
    credit: str = Field("0", description="A decimal string with at most two places.", max_length=40)
    description: str = Field("", max_length=500)
    currency: str | None = Field(None, min_length=3, max_length=3)


class EntryIn(Schema):
    entry_date: date
    memo: str = Field("", max_length=500)
    reference: str = Field("", max_length=100)
    lines: list[LineIn] = Field(..., min_length=1, max_length=500)


class EntryOut(Schema):
    id: int
    entry_date: date
    memo: str
    reference: str
    is_balanced: bool


class RefusalOut(Schema):
    error: str
    message: str
    closed_date: date | None = None


@api.post(
    "/companies/{slug}/journal-entries",
    response={201: EntryOut, 409: RefusalOut, **ERRORS},
    url_name="journal_entries",
    tags=["posting"],
)
def journal_entry_post(request, slug: str, payload: EntryIn):
    """Post a journal entry through closebooks' posting service, under the books-closed guard:
    a date in the closed period answers 409 with the guard's message. Needs a key with the post scope."""
    company = _company(request, slug, scope=ApiKey.Scope.POST)
    codes = {line.account for line in payload.lines}
    accounts = dict(Account.objects.filter(company=company, code__in=codes).values_list("code", "pk"))
    missing = sorted(codes - set(accounts))
    if missing:
        raise ApiRefusal(422, "invalid", f"lines: no account with code {missing[0]} in this company.", field="lines")
    lines = [
        ledger_services.LineInput(
            account=accounts[line.account],
            debit=line.debit,
            credit=line.credit,
            description=line.description,
            currency=line.currency,
        )
        for line in payload.lines
    ]
    key: ApiKey = request.auth
    try:
        with transaction.atomic():
            entry = ledger_services.journal_entry_create(
                company=company,
                entry_date=payload.entry_date,
                lines=lines,
                actor=None,
                memo=payload.memo,
                reference=payload.reference,
            )
            ledger_services.audit_record(
                company=company,
                actor=None,
                action="api.journal_entry_post",
                subject=entry,
                after={"key": key.prefix, "key_name": key.name},
            )
    except BooksClosedError as exc:
        return Status(409, {"error": "books_closed", "message": exc.message, "closed_date": exc.closed_date})
    except LedgerError as exc:
        raise ApiRefusal(422, "invalid", exc.message, field=exc.field or "") from None
    request.api_result = entry.pk
    return Status(
        201,
        {
            "id": entry.pk,
            "entry_date": entry.entry_date,
            "memo": entry.memo,
            "reference": entry.reference,
            "is_balanced": entry.is_balanced,
        },
    )
