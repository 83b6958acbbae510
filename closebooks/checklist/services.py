"""Writers of the close checklist (CL1, CL2). Each runs in one transaction, checks who may act,
writes an audit row per move, and tells the people concerned after commit (notifications).

Moves are data (``ChecklistTask.MOVES``); ``_move`` applies them under the task's row lock, so a
double submit is a no-op and two people cannot move one task at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from closebooks.models import Period
from closebooks.notifications.models import Notification
from closebooks.notifications.services import notify
from ledger import roles
from ledger.models import Company, JournalLine, Membership
from ledger.services import audit_record

from .exceptions import ChecklistError
from .models import SELF_COMPLETING, Builtin, Checklist, ChecklistTask, TaskAttachment, TaskTemplate
from .workdays import working_day_after

# The built-in steps every template starts with, and their default working days.
BUILTIN_DEFAULTS = [
    (Builtin.REVIEW, 2, "Review every transaction of the period, its flags and the month-end checks.", "review"),
    (Builtin.SYNC, 3, "Sync every journal entry of the period to the accounting system.", "sync"),
    (Builtin.REVALUATION, 3, "Revalue open foreign-currency balances at the period's last day.", "journal"),
    (Builtin.LOCK, 5, "Lock the period: the books-closed date moves to its last day.", "lock"),
]


def _person(actor: AbstractBaseUser | None):
    return actor if actor is not None and actor.is_authenticated else None


def _require(actor: AbstractBaseUser | None, perm: str, company: Company, what: str) -> None:
    if actor is not None and not actor.has_perm(perm, company):
        who = "an administrator" if perm == roles.ADMINISTER else "an administrator or a manager"
        raise ChecklistError(f"Only {who} can {what}.")


def _require_member(company: Company, user, field: str, label: str) -> None:
    if user is None:
        raise ChecklistError(f"Choose the {label}.", field=field)
    if not Membership.objects.filter(company=company, user=user).exists():
        raise ChecklistError(f"{user.get_username()} is not a member of {company}: choose a member as {label}.", field=field)


def _check_people(company: Company, preparer, reviewer) -> None:
    _require_member(company, preparer, "preparer", "preparer")
    _require_member(company, reviewer, "reviewer", "reviewer")
    if preparer.pk == reviewer.pk:
        raise ChecklistError("The reviewer must be another member than the preparer.", field="reviewer")


def _check_no_loop(template: TaskTemplate | None, depends_on: Iterable[TaskTemplate]) -> None:
    """Refuse a dependency that leads back to ``template`` itself (a loop never finishes)."""
    if template is None or template.pk is None:
        return
    edges: dict[int, set[int]] = {}
    for src, dst in TaskTemplate.depends_on.through.objects.filter(from_tasktemplate__company_id=template.company_id).values_list(
        "from_tasktemplate_id", "to_tasktemplate_id"
    ):
        edges.setdefault(src, set()).add(dst)
    edges[template.pk] = {d.pk for d in depends_on}
    names = dict(TaskTemplate.objects.filter(company_id=template.company_id).values_list("pk", "name"))
    stack = [(d, [template.pk, d]) for d in edges[template.pk]]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node == template.pk:
            chain = " → ".join(names.get(pk, "?") for pk in path)
            raise ChecklistError(f"That dependency makes a loop ({chain}): a task cannot wait for itself.", field="depends_on")
        if node in seen:
            continue
        seen.add(node)
        stack.extend((nxt, [*path, nxt]) for nxt in edges.get(node, ()))


# ---------------------------------------------------------------- the template


@transaction.atomic
def template_builtins_ensure(*, company: Company) -> list[TaskTemplate]:
    """The built-in steps of ``company``'s template, created on first use (Lock depends on the others)."""
    made = {}
    for builtin, due_day, instructions, link in BUILTIN_DEFAULTS:
        made[builtin], _ = TaskTemplate.objects.get_or_create(
            company=company,
            builtin=builtin,
            defaults={"name": Builtin(builtin).label, "due_day": due_day, "instructions": instructions, "link": link},
        )
    lock = made[Builtin.LOCK]
    if not lock.depends_on.exists():
        lock.depends_on.set([made[b] for b in (Builtin.REVIEW, Builtin.SYNC, Builtin.REVALUATION)])
    return list(made.values())


