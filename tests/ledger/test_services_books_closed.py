"""The books-closed setting: switch (BC1), date (BC2, BC3), toggle (BC6), pull (BC8), entities (BC9), audit (PC6)."""

from datetime import UTC as utc
from datetime import date, datetime, timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction

from ledger import services
from ledger.exceptions import BooksClosedSettingError, LedgerError, PermissionRefusedError
from ledger.guard import closed_date_for
from ledger.models import AuditEvent, BooksClosedSetting, Role
from tests.factories import CompanyFactory, LedgerEntityFactory

pytestmark = pytest.mark.django_db


def setting_of(company, entity=None):
    return BooksClosedSetting.objects.get(company=company, entity=entity)


def test_administrator_enables_closed_books_and_sets_the_date_BC1_BC2(company, member):
    admin = member(company, Role.ADMINISTRATOR)
    services.books_closed_enable(company=company, actor=admin, enabled=True)
    services.books_closed_date_set(company=company, actor=admin, closed_date=date(2026, 1, 31))
    setting = setting_of(company)
    assert setting.enabled and setting.closed_date == date(2026, 1, 31)
    assert setting.source == BooksClosedSetting.Source.MANUAL and setting.source_name == admin.username
    assert closed_date_for(company) == (date(2026, 1, 31), False)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ACCOUNTANT, Role.VIEWER])
def test_only_an_administrator_turns_closed_books_on_BC1(company, member, role):
    with pytest.raises(PermissionRefusedError, match="Only an administrator can turn closed books on or off"):
        services.books_closed_enable(company=company, actor=member(company, role), enabled=True)
    assert not BooksClosedSetting.objects.exists() and not AuditEvent.objects.filter(action__startswith="books_closed").exists()


@pytest.mark.parametrize(("role", "allowed"), [(Role.MANAGER, True), (Role.ACCOUNTANT, False), (Role.VIEWER, False)])
def test_administrator_or_manager_sets_the_date_BC2(company, member, role, allowed):
    actor = member(company, role)
    if allowed:
        services.books_closed_date_set(company=company, actor=actor, closed_date=date(2026, 1, 31))
        assert setting_of(company).closed_date == date(2026, 1, 31)
    else:
        with pytest.raises(PermissionRefusedError, match="administrator or a manager"):
            services.books_closed_date_set(company=company, actor=actor, closed_date=date(2026, 1, 31))


def test_a_member_of_another_company_cannot_change_it(company, other_company, member):
    outsider = member(other_company, Role.ADMINISTRATOR)
    with pytest.raises(PermissionRefusedError):
        services.books_closed_enable(company=company, actor=outsider, enabled=True)


def test_future_date_is_refused_in_the_company_time_zone_BC2(member):
    # 23:30 UTC on 31 March is already 1 April in Auckland, still 31 March in Los Angeles.
    instant = datetime(2026, 3, 31, 23, 30, tzinfo=utc)
    auckland = CompanyFactory(time_zone="Pacific/Auckland")
    la = CompanyFactory(time_zone="America/Los_Angeles")
    with mock.patch("django.utils.timezone.now", return_value=instant):
        services.books_closed_date_set(company=auckland, actor=None, closed_date=date(2026, 4, 1))
        with pytest.raises(BooksClosedSettingError, match=r"today \(2026-03-31 in America/Los_Angeles\) or earlier"):
            services.books_closed_date_set(company=la, actor=None, closed_date=date(2026, 4, 1))
    assert setting_of(auckland).closed_date == date(2026, 4, 1)
    assert not BooksClosedSetting.objects.filter(company=la, closed_date__isnull=False).exists()


def test_moving_the_date_earlier_needs_a_reason_and_is_audited_BC3_PC6(company, member):
    admin = member(company, Role.ADMINISTRATOR)
    services.books_closed_date_set(company=company, actor=admin, closed_date=date(2026, 2, 28))
    with pytest.raises(BooksClosedSettingError, match="reopens days: give a reason") as exc:
        services.books_closed_date_set(company=company, actor=admin, closed_date=date(2026, 1, 31))
    assert exc.value.field == "reason"
    assert setting_of(company).closed_date == date(2026, 2, 28)
    services.books_closed_date_set(company=company, actor=admin, closed_date=date(2026, 1, 31), reason="Late supplier bill")
    event = AuditEvent.objects.get(action="books_closed.reopen")
    assert event.actor == admin and event.reason == "Late supplier bill"
    assert event.before["closed_date"] == "2026-02-28" and event.after["closed_date"] == "2026-01-31"


def test_moving_the_date_later_needs_no_reason(company):
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 1, 31))
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 2, 28))
    assert setting_of(company).closed_date == date(2026, 2, 28)


def test_date_never_moves_before_a_closed_period_BC3_PC5(company):
    services.books_closed_lock_through(company=company, actor=None, through=date(2026, 1, 31))
    services.books_closed_close_through(company=company, actor=None, through=date(2026, 1, 31))
    with pytest.raises(BooksClosedSettingError, match="closed for good through 2026-01-31"):
        services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 1, 15), reason="oops")
    assert setting_of(company).closed_date == date(2026, 1, 31)


