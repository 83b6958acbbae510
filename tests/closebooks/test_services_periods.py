"""Period transitions (PC1, PC4, PC5, PC6) and their effect on the books-closed date (BC3)."""

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from closebooks import selectors
from closebooks.exceptions import PeriodError
from closebooks.models import Period
from closebooks.services import period_close, period_lock, period_lock_blockers, period_unlock
from ledger import services
from ledger.exceptions import BooksClosedError, BooksClosedSettingError, PermissionRefusedError
from ledger.models import Account, AuditEvent, BooksClosedSetting, Role
from tests.factories import AccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def setup(company, member, connected):
    cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
    sales = AccountFactory(company=company, code="3000", type=Account.Type.EQUITY)

    def post(day, amount="100.00", source="manual", credit=None):
        return services.journal_entry_create(
            company=company,
            entry_date=day,
            actor=None,
            source=source,
            lines=[services.LineInput(cash, debit=amount), services.LineInput(sales, credit=credit or amount)],
        )

    for month in (2, 3, 4):
        post(date(2026, month, 5))
    return {
        "post": post,
        "admin": member(company, Role.ADMINISTRATOR),
        "manager": member(company, Role.MANAGER),
        "accountant": member(company, Role.ACCOUNTANT),
        "viewer": member(company, Role.VIEWER),
    }


def period(company, key):
    return selectors.period_get(company, key)


def setting(company):
    return BooksClosedSetting.objects.get(company=company, entity__isnull=True)


def test_lock_moves_the_books_closed_date_to_the_last_day_and_turns_closed_books_on_PC4(company, setup, lock):
    locked = lock(period(company, "2026-02"), setup["manager"])
    assert locked.state == Period.State.LOCKED and locked.locked_by == setup["manager"]
    s = setting(company)
    assert s.enabled and s.closed_date == date(2026, 2, 28)
    with pytest.raises(BooksClosedError):
        setup["post"](date(2026, 2, 20))
    event = AuditEvent.objects.get(action="period.lock")
    assert event.before["state"] == "open" and event.after["state"] == "locked" and event.actor == setup["manager"]


def test_lock_twice_is_a_no_op(company, setup, lock):
    lock(period(company, "2026-02"), setup["manager"])
    lock(period(company, "2026-02"), setup["manager"])
    assert AuditEvent.objects.filter(action="period.lock").count() == 1


def test_periods_lock_in_date_order_PC4(company, setup, lock):
    with pytest.raises(PeriodError, match="Lock February 2026 first"):
        lock(period(company, "2026-03"), setup["manager"])
    assert not Period.objects.exists()


def test_unbalanced_entries_block_the_lock_PC2(company, setup, lock, sync_period):
    setup["post"](date(2026, 2, 9), source="import", credit="99.00")
    sync_period(period(company, "2026-02"))
    # the balanced entry synced; the unbalanced one cannot be, and is the one to fix
    assert [b.code for b in period_lock_blockers(period(company, "2026-02"))] == ["unbalanced", "unsynced"]
    with pytest.raises(PeriodError, match="1 unbalanced journal entries"):
        lock(period(company, "2026-02"), setup["manager"])
    assert period(company, "2026-02").state == Period.State.OPEN
    assert not BooksClosedSetting.objects.filter(company=company, enabled=True).exists()


