"""Reads for the close workflow: periods, the Review step's transactions, totals and flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from ledger.models import ZERO, Account, Company, JournalEntry, JournalLine

from .models import Period


def month_of(day: date) -> date:
    return day.replace(day=1)


def parse_period_key(key: str) -> date:
    try:
        year, month = (int(part) for part in key.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise Http404("No such period.") from None


def months_between(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def company_periods(company: Company) -> list[Period]:
    """Every period from the month of the company's first entry to this month (company time
    zone), oldest first. Months nobody has locked yet have no row: they are open, unsaved."""
    today = company.today()
    first = JournalEntry.objects.filter(company=company).order_by("entry_date").values_list("entry_date", flat=True).first()
    saved = {p.month: p for p in Period.objects.filter(company=company)}
    months = set(months_between(min(first or today, today), today)) | set(saved)
    return [saved.get(m) or Period(company=company, month=m) for m in sorted(months)]


def period_get(company: Company, key: str) -> Period:
    month = parse_period_key(key)
    period = next((p for p in company_periods(company) if p.month == month), None)
    if period is None:
        raise Http404("No such period.")
    return period


def open_periods(company: Company) -> list[Period]:
    return [p for p in company_periods(company) if p.state == Period.State.OPEN]


def period_entries(period: Period) -> QuerySet[JournalEntry]:
    return (
        JournalEntry.objects.filter(company=period.company, entry_date__gte=period.first_day, entry_date__lte=period.last_day)
        .annotate(total_debit=Sum("lines__debit"), line_count=Count("lines"))
        .order_by("entry_date", "id")
    )


def unbalanced_entry_ids(company: Company, first: date, last: date) -> list[int]:
    """Entries of the window whose lines do not balance in some currency, computed from the lines
    themselves (not the stored flag), so lines loaded behind the posting service are caught (PC2)."""
    rows = (
        JournalLine.objects.filter(company=company, entry_date__gte=first, entry_date__lte=last)
        .values("entry_id", "currency")
        .annotate(net=Sum("debit") - Sum("credit"))
        .exclude(net=0)
        .values_list("entry_id", flat=True)
    )
    return sorted(set(rows))


@dataclass(frozen=True)
class TrialBalanceRow:
    account: Account
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        return self.debit - self.credit


def trial_balance(period: Period) -> list[TrialBalanceRow]:
    """Debits and credits per account for the period, in the base currency's lines."""
    sums = (
        JournalLine.objects.filter(company=period.company, entry_date__gte=period.first_day, entry_date__lte=period.last_day)
        .values("account_id")
        .annotate(debit=Coalesce(Sum("debit"), ZERO), credit=Coalesce(Sum("credit"), ZERO))
    )
    totals = {row["account_id"]: row for row in sums}
    accounts = Account.objects.filter(pk__in=totals).order_by("code")
    return [TrialBalanceRow(a, totals[a.pk]["debit"], totals[a.pk]["credit"]) for a in accounts]


def totals_by_account_type(rows: list[TrialBalanceRow]) -> list[dict]:
    out = {t: {"type": label, "debit": ZERO, "credit": ZERO} for t, label in Account.Type.choices}
    for row in rows:
        bucket = out[row.account.type]
        bucket["debit"] += row.debit
        bucket["credit"] += row.credit
    for bucket in out.values():
        bucket["net"] = bucket["debit"] - bucket["credit"]
    return list(out.values())


def has_activity_before(company: Company, day: date) -> bool:
    return JournalEntry.objects.filter(company=company, entry_date__lt=day).exists()


def flagged_counts(company: Company, periods: list[Period]) -> dict[date, int]:
    """Unbalanced entries per period month."""
    if not periods:
        return {}
    first = min(p.first_day for p in periods)
    last = max(p.last_day for p in periods)
    ids = unbalanced_entry_ids(company, first, last)
    out = {p.month: 0 for p in periods}
    for entry_date in JournalEntry.objects.filter(pk__in=ids).values_list("entry_date", flat=True):
        out[entry_date.replace(day=1)] = out.get(entry_date.replace(day=1), 0) + 1
    return out
