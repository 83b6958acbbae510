"""Reads, always scoped to what the user may see. Missing and forbidden answer alike: 404."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, F, IntegerField, Prefetch, QuerySet, Sum
from django.db.models.functions import Coalesce, Round
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from .exceptions import PermissionRefusedError
from .models import ZERO, Account, Company, EntryDayCount, EntryImbalance, JournalEntry, JournalLine, Membership
from .permissions import require
from .roles import VIEW


def company_list_for_user(user: AbstractBaseUser) -> QuerySet[Company]:
    """Companies where ``user`` has a role. Superusers are not special here: the product shows
    a person the companies they belong to; Django admin is where staff inspect the rest."""
    if not user.is_authenticated:
        return Company.objects.none()
    return Company.objects.filter(memberships__user=user).order_by("name")


def company_get_for_user(user: AbstractBaseUser, slug: str, perm: str = VIEW) -> Company:
    """The company with ``slug`` if ``user`` has a role in it (404 otherwise, missing or not),
    and PermissionDenied (403) with the one permission check's refusal if the role lacks ``perm``
    (``ledger.permissions.require``: the page shows the rule, it does not make its own)."""
    company = company_list_for_user(user).filter(slug=slug).first()
    if company is None:
        raise Http404("No such company.")
    if perm != VIEW:
        try:
            require(user, perm, company)
        except PermissionRefusedError as exc:
            raise PermissionDenied(exc.message) from None
    return company


def companies_for_perm(user: AbstractBaseUser, perm: str) -> QuerySet[Company]:
    """Companies on which ``user`` holds ``perm`` through guardian (used by admin scoping)."""
    return get_objects_for_user(user, perm, klass=Company, accept_global_perms=False)


def membership_for(user: AbstractBaseUser, company: Company) -> Membership | None:
    return Membership.objects.filter(user=user, company=company).first()


def account_list(company: Company) -> QuerySet[Account]:
    return Account.objects.filter(company=company).select_related("reconcile_with").order_by("code")


def account_get(company: Company, pk: int) -> Account:
    account = Account.objects.filter(company=company, pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    return account


def journal_entry_list(company: Company) -> QuerySet[JournalEntry]:
    """Newest first, served by the (company, entry_date) index. Totals are not annotated here:
    grouping a million lines to show fifty entries is what made the journal slow; attach them to
    the page shown with ``with_line_totals``."""
    return JournalEntry.objects.filter(company=company).order_by("-entry_date", "-id")


def with_line_totals(entries) -> list[JournalEntry]:
    """Attach ``total_debit`` and ``line_count`` to one page of entries, in one grouped query."""
    entries = list(entries)
    totals = {
        row["entry_id"]: row
        for row in JournalLine.objects.filter(entry_id__in=[e.pk for e in entries])
        .order_by()
        .values("entry_id")
        .annotate(total_debit=Sum("debit"), line_count=Count("id"))
    }
    for entry in entries:
        row = totals.get(entry.pk, {})
        entry.total_debit, entry.line_count = row.get("total_debit", ZERO), row.get("line_count", 0)
    return entries


def journal_entry_get(company: Company, pk: int) -> JournalEntry:
    entry = (
        JournalEntry.objects.filter(company=company, pk=pk)
        .select_related("created_by")
        .prefetch_related(Prefetch("lines", queryset=JournalLine.objects.select_related("account").order_by("line_no")))
        .first()
    )
    if entry is None:
        raise Http404("No such journal entry.")
    return entry


def unbalanced_entries(company: Company) -> QuerySet[JournalEntry]:
    """Entries kept as they came from outside although they do not balance (PC2 lists them)."""
    return JournalEntry.objects.filter(company=company, is_balanced=False).order_by("entry_date", "id")


def summaries_kept() -> bool:
    """Whether the database keeps the lines' summaries (migration ``ledger/0006_line_summaries``): PostgreSQL
    does, by trigger; on SQLite the readers below compute from the lines."""
    return connection.vendor == "postgresql"


def entry_count(company: Company, first: date | None = None, last: date | None = None) -> int:
    """How many journal entries the company has (between ``first`` and ``last``), from the per-day
    counts the entry triggers keep where the database keeps them: a few hundred rows instead of an
    index scan over every entry (16 ms at 300,000 entries, on every dashboard and Home visit)."""
    model = EntryDayCount if summaries_kept() else JournalEntry
    rows = model.objects.filter(company=company)
    if first is not None:
        rows = rows.filter(entry_date__gte=first)
    if last is not None:
        rows = rows.filter(entry_date__lte=last)
    if model is JournalEntry:
        return rows.count()
    return rows.aggregate(n=Coalesce(Sum("entries"), 0))["n"]


def unbalanced_entry_ids(company: Company, first: date | None = None, last: date | None = None) -> list[int]:
    """Entries (dated ``first``..``last`` when given) whose lines do not balance in some
    currency (PC2). Read from the imbalance rows the line triggers keep (a few rows, by index),
    not from the stored flag; computed from the lines where there are no triggers."""
    if summaries_kept():
        entries = JournalEntry.objects.filter(company=company)
        if first is not None:
            entries = entries.filter(entry_date__gte=first)
        if last is not None:
            entries = entries.filter(entry_date__lte=last)
        ids = EntryImbalance.objects.filter(entry__in=entries).values_list("entry_id", flat=True)
        return sorted(set(ids))
    lines = JournalLine.objects.filter(company=company)
    if first is not None:
        lines = lines.filter(entry_date__gte=first)
    if last is not None:
        lines = lines.filter(entry_date__lte=last)
    # Summed in whole cents: SQLite keeps decimals as floats, and a float sum of a month's
    # amounts leaves residues like 9.09e-13 that a plain ``!= 0`` reads as unbalanced.
    cents = Round((F("debit") - F("credit")) * 100)
    rows = lines.values("entry_id", "currency").annotate(net=Sum(cents, output_field=IntegerField())).exclude(net=0)
    return sorted(set(rows.values_list("entry_id", flat=True)))


def company_dashboard(company: Company) -> dict:
    today = company.today()
    month_start = today.replace(day=1)
    entries = JournalEntry.objects.filter(company=company)
    return {
        "today": today,
        "accounts": Account.objects.filter(company=company).count(),
        "blocked_accounts": Account.objects.filter(company=company, blocked=True).count(),
        "entries": entry_count(company),
        "entries_this_month": entry_count(company, month_start, today),
        "unbalanced": entries.filter(is_balanced=False).count(),
        "last_entry": entries.order_by("-entry_date", "-id").first(),
        "recent_entries": with_line_totals(journal_entry_list(company)[:8]),
    }


# ---------------------------------------------------------------- books-closed setting and documents


def books_closed_setting(company: Company):
    """The company's setting row, or an unsaved default (closed books off)."""
    from .models import BooksClosedSetting

    return BooksClosedSetting.objects.filter(company=company, entity__isnull=True).first() or BooksClosedSetting(company=company)