def _template_snapshot(t: TaskTemplate) -> dict:
    return {
        "name": t.name,
        "preparer": t.preparer.get_username() if t.preparer_id else None,
        "reviewer": t.reviewer.get_username() if t.reviewer_id else None,
        "due_day": t.due_day,
        "depends_on": sorted(t.depends_on.values_list("name", flat=True)) if t.pk else [],
        "link": t.link,
        "active": t.active,
    }


@transaction.atomic
def template_task_save(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    template: TaskTemplate | None = None,
    name: str,
    instructions: str = "",
    preparer=None,
    reviewer=None,
    due_day: int,
    depends_on: Sequence[TaskTemplate] = (),
    link: str = "",
    active: bool = True,
) -> TaskTemplate:
    """Create (``template=None``) or change a task of ``company``'s template. A built-in step
    keeps its name and has no people: only its due day, dependencies and link change."""
    _require(actor, roles.MANAGE, company, "change the close checklist")
    if template is not None and template.company_id != company.pk:
        raise ChecklistError("That task belongs to another company.")
    name = (name or "").strip()
    if not name and not (template and template.builtin):
        raise ChecklistError("A task needs a name.", field="name")
    if not isinstance(due_day, int) or not 1 <= due_day <= 60:
        raise ChecklistError("The due day is a number of working days after the period's end, from 1 to 60.", field="due_day")
    if link and link not in dict(TaskTemplate._meta.get_field("link").choices):
        raise ChecklistError(f"Unknown page “{link}”.", field="link")
    builtin = template.builtin if template else ""
    if not builtin:
        _check_people(company, preparer, reviewer)
    depends_on = list(depends_on)
    for dep in depends_on:
        if dep.company_id != company.pk:
            raise ChecklistError("A task can only depend on tasks of the same company.", field="depends_on")
        if template is not None and dep.pk == template.pk:
            raise ChecklistError("A task cannot depend on itself.", field="depends_on")
    if TaskTemplate.objects.filter(company=company, name__iexact=name).exclude(pk=getattr(template, "pk", None)).exists():
        raise ChecklistError(f"The checklist already has a task named “{name}”.", field="name")
    _check_no_loop(template, depends_on)
    is_new = template is None
    before = None if is_new else _template_snapshot(template)
    template = template or TaskTemplate(company=company)
    if not builtin:
        template.name, template.preparer, template.reviewer = name, preparer, reviewer
    template.instructions, template.due_day, template.link, template.active = instructions or "", due_day, link, active
    template.save()
    template.depends_on.set(depends_on)
    audit_record(
        company=company,
        actor=actor,
        action="checklist_template.create" if is_new else "checklist_template.update",
        subject=template,
        before=before,
        after=_template_snapshot(template),
    )
    return template


# ---------------------------------------------------------------- a period's checklist


def _has_foreign_currency(company: Company, first: date, last: date) -> bool:
    return (
        JournalLine.objects.filter(company=company, entry_date__gte=first, entry_date__lte=last)
        .exclude(currency=company.base_currency)
        .exists()
    )


