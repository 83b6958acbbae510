"""Reads for reconciliation, scoped to a company. Missing and forbidden answer alike: 404."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from ledger.models import Account, Company, JournalLine

from .models import Proposal, ReconciledLine, Reconciliation, ReconciliationSettings


def settings_for(company: Company) -> ReconciliationSettings:
    """The company's reconciliation settings; unsaved defaults (no permitted difference) if never set."""
    found = ReconciliationSettings.objects.select_related("discrepancy_account").filter(company=company).first()
    return found or ReconciliationSettings(company=company)


def account_set(account: Account) -> list[int]:
    """The accounts whose lines are reconciled together (LR1): the account and its reconcile-with account."""
    return [account.pk] + ([account.reconcile_with_id] if account.reconcile_with_id else [])


def reconcilable_accounts(company: Company) -> QuerySet[Account]:
    return Account.objects.filter(company=company, reconcilable=True).select_related("reconcile_with").order_by("code")


def reconcilable_account_get(company: Company, pk: int) -> Account:
    account = Account.objects.select_related("reconcile_with").filter(company=company, pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    return account


def open_lines(account: Account) -> QuerySet[JournalLine]:
    """Open (not reconciled) lines of the account and its reconcile-with account. The anti-join
    runs on ReconciledLine's primary key and the ledger's (company, account, entry_date) index."""
    return (
        JournalLine.objects.filter(company_id=account.company_id, account_id__in=account_set(account))
        .exclude(Exists(ReconciledLine.objects.filter(line_id=OuterRef("pk"))))
        .select_related("account")  # the page shows the entry's id and the line's own date: no entry join
        .order_by("entry_date", "id")
    )


def reconciliation_list(company: Company, account: Account | None = None) -> QuerySet[Reconciliation]:
    qs = Reconciliation.objects.filter(company=company).select_related("reconciled_by", "account")
    if account is not None:
        qs = qs.filter(account=account)
    return qs.order_by("-id")


def reconciliation_get(company: Company, pk: int) -> Reconciliation:
    found = Reconciliation.objects.filter(company=company, pk=pk).select_related("account", "reconciled_by").first()
    if found is None:
        raise Http404("No such reconciliation.")
    return found


def reconciliation_lines(reconciliation: Reconciliation) -> list[JournalLine]:
    """The code's lines in its own (top-down) order, the write-off line last."""
    found = JournalLine.objects.select_related("entry", "account").in_bulk(reconciliation.line_ids)
    return [found[i] for i in reconciliation.line_ids if i in found]


def proposal_get(company: Company, pk: int) -> Proposal:
    found = Proposal.objects.filter(company=company, pk=pk).select_related("account").first()
    if found is None:
        raise Http404("No such proposal.")
    return found
