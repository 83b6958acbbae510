"""The close wizard (PC3): Home → Close your books → Get started → Review → Sync → Lock → Close."""

import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations import selectors as integration_selectors
from integrations import services as integration_services
from integrations.models import SyncRun
from ledger import roles
from ledger import selectors as ledger_selectors
from ledger.exceptions import LedgerError

from . import selectors, services
from .checklist import selectors as checklist_selectors
from .checklist.charts import days_to_close_svg
from .filters import ReviewFilter
from .models import Period
from .month_end import views as month_end_views
from .month_end.checks import failing_unaccepted_checks
from .month_end.figures import Period as MonthEndPeriod
from .package import write_xlsx, write_zip

STEPS = [("review", "1 Review"), ("sync", "2 Sync journal entries"), ("lock", "3 Lock period"), ("close", "4 Close period")]


def _close_panel(company, limit=6) -> dict:
    periods = selectors.company_periods(company)
    recent = list(reversed(periods))[:limit]
    flagged = selectors.flagged_counts(company, recent)
    open_periods = [p for p in periods if p.state == Period.State.OPEN]
    next_to_close = open_periods[0] if open_periods else None
    # The failing checks of the next period to close sum the company's whole history, so the table
    # fetches them after it is shown (close:failing_checks) instead of making Home wait for them.
    return {
        "periods": [
            {"period": p, "flagged": flagged.get(p.month, 0), "checks_pending": p is next_to_close} for p in recent
        ],
        "open_periods": open_periods,
        "next_to_close": next_to_close,
        "last_sync": SyncRun.objects.filter(company=company, kind=SyncRun.Kind.PUSH).order_by("-created_at", "-id").first(),
    }


@login_required
@require_GET
def home(request):
    companies = list(ledger_selectors.company_list_for_user(request.user))
    cards = [
        {"company": company, **ledger_selectors.company_dashboard(company), "close": _close_panel(company, limit=3)}
        for company in companies
    ]
    return render(request, "closebooks/home.html", {"cards": cards})