@transaction.atomic
def checklist_create(*, period: Period, actor: AbstractBaseUser | None) -> Checklist:
    """Copy ``period``'s company template into the period's checklist (CL1), once: a second call
    returns the existing one. Due dates count working days from the period's last day. The
    revaluation step appears only where the period has foreign-currency lines."""
    company = period.company
    _require(actor, roles.MANAGE, company, "start a period's checklist")
    if period.last_day >= company.today():
        raise ChecklistError(f"{period.name} has not ended yet: its checklist starts when it ends.")
    checklist, created = Checklist.objects.get_or_create(
        company=company, month=period.month, defaults={"created_by": _person(actor)}
    )
    if not created:
        return checklist
    template_builtins_ensure(company=company)
    templates = list(TaskTemplate.objects.filter(company=company, active=True).select_related("preparer", "reviewer"))
    if not _has_foreign_currency(company, period.first_day, period.last_day):
        templates = [t for t in templates if t.builtin != Builtin.REVALUATION]
    tasks = {}
    for t in templates:
        tasks[t.pk] = ChecklistTask.objects.create(
            checklist=checklist,
            company=company,
            template=t,
            name=t.name,
            instructions=t.instructions,
            link=t.link,
            builtin=t.builtin,
            preparer=t.preparer,
            reviewer=t.reviewer,
            due_day=t.due_day,
            due_date=working_day_after(period.last_day, t.due_day),
        )
    through = ChecklistTask.depends_on.through
    edges = TaskTemplate.depends_on.through.objects.filter(from_tasktemplate_id__in=tasks, to_tasktemplate_id__in=tasks)
    through.objects.bulk_create(
        [
            through(from_checklisttask_id=tasks[src].pk, to_checklisttask_id=tasks[dst].pk)
            for src, dst in edges.values_list("from_tasktemplate_id", "to_tasktemplate_id")
        ]
    )
    audit_record(
        company=company,
        actor=actor,
        action="checklist.create",
        subject=checklist,
        after={"period": checklist.key, "tasks": len(tasks)},
    )
    for task in tasks.values():
        if task.preparer_id and not task.builtin:
            _tell(task, Notification.Kind.TASK_ASSIGNED, [task.preparer], f"You prepare “{task.name}” for {period.name}")
    builtins_refresh(company=company, month=period.month)
    return checklist


