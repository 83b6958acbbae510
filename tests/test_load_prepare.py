"""``manage.py load_prepare`` (issue 9): the load company is real books -- balanced entries
loaded by COPY, documents posted through the services -- it is kept between runs, and its
sessions sign the load users in."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse

from ledger.models import Company, Document, JournalEntry, JournalLine

pytestmark = pytest.mark.django_db(transaction=True)


def prepare(**options) -> dict:
    out = StringIO()
    call_command("load_prepare", slug="load-test", lines=400, invoices_per_month=3, stdout=out, stderr=StringIO(), **options)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_load_company_balances_and_is_kept_between_runs(client):
    first = prepare(sessions=2)
    company = Company.objects.get(slug="load-test")
    assert first["journal_lines"] == JournalLine.objects.filter(company=company).count() >= 400
    totals = JournalLine.objects.filter(company=company).aggregate(d=Sum("debit"), c=Sum("credit"))
    assert totals["d"] == totals["c"]
    assert not JournalEntry.objects.filter(company=company, is_balanced=False).exists()
    assert Document.objects.filter(company=company, kind=Document.Kind.INVOICE).exists()

    again = prepare()
    assert again["journal_lines"] == first["journal_lines"]  # nothing loaded twice
    assert Company.objects.filter(slug="load-test").count() == 1

    client.cookies["sessionid"] = first["sessions"][0]
    response = client.get(reverse("ledger:journal", args=["load-test"]))
    assert response.status_code == 200 and "JE-" in response.content.decode()
