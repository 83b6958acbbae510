"""The posting service: balance per currency, blocked accounts (LR2), bad input, flags (PC2)."""

from datetime import date
from decimal import Decimal

import pytest

from ledger import services
from ledger.exceptions import AccountError, AmountError, BlockedAccountError, UnbalancedEntryError
from ledger.models import Account, AuditEvent, JournalEntry, JournalLine, Role
from ledger.services import LineInput
from tests.factories import AccountFactory, CompanyFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def accounts(company):
    return {
        "cash": AccountFactory(company=company, code="1000", type=Account.Type.ASSET),
        "revenue": AccountFactory(company=company, code="4000", type=Account.Type.REVENUE),
        "fees": AccountFactory(company=company, code="6700", type=Account.Type.EXPENSE),
    }


def post(company, lines, **kwargs):
    return services.journal_entry_create(company=company, entry_date=date(2026, 3, 10), lines=lines, actor=None, **kwargs)


def test_balanced_entry_is_posted_with_its_lines_and_an_audit_row(company, accounts, member):
    user = member(company, Role.ACCOUNTANT)
    entry = services.journal_entry_create(
        company=company,
        entry_date=date(2026, 3, 10),
        actor=user,
        memo="Cash sale",
        lines=[LineInput(accounts["cash"], debit="120.50"), LineInput(accounts["revenue"], credit=D("120.50"))],
    )
    lines = list(entry.lines.order_by("line_no"))
    assert [(line.debit, line.credit) for line in lines] == [(D("120.50"), D("0")), (D("0"), D("120.50"))]
    assert all(line.currency == "USD" and line.entry_date == date(2026, 3, 10) for line in lines)
    assert entry.is_balanced and entry.created_by == user
    event = AuditEvent.objects.get(action="journal_entry.create")
    assert event.actor == user and event.after["lines"][0]["debit"] == "120.50"


def test_unbalanced_manual_entry_is_refused_and_nothing_is_written(company, accounts):
    with pytest.raises(UnbalancedEntryError, match="USD debits exceed credits by 0.01"):
        post(company, [LineInput(accounts["cash"], debit="100.01"), LineInput(accounts["revenue"], credit="100.00")])
    assert not JournalEntry.objects.exists() and not JournalLine.objects.exists()


def test_balance_is_checked_per_currency(company, accounts):
    lines = [
        LineInput(accounts["cash"], debit="100.00", currency="EUR"),
        LineInput(accounts["revenue"], credit="100.00", currency="USD"),
    ]
    with pytest.raises(UnbalancedEntryError) as exc:
        post(company, lines)
    assert "EUR debits exceed credits by 100.00" in str(exc.value)
    assert "USD credits exceed debits by 100.00" in str(exc.value)


@pytest.mark.parametrize("source", [JournalEntry.Source.IMPORT, JournalEntry.Source.INBOUND_SYNC])
def test_unbalanced_entry_from_outside_is_kept_and_flagged_PC2(company, accounts, source):
    entry = post(
        company, [LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="9.00")], source=source
    )
    entry.refresh_from_db()
    assert entry.is_balanced is False
    assert entry.lines.count() == 2  # kept as it came: not fixed, not dropped


def test_blocked_account_refuses_postings_LR2(company, accounts):
    accounts["fees"].blocked = True
    accounts["fees"].save()
    with pytest.raises(BlockedAccountError, match="6700.*blocked"):
        post(company, [LineInput(accounts["fees"], debit="5.00"), LineInput(accounts["cash"], credit="5.00")])
    assert not JournalEntry.objects.exists()


def test_account_of_another_company_is_refused(company, accounts):
    foreign = AccountFactory(company=CompanyFactory(), code="1000")
    with pytest.raises(AccountError, match="belongs to another company"):
        post(company, [LineInput(foreign, debit="5.00"), LineInput(accounts["cash"], credit="5.00")])
    assert not JournalEntry.objects.exists()


def test_unknown_account_is_refused(company, accounts):
    with pytest.raises(AccountError, match="does not exist"):
        post(company, [LineInput(999999, debit="5.00"), LineInput(accounts["cash"], credit="5.00")])


