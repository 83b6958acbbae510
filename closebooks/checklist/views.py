"""The close checklist pages: the company's template, each period's checklist by owner and
state, a task with its sign-offs, and "My tasks" across the user's companies (CL1, CL2)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from closebooks import selectors as close_selectors
from ledger import roles
from ledger import selectors as ledger_selectors
from ledger.exceptions import LedgerError
from ledger.forms import add_service_error
from ledger.models import AuditEvent

from . import selectors, services
from .forms import PrepareForm, ReassignForm, ReviewForm, SendBackForm, TemplateTaskForm
from .models import LINKS, ChecklistTask, TaskAttachment


def _link_url(company, task, period_key: str) -> str:
    if not task.link or task.link not in LINKS:
        return ""
    _, name, with_period = LINKS[task.link]
    kwargs = {"slug": company.slug, **({"period": period_key} if with_period else {})}
    url = reverse(name, kwargs=kwargs)
    return f"{url}?month={period_key}" if task.link == "month_end" else url


# ---------------------------------------------------------------- the template


@login_required
@require_GET
def template(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    return render(
        request,
        "checklist/template.html",
        {
            "company": company,
            "templates": selectors.template_list(company).order_by("due_day", "id"),
            "can_manage": request.user.has_perm(roles.MANAGE, company),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request, slug, pk=None):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    existing = selectors.template_get(company, pk) if pk else None
    initial = None
    if existing is not None:
        initial = {
            "name": existing.name,
            "instructions": existing.instructions,
            "preparer": existing.preparer_id,
            "reviewer": existing.reviewer_id,
            "due_day": existing.due_day,
            "depends_on": list(existing.depends_on.values_list("pk", flat=True)),
            "link": existing.link,
            "active": existing.active,
        }
    form = TemplateTaskForm(request.POST or None, initial=initial, company=company, template=existing)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if existing is None:
                services.template_builtins_ensure(company=company)
            services.template_task_save(
                company=company,
                actor=request.user,
                template=existing,
                name=data["name"] if existing is None or not existing.builtin else existing.name,
                instructions=data["instructions"],
                preparer=data["preparer"],
                reviewer=data["reviewer"],
                due_day=data["due_day"],
                depends_on=list(data["depends_on"]),
                link=data["link"],
                active=data["active"],
            )
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "The checklist template is saved: the next periods get it when they end.")
            return redirect("checklist:template", slug=company.slug)
    return render(request, "checklist/template_edit.html", {"company": company, "form": form, "existing": existing})


# ---------------------------------------------------------------- a period's checklist


@login_required
@require_GET
def period_checklist(request, slug, period):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = close_selectors.period_get(company, period)
    checklist = selectors.checklist_for(company, period.month)
    tasks = selectors.checklist_tasks(company, period.month) if checklist else []
    today = company.today()
    for task in tasks:
        task.late = task.is_late(today)
        task.url = reverse("checklist:task", kwargs={"slug": company.slug, "period": period.key, "pk": task.pk})
    done = sum(t.state == ChecklistTask.State.DONE for t in tasks)
    return render(
        request,
        "checklist/period.html",
        {
            "company": company,
            "period": period,
            "checklist": checklist,
            "groups": selectors.by_owner_and_state(tasks),
            "states": ChecklistTask.State.choices,
            "tasks": tasks,
            "done": done,
            "late": sum(t.late for t in tasks),
            "can_manage": request.user.has_perm(roles.MANAGE, company),
            "ended": period.last_day < today,
        },
    )


@login_required
@require_POST
def period_start(request, slug, period):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    period = close_selectors.period_get(company, period)
    try:
        services.checklist_create(period=period, actor=request.user)
    except LedgerError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{period.name}'s checklist is started.")
    return redirect("checklist:period", slug=company.slug, period=period.key)


@login_required
@require_POST
def period_refresh(request, slug, period):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    period = close_selectors.period_get(company, period)
    moved = services.builtins_refresh(company=company, month=period.month)
    messages.success(
        request, f"Automatic steps checked: {len(moved)} changed." if moved else "Automatic steps checked: no change."
    )
    return redirect("checklist:period", slug=company.slug, period=period.key)


# ---------------------------------------------------------------- a task


def _task(request, slug, period, pk, perm=roles.VIEW):
    company = ledger_selectors.company_get_for_user(request.user, slug, perm)
    period = close_selectors.period_get(company, period)
    return company, period, selectors.task_get(company, period.month, pk)


@login_required
@require_GET
def task(request, slug, period, pk):
    company, period, task = _task(request, slug, period, pk)
    return _task_page(request, company, period, task)


def _task_page(request, company, period, task, status=200, **forms):
    user = request.user
    events = AuditEvent.objects.filter(company=company, subject_type="ChecklistTask", subject_id=str(task.pk))
    history = [
        {
            "at": e.at,
            "who": e.actor.get_username() if e.actor_id else "closebooks",
            "action": e.action,
            "move": f"{(e.before or {}).get('state')} → {(e.after or {}).get('state')}" if (e.before or {}).get("state") else "",
            "text": e.reason or (e.after or {}).get("note", ""),
        }
        for e in events.select_related("actor").order_by("at", "id")
    ]
    can_manage = user.has_perm(roles.MANAGE, company)
    return render(
        request,
        "checklist/task.html",
        {
            "company": company,
            "period": period,
            "task": task,
            "late": task.is_late(company.today()),
            "link_url": _link_url(company, task, period.key),
            "link_label": LINKS[task.link][0] if task.link in LINKS else "",
            "depends_on": task.depends_on.all().order_by("due_date"),
            "attachments": task.attachments.defer("data"),
            "history": history,
            "can_prepare": not task.self_completing and task.preparer_id == user.pk and task.state == ChecklistTask.State.OPEN,
            "can_review": task.reviewer_id == user.pk and task.state == ChecklistTask.State.PREPARED,
            "can_send_back": task.reviewer_id == user.pk
            and task.state in (ChecklistTask.State.PREPARED, ChecklistTask.State.REVIEWED),
            "can_reassign": can_manage and not task.builtin and task.state != ChecklistTask.State.DONE,
            "prepare_form": forms.get("prepare_form") or PrepareForm(),
            "review_form": forms.get("review_form") or ReviewForm(),
            "send_back_form": forms.get("send_back_form") or SendBackForm(),
            "reassign_form": forms.get("reassign_form")
            or ReassignForm(company=company, initial={"preparer": task.preparer_id, "reviewer": task.reviewer_id}),
        },
        status=status,
    )


def _after_move(request, company, period, task, form, action, success: str, form_name: str):
    if form.is_valid():
        try:
            action(form.cleaned_data)
        except LedgerError as exc:
            add_service_error(form, exc)
            if exc.field not in form.fields:
                messages.error(request, exc.message)
        else:
            messages.success(request, success)
            return redirect("checklist:task", slug=company.slug, period=period.key, pk=task.pk)
    return _task_page(request, company, period, task, status=400, **{form_name: form})


@login_required
@require_POST
def task_prepare(request, slug, period, pk):
    company, period, task = _task(request, slug, period, pk)
    form = PrepareForm(request.POST)
    files = request.FILES.getlist("files")
    return _after_move(
        request,
        company,
        period,
        task,
        form,
        lambda data: services.task_prepare(task=task, actor=request.user, note=data["note"], files=files),
        f"“{task.name}” is prepared: {task.reviewer.get_username() if task.reviewer_id else 'the reviewer'} is told.",
        "prepare_form",
    )


@login_required
@require_POST
def task_review(request, slug, period, pk):
    company, period, task = _task(request, slug, period, pk)
    return _after_move(
        request,
        company,
        period,
        task,
        ReviewForm(request.POST),
        lambda data: services.task_review(task=task, actor=request.user, note=data["note"]),
        f"“{task.name}” is reviewed.",
        "review_form",
    )


@login_required
@require_POST
def task_send_back(request, slug, period, pk):
    company, period, task = _task(request, slug, period, pk)
    return _after_move(
        request,
        company,
        period,
        task,
        SendBackForm(request.POST),
        lambda data: services.task_send_back(task=task, actor=request.user, reason=data["reason"]),
        f"“{task.name}” is sent back to its preparer.",
        "send_back_form",
    )


@login_required
@require_POST
def task_reassign(request, slug, period, pk):
    company, period, task = _task(request, slug, period, pk, roles.MANAGE)
    return _after_move(
        request,
        company,
        period,
        task,
        ReassignForm(request.POST, company=company),
        lambda data: services.task_reassign(task=task, actor=request.user, preparer=data["preparer"], reviewer=data["reviewer"]),
        f"“{task.name}” is reassigned.",
        "reassign_form",
    )


@login_required
@require_GET
def attachment(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    row = TaskAttachment.objects.filter(task__company=company, pk=pk).first()
    if row is None:
        raise Http404("No such attachment.")
    response = HttpResponse(bytes(row.data), content_type="application/octet-stream")
    safe_name = "".join(c for c in row.name if c.isalnum() or c in "._- ")[:150] or "attachment"
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response


# ---------------------------------------------------------------- my tasks


@login_required
@require_GET
def my_tasks(request):
    companies = ledger_selectors.company_list_for_user(request.user)
    tasks = selectors.my_tasks(request.user, companies)
    recent = selectors.my_recent_tasks(request.user, companies)
    today_by_company = {}
    for task in [*tasks, *recent]:
        today = today_by_company.setdefault(task.company_id, task.company.today())
        task.late = task.is_late(today)
        task.url = reverse("checklist:task", kwargs={"slug": task.company.slug, "period": task.checklist.key, "pk": task.pk})
        task.action = "Prepare" if task.state == ChecklistTask.State.OPEN else "Review"
    return render(request, "checklist/my_tasks.html", {"tasks": tasks, "recent": recent})
