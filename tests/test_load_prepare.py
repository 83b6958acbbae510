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


def test_load_close_adds_last_months_checklist_and_an_api_key(client):
    """The load scenario's checklist pages and API date check (issue 20) have their rows and key."""
    from closebooks.api.models import ApiKey
    from closebooks.checklist.models import Checklist

    session = prepare(sessions=1)["sessions"][0]
    out = StringIO()
    call_command("load_prepare_close", slug="load-test", stdout=out)
    info = json.loads(out.getvalue().strip().splitlines()[-1])
    company = Company.objects.get(slug="load-test")
    assert Checklist.objects.get(company=company).key == info["checklist_period"]
    client.cookies["sessionid"] = session
    page = client.get(reverse("checklist:task", args=["load-test", info["checklist_period"], info["task_id"]]))
    assert page.status_code == 200
    answer = client.get(
        f"/api/v1/companies/load-test/books-closed/check?date={info['checklist_period']}-15",
        HTTP_AUTHORIZATION=f"Bearer {info['api_key']}",
    )
    assert answer.status_code == 200 and "open" in answer.json()

    again = StringIO()
    call_command("load_prepare_close", slug="load-test", stdout=again)
    assert Checklist.objects.filter(company=company).count() == 1
    assert ApiKey.objects.filter(company=company, name="load", revoked_at__isnull=True).count() == 1
