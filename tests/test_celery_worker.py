"""A task sent through real Redis to a real Celery worker process (not eager)."""

from datetime import date
from decimal import Decimal

import pytest

from ledger import services
from ledger.models import JournalEntry, JournalLine
from ledger.tasks import reflag_entries
from tests.factories import AccountFactory, CompanyFactory


@pytest.mark.worker
def test_reflag_task_runs_on_a_real_worker(celery_worker_process, settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    company = CompanyFactory()
    cash, sales = AccountFactory(company=company), AccountFactory(company=company)
    entry = services.journal_entry_create(
        company=company,
        entry_date=date(2026, 2, 1),
        actor=None,
        lines=[services.LineInput(cash, debit="5.00"), services.LineInput(sales, credit="5.00")],
    )
    # a line loaded behind the posting service's back, as a bulk import would
    JournalLine.objects.create(
        entry=entry, company=company, entry_date=entry.entry_date, account=cash, debit=Decimal("1.00"), currency="USD", line_no=3
    )
    result = reflag_entries.apply_async(args=[company.pk], queue=celery_worker_process["queue"])
    assert result.get(timeout=60) == 1
    assert JournalEntry.objects.get(pk=entry.pk).is_balanced is False