def books_closed_entity_settings(company: Company):
    from .models import BooksClosedSetting

    return (
        BooksClosedSetting.objects.filter(company=company, entity__isnull=False).select_related("entity").order_by("entity__key")
    )


def books_closed_audit(company: Company, limit: int = 50):
    """The setting's audit trail (PC6), newest first."""
    from .models import AuditEvent

    return (
        AuditEvent.objects.filter(company=company, subject_type="BooksClosedSetting")
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )


def document_list(company: Company, kind: str):
    from .models import Document

    return Document.objects.filter(company=company, kind=kind).select_related("customer", "vendor").order_by("-doc_date", "-id")


def document_get(company: Company, pk: int, kind: str | None = None):
    from .models import Document

    qs = Document.objects.filter(company=company, pk=pk).select_related("customer", "vendor", "journal_entry", "void_entry")
    if kind is not None:
        qs = qs.filter(kind=kind)
    document = qs.first()
    if document is None:
        raise Http404("No such document.")
    return document


def payment_list(company: Company):
    from .models import Payment

    return Payment.objects.filter(company=company).select_related("customer", "vendor").order_by("-process_date", "-id")


def payment_get(company: Company, pk: int):
    from .models import Payment

    payment = Payment.objects.filter(company=company, pk=pk).select_related("customer", "vendor", "journal_entry").first()
    if payment is None:
        raise Http404("No such payment.")
    return payment
