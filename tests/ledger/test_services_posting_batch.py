"""The set-based posting service (issue 16 item 1): one batch, one guard read under the company
lock, every rule of a single posting, lines and audit rows in bulk; and the dates no one means
(issue 18 item 3)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger import services
from ledger.exceptions import (
    AccountError,
    BlockedAccountError,
    BooksClosedError,
    DateRangeError,
    PermissionRefusedError,
    UnbalancedEntryError,
)
from ledger.guard import Inbound
from ledger.models import Account, AccountDayBalance, AuditEvent, EntryImbalance, JournalEntry, JournalLine, Role
from ledger.services import EntryInput, LineInput
from tests.factories import AccountFactory, CompanyFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def accounts(company):
    return {
        "cash": AccountFactory(company=company, code="1000", type=Account.Type.ASSET),
        "revenue": AccountFactory(company=company, code="4000", type=Account.Type.REVENUE),
    }


def sale(accounts, day, amount="10.00", **kwargs):
    return EntryInput(
        entry_date=day,
        lines=[LineInput(accounts["cash"], debit=amount), LineInput(accounts["revenue"], credit=amount)],
        **kwargs,
    )


def test_a_batch_posts_every_entry_with_its_lines_summaries_and_one_audit_row_each(company, accounts, member):
    user = member(company, Role.ACCOUNTANT)
    entries = [sale(accounts, date(2026, 3, 1 + i % 28), f"{i + 1}.25", memo=f"sale {i}") for i in range(300)]
    result = services.journal_entries_post(company=company, entries=entries, actor=user, source="import")
    assert [p.index for p in result.posted] == list(range(300)) and not result.refused
    assert JournalEntry.objects.filter(company=company).count() == 300
    assert JournalLine.objects.filter(company=company).count() == 600  # past COPY_FROM_LINES: written by COPY
    first = result.posted[0]
    lines = list(JournalLine.objects.filter(pk__in=first.line_ids).order_by("line_no"))
    assert [(line.line_no, line.debit, line.credit) for line in lines] == [(1, D("1.25"), D("0")), (2, D("0"), D("1.25"))]
    entry = JournalEntry.objects.get(pk=first.entry_id)
    assert entry.memo == "sale 0" and entry.created_by == user and entry.is_balanced and entry.source == "import"
    audits = AuditEvent.objects.filter(company=company, action="journal_entry.create")
    assert audits.count() == 300 and audits.get(subject_id=str(first.entry_id)).after["lines"][0]["debit"] == "1.25"
    # the summaries the close reads are kept for the COPY like for any write
    cash = AccountDayBalance.objects.filter(company=company, account=accounts["cash"])
    assert sum(row.debit for row in cash) == sum(D(f"{i + 1}.25") for i in range(300))


def test_an_external_batch_keeps_an_unbalanced_entry_and_flags_it_PC2(company, accounts):
    bad = EntryInput(
        entry_date=date(2026, 3, 2),
        lines=[LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="9.99")],
    )
    result = services.journal_entries_post(
        company=company, entries=[sale(accounts, date(2026, 3, 1)), bad], actor=None, source="import"
    )
    flags = {p.index: p.is_balanced for p in result.posted}
    assert flags == {0: True, 1: False}
    assert not JournalEntry.objects.get(pk=result.posted[1].entry_id).is_balanced
    assert EntryImbalance.objects.filter(entry_id=result.posted[1].entry_id).exists()


def test_a_manual_batch_is_all_or_nothing(company, accounts):
    bad = EntryInput(
        entry_date=date(2026, 3, 2),
        lines=[LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="9.99")],
    )
    with pytest.raises(UnbalancedEntryError, match="USD debits exceed credits by 0.01"):
        services.journal_entries_post(company=company, entries=[sale(accounts, date(2026, 3, 1)), bad], actor=None)
    assert not JournalEntry.objects.exists() and not JournalLine.objects.exists() and not AuditEvent.objects.exists()


def test_partial_batch_returns_each_refusal_and_posts_the_rest_BC6(company, accounts):
    """The books-closed guard decides each entry of an inbound batch against one read of the
    setting; the refused ones come back with the guard's message, the rest are posted."""
    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 1, 31))
    services.books_closed_restrict_inbound_set(company=company, actor=None, restrict_inbound=True)
    blocked = AccountFactory(company=company, code="1900", blocked=True)
    entries = [
        sale(accounts, date(2026, 2, 1), inbound=Inbound(provider="qbo", kind="journal"), what="journal 1"),
        sale(accounts, date(2026, 1, 15), inbound=Inbound(provider="qbo", kind="journal"), what="journal 2"),
        EntryInput(
            entry_date=date(2026, 2, 3),
            lines=[LineInput(blocked, debit="1.00"), LineInput(accounts["revenue"], credit="1.00")],
        ),
        sale(accounts, date(1899, 12, 31), what="journal 4"),
    ]
    result = services.journal_entries_post(company=company, entries=entries, actor=None, source="inbound_sync", partial=True)
    assert [p.index for p in result.posted] == [0]
    refused = {r.index: r.error for r in result.refused}
    assert isinstance(refused[1], BooksClosedError) and "Rejected inbound" in refused[1].message
    assert isinstance(refused[2], BlockedAccountError)
    assert isinstance(refused[3], DateRangeError) and "before 1900-01-01" in refused[3].message
    assert JournalEntry.objects.filter(company=company).count() == 1


