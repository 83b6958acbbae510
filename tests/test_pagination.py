"""Lists on a company with a million journal lines (issue 9): the paginator counts a bounded
number of rows, and each page costs the same number of queries however many rows there are."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common import pagination
from common.pagination import CappedPaginator
from ledger import services
from ledger.models import Account, JournalEntry, Role
from tests import factories
from tests.reconciliation.factories import make_books

pytestmark = pytest.mark.django_db


def _entries(company, n, *, debit=None, credit=None):
    debit = debit or factories.AccountFactory(company=company, type=Account.Type.EXPENSE)
    credit = credit or factories.AccountFactory(company=company, type=Account.Type.LIABILITY)
    for i in range(n):
        services.journal_entry_create(
            company=company,
            entry_date=date(2026, 1, 1 + i % 28),
            actor=None,
            lines=[
                services.LineInput(debit, debit=Decimal("10.00") + i),
                services.LineInput(credit, credit=Decimal("10.00") + i),
            ],
        )


def test_count_stops_a_bounded_distance_past_the_requested_page(company):
    _entries(company, 30)
    rows = JournalEntry.objects.filter(company=company).order_by("id")
    with CaptureQueriesContext(connection) as ctx:
        first = CappedPaginator(rows, 5, cap=10).get_page(1)
    assert first.paginator.capped and first.paginator.count == 16  # 5 shown + 10 looked ahead + 1
    assert first.has_next() and len(first) == 5
    assert "LIMIT 16" in ctx.captured_queries[0]["sql"]

    last = CappedPaginator(rows, 5, cap=10).get_page(6)
    assert not last.paginator.capped and last.paginator.count == 30 and last.paginator.num_pages == 6
    assert [e.pk for e in last] == [e.pk for e in rows[25:30]]


def test_an_absurdly_deep_page_number_shows_the_last_page_instead_of_failing(company):
    """?page=10**30 used to overflow PostgreSQL's bigint LIMIT (a 500); the user gets the last page."""
    _entries(company, 12)
    rows = JournalEntry.objects.filter(company=company).order_by("id")
    page = CappedPaginator(rows, 5, cap=10).get_page(str(10**30))
    assert page.number == 3 and [e.pk for e in page] == [e.pk for e in rows[10:12]]


def test_next_reaches_every_row_even_past_the_cap(company):
    _entries(company, 23)
    rows = JournalEntry.objects.filter(company=company).order_by("id")
    seen, number = [], 1
    while True:
        page = CappedPaginator(rows, 5, cap=5).get_page(number)
        seen += [e.pk for e in page]
        if not page.has_next():
            break
        number = page.next_page_number()
    assert seen == list(rows.values_list("pk", flat=True))


def test_the_journal_says_more_than_n_rows_instead_of_counting_them_all(client, company, monkeypatch):
    monkeypatch.setattr(pagination, "CAP", 10)
    _entries(company, 70)
    client.force_login(factories.member(company, Role.VIEWER))
    body = client.get(reverse("ledger:journal", args=[company.slug])).content.decode()
    assert "more than 60 rows" in body and "Last »" not in body and "Next ›" in body
    body = client.get(reverse("ledger:journal", args=[company.slug]) + "?page=2").content.decode()
    assert "Page 2 of 2 · 70 rows" in body and "JE-" in body


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "page",
    ["home", "ledger:dashboard", "ledger:journal", "reconciliation:journal", "ledger:invoices", "ledger:payments"],
)
def test_pages_cost_the_same_queries_for_few_and_many_entries(client, company, page):
    """No query per row: 3 entries or 58 (more than a page of 50) cost the same number of queries."""
    books = make_books(company)
    user = factories.member(company, Role.ADMINISTRATOR)
    client.force_login(user)
    url = reverse(page) if page == "home" else reverse(page, args=[company.slug])
    for n in range(3):
        books.post(10 + n)
        factories.document(company, number=f"INV-{n}")
        factories.payment(company)
    few = _queries(client, url)
    for n in range(55):
        books.post(100 + n)
        factories.document(company, number=f"INV-M{n}")
        factories.payment(company)
    assert _queries(client, url) == few


def test_the_reconcile_page_costs_the_same_queries_for_few_and_many_open_lines(client, company):
    books = make_books(company)
    client.force_login(factories.member(company, Role.ADMINISTRATOR))
    url = reverse("reconciliation:reconcile", args=[company.slug, books.account.pk])
    for n in range(3):
        books.post(10 + n)
    few = _queries(client, url)
    for n in range(205):  # more than a page of 200
        books.post(100 + n, ref=f"R{n % 7}")
    assert _queries(client, url) == few
