"""Reconciliation pages: parse the form, fetch-and-authorize, call the service, redirect or re-render."""

from __future__ import annotations

import uuid

from celery.result import AsyncResult
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, Exists, OuterRef, When
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.pagination import paginate
from ledger import roles
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.exceptions import LedgerError
from ledger.filters import JournalEntryFilter
from ledger.forms import add_service_error, parse_id
from ledger.models import Account, JournalLine
from ledger.templatetags.ledger_tables import journal_entry_url_prefix

from . import selectors, services, tasks
from .exceptions import OutsidePermittedDifferenceError
from .filters import OpenLineFilter
from .forms import AccountPropertiesForm, ReconciliationSettingsForm, line_ids
from .models import Proposal, ProposalGroup, ReconciledLine

LINES_PER_PAGE = 200
GROUPS_PER_PAGE = 100


def _sync_limit() -> int:
    """Selections up to this many lines are matched in the request; larger ones go to a Celery worker."""
    return getattr(settings, "RECONCILIATION_SYNC_LINES", 20_000)


def _can(request, company) -> dict:
    perms = roles.perms_on(request.user, company)
    return {"can_reconcile": roles.RECONCILE in perms, "can_manage": roles.MANAGE in perms}


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# ---------------------------------------------------------------- settings and account properties (LR1, LR2, LR4)


