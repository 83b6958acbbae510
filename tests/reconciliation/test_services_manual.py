"""LR5 manual reconciliation (top-down codes, write-offs), LR6 delete with reversal, bad input, settings."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.exceptions import LedgerError
from ledger.models import AuditEvent, JournalEntry, JournalLine
from reconciliation import services
from reconciliation.exceptions import (
    OutsidePermittedDifferenceError,
    ReconciliationConflictError,
    ReconciliationError,
)
from reconciliation.models import ReconciledLine, Reconciliation
from reconciliation.services import plan_top_down, running_balances
from tests.factories import AccountFactory, CompanyFactory
from tests.reconciliation.factories import make_books

D = Decimal


def codes_of(lines):
    rows = dict(
        ReconciledLine.objects.filter(line_id__in=[line.pk for line in lines]).values_list("line_id", "reconciliation_id")
    )
    return [rows.get(line.pk) for line in lines]


# ---------------------------------------------------------------- top-down allocation (LR5)


def test_plan_top_down_opens_a_new_code_whenever_the_balance_reaches_zero_LR5():
    lines = list(enumerate([D("100"), D("-100"), D("50"), D("-30"), D("-20"), D("7")], start=1))
    groups = plan_top_down(lines)
    assert [g.line_ids for g in groups] == [(1, 2), (3, 4, 5), (6,)]
    assert [g.difference for g in groups] == [0, 0, D("7")]
    assert running_balances(lines) == [D("100"), 0, D("50"), D("20"), 0, D("7")]


def test_the_users_order_decides_the_codes_LR5():
    amounts = [D("50"), D("-30"), D("-20"), D("100"), D("-100")]
    assert len(plan_top_down(list(enumerate(amounts)))) == 2
    reordered = [amounts[0], amounts[3], amounts[1], amounts[2], amounts[4]]
    assert len(plan_top_down(list(enumerate(reordered)))) == 1


@pytest.mark.django_db
def test_manual_reconcile_allocates_codes_top_down_LR5(company, member):
    books = make_books(company)
    a, b = books.post("100.00"), books.post("-100.00")
    c, d, e = books.post("50.00"), books.post("-30.00"), books.post("-20.00")
    created = services.reconciliation_create_manual(
        company=company, account=books.account, line_ids=[a.pk, b.pk, c.pk, d.pk, e.pk], actor=None
    )
    assert len(created) == 2
    first, second = created
    assert codes_of([a, b, c, d, e]) == [first.pk, first.pk, second.pk, second.pk, second.pk]
    assert first.code != second.code and first.reconciled_on == company.today()
    assert first.line_ids == [a.pk, b.pk] and second.line_ids == [c.pk, d.pk, e.pk]
    assert AuditEvent.objects.filter(company=company, action="reconciliation.create").count() == 2


@pytest.mark.django_db
def test_manual_difference_within_the_permitted_difference_is_written_off_LR4(company):
    books = make_books(company, permitted="0.10")
    a, b = books.post("20.00"), books.post("-19.90", on=date(2026, 2, 1))
    (rec,) = services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    assert rec.write_off_amount == D("-0.10")
    assert rec.line_ids[-1] == rec.write_off_line_id
    assert sum(line.amount for line in JournalLine.objects.filter(pk__in=rec.line_ids)) == 0


@pytest.mark.django_db
def test_manual_difference_beyond_the_limit_is_refused_without_write_off_discrepancy_LR5(company):
    books = make_books(company, permitted="0.10")
    a, b = books.post("20.00"), books.post("-19.89")
    with pytest.raises(OutsidePermittedDifferenceError, match="outside the permitted difference of 0.10") as caught:
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    assert caught.value.difference == D("0.11")
    assert not Reconciliation.objects.exists() and not ReconciledLine.objects.exists()
    assert not JournalEntry.objects.filter(source=JournalEntry.Source.WRITE_OFF).exists()


@pytest.mark.django_db
def test_write_off_discrepancy_reconciles_beyond_the_limit_after_the_warning_LR5(company):
    books = make_books(company, permitted="0.10")
    a, b = books.post("20.00"), books.post("-15.00")
    (rec,) = services.reconciliation_create_manual(
        company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None, write_off_discrepancy=True
    )
    entry = JournalEntry.objects.get(source=JournalEntry.Source.WRITE_OFF)
    assert JournalLine.objects.get(entry=entry, account=books.discrepancy).debit == D("5.00")
    assert rec.write_off_amount == D("-5.00")


# ---------------------------------------------------------------- delete (LR6)


@pytest.mark.django_db
def test_delete_reopens_the_lines_and_reverses_the_write_off_on_an_open_date_LR6(company, member):
    books = make_books(company, permitted="1.00")
    a, b = books.post("20.00", on=date(2025, 6, 1)), books.post("-19.50", on=date(2025, 6, 2))
    (rec,) = services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    write_off_line = JournalLine.objects.get(pk=rec.write_off_line_id)
    services.reconciliation_delete(reconciliation=rec, actor=None, reason="wrong pair")
    assert codes_of([a, b]) == [None, None]
    reversal = JournalEntry.objects.filter(source=JournalEntry.Source.WRITE_OFF).exclude(pk=write_off_line.entry_id).get()
    assert reversal.entry_date == company.today()
    assert sum(line.amount for line in reversal.lines.filter(account=books.account)) == -write_off_line.amount
    assert sum(line.amount for line in JournalLine.objects.filter(account=books.discrepancy)) == 0
    # the write-off line and its reversal settle each other, so neither clutters the open lines
    pair = Reconciliation.objects.get()
    assert write_off_line.pk in pair.line_ids and pair.basis == "reversal"
    assert AuditEvent.objects.filter(action="reconciliation.delete", reason="wrong pair").exists()


@pytest.mark.django_db
def test_delete_without_write_off_posts_nothing_LR6(company):
    books = make_books(company)
    a, b = books.post("20.00"), books.post("-20.00")
    (rec,) = services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    entries = JournalEntry.objects.count()
    services.reconciliation_delete(reconciliation=rec, actor=None)
    assert JournalEntry.objects.count() == entries and not Reconciliation.objects.exists()
    with pytest.raises(ReconciliationError, match="already deleted"):
        services.reconciliation_delete(reconciliation=rec, actor=None)


# ---------------------------------------------------------------- bad input


@pytest.mark.django_db
def test_lines_of_another_company_are_refused(company, other_company):
    books = make_books(company)
    theirs = make_books(other_company)
    a, b = books.post("5.00"), theirs.post("-5.00")
    with pytest.raises(ReconciliationError, match="not a journal line of"):
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    assert not ReconciledLine.objects.exists()


@pytest.mark.django_db
def test_lines_of_an_account_not_reconciled_here_are_refused_LR1(company):
    books = make_books(company)
    a = books.post("5.00")
    stranger = books.post("-5.00", account=AccountFactory(company=company, code="1300"))
    with pytest.raises(ReconciliationError, match="not reconciled here"):
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, stranger.pk], actor=None)
    books.account.reconcilable = False
    books.account.save()
    with pytest.raises(ReconciliationError, match="switched off"):
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, a.pk], actor=None)


@pytest.mark.django_db
def test_already_reconciled_lines_are_refused(company):
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    with pytest.raises(ReconciliationConflictError, match="already reconciled"):
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[b.pk, a.pk], actor=None)


@pytest.mark.django_db
def test_a_write_off_refused_by_the_posting_service_leaves_nothing_half_written(company, monkeypatch):
    """A write-off into a closed period: the posting service (and its books-closed guard) refuses;
    the reconciliation it belonged to is rolled back with it."""
    books = make_books(company, permitted="1.00")
    a, b = books.post("20.00"), books.post("-19.50")

    def refuse(**kwargs):
        raise LedgerError("The books are closed through 2026-12-31.")

    monkeypatch.setattr(services, "journal_entries_post", refuse)
    with pytest.raises(LedgerError, match="books are closed"):
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    assert not Reconciliation.objects.exists() and not ReconciledLine.objects.exists()


@pytest.mark.django_db
def test_a_selection_needs_two_lines(company):
    books = make_books(company)
    a = books.post("5.00")
    with pytest.raises(ReconciliationError, match="at least two"):
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk], actor=None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("permitted", "message"),
    [("-1.00", "cannot be negative"), ("0.001", "more than two decimal places")],
)
def test_settings_refuse_bad_permitted_differences_LR4(company, permitted, message):
    with pytest.raises(LedgerError, match=message):
        services.reconciliation_settings_save(
            company=company, actor=None, permitted_difference=permitted, discrepancy_account=None
        )


@pytest.mark.django_db
def test_settings_refuse_a_discrepancy_account_of_another_company_or_blocked_LR4(company, other_company):
    with pytest.raises(ReconciliationError, match="belong to this company"):
        services.reconciliation_settings_save(
            company=company, actor=None, permitted_difference="1", discrepancy_account=AccountFactory(company=other_company)
        )
    with pytest.raises(ReconciliationError, match="blocked"):
        services.reconciliation_settings_save(
            company=company,
            actor=None,
            permitted_difference="1",
            discrepancy_account=AccountFactory(company=company, blocked=True),
        )
    saved = services.reconciliation_settings_save(
        company=company, actor=None, permitted_difference="2.50", discrepancy_account=None
    )
    assert saved.permitted_difference == D("2.50")
    assert AuditEvent.objects.filter(company=company, action="reconciliation_settings.save").exists()


# ---------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True)
def test_two_users_reconciling_the_same_lines_one_wins_the_other_gets_a_clear_message():
    company = CompanyFactory()
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    first_in = threading.Event()
    outcome = {}

    def second_user():
        try:
            first_in.wait(10)
            services.reconciliation_create_manual(company=company, account=books.account, line_ids=[b.pk, a.pk], actor=None)
            outcome["second"] = "won"
        except ReconciliationConflictError as exc:
            outcome["second"] = exc.message
        finally:
            connections.close_all()

    thread = threading.Thread(target=second_user)
    thread.start()
    with transaction.atomic():
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
        first_in.set()
        # hold the first user's transaction open until the second user waits on the line's key
        with connection.cursor() as cursor:
            for _ in range(400):
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
                threading.Event().wait(0.05)
    thread.join(20)
    assert "reconciled" in outcome["second"] and "Nothing was saved" in outcome["second"]
    assert Reconciliation.objects.count() == 1 and ReconciledLine.objects.count() == 2


# ---------------------------------------------------------------- property


amounts = st.decimals(min_value=D("-999.99"), max_value=D("999.99"), places=2).filter(lambda x: x != 0)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(amounts, min_size=2, max_size=8), permitted=st.decimals(min_value=0, max_value=5, places=2))
def test_an_accepted_reconciliation_always_balances_after_write_off(db, values, permitted):
    """Property (LR4/LR5): whatever the amounts and their order, every code the service accepts sums to
    zero once its write-off line is counted, and a refused selection writes nothing."""
    company = CompanyFactory()
    books = make_books(company, permitted=str(permitted))
    lines = [books.post(value) for value in values]
    write_off = bool(values[0] > 0)  # half the runs confirm "Write off discrepancy"
    try:
        created = services.reconciliation_create_manual(
            company=company,
            account=books.account,
            line_ids=[line.pk for line in lines],
            actor=None,
            write_off_discrepancy=write_off,
        )
    except OutsidePermittedDifferenceError as exc:
        assert not write_off and abs(exc.difference) > permitted
        assert not Reconciliation.objects.filter(company=company).exists()
        return
    for rec in created:
        assert sum(line.amount for line in JournalLine.objects.filter(pk__in=rec.line_ids)) == 0
        assert ReconciledLine.objects.filter(reconciliation_id=rec.pk).count() == len(rec.line_ids)
    assert sorted(i for rec in created for i in rec.line_ids if i != rec.write_off_line_id) == sorted(x.pk for x in lines)


@pytest.mark.django_db
def test_a_blocked_account_reconciles_but_its_write_off_is_refused_clearly_LR2(company):
    books = make_books(company, permitted="1.00")
    a, b = books.post("20.00"), books.post("-20.00")
    c, d = books.post("30.00"), books.post("-29.50")
    books.account.blocked = True
    books.account.save()
    services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    with pytest.raises(LedgerError, match="blocked"):
        services.reconciliation_create_manual(company=company, account=books.account, line_ids=[c.pk, d.pk], actor=None)
    assert codes_of([c, d]) == [None, None]


@pytest.mark.django_db
def test_a_reconciled_entry_cannot_be_edited_or_deleted_until_its_reconciliation_is_deleted_LR6(company):
    from ledger import services as ledger_services

    books = make_books(company)
    a, b = books.post("100.00"), books.post("-100.00")
    (rec,) = services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    entry = a.entry
    lines = [ledger_services.LineInput(line.account, debit=line.debit, credit=line.credit) for line in entry.lines.all()]
    with pytest.raises(LedgerError, match=f"JE-{entry.pk} cannot be changed or deleted: its lines are in use"):
        ledger_services.journal_entry_update(entry=entry, entry_date=entry.entry_date, lines=lines, actor=None, memo="edited")
    with pytest.raises(LedgerError, match="in use"):
        ledger_services.journal_entry_delete(entry=entry, actor=None)
    assert ReconciledLine.objects.filter(reconciliation=rec).count() == 2  # the code still holds both lines
    services.reconciliation_delete(reconciliation=rec, actor=None)
    ledger_services.journal_entry_delete(entry=JournalEntry.objects.get(pk=entry.pk), actor=None)
    assert not JournalEntry.objects.filter(pk=entry.pk).exists()
