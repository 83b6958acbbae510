import pytest
from django.core.management import call_command

from ledger.models import Account, AuditEvent, Company, Customer, JournalEntry, JournalLine, Membership, Vendor

pytestmark = pytest.mark.django_db

MODELS = [Company, Account, Customer, Vendor, JournalEntry, JournalLine, Membership, AuditEvent]


def counts():
    return {m.__name__: m.objects.count() for m in MODELS}


def test_seed_demo_builds_a_year_of_books_and_is_idempotent(capsys):
    call_command("seed_demo", "--entries-per-month", "40")
    first = counts()
    out = capsys.readouterr().out
    assert "demo / closebooks-demo" in out
    assert first["Account"] >= 60 and first["Customer"] >= 10 and first["Vendor"] >= 10
    company = Company.objects.get(slug="demo")
    months = {d.strftime("%Y-%m") for d in JournalEntry.objects.filter(company=company).values_list("entry_date", flat=True)}
    assert len(months) >= 12
    assert JournalEntry.objects.filter(company=company, is_balanced=False).count() >= 2  # for the close wizard (PC2)
    assert Account.objects.filter(company=company, blocked=True).exists()

    call_command("seed_demo", "--entries-per-month", "40")
    assert counts() == first
    assert "nothing changed" in capsys.readouterr().out