@login_required
@require_GET
def index(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    return render(
        request,
        "reconciliation/index.html",
        {
            "company": company,
            "accounts": selectors.reconcilable_accounts(company),
            "all_accounts": ledger_selectors.account_list(company),
            "rules": selectors.settings_for(company),
            **_can(request, company),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def settings_edit(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    current = selectors.settings_for(company)
    form = ReconciliationSettingsForm(request.POST or None, company=company, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.reconciliation_settings_save(company=company, actor=request.user, **form.cleaned_data)
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Reconciliation settings saved.")
            return redirect("reconciliation:index", slug=company.slug)
    return render(request, "reconciliation/settings.html", {"company": company, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account_properties(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    account = selectors.reconcilable_account_get(company, pk)
    form = AccountPropertiesForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            ledger_services.account_save(
                company=company,
                actor=request.user,
                account=account,
                code=account.code,
                name=account.name,
                type=account.type,
                blocked=account.blocked,
                **form.cleaned_data,
            )
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Reconciliation properties of {account} saved.")
            return redirect("reconciliation:index", slug=company.slug)
    return render(request, "reconciliation/account_properties.html", {"company": company, "account": account, "form": form})


# ---------------------------------------------------------------- the reconcile page


@login_required
@require_GET
def reconcile(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    account = selectors.reconcilable_account_get(company, pk)
    preselected = line_ids(request.GET.get("select", ""), strict=False)
    lines = selectors.open_lines(account)
    if preselected:  # started from a journal (LR7): its lines first, ticked
        lines = lines.order_by(Case(When(pk__in=preselected, then=0), default=1), "entry_date", "id")
    filterset = OpenLineFilter(request.GET or None, queryset=lines, accounts=selectors.account_set(account))
    page = paginate(request, filterset.qs, LINES_PER_PAGE)
    return render(
        request,
        "reconciliation/reconcile.html",
        {
            "company": company,
            "account": account,
            "filter": filterset,
            "page": page,
            "query": _query_without_page(request),
            "filter_query": _query_without_page(request),
            "rows": _open_line_rows(company, page, set(preselected)),
            "rules": selectors.settings_for(company),
            "proposal": Proposal.objects.filter(company=company, account=account, created_by=request.user)
            .exclude(status=Proposal.Status.FINISHED)
            .first(),
            **_can(request, company),
        },
    )


_OPEN_LINE_ROW = (
    '<tr data-amount="{}"><td><input type="checkbox" class="pick" name="lines" value="{}" aria-label="Select line {}"{}></td>'
    '<td>{}</td><td><a href="{}{}/">JE-{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
    '<td class="num">{}</td><td class="num">{}</td></tr>'
)


def _open_line_rows(company, page, preselected: set[int]) -> list[str]:
    """The page's rows of open lines as escaped HTML. Written here rather than in the template: a
    page is 200 rows, and the template engine's per-value lookups and number localisation made it
    the costliest page of the load scenario (format_html escapes every value the same way)."""
    entry_url = journal_entry_url_prefix(company)
    return [
        format_html(
            _OPEN_LINE_ROW,
            line.amount,
            line.pk,
            line.pk,
            " checked" if line.pk in preselected else "",
            line.entry_date.isoformat(),
            entry_url,
            line.entry_id,
            line.entry_id,
            line.account.code,
            line.description,
            line.reconciliation_ref,
            line.debit or "",
            line.credit or "",
        )
        for line in page
    ]


def _selected_ids(request, account) -> list[int] | None:
    """The lines the user ticked, or every open line matching the filter ("select all matching")."""
    if request.POST.get("all_matching"):
        filterset = OpenLineFilter(request.POST, queryset=selectors.open_lines(account), accounts=selectors.account_set(account))
        if not filterset.is_bound or not any(v for k, v in request.POST.items() if k in filterset.filters):
            return None  # no filter at all: every open line
        return list(filterset.qs.values_list("pk", flat=True))
    return line_ids(request.POST.getlist("lines"))


@login_required
@require_POST
def propose(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.RECONCILE)
    account = selectors.reconcilable_account_get(company, pk)
    try:
        selected = _selected_ids(request, account)
    except LedgerError as exc:
        messages.error(request, exc.message)
        return redirect("reconciliation:reconcile", slug=company.slug, pk=account.pk)
    if selected is not None and not selected:
        messages.error(request, "Select the lines to reconcile first.")
        return redirect("reconciliation:reconcile", slug=company.slug, pk=account.pk)
    size = len(selected) if selected is not None else selectors.open_lines(account).count()
    in_background = size > _sync_limit()
    try:
        with transaction.atomic():
            proposal = services.proposal_create(
                company=company,
                account=account,
                actor=request.user,
                line_ids=selected,
                task_id=str(uuid.uuid4()) if in_background else "",
            )
            if in_background:
                transaction.on_commit(lambda: tasks.build_proposal.apply_async(args=[proposal.pk], task_id=proposal.task_id))
        if not in_background:
            services.proposal_build(proposal=proposal)
    except LedgerError as exc:
        messages.error(request, exc.message)
        return redirect("reconciliation:reconcile", slug=company.slug, pk=account.pk)
    return redirect("reconciliation:proposal", slug=company.slug, pk=proposal.pk)


# ---------------------------------------------------------------- proposals (LR3)


@login_required
@require_GET
def proposal_detail(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    proposal = selectors.proposal_get(company, pk)
    groups = ProposalGroup.objects.filter(proposal=proposal).order_by("number")
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    ids_on_page = [i for group in page for i in group.line_ids]
    lines = JournalLine.objects.select_related("entry", "account").in_bulk(ids_on_page)
    rows = [{"group": group, "lines": [lines[i] for i in group.line_ids if i in lines]} for group in page]
    counts = {
        "groups": groups.count(),
        "ticked": groups.filter(included=True).count(),
    }
    return render(
        request,
        "reconciliation/proposal.html",
        {
            "company": company,
            "proposal": proposal,
            "account": proposal.account,
            "page": page,
            "rows": rows,
            "counts": counts,
            "query": "",
            **_can(request, company),
        },
    )


@login_required
@require_GET
def proposal_progress(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    proposal = selectors.proposal_get(company, pk)
    data = {"status": proposal.status, "error": proposal.error, "stage": "", "percent": 0}
    if proposal.task_id and proposal.status in (Proposal.Status.BUILDING, Proposal.Status.READY):
        result = AsyncResult(proposal.task_id)
        if result.state == "PROGRESS" and isinstance(result.info, dict):
            data.update(stage=result.info.get("stage", ""), percent=result.info.get("percent", 0))
        elif result.state == "FAILURE":
            data["error"] = data["error"] or str(result.info)
    if proposal.status in (Proposal.Status.READY, Proposal.Status.FINISHED) and not data["percent"]:
        data["percent"] = 100
    return JsonResponse(data)


@login_required
@require_POST
def proposal_ticks(request, slug, pk):
    """Save the ticks of the groups on one page, tick or untick everything, and optionally Finish."""
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.RECONCILE)
    proposal = selectors.proposal_get(company, pk)
    action = request.POST.get("action", "save")
    try:
        if action in ("select_all", "deselect_all"):
            services.proposal_set_included(proposal=proposal, actor=request.user, included=action == "select_all")
        else:
            on_page = line_ids(request.POST.getlist("on_page"))
            ticked = set(line_ids(request.POST.getlist("groups")))
            services.proposal_set_included(
                proposal=proposal, actor=request.user, included=True, numbers=[n for n in on_page if n in ticked]
            )
            services.proposal_set_included(
                proposal=proposal, actor=request.user, included=False, numbers=[n for n in on_page if n not in ticked]
            )
        if action == "finish":
            return _finish(request, company, proposal)
    except LedgerError as exc:
        messages.error(request, exc.message)
    page = request.POST.get("page")
    url = reverse("reconciliation:proposal", kwargs={"slug": company.slug, "pk": proposal.pk})
    return redirect(f"{url}?page={page}" if page and page.isdigit() else url)


def _finish(request, company, proposal):
    lines = sum(ProposalGroup.objects.filter(proposal=proposal, included=True).values_list("line_count", flat=True))
    if lines > _sync_limit():
        task_id = str(uuid.uuid4())
        with transaction.atomic():
            services.proposal_set_task(proposal=proposal, actor=request.user, task_id=task_id)
            user_id = request.user.pk
            transaction.on_commit(lambda: tasks.finish_proposal.apply_async(args=[proposal.pk, user_id], task_id=task_id))
        messages.success(request, "Finishing in the background: the page updates when it is done.")
        return redirect("reconciliation:proposal", slug=company.slug, pk=proposal.pk)
    try:
        finished = services.proposal_finish(proposal=proposal, actor=request.user)
    except LedgerError as exc:
        messages.error(request, exc.message)
        return redirect("reconciliation:proposal", slug=company.slug, pk=proposal.pk)
    done = finished.stats.get("finished", {})
    write_offs = done.get("write_offs", 0)
    messages.success(
        request,
        f"Reconciled {done.get('lines', 0) - write_offs} lines in {done.get('reconciliations', 0)} codes"
        + (f"; {write_offs} difference{'s' if write_offs > 1 else ''} written off." if write_offs else "."),
    )
    return redirect("reconciliation:reconcile", slug=company.slug, pk=proposal.account_id)


# ---------------------------------------------------------------- manual (LR5)


@login_required
@require_http_methods(["GET", "POST"])
def manual(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.RECONCILE)
    account = selectors.reconcilable_account_get(company, pk)
    source = request.POST if request.method == "POST" else request.GET
    try:
        ids = line_ids(source.getlist("lines") or source.get("ids", ""))
    except LedgerError as exc:
        messages.error(request, exc.message)
        return redirect("reconciliation:reconcile", slug=company.slug, pk=account.pk)
    found = JournalLine.objects.filter(company=company, account_id__in=selectors.account_set(account)).in_bulk(ids)
    lines = [found[i] for i in dict.fromkeys(ids) if i in found]
    rules = selectors.settings_for(company)
    warning = None
    if request.method == "POST" and request.POST.get("action") in ("reconcile", "write_off"):
        write_off = request.POST.get("action") == "write_off"
        if write_off and not request.POST.get("confirm"):
            warning = "confirm"
        else:
            try:
                created = services.reconciliation_create_manual(
                    company=company,
                    account=account,
                    line_ids=ids,
                    actor=request.user,
                    write_off_discrepancy=write_off,
                )
            except OutsidePermittedDifferenceError as exc:
                messages.error(request, exc.message)
            except LedgerError as exc:
                messages.error(request, exc.message)
            else:
                codes = ", ".join(rec.code for rec in created)
                messages.success(request, f"Reconciled {len(lines)} lines: {codes}.")
                return redirect("reconciliation:reconcile", slug=company.slug, pk=account.pk)
    ordered = [(line.pk, line.amount) for line in lines]
    balances = services.running_balances(ordered)
    groups = services.plan_top_down(ordered) if ordered else []
    difference = groups[-1].difference if groups else 0
    return render(
        request,
        "reconciliation/manual.html",
        {
            "company": company,
            "account": account,
            "rows": list(zip(lines, balances, strict=True)),
            "codes": len(groups),
            "difference": difference,
            "outside": bool(difference) and abs(difference) > rules.permitted_difference,
            "rules": rules,
            "warning": warning,
            "ids": ",".join(str(line.pk) for line in lines),
        },
    )


# ---------------------------------------------------------------- reconciliations (LR6)


@login_required
@require_GET
def reconciliation_list(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    account = None
    if parse_id(request.GET.get("account")):
        account = selectors.reconcilable_account_get(company, parse_id(request.GET["account"]))
    page = Paginator(selectors.reconciliation_list(company, account), 100).get_page(request.GET.get("page"))
    return render(
        request,
        "reconciliation/reconciliation_list.html",
        {"company": company, "account": account, "page": page, "query": _query_without_page(request)},
    )


@login_required
@require_GET
def reconciliation_detail(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug)
    reconciliation = selectors.reconciliation_get(company, pk)
    return render(
        request,
        "reconciliation/reconciliation_detail.html",
        {
            "company": company,
            "reconciliation": reconciliation,
            "lines": selectors.reconciliation_lines(reconciliation),
            **_can(request, company),
        },
    )


@login_required
@require_POST
def reconciliation_delete(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.RECONCILE)
    reconciliation = selectors.reconciliation_get(company, pk)
    try:
        services.reconciliation_delete(reconciliation=reconciliation, actor=request.user, reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, exc.message)
        return redirect("reconciliation:reconciliation", slug=company.slug, pk=pk)
    messages.success(request, f"Reconciliation {reconciliation.code} deleted; its lines are open again.")
    return redirect("reconciliation:reconcile", slug=company.slug, pk=reconciliation.account_id)


# ---------------------------------------------------------------- from a journal (LR7)


@login_required
@require_GET
def journal(request, slug):
    """Journal entries with open lines on reconcilable accounts; each links to the reconcile page with
    the entry's lines ticked."""
    company = ledger_selectors.company_get_for_user(request.user, slug)
    # The ids themselves, not a subquery: with a subquery PostgreSQL guesses one reconcilable account
    # and few lines, and hashes every open line of the company (seconds at a million lines) before
    # the page's LIMIT; with the ids it walks the entries newest first and stops at the page.
    reconcilable = list(Account.objects.filter(company=company, reconcilable=True).values_list("pk", flat=True))
    open_on_reconcilable = JournalLine.objects.filter(entry=OuterRef("pk"), account__in=reconcilable).exclude(
        Exists(ReconciledLine.objects.filter(line_id=OuterRef("pk")))
    )
    entries = ledger_selectors.journal_entry_list(company).filter(Exists(open_on_reconcilable))
    filterset = JournalEntryFilter(request.GET or None, queryset=entries, company=company)
    page = paginate(request, filterset.qs, 50)
    page.object_list = ledger_selectors.with_line_totals(page.object_list)
    # per entry: each reconcilable account it touches, with the entry's open lines on it (to tick)
    links: dict[int, dict[Account, list[int]]] = {}
    open_lines = (
        JournalLine.objects.filter(entry__in=[e.pk for e in page], account__in=reconcilable)
        .exclude(Exists(ReconciledLine.objects.filter(line_id=OuterRef("pk"))))
        .select_related("account")
        .order_by("line_no")
    )
    for line in open_lines:
        links.setdefault(line.entry_id, {}).setdefault(line.account, []).append(line.pk)
    rows = [
        {
            "entry": entry,
            "links": [
                {"account": account, "select": ",".join(map(str, ids))} for account, ids in links.get(entry.pk, {}).items()
            ],
        }
        for entry in page
    ]
    return render(
        request,
        "reconciliation/journal.html",
        {"company": company, "filter": filterset, "page": page, "rows": rows, "query": _query_without_page(request)},
    )