def test_the_guard_reads_the_setting_once_per_batch(company, accounts):
    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 1, 31))
    entries = [sale(accounts, date(2026, 2, 1) + timedelta(days=i % 20)) for i in range(50)]
    with CaptureQueriesContext(connection) as queries:
        services.journal_entries_post(company=company, entries=entries, actor=None, source="import")
    reads = [q["sql"] for q in queries.captured_queries if "booksclosedsetting" in q["sql"] or "lock_closed_date" in q["sql"]]
    assert len(reads) == 1


def test_accounts_of_another_company_are_refused(company, accounts):
    foreign = AccountFactory(company=CompanyFactory(), code="1000")
    entry = EntryInput(
        entry_date=date(2026, 3, 2), lines=[LineInput(foreign, debit="1.00"), LineInput(accounts["revenue"], credit="1.00")]
    )
    with pytest.raises(AccountError, match="belongs to another company"):
        services.journal_entries_post(company=company, entries=[entry], actor=None)
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, None])
def test_posting_needs_the_post_permission(company, accounts, member, role):
    actor = member(company, role) if role else member(CompanyFactory(), Role.ADMINISTRATOR)
    with pytest.raises(PermissionRefusedError, match="Only an administrator, a manager or an accountant can post"):
        services.journal_entries_post(company=company, entries=[sale(accounts, date(2026, 3, 1))], actor=actor)
    assert not JournalEntry.objects.exists()


def test_a_single_entry_is_a_batch_of_one(company, accounts):
    entry = services.journal_entry_create(
        company=company,
        entry_date=date(2026, 3, 1),
        actor=None,
        lines=[LineInput(accounts["cash"], debit="5.00"), LineInput(accounts["revenue"], credit="5.00")],
    )
    assert entry.pk and entry.lines.count() == 2
    assert AuditEvent.objects.get(subject_id=str(entry.pk)).action == "journal_entry.create"


# ---------------------------------------------------------------- issue 18 item 3: dates no one means


@pytest.mark.parametrize("day", [date(1, 1, 1), date(202, 5, 1), date(1899, 12, 31), date(9999, 12, 31)])
def test_dates_no_one_means_are_refused_and_nothing_is_written_issue18_3(company, accounts, day):
    with pytest.raises(DateRangeError, match="check the year") as refused:
        services.journal_entry_create(
            company=company,
            entry_date=day,
            actor=None,
            lines=[LineInput(accounts["cash"], debit="5.00"), LineInput(accounts["revenue"], credit="5.00")],
        )
    assert refused.value.field == "entry_date" and day.isoformat() in refused.value.message
    assert not JournalEntry.objects.exists() and not AuditEvent.objects.exists()


def test_the_years_ahead_limit_is_the_company_setting_issue18_3(accounts, company):
    far = company.today().replace(year=company.today().year + 4, day=1)
    line = [LineInput(accounts["cash"], debit="5.00"), LineInput(accounts["revenue"], credit="5.00")]
    with pytest.raises(DateRangeError, match="more than 3 years ahead"):
        services.journal_entry_create(company=company, entry_date=far, actor=None, lines=line)
    services.company_update(
        company=company,
        actor=None,
        name=company.name,
        time_zone=company.time_zone,
        base_currency=company.base_currency,
        years_ahead=5,
    )
    assert services.journal_entry_create(company=company, entry_date=far, actor=None, lines=line).entry_date == far
    assert services.journal_entry_create(company=company, entry_date=date(1900, 1, 1), actor=None, lines=line)
