"""Reads of the close checklist, scoped to one company (callers fetch the company with
``ledger.selectors.company_get_for_user`` first, so another company's task answers 404)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet
from django.http import Http404

from ledger.models import Company

from .models import COVERED_BY_LOCK, Builtin, Checklist, ChecklistTask, TaskTemplate
from .workdays import working_days_between


def checklist_for(company: Company, month: date) -> Checklist | None:
    return Checklist.objects.filter(company=company, month=month).first()


def checklist_tasks(company: Company, month: date) -> list[ChecklistTask]:
    return list(
        ChecklistTask.objects.filter(checklist__company=company, checklist__month=month)
        .select_related("checklist", "preparer", "reviewer", "prepared_by", "reviewed_by")
        .prefetch_related("depends_on")
        .order_by("due_date", "id")
    )


def task_get(company: Company, month: date, pk: int) -> ChecklistTask:
    task = (
        ChecklistTask.objects.filter(company=company, checklist__month=month, pk=pk)
        .select_related("checklist", "company", "preparer", "reviewer", "prepared_by", "reviewed_by")
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def template_list(company: Company) -> QuerySet[TaskTemplate]:
    return TaskTemplate.objects.filter(company=company).select_related("preparer", "reviewer").prefetch_related("depends_on")


def template_get(company: Company, pk: int) -> TaskTemplate:
    template = TaskTemplate.objects.filter(company=company, pk=pk).first()
    if template is None:
        raise Http404("No such task.")
    return template


def lock_waiting_tasks(company: Company, month: date) -> list[ChecklistTask]:
    """The period's tasks due on or before its Lock step (or that Lock depends on) and not done,
    in due order (CL2). Review, Sync and Lock are left out: Lock lists what keeps them from
    completing as its own blockers (flags, checks, unsynced entries)."""
    lock = ChecklistTask.objects.filter(checklist__company=company, checklist__month=month, builtin=Builtin.LOCK).first()
    tasks = (
        ChecklistTask.objects.filter(checklist__company=company, checklist__month=month)
        .exclude(state=ChecklistTask.State.DONE)
        .exclude(builtin__in=COVERED_BY_LOCK)
    )
    if lock is not None:
        tasks = tasks.filter(Q(due_date__lte=lock.due_date) | Q(dependents=lock)).distinct()
    return list(tasks.select_related("checklist", "preparer", "reviewer").order_by("due_date", "id"))


def by_owner_and_state(tasks: list[ChecklistTask]) -> OrderedDict:
    """owner name -> state -> tasks, owners in name order ("closebooks" for the built-in steps).
    The owner is whoever must act next: the preparer while open, the reviewer once prepared."""
    groups: dict[str, dict[str, list[ChecklistTask]]] = {}
    for task in tasks:
        if task.self_completing:
            owner = "closebooks (automatic)"
        elif task.state in (ChecklistTask.State.PREPARED, ChecklistTask.State.REVIEWED) and task.reviewer_id:
            owner = task.reviewer.get_username()
        else:
            owner = task.preparer.get_username() if task.preparer_id else "nobody"
        groups.setdefault(owner, {state: [] for state in ChecklistTask.State.values})[task.state].append(task)
    return OrderedDict(sorted(groups.items(), key=lambda item: (item[0].startswith("closebooks"), item[0])))


def my_tasks(user, companies: QuerySet[Company]) -> list[ChecklistTask]:
    """Tasks where ``user`` must act: open ones they prepare, prepared ones they review, in the
    companies they are a member of; oldest due first."""
    return list(
        ChecklistTask.objects.filter(company__in=companies)
        .filter(Q(preparer=user, state=ChecklistTask.State.OPEN) | Q(reviewer=user, state=ChecklistTask.State.PREPARED))
        .exclude(builtin__in=[Builtin.REVIEW, Builtin.SYNC, Builtin.LOCK])
        .select_related("checklist", "company", "preparer", "reviewer")
        .order_by("due_date", "id")[:500]
    )


def my_recent_tasks(user, companies: QuerySet[Company], limit: int = 20) -> list[ChecklistTask]:
    """Tasks ``user`` prepares or reviews that are waiting on others or finished, newest due first."""
    return list(
        ChecklistTask.objects.filter(company__in=companies)
        .filter(Q(preparer=user) | Q(reviewer=user))
        .exclude(Q(preparer=user, state=ChecklistTask.State.OPEN) | Q(reviewer=user, state=ChecklistTask.State.PREPARED))
        .select_related("checklist", "company", "preparer", "reviewer")
        .order_by("-due_date", "-id")[:limit]
    )


def late_tasks(company: Company, today: date) -> list[ChecklistTask]:
    """Tasks past their due date and not done, in this month's checklists and any earlier one still open."""
    return list(
        ChecklistTask.objects.filter(company=company, due_date__lt=today)
        .exclude(state=ChecklistTask.State.DONE)
        .select_related("checklist", "preparer", "reviewer")
        .order_by("due_date", "id")[:100]
    )


@dataclass(frozen=True)
class DaysToClose:
    month: date
    days: int | None  # working days from the month's end to its lock; None while not locked
    locked_on: date | None

    @property
    def key(self) -> str:
        return self.month.strftime("%Y-%m")


def days_to_close(company: Company, periods) -> list[DaysToClose]:
    """Per period: working days from its last day to the day it was locked (company time zone)."""
    from django.utils import timezone

    out = []
    for period in periods:
        locked_on = timezone.localdate(period.locked_at, timezone=company.tz) if period.locked_at else None
        days = working_days_between(period.last_day, locked_on) if locked_on else None
        out.append(DaysToClose(period.month, days, locked_on))
    return out