@login_required
@require_GET
def close_overview(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    periods = selectors.company_periods(company)
    recent = [p for p in periods if p.last_day < company.today()][-12:]
    days = checklist_selectors.days_to_close(company, recent)
    today = company.today()
    late = checklist_selectors.late_tasks(company, today)
    for task in late:
        task.url = reverse("checklist:task", kwargs={"slug": company.slug, "period": task.checklist.key, "pk": task.pk})
    return render(
        request,
        "closebooks/overview.html",
        {
            "company": company,
            **_close_panel(company, limit=24),
            "days_chart": days_to_close_svg(days),
            "days_rows": days,
            "late_tasks": late,
            "this_month": today.replace(day=1),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def get_started(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    open_periods = selectors.open_periods(company)
    error = ""
    if request.method == "POST":
        key = request.POST.get("period", "")
        chosen = next((p for p in open_periods if p.key == key), None)
        if chosen is not None:
            return redirect("close:review", slug=company.slug, period=chosen.key)
        error = "Choose one of the open periods."
    return render(request, "closebooks/get_started.html", {"company": company, "open_periods": open_periods, "error": error})


def _wizard_context(company, period: Period, step: str) -> dict:
    steps = []
    for key, label in STEPS:
        try:
            url = reverse(f"close:{key}", kwargs={"slug": company.slug, "period": period.key})
        except NoReverseMatch:
            url = None
        steps.append({"key": key, "label": label, "url": url})
    return {"company": company, "period": period, "steps": steps, "step": step}


def _unfiltered(filterset) -> bool:
    """Whether the Review filters select every entry of the period (nothing given, nothing invalid)."""
    if not filterset.is_bound:
        return True
    if not filterset.is_valid():
        return False
    return all(value is None or value == "" for value in filterset.form.cleaned_data.values())


@login_required
@require_GET
def review(request, slug, period):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    flagged_qs = selectors.flagged_entries(company, period.first_day, period.last_day)
    filterset = ReviewFilter(request.GET or None, queryset=selectors.period_entries(period), company=company)
    paginator = Paginator(filterset.qs, 50)
    if _unfiltered(filterset):
        paginator.count = selectors.period_entry_count(period)  # the kept per-day counts, not a count of the month
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = ledger_selectors.with_line_totals(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    tb = selectors.trial_balance(period)
    flagged = list(flagged_qs[:200])
    return render(
        request,
        "closebooks/review.html",
        {
            **_wizard_context(company, period, "review"),
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
            "trial_balance": tb,
            "tb_debit": sum((r.debit for r in tb), start=0),
            "tb_credit": sum((r.credit for r in tb), start=0),
            "type_totals": selectors.totals_by_account_type(tb),
            "flagged": flagged,
            "flagged_count": flagged_qs.count() if len(flagged) == 200 else len(flagged),
        },
    )


def _blocker_links(company, period, blockers):
    review = reverse("close:review", kwargs={"slug": company.slug, "period": period.key})
    links = {
        "flagged": f"{review}?flagged=true",
        "checks": f"{review}#month-end-checks",
        "connection": reverse("integrations:status", kwargs={"slug": company.slug}),
        "mappings": reverse("integrations:mappings", kwargs={"slug": company.slug}),
        "sync": reverse("close:sync", kwargs={"slug": company.slug, "period": period.key}),
        "checklist": reverse("checklist:period", kwargs={"slug": company.slug, "period": period.key}),
    }
    return [{"message": b.message, "link": links.get(b.link, b.link)} for b in blockers]


@login_required
@require_GET
def lock(request, slug, period):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    blockers = services.period_lock_blockers(period) if period.state == Period.State.OPEN else []
    return render(
        request,
        "closebooks/lock.html",
        {
            **_wizard_context(company, period, "lock"),
            "blockers": _blocker_links(company, period, blockers),
            "can_lock": request.user.has_perm(roles.MANAGE, company),
            "can_unlock": request.user.has_perm(roles.ADMINISTER, company),
        },
    )


def _transition(request, slug, period, action, success):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    try:
        action(company, period)
    except LedgerError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success.format(period=period.name))
    return company, period


@login_required
@require_POST
def lock_confirm(request, slug, period):
    def lock_after_refresh(company, period):
        if request.user.has_perm(roles.MANAGE, company):  # a role that may not lock writes nothing, not even flags
            services.period_flags_refresh(period=period)  # its own transaction: kept even if the lock is refused
        services.period_lock(period=period, actor=request.user)

    company, period = _transition(request, slug, period, lock_after_refresh, "{period} is locked.")
    return redirect("close:lock", slug=company.slug, period=period.key)


@login_required
@require_POST
def unlock(request, slug, period):
    company, period = _transition(
        request,
        slug,
        period,
        lambda c, p: services.period_unlock(period=p, actor=request.user, reason=request.POST.get("reason", "")),
        "{period} is unlocked.",
    )
    return redirect("close:lock", slug=company.slug, period=period.key)


@login_required
@require_http_methods(["GET", "POST"])
def close(request, slug, period):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    error = ""
    if request.method == "POST":
        try:
            period = services.period_close(period=period, actor=request.user, confirm_name=request.POST.get("confirm_name", ""))
        except LedgerError as exc:
            error = exc.message
        else:
            messages.success(request, f"{period.name} is closed for good.")
            return redirect("close:close", slug=company.slug, period=period.key)
    first_open = next(iter(selectors.open_periods(company)), None)
    return render(
        request,
        "closebooks/close.html",
        {
            **_wizard_context(company, period, "close"),
            "error": error,
            "can_close": request.user.has_perm(roles.ADMINISTER, company),
            "first_open": first_open,
            "can_post": request.user.has_perm(roles.POST, company),
        },
    )


@login_required
@require_GET
def package(request, slug, period, fmt):
    """The close package of a locked or closed period, as XLSX or as CSV files in a ZIP."""
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    if period.state == Period.State.OPEN:
        messages.error(request, f"{period.name} is open: its close package exists once it is locked.")
        return redirect("close:lock", slug=company.slug, period=period.key)
    buffer = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115 - handed to FileResponse, which closes it
    if fmt == "xlsx":
        write_xlsx(period, buffer)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        write_zip(period, buffer)
        content_type = "application/zip"
    buffer.seek(0)
    filename = f"{company.slug}-close-{period.key}.{fmt}"
    return FileResponse(buffer, as_attachment=True, filename=filename, content_type=content_type)


@login_required
@require_GET
def sync(request, slug, period):
    """Step 2: push the period's journal entries to the accounting system (IN4) with live progress."""
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    connection = integration_selectors.connection_active(company)
    run = (
        SyncRun.objects.filter(company=company, kind=SyncRun.Kind.PUSH, period_start=period.first_day, period_end=period.last_day)
        .order_by("-created_at", "-id")
        .first()
    )
    unsynced = (
        integration_selectors.entries_needing_sync(company, period_start=period.first_day, period_end=period.last_day).count()
        if connection
        else 0
    )
    return render(
        request,
        "closebooks/sync.html",
        {
            **_wizard_context(company, period, "sync"),
            "connection": connection,
            "run": run,
            "progress": integration_selectors.sync_run_progress(run) if run else None,
            "issues": run.issues.select_related("entry")[:200] if run else [],
            "unsynced": unsynced,
            "can_sync": request.user.has_perm(roles.MANAGE, company),
        },
    )


@login_required
@require_POST
def sync_start(request, slug, period):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    period = selectors.period_get(company, period)
    try:
        integration_services.sync_run_start(
            company=company, actor=request.user, period_start=period.first_day, period_end=period.last_day
        )
    except LedgerError as exc:
        messages.error(request, exc.message)
    return redirect("close:sync", slug=company.slug, period=period.key)


@login_required
@require_GET
def failing_checks(request, slug, period):
    """How many month-end checks (MR1–MR6) of a period fail without an acceptance: the cell of the
    period tables on Home and Close your books, fetched after the table has rendered."""
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    failing = failing_unaccepted_checks(company, period.first_day, period.last_day)
    return render(request, "closebooks/_failing_checks.html", {"company": company, "period": period, "failing": len(failing)})


@login_required
@require_GET
def review_checks(request, slug, period):
    """The Review step's month-end checks panel (MR1–MR6), fetched after the page has rendered:
    the checks sum the whole history, and the transactions should not wait for them."""
    company = ledger_selectors.company_get_for_user(request.user, slug)
    period = selectors.period_get(company, period)
    context = month_end_views.checks_context(request.user, company, MonthEndPeriod(period.first_day, period.last_day))
    review = reverse("close:review", kwargs={"slug": company.slug, "period": period.key})
    return render(
        request,
        "closebooks/_review_checks.html",
        {"company": company, "period": period, **context, "next_url": f"{review}#month-end-checks"},
    )
