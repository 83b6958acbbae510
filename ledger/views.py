"""Pages: parse the form, fetch-and-authorize, call the service, redirect or re-render with its error."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import roles, selectors, services
from .exceptions import LedgerError
from .filters import AccountFilter, JournalEntryFilter
from .forms import AccountForm, JournalEntryForm, JournalLineFormSet, MemberForm, add_service_error
from .models import Membership, Role

PAGE_SIZE = 50


def _page(request, queryset, size=PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _can(request, company) -> dict:
    user = request.user
    return {
        "can_post": user.has_perm(roles.POST, company),
        "can_manage": user.has_perm(roles.MANAGE, company),
        "can_administer": user.has_perm(roles.ADMINISTER, company),
        "can_reconcile": user.has_perm(roles.RECONCILE, company),
    }


@login_required
@require_GET
def company_dashboard(request, slug):
    company = selectors.company_get_for_user(request.user, slug)
    membership = selectors.membership_for(request.user, company)
    return render(
        request,
        "ledger/dashboard.html",
        {"company": company, "membership": membership, **selectors.company_dashboard(company), **_can(request, company)},
    )


@login_required
@require_GET
def account_list(request, slug):
    company = selectors.company_get_for_user(request.user, slug)
    filterset = AccountFilter(request.GET or None, queryset=selectors.account_list(company))
    return render(
        request,
        "ledger/account_list.html",
        {
            "company": company,
            "filter": filterset,
            "page": _page(request, filterset.qs, 100),
            "query": _query_without_page(request),
            **_can(request, company),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request, slug, pk=None):
    company = selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    account = selectors.account_get(company, pk) if pk else None
    form = AccountForm(request.POST or None, instance=account, company=company)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.account_save(company=company, actor=request.user, account=account, **form.cleaned_data)
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Account {saved} saved.")
            return redirect("ledger:accounts", slug=company.slug)
    return render(request, "ledger/account_form.html", {"company": company, "form": form, "account": account})


@login_required
@require_GET
def journal(request, slug):
    company = selectors.company_get_for_user(request.user, slug)
    filterset = JournalEntryFilter(request.GET or None, queryset=selectors.journal_entry_list(company), company=company)
    return render(
        request,
        "ledger/journal.html",
        {
            "company": company,
            "filter": filterset,
            "page": _page(request, filterset.qs),
            "query": _query_without_page(request),
            **_can(request, company),
        },
    )


@login_required
@require_GET
def journal_entry_detail(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug)
    entry = selectors.journal_entry_get(company, pk)
    return render(request, "ledger/journal_entry_detail.html", {"company": company, "entry": entry, **_can(request, company)})


@login_required
@require_http_methods(["GET", "POST"])
def journal_entry_edit(request, slug, pk=None):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    entry = selectors.journal_entry_get(company, pk) if pk else None
    if request.method == "POST":
        form = JournalEntryForm(request.POST)
        formset = JournalLineFormSet(request.POST, company=company, prefix="lines")
        if form.is_valid() and formset.is_valid():
            try:
                if entry is None:
                    entry = services.journal_entry_create(
                        company=company, actor=request.user, lines=formset.line_inputs(), **form.cleaned_data
                    )
                else:
                    entry = services.journal_entry_update(
                        entry=entry, actor=request.user, lines=formset.line_inputs(), **form.cleaned_data
                    )
            except LedgerError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"Journal entry JE-{entry.pk} posted.")
                return redirect("ledger:journal_entry", slug=company.slug, pk=entry.pk)
    elif entry is not None:
        form = JournalEntryForm(initial={"entry_date": entry.entry_date, "memo": entry.memo, "reference": entry.reference})
        formset = JournalLineFormSet(
            company=company,
            prefix="lines",
            initial=[
                {
                    "account": line.account,
                    "description": line.description,
                    "debit": line.debit or "",
                    "credit": line.credit or "",
                    "currency": line.currency,
                }
                for line in entry.lines.all()
            ],
        )
    else:
        # ?date= and ?memo= prefill the form, e.g. the close wizard's adjusting-entry offer (PC5)
        prefill = JournalEntryForm(
            {"entry_date": request.GET.get("date") or company.today(), "memo": request.GET.get("memo", "")}
        )
        form = JournalEntryForm(initial=prefill.cleaned_data if prefill.is_valid() else {"entry_date": company.today()})
        formset = JournalLineFormSet(company=company, prefix="lines")
    return render(
        request, "ledger/journal_entry_form.html", {"company": company, "entry": entry, "form": form, "formset": formset}
    )


@login_required
@require_POST
def journal_entry_delete(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    entry = selectors.journal_entry_get(company, pk)
    try:
        services.journal_entry_delete(entry=entry, actor=request.user, reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, exc.message)
        return redirect("ledger:journal_entry", slug=company.slug, pk=pk)
    messages.success(request, f"Journal entry JE-{pk} deleted.")
    return redirect("ledger:journal", slug=company.slug)


@login_required
@require_http_methods(["GET", "POST"])
def members(request, slug):
    company = selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    form = MemberForm(request.POST or None)
    if request.method == "POST":
        if "remove" in request.POST:
            membership = Membership.objects.filter(company=company, pk=request.POST.get("remove")).first()
            if membership is None:
                messages.error(request, "That member is not in this company.")
            else:
                try:
                    services.membership_remove(membership=membership, actor=request.user)
                except LedgerError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(request, f"{membership.user} removed.")
            return redirect("ledger:members", slug=company.slug)
        if form.is_valid():
            user = get_user_model().objects.filter(username=form.cleaned_data["username"]).first()
            if user is None:
                form.add_error("username", "No user with that username.")
            else:
                try:
                    services.membership_set_role(company=company, user=user, role=form.cleaned_data["role"], actor=request.user)
                except LedgerError as exc:
                    add_service_error(form, exc)
                else:
                    messages.success(request, f"{user} is now {Role(form.cleaned_data['role']).label.lower()}.")
                    return redirect(reverse("ledger:members", kwargs={"slug": company.slug}))
    memberships = Membership.objects.filter(company=company).select_related("user").order_by("user__username")
    return render(request, "ledger/members.html", {"company": company, "form": form, "memberships": memberships})
