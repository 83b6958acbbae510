"""The books-closed guard: the one function that decides whether a dated change may enter the
books (BC4–BC6, BC9). The posting service and every document service call it under the company
lock; views, admin, imports and tasks show its error and never re-implement it. The PostgreSQL
trigger (installed by migrations ``ledger/0003`` and ``0012``) mirrors it for writes that bypass the services, and
``tests/ledger/test_guard_matrix.py`` runs one table of cases against both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from django.db import connection

from .exceptions import BooksClosedError, DateRangeError, LedgerError
from .locks import company_lock
from .models import Company, LedgerEntity


class Operation(StrEnum):
    """Every dated change the guard knows. The value names the operation in refusals."""

    DOCUMENT_CREATE = "create"
    DOCUMENT_EDIT = "edit"
    DOCUMENT_DELETE = "delete"
    DOCUMENT_VOID = "void"
    ENTRY_CREATE = "create journal entry"
    ENTRY_EDIT = "edit journal entry"
    ENTRY_DELETE = "delete journal entry"
    PAYMENT_SCHEDULE = "schedule payment"
    PAYMENT_RECORD = "record payment"
    PAYMENT_EDIT = "edit payment"
    PAYMENT_DELETE = "delete payment"
    PAYMENT_VOID = "void payment"
    PAYMENT_CANCEL = "cancel payment"
    PAYMENT_DEPOSIT = "deposit payment"
    PAYMENT_CLEAR = "clear payment"
    CREDIT_APPLY = "apply credit"
    PAYMENT_APPLY = "apply payment"
    CUSTOMER_CREDIT_CREATE = "create customer credit"
    CUSTOMER_CREDIT_EDIT = "edit customer credit"
    CUSTOMER_CREDIT_DELETE = "delete customer credit"
    REFUND_CREATE = "create refund"
    REFUND_EDIT = "edit refund"
    REFUND_DELETE = "delete refund"


# BC5 (and MR6 for voids): allowed although the document is dated in the closed period,
# because the change posts on an open date and leaves the closed period's figures alone.
ALLOWED_IN_CLOSED_PERIOD = frozenset(
    {
        Operation.CREDIT_APPLY,
        Operation.PAYMENT_APPLY,
        Operation.PAYMENT_VOID,
        Operation.PAYMENT_CANCEL,
        Operation.PAYMENT_DEPOSIT,
        Operation.PAYMENT_CLEAR,
        Operation.DOCUMENT_VOID,
    }
)
# A payment that has deposited or cleared can no longer be voided or cancelled in a closed period (BC5).
SETTLED_PAYMENT_STATUSES = frozenset({"deposited", "cleared"})


@dataclass(frozen=True)
class InboundPolicy:
    """A provider's exception to BC6, given by the caller as data (the guard never imports
    integrations): documents of ``kinds`` from ``provider`` enter even a closed period when
    restrict-inbound is on. QuickBooks Desktop: ``InboundPolicy("quickbooks_desktop", frozenset({"invoice"}))``."""

    provider: str
    kinds: frozenset[str] = frozenset()
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.provider}:{','.join(sorted(self.kinds))}"


QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES = InboundPolicy(
    "quickbooks_desktop",
    frozenset({"invoice"}),
    "Receivable invoices created in QuickBooks Desktop sync in even when dated in a closed period.",
)


@dataclass(frozen=True)
class Inbound:
    """Marks a change as coming in from the accounting system (BC6)."""

    provider: str = ""
    kind: str = ""  # the document kind, e.g. "invoice"; "" for a plain journal entry
    policy: InboundPolicy | None = None


@dataclass(frozen=True)
class GuardDecision:
    """What the guard allowed: ``post_on`` is the date the change's journal entry must carry
    (today for a BC5 operation on a closed-period document, else the document's own date);
    ``policy`` names the provider policy that let an inbound change into a closed period."""

    closed_date: date | None
    in_closed_period: bool
    post_on: date
    policy: str = ""


@dataclass(frozen=True)
class Gate:
    """The books-closed setting of one company as read under its lock: what the guard decides
    against. A batch reads it once and checks each of its changes against it; a single change
    reads it for its own entity in the lock's round trip (``books_closed_check``)."""

    company: Company
    enabled: bool = False
    closed_date: date | None = None
    restrict_inbound: bool = False
    entity_dates: dict[int, date] = field(default_factory=dict)

    def closed_for(self, entity: LedgerEntity | int | None) -> date | None:
        """The effective closed date (BC9: an entity's own date replaces the company's)."""
        if not self.enabled:
            return None
        entity_id = entity.pk if isinstance(entity, LedgerEntity) else entity
        own = self.entity_dates.get(entity_id) if entity_id else None
        return own if own is not None else self.closed_date

    def check(
        self,
        *,
        operation: Operation | str,
        on_date: date,
        entity: LedgerEntity | int | None = None,
        inbound: Inbound | None = None,
        payment_status: str = "",
        what: str = "",
        field: str = "doc_date",
    ) -> GuardDecision:
        """Decide whether ``operation`` on something dated ``on_date`` may enter the books: a
        :class:`GuardDecision`, or :class:`BooksClosedError` naming the operation, the date and
        the closed date. ``what`` names the thing ("invoice INV-7")."""
        if not isinstance(on_date, date):
            raise LedgerError(f"“{on_date}” is not a date.", field=field)
        operation = Operation(operation)
        closed, restrict_inbound = self.closed_for(entity), self.restrict_inbound
        company = self.company
        if closed is None or on_date > closed:
            return GuardDecision(closed_date=closed, in_closed_period=False, post_on=on_date)
        label = f"{operation.value} {what}".strip() if what else operation.value
        if inbound is not None:
            if not restrict_inbound:
                return GuardDecision(closed_date=closed, in_closed_period=True, post_on=on_date)
            policy = inbound.policy
            provider_fits = not inbound.provider or inbound.provider == policy.provider if policy is not None else False
            if policy is not None and inbound.kind in policy.kinds and provider_fits:
                return GuardDecision(closed_date=closed, in_closed_period=True, post_on=on_date, policy=policy.name)
            raise BooksClosedError(
                f"Rejected inbound {label or 'transaction'} dated {on_date}: the books are closed through {closed} "
                "and “Restrict inbound transactions” is on (BC6).",
                operation=operation.value,
                on_date=on_date,
                closed_date=closed,
                field=field,
            )
        if operation in ALLOWED_IN_CLOSED_PERIOD:
            if operation in (Operation.PAYMENT_VOID, Operation.PAYMENT_CANCEL) and payment_status in SETTLED_PAYMENT_STATUSES:
                raise BooksClosedError(
                    f"Cannot {label}: its process date {on_date} is in the closed period (books closed through {closed}) "
                    f"and it has already {payment_status} (BC5).",
                    operation=operation.value,
                    on_date=on_date,
                    closed_date=closed,
                )
            post_on = max(company.today(), closed + timedelta(days=1))
            return GuardDecision(closed_date=closed, in_closed_period=True, post_on=post_on)
        raise BooksClosedError(
            f"Cannot {label} dated {on_date}: the books are closed through {closed}. "
            "Choose a later date, or reopen the period by moving the books-closed date earlier (BC4).",
            operation=operation.value,
            on_date=on_date,
            closed_date=closed,
        )


EARLIEST_DATE = date(1900, 1, 1)


def latest_date(company: Company) -> date:
    """The last date ``company`` accepts: its ``years_ahead`` after today (29 February moves to the 28th)."""
    today = company.today()
    years = company.years_ahead
    try:
        return today.replace(year=today.year + years)
    except ValueError:
        return today.replace(year=today.year + years, day=28)


@dataclass(frozen=True)
class DateRange:
    """The dates ``company`` accepts (issue 18): from 1900-01-01 to ``years_ahead`` after today.
    A batch reads it once (one "today") and checks each of its dates against it."""

    company: Company
    last: date

    def check(self, *, on_date: date, field: str = "doc_date", what: str = "") -> None:
        if not isinstance(on_date, date):
            raise LedgerError(f"“{on_date}” is not a date.", field=field)
        if EARLIEST_DATE <= on_date <= self.last:
            return
        subject = f"The date {on_date.isoformat()} of {what}" if what else f"The date {on_date.isoformat()}"
        if on_date < EARLIEST_DATE:
            raise DateRangeError(f"{subject} is before 1900-01-01: check the year.", field=field)
        years = self.company.years_ahead
        raise DateRangeError(
            f"{subject} is more than {years} year{'s' if years != 1 else ''} ahead (after {self.last.isoformat()}): "
            "check the year. An administrator can allow dates further ahead in the company settings.",
            field=field,
        )


def date_range(company: Company) -> DateRange:
    return DateRange(company, latest_date(company))


def date_range_check(*, company: Company, on_date: date, field: str = "doc_date", what: str = "") -> None:
    """Refuse a date no one means (issue 18): before 1900-01-01, or more than the company's
    ``years_ahead`` after today. The posting service and every document service call it where
    they call the guard, for the date a change gives (not for what they delete or void, so a
    mistyped entry can always be removed)."""
    date_range(company).check(on_date=on_date, field=field, what=what)


def books_closed_gate(
    *, company: Company, entity: LedgerEntity | int | None = None, lock: bool = False, every_entity: bool = False
) -> Gate:
    """Read the books-closed setting of ``company`` (and ``entity``'s own date, BC9; or, with
    ``every_entity``, every entity's) as a :class:`Gate`. Call it under the company lock, or pass
    ``lock=True`` to take the lock (FOR SHARE) first, so the date cannot move under you. A
    single entity's read takes the lock in the same round trip (the posting path's hot spot)."""
    entity_id = entity.pk if isinstance(entity, LedgerEntity) else entity
    if lock and connection.vendor == "postgresql" and not every_entity:
        if not connection.in_atomic_block:
            raise RuntimeError("the company lock must be taken inside transaction.atomic().")
        # One plain query: it runs on every posting, and the ORM's compile step cost more than the query.
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM ledger_company_lock_closed_date(%s, %s)", [company.pk, entity_id])
            row = cursor.fetchone()
        if row is None or not row[0]:
            return Gate(company)
        entity_dates = {entity_id: row[3]} if entity_id and row[3] is not None else {}
        return Gate(company, True, row[1], row[2], entity_dates)
    if lock:
        company_lock(company.pk)
    with connection.cursor() as cursor:
        if every_entity:
            cursor.execute(
                "SELECT entity_id, enabled, closed_date, restrict_inbound FROM ledger_booksclosedsetting WHERE company_id = %s",
                [company.pk],
            )
        else:
            cursor.execute(
                "SELECT entity_id, enabled, closed_date, restrict_inbound FROM ledger_booksclosedsetting"
                " WHERE company_id = %s AND (entity_id IS NULL OR entity_id = %s)",
                [company.pk, entity_id],
            )
        rows = cursor.fetchall()
    top = next((row for row in rows if row[0] is None), None)
    if top is None or not top[1]:
        return Gate(company)
    entity_dates = {row[0]: row[2] for row in rows if row[0] is not None and row[2] is not None}
    return Gate(company, True, top[2], top[3], entity_dates)


def closed_date_for(
    company: Company, entity: LedgerEntity | int | None = None, *, lock: bool = False
) -> tuple[date | None, bool]:
    """The effective closed date for ``company`` (and ``entity``, BC9) and the restrict-inbound
    toggle. ``None`` when closed books is off (BC1)."""
    gate = books_closed_gate(company=company, entity=entity, lock=lock)
    return gate.closed_for(entity), gate.restrict_inbound


def books_closed_check(
    *,
    company: Company,
    operation: Operation | str,
    on_date: date,
    entity: LedgerEntity | int | None = None,
    inbound: Inbound | None = None,
    payment_status: str = "",
    what: str = "",
    field: str = "doc_date",
    lock: bool = False,
) -> GuardDecision:
    """Decide whether ``operation`` on something dated ``on_date`` may enter the books (see
    :meth:`Gate.check`). Call it inside the transaction, after ``company_lock``, so the date cannot
    move under you; or pass ``lock=True`` and it takes the company lock itself, in the same round
    trip as the read."""
    if not isinstance(on_date, date):
        raise LedgerError(f"“{on_date}” is not a date.", field=field)
    gate = books_closed_gate(company=company, entity=entity, lock=lock)
    return gate.check(
        operation=operation,
        on_date=on_date,
        entity=entity,
        inbound=inbound,
        payment_status=payment_status,
        what=what,
        field=field,
    )
