"""Inbound transactions (IN6, BC6): invoices, bills and payments made in the accounting system
become inbound journal entries once; every refusal is a row on the run, never dropped."""

from datetime import date
from decimal import Decimal

import pytest

from integrations import selectors, services
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import InboundRecord, SyncRun
from ledger.models import Account, JournalEntry

pytestmark = pytest.mark.django_db
D = Decimal


def make_sales(fake, *, number="INV-1", txn_date=date(2026, 3, 3)):
    if isinstance(fake, FakeQuickBooksOnline):
        fake.add_invoice(number=number, txn_date=txn_date, customer="Acme", lines=[("4020", D("500.00"))], tax=D("40.00"))
        fake.add_bill(number="B-1", txn_date=txn_date, vendor="AWS", lines=[("5010", D("120.50"))])
        fake.add_payment(txn_date=txn_date, customer="Acme", amount=D("540.00"))
    else:
        invoice = fake.add_invoice(
            kind="ACCREC", number=number, txn_date=txn_date, contact="Acme", lines=[("4020", D("500.00"))], tax=D("40.00")
        )
        fake.add_invoice(kind="ACCPAY", number="B-1", txn_date=txn_date, contact="AWS", lines=[("5010", D("120.50"))])
        fake.add_payment(invoice=invoice, txn_date=txn_date, amount=D("540.00"))


def lines_of(entry):
    return sorted((line.account.code, line.debit, line.credit) for line in entry.lines.all())


def test_invoices_bills_and_payments_become_inbound_entries_once(company, connected, fake):
    make_sales(fake)
    run = services.inbound_pull(connection=connected)
    assert run.kind == SyncRun.Kind.INBOUND and run.status == SyncRun.Status.SUCCEEDED and run.done == 3
    entries = {
        e.reference.split(":")[1]: e
        for e in JournalEntry.objects.filter(company=company, source=JournalEntry.Source.INBOUND_SYNC)
    }
    assert lines_of(entries["invoice"]) == [
        ("1100", D("540.00"), D("0.00")),
        ("2300", D("0.00"), D("40.00")),
        ("4020", D("0.00"), D("500.00")),
    ]
    assert lines_of(entries["bill"]) == [("2000", D("0.00"), D("120.50")), ("5010", D("120.50"), D("0.00"))]
    payment = lines_of(entries["payment"])
    assert ("1100", D("0.00"), D("540.00")) in payment and all(e.is_balanced for e in entries.values())
    # pulled again: nothing new, nothing twice; and inbound entries are never pushed back
    again = services.inbound_pull(connection=connected)
    assert again.total == 0 and JournalEntry.objects.filter(source=JournalEntry.Source.INBOUND_SYNC).count() == 3
    assert not selectors.entries_needing_sync(company).exists()


def test_a_transaction_on_an_unmapped_account_is_a_row_on_the_run_and_retried_later(company, connected, fake):
    make_sales(fake)
    rent = Account.objects.get(company=company, code="5010")
    services.mappings_save(connection=connected, choices={rent.pk: None}, actor=None)
    run = services.inbound_pull(connection=connected)
    assert (run.done, run.failed) == (2, 1) and run.status == SyncRun.Status.PARTIAL
    issue = run.issues.get()
    assert issue.code == "inbound_rejected" and "5010" in issue.message
    assert InboundRecord.objects.get(kind="bill").state == InboundRecord.State.REJECTED
    # mapped again and pulled from the start: the rejected one comes in, the others are not doubled
    services.mappings_save(connection=connected, choices={rent.pk: connected.external_accounts.get(number="5010").pk}, actor=None)
    connected.inbound_pulled_at = None
    connected.save(update_fields=["inbound_pulled_at"])
    run = services.inbound_pull(connection=connected)
    assert run.done == 1 and InboundRecord.objects.get(kind="bill").state == InboundRecord.State.IMPORTED
    assert JournalEntry.objects.filter(source=JournalEntry.Source.INBOUND_SYNC).count() == 3


def test_a_refusal_by_the_ledger_is_a_row_on_the_run(company, connected, fake):
    """The posting service's refusals (a blocked account here; the books-closed guard once it
    exists, BC6) are reported per transaction, never dropped."""
    make_sales(fake)
    aws = Account.objects.get(company=company, code="5010")
    aws.blocked = True
    aws.save(update_fields=["blocked"])
    run = services.inbound_pull(connection=connected)
    assert run.failed == 1 and "blocked" in run.issues.get().message


def test_only_changes_since_the_last_pull_are_asked_for(company, connected, fake):
    make_sales(fake)
    services.inbound_pull(connection=connected)
    connected.refresh_from_db()
    assert connected.inbound_pulled_at is not None
    services.inbound_pull(connection=connected)
    asked = fake.received("POST", "/query") if isinstance(fake, FakeQuickBooksOnline) else fake.received("GET", "/Invoices")
    if isinstance(fake, FakeQuickBooksOnline):
        assert any(b"LastUpdatedTime >" in r.body for r in asked)
    else:
        assert asked[-1].headers.get("if-modified-since")


def test_pull_inbound_from_the_page(client, company, connected, fake, member):
    from django.urls import reverse

    from ledger.models import Role

    make_sales(fake)
    client.force_login(member(company, Role.MANAGER))
    response = client.post(reverse("integrations:pull", args=[company.slug]), {"what": "inbound"})
    run = SyncRun.objects.get(kind=SyncRun.Kind.INBOUND)
    assert response["Location"] == reverse("integrations:run", args=[company.slug, run.pk]) and run.done == 3