def test_unchanged_setting_writes_no_audit_row(company):
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 1, 31))
    count = AuditEvent.objects.count()
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 1, 31))
    assert AuditEvent.objects.count() == count


@pytest.mark.parametrize("bad", ["2026-01-31", "31/01/2026", datetime(2026, 1, 31, tzinfo=utc), 20260131])
def test_malformed_date_is_refused(company, bad):
    with pytest.raises(BooksClosedSettingError, match="is not a date"):
        services.books_closed_date_set(company=company, actor=None, closed_date=bad)


def test_restrict_inbound_toggle_is_for_administrators_BC6(company, member):
    with pytest.raises(PermissionRefusedError, match="Only an administrator"):
        services.books_closed_restrict_inbound_set(company=company, actor=member(company, Role.MANAGER), restrict_inbound=True)
    services.books_closed_restrict_inbound_set(company=company, actor=member(company, Role.ADMINISTRATOR), restrict_inbound=True)
    assert setting_of(company).restrict_inbound


# ---------------------------------------------------------------- pull (BC8)


def test_later_pulled_date_moves_ours_forward_BC8(company):
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 1, 31))
    setting = services.books_closed_date_pull(company=company, pulled_date=date(2026, 2, 28), source="xero")
    assert setting.closed_date == date(2026, 2, 28) and not setting.mismatch
    assert setting.source == BooksClosedSetting.Source.INTEGRATION and setting.source_name == "xero"
    assert setting.source_at is not None and setting.pulled_at is not None
    assert AuditEvent.objects.filter(action="books_closed.pull_forward").count() == 1


def test_earlier_pulled_date_never_reopens_and_shows_a_mismatch_BC8(company):
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 2, 28))
    setting = services.books_closed_date_pull(company=company, pulled_date=date(2026, 1, 31), source="quickbooks_online")
    assert setting.closed_date == date(2026, 2, 28) and setting.pulled_date == date(2026, 1, 31) and setting.mismatch
    assert AuditEvent.objects.filter(action="books_closed.pull_mismatch").count() == 1
    # pulling the same date again changes nothing
    services.books_closed_date_pull(company=company, pulled_date=date(2026, 1, 31), source="quickbooks_online")
    assert AuditEvent.objects.filter(action__startswith="books_closed.pull").count() == 1


def test_future_pulled_date_is_recorded_but_not_applied_BC2_BC8(company):
    future = company.today() + timedelta(days=3)
    setting = services.books_closed_date_pull(company=company, pulled_date=future, source="netsuite")
    assert setting.closed_date is None and setting.pulled_date == future and setting.mismatch


def test_pulled_garbage_is_refused(company):
    with pytest.raises(BooksClosedSettingError, match="not a date"):
        services.books_closed_date_pull(company=company, pulled_date="2026-01-31", source="xero")


# ---------------------------------------------------------------- entities (BC9)


def test_each_entity_keeps_its_own_date_BC9(company):
    east = LedgerEntityFactory(company=company, key="EAST")
    west = LedgerEntityFactory(company=company, key="WEST")
    services.books_closed_enable(company=company, actor=None, enabled=True)
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 1, 31))
    services.books_closed_date_pull(company=company, entity=east, pulled_date=date(2026, 3, 31), source="sage_intacct")
    assert closed_date_for(company, east)[0] == date(2026, 3, 31)
    assert closed_date_for(company, west)[0] == date(2026, 1, 31)  # falls back to the company's date
    assert closed_date_for(company)[0] == date(2026, 1, 31)
    with transaction.atomic():  # the posting path: lock and read in one round trip, same answers
        assert closed_date_for(company, east, lock=True) == (date(2026, 3, 31), False)
        assert closed_date_for(company, west, lock=True) == (date(2026, 1, 31), False)
        assert closed_date_for(company, lock=True) == (date(2026, 1, 31), False)


def test_unknown_entity_is_a_clear_error(company):
    with pytest.raises(LedgerError, match="Unknown entity “NOPE”"):
        services.ledger_entity_get(company=company, key="NOPE")


def test_entity_of_another_company_is_refused(company, other_company):
    with pytest.raises(LedgerError, match="belongs to another company"):
        services.books_closed_date_set(
            company=company, actor=None, closed_date=date(2026, 1, 1), entity=LedgerEntityFactory(company=other_company)
        )


# ---------------------------------------------------------------- append-only audit (PC6)


def test_audit_trail_refuses_update_and_delete_in_the_database_PC6(company):
    services.books_closed_date_set(company=company, actor=None, closed_date=date(2026, 1, 31))
    event = AuditEvent.objects.filter(action="books_closed.update").get()
    for statement in ("UPDATE ledger_auditevent SET reason = 'x' WHERE id = %s", "DELETE FROM ledger_auditevent WHERE id = %s"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    event.refresh_from_db()
    assert event.reason == ""