def test_lines_unbalanced_behind_the_services_block_the_lock_and_show_in_review_PC2(company, setup, sync_period, client):
    """Raw SQL, QuerySet.update and bulk_create skip the posting service; the line triggers still
    flag the entry, so Review lists it and Lock refuses without any refresh first."""
    from django.urls import reverse

    from ledger.models import JournalLine

    feb = period(company, "2026-02")
    sync_period(feb)
    entry = JournalLine.objects.filter(entry_date=date(2026, 2, 5)).first().entry
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_journalline SET debit = debit + 1 WHERE entry_id = %s AND debit > 0", [entry.pk])
    assert [b.code for b in period_lock_blockers(feb)] == ["unbalanced"]
    with pytest.raises(PeriodError, match="1 unbalanced journal entries"):
        period_lock(period=feb, actor=setup["manager"])
    client.force_login(setup["viewer"])
    review = client.get(reverse("close:review", kwargs={"slug": company.slug, "period": "2026-02"}))
    assert [e.pk for e in review.context["flagged"]] == [entry.pk]
    cash = {r.account.code: r.debit for r in review.context["trial_balance"]}["1000"]
    assert cash == sum(JournalLine.objects.filter(entry_date__month=2, account__code="1000").values_list("debit", flat=True))
    # a QuerySet.update puts it right: the flag clears and Lock goes through
    JournalLine.objects.filter(entry=entry, debit__gt=0).update(debit=F("debit") - 1)
    assert period_lock_blockers(feb) == []
    assert period_lock(period=feb, actor=setup["manager"]).state == Period.State.LOCKED


def test_the_current_month_cannot_lock_before_it_ends(company, setup, lock, sync_period):
    for key in ("2026-02", "2026-03", "2026-04"):
        lock(period(company, key), setup["manager"])
    sync_period(period(company, "2026-05"))
    blockers = period_lock_blockers(period(company, "2026-05"))
    assert [b.code for b in blockers] == ["not_ended"] and "2026-06-01" in blockers[0].message


def test_lock_needs_a_connection_mapped_accounts_and_every_entry_synced_PC2_PC4(company, member, connected, sync_period):
    from integrations.models import AccountMapping, Connection

    cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
    novel = AccountFactory(company=company, code="1990", type=Account.Type.ASSET)  # not in the vendor's chart
    services.journal_entry_create(
        company=company,
        entry_date=date(2026, 2, 3),
        actor=None,
        lines=[services.LineInput(cash, debit="5"), services.LineInput(novel, credit="5")],
    )
    assert not AccountMapping.objects.filter(account=novel).exists()
    feb = period(company, "2026-02")
    codes = [b.code for b in period_lock_blockers(feb)]
    assert codes == ["unmapped", "unsynced"]
    Connection.objects.filter(pk=connected.pk).update(status=Connection.Status.DISCONNECTED)
    assert [b.code for b in period_lock_blockers(feb)] == ["connection"]


@pytest.mark.parametrize(
    ("role", "may_lock", "may_unlock", "may_close"),
    [
        ("viewer", False, False, False),
        ("accountant", False, False, False),
        ("manager", True, False, False),
        ("admin", True, True, True),
    ],
)
def test_each_role_may_take_only_its_steps(company, setup, sync_period, role, may_lock, may_unlock, may_close):
    user = setup[role]
    feb = period(company, "2026-02")
    sync_period(feb)
    if may_lock:
        period_lock(period=feb, actor=user)
    else:
        with pytest.raises(PermissionRefusedError, match="Only an administrator or a manager can lock"):
            period_lock(period=feb, actor=user)
        period_lock(period=feb, actor=setup["admin"])
    feb = period(company, "2026-02")
    if may_close:
        assert period_close(period=feb, actor=user, confirm_name="February 2026").state == "closed"
        return
    with pytest.raises(PermissionRefusedError, match="Only an administrator can close"):
        period_close(period=feb, actor=user, confirm_name="February 2026")
    if not may_unlock:
        with pytest.raises(PermissionRefusedError, match="Only an administrator can unlock"):
            period_unlock(period=feb, actor=user, reason="x")


def test_unlock_needs_a_reason_and_restores_the_date_PC5(company, setup, lock):
    services.books_closed_update(company=company, actor=setup["admin"], enabled=True, closed_date=date(2026, 1, 31))
    lock(period(company, "2026-02"), setup["manager"])
    with pytest.raises(PeriodError, match="Say why"):
        period_unlock(period=period(company, "2026-02"), actor=setup["admin"], reason="  ")
    period_unlock(period=period(company, "2026-02"), actor=setup["admin"], reason="missed an accrual")
    assert period(company, "2026-02").state == Period.State.OPEN
    assert setting(company).closed_date == date(2026, 1, 31)
    setup["post"](date(2026, 2, 20))  # the month is open again
    assert AuditEvent.objects.get(action="period.unlock").reason == "missed an accrual"


