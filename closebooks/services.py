"""Writers of the close workflow. Period transitions are data (``Period.MOVES``) applied by one
service under the company lock, idempotently, with an audit row (PC1, PC4–PC6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from integrations.models import SyncRun
from integrations.selectors import connection_active, entries_needing_sync
from ledger import roles
from ledger.locks import company_lock
from ledger.models import BooksClosedSetting
from ledger.permissions import require
from ledger.services import (
    audit_record,
    books_closed_close_through,
    books_closed_lock_through,
    books_closed_update,
    journal_entries_reflag,
)

from . import selectors
from .checklist.selectors import lock_waiting_tasks
from .checklist.services import task_url
from .exceptions import PeriodError
from .models import Period
from .month_end.checks import failing_unaccepted_checks


@dataclass(frozen=True)
class Blocker:
    """Something that keeps a period from locking, said so a person can fix it."""

    code: str
    message: str
    link: str = ""


def period_lock_blockers(period: Period) -> list[Blocker]:
    """What still keeps ``period`` from locking (PC2, PC4), in the order to fix them."""
    company = period.company
    blockers: list[Blocker] = []
    earlier_open = [p for p in selectors.company_periods(company) if p.month < period.month and p.state == Period.State.OPEN]
    if earlier_open:
        blockers.append(Blocker("order", f"Lock {earlier_open[0].name} first: periods lock in date order (PC4)."))
    if period.last_day > company.today():
        next_day = period.last_day + timedelta(days=1)
        blockers.append(
            Blocker(
                "not_ended", f"{period.name} has not ended yet in {company.time_zone}: it can be locked from {next_day} on (BC2)."
            )
        )
    connection = connection_active(company)
    if connection is None:
        blockers.append(Blocker("connection", "Connect an accounting integration first (PC2).", "connection"))
    flags = selectors.flagged_entry_ids(company, period.first_day, period.last_day)
    if flags["unbalanced"]:
        blockers.append(
            Blocker("unbalanced", f"{len(flags['unbalanced'])} unbalanced journal entries must be fixed (PC2).", "flagged")
        )
    if flags["unmapped"]:
        blockers.append(
            Blocker(
                "unmapped",
                f"{len(flags['unmapped'])} journal entries use accounts without a mapping: "
                "preview and update the mappings (PC2).",
                "mappings",
            )
        )
    failing = failing_unaccepted_checks(company, period.first_day, period.last_day)
    if failing:
        rules = ", ".join(result.rule for result in failing)
        blockers.append(
            Blocker(
                "checks",
                f"Month-end checks fail ({rules}): fix the difference, or an administrator accepts it with a reason.",
                "checks",
            )
        )
    waiting = lock_waiting_tasks(company, period.month)
    for task in waiting[:10]:
        who = task.preparer.get_username() if task.state == task.State.OPEN and task.preparer_id else None
        who = who or (task.reviewer.get_username() if task.reviewer_id else "")
        blockers.append(
            Blocker(
                "task",
                f"Checklist task “{task.name}” (due {task.due_date:%Y-%m-%d}) is {task.get_state_display().lower()}"
                + (f": waiting for {who}." if who else "."),
                task_url(task),
            )
        )
    if len(waiting) > 10:
        blockers.append(Blocker("tasks", f"{len(waiting) - 10} more checklist tasks due before Lock are not done.", "checklist"))
    if connection is not None:
        running = SyncRun.objects.filter(
            connection=connection, kind=SyncRun.Kind.PUSH, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).exists()
        if running:
            blockers.append(Blocker("sync_running", "A sync is still running: lock when it has finished.", "sync"))
        else:
            unsynced = _count_with_memory(
                entries_needing_sync(company, period_start=period.first_day, period_end=period.last_day)
            )
            if unsynced:
                blockers.append(
                    Blocker(
                        "unsynced", f"{unsynced} journal entries are not synced as they stand now: sync them first (PC4).", "sync"
                    )
                )
    return blockers


def _count_with_memory(queryset) -> int:
    """Count a period-wide anti-join (the period's entries against their outbox rows) with room for
    its hash table: at PG_WORK_MEM a month of millions of entries spilled to disk in batches and
    Lock grew faster than the month (issue 16, Performance)."""
    if db_connection.vendor != "postgresql":
        return queryset.count()
    with transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '512MB'")
        return queryset.count()


@transaction.atomic
def period_flags_refresh(*, period: Period) -> int:
    """Re-derive the stored unbalanced flags of the period's entries from their lines'
    imbalances, so the Review step lists exactly what blocks the lock even after a direct write
    to the flag (PC2). Reads the imbalance rows the line triggers keep: no scan of the lines."""
    return journal_entries_reflag(company=period.company, first=period.first_day, last=period.last_day)


def _locked_period(period: Period) -> Period:
    """The period's row, created if the month has none yet, locked for this transaction."""
    company_lock(period.company_id, exclusive=True)
    row, _ = Period.objects.select_for_update().get_or_create(company_id=period.company_id, month=period.month)
    return row


@transaction.atomic
def period_lock(*, period: Period, actor: AbstractBaseUser | None) -> Period:
    """Lock ``period`` (PC4): its prerequisites hold, every earlier period is locked, and the
    books-closed date moves to its last day (closed books turns on if it was off)."""
    company = period.company
    require(actor, roles.MANAGE, company, what="lock a period")
    row = _locked_period(period)
    if row.state == Period.State.LOCKED:
        return row  # a double submit is a no-op
    _check_move(row, Period.State.LOCKED)
    blockers = period_lock_blockers(row)
    if blockers:
        raise PeriodError(" ".join(b.message for b in blockers))
    setting = BooksClosedSetting.objects.filter(company=company, entity__isnull=True).first()
    row.date_before_lock = setting.closed_date if setting else None
    if setting is None or not setting.enabled or setting.closed_date is None or setting.closed_date < row.last_day:
        books_closed_lock_through(company=company, actor=actor, through=row.last_day, reason=f"{row.name} locked")
    row = _apply(row, Period.State.LOCKED, actor, extra={"locked_at": timezone.now(), "locked_by": _person(actor)})
    _after_move(row, "period.locked")
    return row


@transaction.atomic
def period_unlock(*, period: Period, actor: AbstractBaseUser | None, reason: str) -> Period:
    """Unlock a locked period (PC5): administrators only, with a reason, latest locked period
    first. The books-closed date goes back to where it was before the lock (never before the
    last closed period, BC3)."""
    company = period.company
    require(actor, roles.ADMINISTER, company, what="unlock a period")
    reason = (reason or "").strip()
    if not reason:
        raise PeriodError("Say why the period is unlocked: the reason is kept in the audit trail (PC5).", field="reason")
    row = _locked_period(period)
    if row.state == Period.State.OPEN:
        return row
    _check_move(row, Period.State.OPEN)
    later = Period.objects.filter(company=company, month__gt=row.month).exclude(state=Period.State.OPEN).order_by("month").first()
    if later is not None:
        raise PeriodError(f"Unlock {later.name} first: periods unlock from the latest back (PC4).")
    setting = BooksClosedSetting.objects.filter(company=company, entity__isnull=True).first()
    target = row.date_before_lock
    if setting is not None and setting.closed_through is not None and (target is None or target < setting.closed_through):
        target = setting.closed_through
    if setting is not None and setting.closed_date is not None and (target is None or setting.closed_date > target):
        books_closed_update(company=company, actor=actor, closed_date=target, reason=f"{row.name} unlocked: {reason}")
    row = _apply(row, Period.State.OPEN, actor, reason=reason, extra={"locked_at": None, "locked_by": None})
    _after_move(row, None)
    return row


@transaction.atomic
def period_close(*, period: Period, actor: AbstractBaseUser | None, confirm_name: str) -> Period:
    """Close a locked period for good (PC5): administrators only, earlier periods closed first,
    confirmed by typing the period's name. Nothing can reopen it or move the books-closed date
    before its last day afterwards (BC3)."""
    company = period.company
    require(actor, roles.ADMINISTER, company, what="close a period")
    row = _locked_period(period)
    if row.state == Period.State.CLOSED:
        return row
    if (confirm_name or "").strip().casefold() != row.name.casefold():
        raise PeriodError(f"Type the period's name, “{row.name}”, to close it.", field="confirm_name")
    _check_move(row, Period.State.CLOSED)
    earlier = [p for p in selectors.company_periods(company) if p.month < row.month and p.state != Period.State.CLOSED]
    if earlier:
        raise PeriodError(f"Close {earlier[0].name} first: periods close in date order (PC4).")
    books_closed_close_through(company=company, actor=actor, through=row.last_day)
    row = _apply(row, Period.State.CLOSED, actor, extra={"closed_at": timezone.now(), "closed_by": _person(actor)})
    _after_move(row, "period.closed")
    return row


def _after_move(row: Period, event: str | None) -> None:
    """The checklist's Lock step follows the period's state, and subscribers hear of a lock or a
    close (their deliveries are recorded in this transaction and sent after commit)."""
    from .api.services import webhook_emit
    from .checklist.services import builtins_refresh

    builtins_refresh(company=row.company, month=row.month)
    if event:
        webhook_emit(
            company_id=row.company_id,
            event=event,
            data={
                "period": row.key,
                "state": row.state,
                "first_day": row.first_day.isoformat(),
                "last_day": row.last_day.isoformat(),
            },
        )


def _check_move(row: Period, to: str) -> None:
    if to in Period.MOVES[row.state]:
        return
    if row.state == Period.State.CLOSED:
        raise PeriodError(
            f"{row.name} is closed: a closed period can never be reopened (PC5). "
            "Correct it with an adjusting entry in the first open period."
        )
    if row.state == Period.State.OPEN and to == Period.State.CLOSED:
        raise PeriodError(f"Lock {row.name} before closing it (PC4).")
    raise PeriodError(f"{row.name} cannot move from {row.get_state_display().lower()} to {to}.")


def _person(actor: AbstractBaseUser | None):
    return actor if actor is not None and actor.is_authenticated else None


_ACTIONS = {Period.State.LOCKED: "period.lock", Period.State.OPEN: "period.unlock", Period.State.CLOSED: "period.close"}


def _apply(row: Period, to: str, actor: AbstractBaseUser | None, *, reason: str = "", extra: dict) -> Period:
    before = row.state
    row.state = to
    for field, value in extra.items():
        setattr(row, field, value)
    row.save(update_fields=["state", "date_before_lock", *extra])
    audit_record(
        company=row.company_id,
        actor=actor,
        action=_ACTIONS[to],
        subject=row,
        before={"state": before, "period": row.key},
        after={"state": to, "period": row.key},
        reason=reason,
    )
    return row