@pytest.mark.parametrize(
    ("debit", "message"),
    [
        ("12.345", "more than two decimal places"),
        ("abc", "is not a number"),
        (12.5, "not a float"),
        ("-5.00", "cannot be negative"),
        ("NaN", "is not a number"),
        ("1e30", "uses an exponent"),
        ("1" * 19, "too large"),
        ("0", "enter a debit or a credit"),
    ],
)
def test_malformed_amounts_are_refused_with_a_clear_error(company, accounts, debit, message):
    with pytest.raises(AmountError, match=message):
        post(company, [LineInput(accounts["cash"], debit=debit), LineInput(accounts["revenue"], credit="5.00")])
    assert not JournalEntry.objects.exists()


def test_a_line_cannot_be_both_debit_and_credit(company, accounts):
    with pytest.raises(AmountError, match="either a debit or a credit"):
        post(company, [LineInput(accounts["cash"], debit="5.00", credit="5.00")])


def test_update_replaces_lines_and_audits_before_and_after(company, accounts):
    entry = post(company, [LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="10.00")])
    services.journal_entry_update(
        entry=entry,
        entry_date=date(2026, 3, 11),
        actor=None,
        memo="fixed",
        lines=[LineInput(accounts["cash"], debit="12.00"), LineInput(accounts["revenue"], credit="12.00")],
    )
    entry.refresh_from_db()
    assert entry.entry_date == date(2026, 3, 11)
    assert sorted(entry.lines.values_list("debit", flat=True)) == [D("0"), D("12.00")]
    assert set(entry.lines.values_list("entry_date", flat=True)) == {date(2026, 3, 11)}
    event = AuditEvent.objects.get(action="journal_entry.update")
    assert event.before["lines"][0]["debit"] == "10.00" and event.after["lines"][0]["debit"] == "12.00"


def test_fixing_a_flagged_import_by_hand_must_balance_and_clears_the_flag(company, accounts):
    entry = post(
        company,
        [LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="9.00")],
        source=JournalEntry.Source.IMPORT,
    )
    with pytest.raises(UnbalancedEntryError):
        services.journal_entry_update(
            entry=entry,
            entry_date=entry.entry_date,
            actor=None,
            lines=[LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="9.50")],
        )
    services.journal_entry_update(
        entry=entry,
        entry_date=entry.entry_date,
        actor=None,
        lines=[LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="10.00")],
    )
    entry.refresh_from_db()
    assert entry.is_balanced and entry.source == JournalEntry.Source.IMPORT


def test_delete_removes_entry_and_lines_and_audits(company, accounts):
    entry = post(company, [LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="10.00")])
    services.journal_entry_delete(entry=entry, actor=None, reason="duplicate")
    assert not JournalLine.objects.exists()
    assert AuditEvent.objects.get(action="journal_entry.delete").reason == "duplicate"


def test_reflag_finds_lines_loaded_in_bulk_that_do_not_balance(company, accounts):
    entry = post(company, [LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="10.00")])
    JournalLine.objects.create(
        entry=entry,
        company=company,
        entry_date=entry.entry_date,
        account=accounts["fees"],
        debit=D("1.00"),
        currency="USD",
        line_no=3,
    )
    assert services.journal_entries_reflag(company=company) == 1
    entry.refresh_from_db()
    assert entry.is_balanced is False


def test_database_refuses_a_line_with_both_sides_or_negative_amounts(company, accounts):
    from django.db import IntegrityError, transaction

    entry = post(company, [LineInput(accounts["cash"], debit="10.00"), LineInput(accounts["revenue"], credit="10.00")])
    for debit, credit in [(D("1"), D("1")), (D("-1"), D("0")), (D("0"), D("0"))]:
        with pytest.raises(IntegrityError), transaction.atomic():
            JournalLine.objects.create(
                entry=entry,
                company=company,
                entry_date=entry.entry_date,
                account=accounts["cash"],
                debit=debit,
                credit=credit,
                currency="USD",
            )
