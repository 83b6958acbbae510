"""No race between moving the books-closed date and posting (issue item 5).

Each round, one thread moves the date forward to day D while another posts an entry dated D,
both on their own PostgreSQL connection, released together by a barrier. The date change runs
in a transaction that, after moving the date and before committing, lists the lines dated D it
can see. A line dated D that exists afterwards but was not visible then committed after the
day was closed: a posting inside a closed period. Posting takes the company row FOR SHARE and
the date change UPDATEs it, so there must be none."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from ledger import services
from ledger.exceptions import BooksClosedError
from ledger.models import Account, BooksClosedSetting, JournalLine
from tests.factories import AccountFactory, CompanyFactory

ROUNDS = 200


@pytest.mark.django_db(transaction=True)
def test_moving_the_date_and_posting_never_lets_a_line_into_a_closed_day():
    company = CompanyFactory()
    debit = AccountFactory(company=company, type=Account.Type.EXPENSE)
    credit = AccountFactory(company=company, type=Account.Type.LIABILITY)
    first_day = company.today() - timedelta(days=ROUNDS + 10)
    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=first_day - timedelta(days=1))

    barrier = threading.Barrier(2, timeout=60)
    seen_at_close: dict[int, set[int]] = {}
    posted: dict[int, str] = {}
    errors: list[BaseException] = []

    def closer():
        try:
            for i in range(ROUNDS):
                day = first_day + timedelta(days=i)
                barrier.wait()
                with transaction.atomic():
                    services.books_closed_date_set(company=company, actor=None, closed_date=day)
                    seen_at_close[i] = set(
                        JournalLine.objects.filter(company=company, entry_date=day).values_list("id", flat=True)
                    )
                barrier.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    def poster():
        try:
            for i in range(ROUNDS):
                day = first_day + timedelta(days=i)
                barrier.wait()
                try:
                    services.journal_entry_create(
                        company=company,
                        entry_date=day,
                        actor=None,
                        memo=f"race {i}",
                        lines=[services.LineInput(debit, debit="1.00"), services.LineInput(credit, credit="1.00")],
                    )
                    posted[i] = "posted"
                except BooksClosedError:
                    posted[i] = "refused"
                barrier.wait()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=closer), threading.Thread(target=poster)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert len(seen_at_close) == ROUNDS and len(posted) == ROUNDS

    late = []
    for i in range(ROUNDS):
        day = first_day + timedelta(days=i)
        lines = set(JournalLine.objects.filter(company=company, entry_date=day).values_list("id", flat=True))
        if lines - seen_at_close[i]:
            late.append((day, posted[i]))
    assert late == [], f"lines committed into an already-closed day: {late}"
    # Every round ended one way or the other, and the date ends where the last round put it.
    assert set(posted.values()) <= {"posted", "refused"}
    assert BooksClosedSetting.objects.get(company=company, entity__isnull=True).closed_date == first_day + timedelta(
        days=ROUNDS - 1
    )
