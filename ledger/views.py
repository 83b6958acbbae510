"""Pages: parse the form, fetch-and-authorize, call the service, redirect or re-render with its error."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.pagination import paginate

from . import roles, selectors, services
from .exceptions import LedgerError
from .filters import AccountFilter, DocumentFilter, JournalEntryFilter, PaymentFilter
from .forms import (
    AccountForm,
    ApplyForm,
    BooksClosedForm,
    CustomerCreditEditForm,
    CustomerCreditForm,
    DocumentForm,
    DocumentLineFormSet,
    EntityClosedDateForm,
    JournalEntryForm,
    JournalLineFormSet,
    MemberForm,
    PaymentForm,
    ReasonForm,
    RefundEditForm,
    RefundForm,
    add_service_error,
    parse_id,
)
from .models import Application, BooksClosedSetting, CustomerCredit, Document, LedgerEntity, Membership, Payment, Refund, Role

PAGE_SIZE = 50


def _page(request, queryset, size=PAGE_SIZE):
    return paginate(request, queryset, size)


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _can(request, company) -> dict:
    perms = roles.perms_on(request.user, company)
    return {
        "can_post": roles.POST in perms,
        "can_manage": roles.MANAGE in perms,
        "can_administer": roles.ADMINISTER in perms,
        "can_reconcile": roles.RECONCILE in perms,
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
            "page": _with_line_totals(_page(request, filterset.qs)),
            "query": _query_without_page(request),
            **_can(request, company),
        },
    )


def _with_line_totals(page):
    page.object_list = selectors.with_line_totals(page.object_list)
    return page


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
            remove = parse_id(request.POST.get("remove"))
            membership = Membership.objects.filter(company=company, pk=remove).first() if remove else None
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


# ---------------------------------------------------------------- Settings → Preferences → Accounting (BC1–BC3, BC6, BC8)


@login_required
@require_GET
def accounting_preferences(request, slug):
    company = selectors.company_get_for_user(request.user, slug)
    return render(request, "ledger/accounting_preferences.html", _preferences_context(request, company))


def _entity_rows(company, bound=None) -> list[dict]:
    """Every entity of the company with its own setting (or none: it follows the company's date)
    and, for the edit page, its date form; ``bound`` is a submitted form to show with its errors."""
    settings = {s.entity_id: s for s in selectors.books_closed_entity_settings(company)}
    rows = []
    for entity in LedgerEntity.objects.filter(company=company).order_by("key"):
        setting = settings.get(entity.pk)
        if bound is not None and bound.data.get("entity-entity") == str(entity.pk):
            form = bound
        else:
            form = EntityClosedDateForm(
                company=company,
                initial={"entity": entity.pk, "closed_date": setting.closed_date if setting else None},
                prefix="entity",
                auto_id=f"id_entity{entity.pk}_%s",
            )
        rows.append({"entity": entity, "setting": setting or BooksClosedSetting(company=company, entity=entity), "form": form})
    return rows


def _preferences_context(request, company, entity_form=None) -> dict:
    return {
        "company": company,
        "setting": selectors.books_closed_setting(company),
        "entity_settings": selectors.books_closed_entity_settings(company),
        "entity_rows": _entity_rows(company, entity_form),
        "audit": selectors.books_closed_audit(company),
        "today": company.today(),
        **_can(request, company),
    }


@login_required
@require_http_methods(["GET", "POST"])
def accounting_preferences_edit(request, slug):
    company = selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    setting = selectors.books_closed_setting(company)
    can_administer = request.user.has_perm(roles.ADMINISTER, company)
    yes_no = {True: "yes", False: "no"}
    initial = {
        "enabled": yes_no[setting.enabled],
        "restrict_inbound": yes_no[setting.restrict_inbound],
        "closed_date": setting.closed_date,
    }
    form = BooksClosedForm(request.POST or None, initial=initial, can_administer=can_administer)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {}
        if can_administer:
            changes["enabled"] = data["enabled"]
            changes["restrict_inbound"] = data["restrict_inbound"]
        if data["closed_date"] != setting.closed_date:
            changes["closed_date"] = data["closed_date"]
        try:
            services.books_closed_update(company=company, actor=request.user, reason=data["reason"], **changes)
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Accounting preferences saved.")
            return redirect("ledger:accounting_preferences", slug=company.slug)
    return render(request, "ledger/accounting_preferences_edit.html", {**_preferences_context(request, company), "form": form})


@login_required
@require_POST
def accounting_preferences_entity(request, slug):
    """One entity's own books-closed date (BC9), with the company date's rules: administrator or
    manager, today or earlier (BC2), a reason to move it earlier (BC3), an audit row (PC6)."""
    company = selectors.company_get_for_user(request.user, slug, roles.MANAGE)
    entity_pk = request.POST.get("entity-entity", "")
    form = EntityClosedDateForm(request.POST, company=company, prefix="entity", auto_id=f"id_entity{entity_pk}_%s")
    if form.is_valid():
        entity = form.cleaned_data["entity"]
        try:
            services.books_closed_date_set(
                company=company,
                actor=request.user,
                entity=entity,
                closed_date=form.cleaned_data["closed_date"],
                reason=form.cleaned_data["reason"],
            )
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Books closed date of {entity} saved.")
            return redirect("ledger:accounting_preferences", slug=company.slug)
    if not entity_pk.isdigit() or not LedgerEntity.objects.filter(company=company, pk=entity_pk).exists():
        raise Http404("No such entity.")
    setting = selectors.books_closed_setting(company)
    yes_no = {True: "yes", False: "no"}
    company_form = BooksClosedForm(
        initial={
            "enabled": yes_no[setting.enabled],
            "restrict_inbound": yes_no[setting.restrict_inbound],
            "closed_date": setting.closed_date,
        },
        can_administer=request.user.has_perm(roles.ADMINISTER, company),
    )
    context = {**_preferences_context(request, company, entity_form=form), "form": company_form}
    return render(request, "ledger/accounting_preferences_edit.html", context)


# ---------------------------------------------------------------- AR/AP documents


DOCUMENT_ROUTES = {
    Document.Kind.INVOICE: "invoices",
    Document.Kind.BILL: "bills",
    Document.Kind.CREDIT_MEMO: "credit_memos",
    Document.Kind.VENDOR_CREDIT: "vendor_credits",
}


def _document_redirect(document):
    return redirect("ledger:document", slug=document.company.slug, pk=document.pk)


@login_required
@require_GET
def document_list(request, slug, kind):
    company = selectors.company_get_for_user(request.user, slug)
    filterset = DocumentFilter(request.GET or None, queryset=selectors.document_list(company, kind))
    return render(
        request,
        "ledger/document_list.html",
        {
            "company": company,
            "kind": kind,
            "kind_label": Document.Kind(kind).label,
            "new_url": reverse(f"ledger:{DOCUMENT_ROUTES[kind][:-1]}_new", kwargs={"slug": company.slug}),
            "filter": filterset,
            "page": _page(request, filterset.qs),
            "query": _query_without_page(request),
            **_can(request, company),
        },
    )


@login_required
@require_GET
def document_detail(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug)
    document = selectors.document_get(company, pk)
    context = {
        "company": company,
        "document": document,
        "applied": services.document_applied(document),
        "open_amount": services.document_open_amount(document),
        "applications": (
            document.applications_made if document.kind in Document.CREDIT_KINDS else document.applications_received
        ).select_related("target", "credit_document", "payment", "customer_credit"),
        "list_url": reverse(f"ledger:{DOCUMENT_ROUTES[document.kind]}", kwargs={"slug": company.slug}),
        **_can(request, company),
    }
    if document.kind in Document.CREDIT_KINDS and document.status == Document.Status.OPEN:
        context["apply_form"] = ApplyForm(targets=_apply_targets(company, document))
    return render(request, "ledger/document_detail.html", context)


def _apply_targets(company, source):
    if isinstance(source, Document):
        kind = Document.Kind.INVOICE if source.kind == Document.Kind.CREDIT_MEMO else Document.Kind.BILL
        party = {"customer": source.customer} if kind == Document.Kind.INVOICE else {"vendor": source.vendor}
    else:
        kind = Document.Kind.INVOICE if source.direction == "incoming" else Document.Kind.BILL
        party = {"customer": source.customer} if kind == Document.Kind.INVOICE else {"vendor": source.vendor}
    return Document.objects.filter(company=company, kind=kind, status=Document.Status.OPEN, **party).order_by("doc_date")


@login_required
@require_http_methods(["GET", "POST"])
def document_edit(request, slug, kind=None, pk=None):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    document = selectors.document_get(company, pk) if pk else None
    kind = document.kind if document is not None else kind
    if request.method == "POST":
        form = DocumentForm(request.POST, company=company, kind=kind)
        formset = DocumentLineFormSet(request.POST, company=company, prefix="lines")
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                if document is None:
                    document = services.document_create(
                        company=company,
                        kind=kind,
                        actor=request.user,
                        number=data["number"],
                        party=data["party"],
                        doc_date=data["doc_date"],
                        due_date=data["due_date"],
                        memo=data["memo"],
                        lines=formset.line_inputs(),
                    )
                else:
                    document = services.document_update(
                        document=document,
                        actor=request.user,
                        number=data["number"],
                        party=data["party"],
                        doc_date=data["doc_date"],
                        due_date=data["due_date"],
                        memo=data["memo"],
                        lines=formset.line_inputs(),
                    )
            except LedgerError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"{document} saved.")
                return _document_redirect(document)
    elif document is not None:
        form = DocumentForm(
            company=company,
            kind=kind,
            initial={
                "number": document.number,
                "party": document.party,
                "doc_date": document.doc_date,
                "due_date": document.due_date,
                "memo": document.memo,
            },
        )
        formset = DocumentLineFormSet(
            company=company,
            prefix="lines",
            initial=[
                {"account": line["account"], "description": line["description"], "amount": line["amount"], "tax": line["tax"]}
                for line in document.lines
            ],
        )
    else:
        form = DocumentForm(company=company, kind=kind, initial={"doc_date": company.today()})
        formset = DocumentLineFormSet(company=company, prefix="lines")
    return render(
        request,
        "ledger/document_form.html",
        {
            "company": company,
            "document": document,
            "kind_label": Document.Kind(kind).label,
            "form": form,
            "formset": formset,
            "list_url": reverse(f"ledger:{DOCUMENT_ROUTES[kind]}", kwargs={"slug": company.slug}),
        },
    )


@login_required
@require_POST
def document_delete(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    document = selectors.document_get(company, pk)
    try:
        services.document_delete(document=document, actor=request.user, reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, exc.message)
        return _document_redirect(document)
    messages.success(request, f"{document} deleted.")
    return redirect(f"ledger:{DOCUMENT_ROUTES[document.kind]}", slug=company.slug)


@login_required
@require_POST
def document_void(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    document = selectors.document_get(company, pk)
    try:
        services.document_void(document=document, actor=request.user, reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{document} voided.")
    return _document_redirect(document)


def _apply_from_form(request, form, apply, label: str) -> None:
    """Apply a credit or payment to the target chosen on an ApplyForm through ``apply`` (the
    service), and say what happened: the form's errors, the service's refusal, or success."""
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return
    data = {key: form.cleaned_data[key] for key in ("target", "amount", "applied_on")}
    try:
        apply(**data)
    except LedgerError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{label} applied to {data['target']}.")


@login_required
@require_POST
def document_apply(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    document = selectors.document_get(company, pk)
    form = ApplyForm(request.POST, targets=_apply_targets(company, document))
    _apply_from_form(
        request, form, lambda **data: services.credit_apply(credit=document, actor=request.user, **data), f"{document}"
    )
    return _document_redirect(document)


# ---------------------------------------------------------------- payments


@login_required
@require_GET
def payment_list(request, slug):
    company = selectors.company_get_for_user(request.user, slug)
    filterset = PaymentFilter(request.GET or None, queryset=selectors.payment_list(company))
    return render(
        request,
        "ledger/payment_list.html",
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
def payment_detail(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug)
    payment = selectors.payment_get(company, pk)
    return render(
        request,
        "ledger/payment_detail.html",
        {
            "company": company,
            "payment": payment,
            "unapplied": services.payment_unapplied(payment),
            "moves": sorted(Payment.MOVES[payment.status]),
            "applications": payment.applications.select_related("target"),
            "apply_form": ApplyForm(targets=_apply_targets(company, payment)) if payment.status in Payment.POSTED else None,
            **_can(request, company),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def payment_edit(request, slug, pk=None):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    payment = selectors.payment_get(company, pk) if pk else None
    initial = (
        {"process_date": company.today(), "status": "recorded"}
        if payment is None
        else {
            "process_date": payment.process_date,
            "amount": payment.amount,
            "method": payment.method,
            "reference": payment.reference,
        }
    )
    form = PaymentForm(request.POST or None, company=company, editing=payment is not None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if payment is None:
                incoming = data["direction"] == "incoming"
                payment = services.payment_create(
                    company=company,
                    direction=data["direction"],
                    party=data["customer"] if incoming else data["vendor"],
                    process_date=data["process_date"],
                    amount=data["amount"],
                    status=data["status"],
                    method=data["method"],
                    reference=data["reference"],
                    actor=request.user,
                )
            else:
                payment = services.payment_update(
                    payment=payment,
                    actor=request.user,
                    process_date=data["process_date"],
                    amount=data["amount"],
                    method=data["method"],
                    reference=data["reference"],
                )
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{payment} saved.")
            return redirect("ledger:payment", slug=company.slug, pk=payment.pk)
    return render(request, "ledger/payment_form.html", {"company": company, "payment": payment, "form": form})


@login_required
@require_POST
def payment_move(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    payment = selectors.payment_get(company, pk)
    try:
        services.payment_move(
            payment=payment, to=request.POST.get("to", ""), actor=request.user, reason=request.POST.get("reason", "")
        )
    except LedgerError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Payment updated.")
    return redirect("ledger:payment", slug=company.slug, pk=pk)


@login_required
@require_POST
def payment_delete(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    payment = selectors.payment_get(company, pk)
    try:
        services.payment_delete(payment=payment, actor=request.user, reason=request.POST.get("reason", ""))
    except LedgerError as exc:
        messages.error(request, exc.message)
        return redirect("ledger:payment", slug=company.slug, pk=pk)
    messages.success(request, "Payment deleted.")
    return redirect("ledger:payments", slug=company.slug)


@login_required
@require_POST
def payment_apply(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    payment = selectors.payment_get(company, pk)
    form = ApplyForm(request.POST, targets=_apply_targets(company, payment))
    _apply_from_form(request, form, lambda **data: services.payment_apply(payment=payment, actor=request.user, **data), "Payment")
    return redirect("ledger:payment", slug=company.slug, pk=pk)


# ---------------------------------------------------------------- customer credits and refunds


def _list_with_create_form(request, slug, *, form_class, date_field, create, rows, template, url_name, saved):
    """A list page with its create form on top (customer credits, refunds): any member reads,
    posting needs the POST role; the service's refusal lands on the form."""
    company = selectors.company_get_for_user(request.user, slug)
    form = form_class(request.POST or None, company=company, initial={date_field: company.today()})
    if request.method == "POST":
        company = selectors.company_get_for_user(request.user, slug, roles.POST)
        if form.is_valid():
            try:
                create(company=company, actor=request.user, **form.cleaned_data)
            except LedgerError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, saved)
                return redirect(url_name, slug=company.slug)
    return render(
        request,
        template,
        {"company": company, "form": form, "page": _page(request, rows(company)), "query": "", **_can(request, company)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_credits(request, slug):
    return _list_with_create_form(
        request,
        slug,
        form_class=CustomerCreditForm,
        date_field="credit_date",
        create=services.customer_credit_create,
        rows=lambda company: (
            CustomerCredit.objects.filter(company=company)
            .select_related("customer")
            .prefetch_related("applications__target")
            .order_by("-credit_date", "-id")
        ),
        template="ledger/customer_credits.html",
        url_name="ledger:customer_credits",
        saved="Customer credit saved.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def refunds(request, slug):
    return _list_with_create_form(
        request,
        slug,
        form_class=RefundForm,
        date_field="refund_date",
        create=services.refund_create,
        rows=lambda company: Refund.objects.filter(company=company).select_related("customer").order_by("-refund_date", "-id"),
        template="ledger/refunds.html",
        url_name="ledger:refunds",
        saved="Refund saved.",
    )


def _edit_or_delete(request, slug, pk, *, model, form_class, fields, update, delete, template_label, list_url, saved):
    """Edit and delete pages for a customer credit or a refund: POST role, 404 for another
    company's object, the service's refusal (e.g. the books-closed guard) shown on the form."""
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    obj = model.objects.filter(company=company, pk=pk).select_related("customer").first()
    if obj is None:
        raise Http404("Not found.")
    initial = {name: getattr(obj, name) for name in fields}
    form = form_class(initial=initial)
    reason_form = ReasonForm()
    if request.method == "POST" and "delete" in request.POST:
        reason_form = ReasonForm(request.POST)
        if reason_form.is_valid():
            try:
                delete(obj, reason_form.cleaned_data["reason"])
            except LedgerError as exc:
                add_service_error(reason_form, exc)
            else:
                messages.success(request, f"{obj} deleted.")
                return redirect(list_url, slug=company.slug)
    elif request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                update(obj, **form.cleaned_data)
            except LedgerError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, saved)
                return redirect(list_url, slug=company.slug)
    return render(
        request,
        "ledger/credit_refund_form.html",
        {
            "company": company,
            "object": obj,
            "form": form,
            "reason_form": reason_form,
            "label": template_label,
            "list_url": reverse(list_url, kwargs={"slug": company.slug}),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_credit_edit(request, slug, pk):
    return _edit_or_delete(
        request,
        slug,
        pk,
        model=CustomerCredit,
        form_class=CustomerCreditEditForm,
        fields=("credit_date", "amount", "memo"),
        update=lambda credit, **data: services.customer_credit_update(credit=credit, actor=request.user, **data),
        delete=lambda credit, reason: services.customer_credit_delete(credit=credit, actor=request.user, reason=reason),
        template_label="customer credit",
        list_url="ledger:customer_credits",
        saved="Customer credit saved.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def refund_edit(request, slug, pk):
    return _edit_or_delete(
        request,
        slug,
        pk,
        model=Refund,
        form_class=RefundEditForm,
        fields=("refund_date", "amount", "memo"),
        update=lambda refund, **data: services.refund_update(refund=refund, actor=request.user, **data),
        delete=lambda refund, reason: services.refund_delete(refund=refund, actor=request.user, reason=reason),
        template_label="refund",
        list_url="ledger:refunds",
        saved="Refund saved.",
    )


def _application_source_url(company, application) -> str:
    if application.credit_document_id:
        return reverse("ledger:document", kwargs={"slug": company.slug, "pk": application.credit_document_id})
    if application.payment_id:
        return reverse("ledger:payment", kwargs={"slug": company.slug, "pk": application.payment_id})
    return reverse("ledger:customer_credits", kwargs={"slug": company.slug})


@login_required
@require_http_methods(["GET", "POST"])
def application_reverse(request, slug, pk):
    """Reverse an application (credit memo, vendor credit, payment or customer credit applied to an
    invoice or bill) through the service: a reversing row and entry on an open date (BC5)."""
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    application = (
        Application.objects.filter(company=company, pk=pk, amount__gt=0)
        .select_related("target", "credit_document", "payment", "customer_credit__customer")
        .first()
    )
    if application is None:
        raise Http404("No such application.")
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_reverse(application=application, actor=request.user, reason=form.cleaned_data["reason"])
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Application of {application.source} to {application.target} reversed.")
            return redirect(_application_source_url(company, application))
    return render(
        request,
        "ledger/application_reverse.html",
        {
            "company": company,
            "application": application,
            "already_reversed": application.reversed_by.exists(),
            "form": form,
            "back_url": _application_source_url(company, application),
        },
    )


@login_required
@require_POST
def customer_credit_apply(request, slug, pk):
    company = selectors.company_get_for_user(request.user, slug, roles.POST)
    credit = CustomerCredit.objects.filter(company=company, pk=pk).select_related("customer").first()
    if credit is None:
        raise Http404("No such credit.")
    targets = Document.objects.filter(
        company=company, kind=Document.Kind.INVOICE, status=Document.Status.OPEN, customer=credit.customer
    )
    form = ApplyForm(request.POST, targets=targets)
    _apply_from_form(
        request, form, lambda **data: services.customer_credit_apply(credit=credit, actor=request.user, **data), "Credit"
    )
    return redirect("ledger:customer_credits", slug=company.slug)