def checklists_open_ended(*, company: Company) -> list[Checklist]:
    """The beat's daily pass: every period of ``company`` that has ended since the company set
    up its checklist and is still open gets its checklist (CL1). Periods that ended before the
    template existed are left alone (a manager can start theirs by hand)."""
    from closebooks import selectors as close_selectors

    started = (
        TaskTemplate.objects.filter(company=company, builtin="")
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if started is None:
        return []
    since = timezone.localdate(started, timezone=company.tz)
    have = set(Checklist.objects.filter(company=company).values_list("month", flat=True))
    today = company.today()
    made = []
    for period in close_selectors.company_periods(company):
        if period.state != Period.State.OPEN or period.month in have:
            continue
        if period.last_day < since or period.last_day >= today:
            continue
        made.append(checklist_create(period=period, actor=None))
    return made


# ---------------------------------------------------------------- moving a task


def _locked_task(task: ChecklistTask) -> ChecklistTask:
    return ChecklistTask.objects.select_for_update().select_related("checklist", "company").get(pk=task.pk)


def _audit_move(task: ChecklistTask, actor, before: str, after: str, *, reason: str = "", note: str = "") -> None:
    audit_record(
        company=task.company_id,
        actor=actor,
        action=f"checklist_task.{after if after != ChecklistTask.State.OPEN else 'send_back'}",
        subject=task,
        before={"state": before, "task": task.name, "period": task.checklist.key},
        after={"state": after, "task": task.name, "period": task.checklist.key, **({"note": note} if note else {})},
        reason=reason,
    )


def _period_name(task: ChecklistTask) -> str:
    return task.checklist.month.strftime("%B %Y")


def task_url(task: ChecklistTask) -> str:
    return reverse("checklist:task", kwargs={"slug": task.company.slug, "period": task.checklist.key, "pk": task.pk})


def _tell(task: ChecklistTask, kind: str, users, title: str, body: str = "", dedupe_key: str = "") -> None:
    notify(
        company=task.company,
        users=[u for u in users if u is not None],
        kind=kind,
        title=title,
        body=body or task.instructions[:500],
        link=task_url(task),
        dedupe_key=dedupe_key,
    )


@transaction.atomic
def task_prepare(
    *, task: ChecklistTask, actor: AbstractBaseUser, note: str = "", files: Sequence[UploadedFile] = ()
) -> ChecklistTask:
    """The preparer signs the task off as prepared, with a note and attachments; the reviewer is told."""
    task = _locked_task(task)
    if task.self_completing:
        raise ChecklistError(f"“{task.name}” completes by itself when closebooks sees it done.")
    if task.state == ChecklistTask.State.PREPARED and task.prepared_by_id == actor.pk:
        return task  # a double submit
    if task.preparer_id != actor.pk:
        who = task.preparer.get_username() if task.preparer_id else "nobody yet"
        raise ChecklistError(f"Only the task's preparer ({who}) can prepare it.")
    _check_move(task, ChecklistTask.State.PREPARED)
    for upload in files:
        if upload.size > TaskAttachment.MAX_BYTES:
            raise ChecklistError(f"{upload.name} is larger than 10 MB.", field="files")
    before = task.state
    task.state = ChecklistTask.State.PREPARED
    task.prepared_by, task.prepared_at, task.prepared_note = actor, timezone.now(), (note or "").strip()
    task.sent_back_reason = ""
    task.save(update_fields=["state", "prepared_by", "prepared_at", "prepared_note", "sent_back_reason"])
    for upload in files:
        TaskAttachment.objects.create(
            task=task,
            name=(upload.name or "attachment")[:200],
            content_type=(upload.content_type or "application/octet-stream")[:100],
            size=upload.size,
            data=upload.read(),
            uploaded_by=actor,
        )
    _audit_move(task, actor, before, task.state, note=task.prepared_note)
    _tell(
        task,
        Notification.Kind.TASK_WAITING_REVIEW,
        [task.reviewer],
        f"“{task.name}” ({_period_name(task)}) waits for your review",
        body=f"Prepared by {actor.get_username()}. {task.prepared_note}".strip(),
    )
    return task


@transaction.atomic
def task_review(*, task: ChecklistTask, actor: AbstractBaseUser, note: str = "") -> ChecklistTask:
    """The reviewer signs the prepared task off (never their own preparation). It is done at once
    when every task it depends on is done; otherwise it waits, reviewed, and completes with them."""
    task = _locked_task(task)
    if task.state in (ChecklistTask.State.REVIEWED, ChecklistTask.State.DONE) and task.reviewed_by_id == actor.pk:
        return task
    if task.reviewer_id != actor.pk:
        who = task.reviewer.get_username() if task.reviewer_id else "nobody yet"
        raise ChecklistError(f"Only the task's reviewer ({who}) can review it.")
    if task.prepared_by_id == actor.pk:
        raise ChecklistError("You prepared this task: another member reviews it.")
    _check_move(task, ChecklistTask.State.REVIEWED)
    before = task.state
    task.state, task.reviewed_by, task.reviewed_at = ChecklistTask.State.REVIEWED, actor, timezone.now()
    task.save(update_fields=["state", "reviewed_by", "reviewed_at"])
    _audit_move(task, actor, before, task.state, note=(note or "").strip())
    _complete_if_ready(task)
    return task


@transaction.atomic
def task_send_back(*, task: ChecklistTask, actor: AbstractBaseUser, reason: str) -> ChecklistTask:
    """The reviewer sends a prepared (or reviewed, not yet done) task back to its preparer, with a reason."""
    task = _locked_task(task)
    reason = (reason or "").strip()
    if task.reviewer_id != actor.pk:
        raise ChecklistError("Only the task's reviewer can send it back.")
    if not reason:
        raise ChecklistError("Say why the task goes back: the preparer reads it.", field="reason")
    if task.state == ChecklistTask.State.OPEN:
        raise ChecklistError(f"“{task.name}” is open already: there is nothing to send back.")
    _check_move(task, ChecklistTask.State.OPEN)
    before = task.state
    task.state, task.sent_back_reason = ChecklistTask.State.OPEN, reason
    task.reviewed_by = task.reviewed_at = None
    task.save(update_fields=["state", "sent_back_reason", "reviewed_by", "reviewed_at"])
    _audit_move(task, actor, before, task.state, reason=reason)
    _tell(
        task,
        Notification.Kind.TASK_SENT_BACK,
        [task.preparer],
        f"“{task.name}” ({_period_name(task)}) was sent back",
        body=f"{actor.get_username()}: {reason}",
    )
    return task


@transaction.atomic
def task_reassign(*, task: ChecklistTask, actor: AbstractBaseUser | None, preparer, reviewer) -> ChecklistTask:
    """Give a period's task to other members (managers). The new preparer is told."""
    task = _locked_task(task)
    _require(actor, roles.MANAGE, task.company, "reassign a task")
    if task.builtin:
        raise ChecklistError("A built-in step has no preparer or reviewer.")
    if task.state == ChecklistTask.State.DONE:
        raise ChecklistError(f"“{task.name}” is done: it keeps the people who did it.")
    _check_people(task.company, preparer, reviewer)
    if task.prepared_by_id and task.prepared_by_id == reviewer.pk and task.state != ChecklistTask.State.OPEN:
        raise ChecklistError("The reviewer prepared this task: choose another reviewer.", field="reviewer")
    before = {
        "preparer": task.preparer.get_username() if task.preparer_id else None,
        "reviewer": task.reviewer.get_username() if task.reviewer_id else None,
    }
    changed_preparer = task.preparer_id != preparer.pk
    task.preparer, task.reviewer = preparer, reviewer
    task.save(update_fields=["preparer", "reviewer"])
    audit_record(
        company=task.company_id,
        actor=actor,
        action="checklist_task.reassign",
        subject=task,
        before=before,
        after={"preparer": preparer.get_username(), "reviewer": reviewer.get_username()},
    )
    if changed_preparer:
        _tell(task, Notification.Kind.TASK_ASSIGNED, [preparer], f"You prepare “{task.name}” for {_period_name(task)}")
    if task.state == ChecklistTask.State.PREPARED:
        _tell(
            task, Notification.Kind.TASK_WAITING_REVIEW, [reviewer], f"“{task.name}” ({_period_name(task)}) waits for your review"
        )
    return task


def _check_move(task: ChecklistTask, to: str) -> None:
    if to not in ChecklistTask.MOVES[task.state]:
        raise ChecklistError(
            f"“{task.name}” is {task.get_state_display().lower()}: it cannot become {ChecklistTask.State(to).label.lower()}."
        )


def _complete_if_ready(task: ChecklistTask) -> None:
    """Reviewed → done once every task it depends on is done; then its reviewed dependents follow."""
    pending = [task]
    while pending:
        current = pending.pop()
        if current.state != ChecklistTask.State.REVIEWED:
            continue
        if current.depends_on.exclude(state=ChecklistTask.State.DONE).exists():
            continue
        _set_done(current, actor=None)
        pending.extend(_locked_dependents(current))


def _locked_dependents(task: ChecklistTask) -> list[ChecklistTask]:
    return list(ChecklistTask.objects.select_for_update().select_related("checklist").filter(depends_on=task).order_by("id"))


def _set_done(task: ChecklistTask, actor) -> None:
    before = task.state
    task.state, task.done_at = ChecklistTask.State.DONE, timezone.now()
    task.save(update_fields=["state", "done_at"])
    _audit_move(task, actor, before, task.state)


# ---------------------------------------------------------------- built-in steps complete themselves (CL2)


def _builtin_conditions(company: Company, period: Period, wanted: set[str]) -> dict[str, bool]:
    from closebooks import selectors as close_selectors
    from closebooks.month_end.checks import failing_unaccepted_checks
    from integrations.models import SyncRun
    from integrations.selectors import connection_active, entries_needing_sync

    out: dict[str, bool] = {}
    if Builtin.LOCK in wanted:
        out[Builtin.LOCK] = period.state != Period.State.OPEN
    if Builtin.SYNC in wanted:
        connection = connection_active(company)
        out[Builtin.SYNC] = (
            connection is not None
            and not SyncRun.objects.filter(
                connection=connection, kind=SyncRun.Kind.PUSH, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
            ).exists()
            and not entries_needing_sync(company, period_start=period.first_day, period_end=period.last_day).exists()
        )
    if Builtin.REVIEW in wanted:
        flags = close_selectors.flagged_entry_ids(company, period.first_day, period.last_day)
        out[Builtin.REVIEW] = (
            not flags["unbalanced"]
            and not flags["unmapped"]
            and not failing_unaccepted_checks(company, period.first_day, period.last_day)
        )
    return out


@transaction.atomic
def builtins_refresh(*, company: Company, month: date, steps: Iterable[str] | None = None) -> list[ChecklistTask]:
    """Move the period's self-completing steps to what closebooks now sees: done when their
    condition holds, open again when it no longer does (an entry changed after the sync, an
    unlock). A period that is locked or closed has every step of its own done. Returns the tasks
    moved. Safe to run any number of times."""
    from closebooks import selectors as close_selectors

    tasks = list(
        ChecklistTask.objects.select_for_update()
        .select_related("checklist")
        .filter(checklist__company=company, checklist__month=month, builtin__in=list(steps or SELF_COMPLETING))
    )
    if not tasks:
        return []
    period = close_selectors.period_get(company, month.strftime("%Y-%m"))
    if period.state != Period.State.OPEN:
        conditions = {b: True for b in (Builtin.REVIEW, Builtin.SYNC, Builtin.LOCK)}
    else:
        conditions = _builtin_conditions(company, period, {t.builtin for t in tasks})
    moved = []
    for task in tasks:
        holds = conditions.get(task.builtin, False)
        if holds and task.state != ChecklistTask.State.DONE:
            _set_done(task, actor=None)
            moved.append(task)
        elif not holds and task.state == ChecklistTask.State.DONE:
            before = task.state
            task.state, task.done_at = ChecklistTask.State.OPEN, None
            task.save(update_fields=["state", "done_at"])
            audit_record(
                company=company,
                actor=None,
                action="checklist_task.reopen",
                subject=task,
                before={"state": before, "task": task.name, "period": task.checklist.key},
                after={"state": task.state, "task": task.name, "period": task.checklist.key},
                reason="closebooks no longer sees this step done",
            )
            moved.append(task)
    for task in moved:
        if task.state == ChecklistTask.State.DONE:
            for dependent in _locked_dependents(task):
                _complete_if_ready(dependent)
    return moved


def builtins_refresh_open(*, company: Company, steps: Iterable[str] | None = None) -> int:
    """Refresh the built-in steps (``steps``: some of them) of every checklist of ``company``
    whose period is not locked yet."""
    months = Checklist.objects.filter(company=company).values_list("month", flat=True)
    done = set(
        ChecklistTask.objects.filter(
            checklist__company=company, builtin=Builtin.LOCK, state=ChecklistTask.State.DONE
        ).values_list("checklist__month", flat=True)
    )
    moved = 0
    for month in months:
        if month not in done:
            moved += len(builtins_refresh(company=company, month=month, steps=steps))
    return moved


# ---------------------------------------------------------------- reminders


def tasks_due_tomorrow_remind(*, company: Company) -> int:
    """Tell whoever holds each task that it is due on the next working day (once per task and date)."""
    from .workdays import next_working_day

    tomorrow = next_working_day(company.today())
    told = 0
    tasks = ChecklistTask.objects.filter(company=company, due_date=tomorrow).exclude(state=ChecklistTask.State.DONE)
    for task in tasks.exclude(builtin__in=SELF_COMPLETING).select_related("checklist", "company"):
        holder = task.reviewer if task.state in (ChecklistTask.State.PREPARED, ChecklistTask.State.REVIEWED) else task.preparer
        if holder is None:
            continue
        with transaction.atomic():
            _tell(
                task,
                Notification.Kind.TASK_DUE_TOMORROW,
                [holder],
                f"“{task.name}” ({_period_name(task)}) is due {tomorrow:%A %d %B}",
                dedupe_key=f"due:{task.pk}:{tomorrow.isoformat()}",
            )
        told += 1
    return told


__all__ = [
    "builtins_refresh",
    "builtins_refresh_open",
    "checklist_create",
    "checklists_open_ended",
    "task_prepare",
    "task_reassign",
    "task_review",
    "task_send_back",
    "tasks_due_tomorrow_remind",
    "template_builtins_ensure",
    "template_task_save",
]