def test_unlock_goes_from_the_latest_back(company, setup, lock):
    lock(period(company, "2026-02"), setup["manager"])
    lock(period(company, "2026-03"), setup["manager"])
    with pytest.raises(PeriodError, match="Unlock March 2026 first"):
        period_unlock(period=period(company, "2026-02"), actor=setup["admin"], reason="x")


def test_close_needs_the_lock_the_typed_name_and_date_order(company, setup, lock):
    with pytest.raises(PeriodError, match="Lock February 2026 before closing"):
        period_close(period=period(company, "2026-02"), actor=setup["admin"], confirm_name="February 2026")
    lock(period(company, "2026-02"), setup["manager"])
    lock(period(company, "2026-03"), setup["manager"])
    with pytest.raises(PeriodError, match="Type the period's name"):
        period_close(period=period(company, "2026-02"), actor=setup["admin"], confirm_name="February")
    with pytest.raises(PeriodError, match="Close February 2026 first"):
        period_close(period=period(company, "2026-03"), actor=setup["admin"], confirm_name="March 2026")
    closed = period_close(period=period(company, "2026-02"), actor=setup["admin"], confirm_name="february 2026")
    assert closed.state == Period.State.CLOSED and closed.closed_by == setup["admin"]
    assert setting(company).closed_through == date(2026, 2, 28)


def test_a_closed_period_never_reopens_by_any_path_PC5_BC3(company, setup, lock):
    lock(period(company, "2026-02"), setup["manager"])
    period_close(period=period(company, "2026-02"), actor=setup["admin"], confirm_name="February 2026")
    feb = period(company, "2026-02")
    with pytest.raises(PeriodError, match="never be reopened"):
        period_unlock(period=feb, actor=setup["admin"], reason="please")
    with pytest.raises(PeriodError, match="never be reopened"):
        period_lock(period=feb, actor=setup["admin"])
    with pytest.raises(BooksClosedSettingError, match="closed for good through 2026-02-28"):
        services.books_closed_update(company=company, actor=setup["admin"], closed_date=date(2026, 2, 1), reason="reopen")
    assert period(company, "2026-02").state == Period.State.CLOSED
    assert setting(company).closed_date == date(2026, 2, 28)


def test_the_database_refuses_reopening_a_closed_period_PC5(company, setup, lock):
    lock(period(company, "2026-02"), setup["manager"])
    period_close(period=period(company, "2026-02"), actor=setup["admin"], confirm_name="February 2026")
    for sql in ("UPDATE closebooks_period SET state = 'open'", "DELETE FROM closebooks_period"):
        with pytest.raises(IntegrityError, match="closed period"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert Period.objects.get().state == Period.State.CLOSED


def test_a_failing_month_end_check_blocks_the_lock_until_an_administrator_accepts_it(company, setup, lock, sync_period):
    from closebooks.month_end.services import check_acceptance_create

    revenue = AccountFactory(company=company, code="4000", type=Account.Type.REVENUE)
    cash = AccountFactory(company=company, code="1000")
    services.journal_entry_create(
        company=company,
        entry_date=date(2026, 2, 12),
        actor=None,
        memo="cash sale, no invoice",
        lines=[services.LineInput(cash, debit="250.00"), services.LineInput(revenue, credit="250.00")],
    )
    feb = period(company, "2026-02")
    sync_period(feb)
    assert [b.code for b in period_lock_blockers(feb)] == ["checks"]
    with pytest.raises(PeriodError, match=r"Month-end checks fail \(MR1\)"):
        period_lock(period=feb, actor=setup["manager"])
    check_acceptance_create(
        company=company,
        rule="MR1",
        first_day=feb.first_day,
        last_day=feb.last_day,
        reason="cash sale booked by hand; invoice follows in March",
        actor=setup["admin"],
    )
    assert lock(period(company, "2026-02"), setup["manager"]).state == Period.State.LOCKED
