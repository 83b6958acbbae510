"""Vendor answers the schemas allow but that are unusual (issue 22, bad input): empty lists, extra
fields, unknown enum values, full pages. Each is stored or refused per document with a clear message
on the sync run; no answer ends a task with an unhandled exception."""

from datetime import date
from decimal import Decimal

import pytest

from integrations import services, tasks
from integrations.fakes import FakeQuickBooksOnline, FakeXero
from integrations.models import InboundRecord, SyncRun
from tests.integrations.factories import connect_to_fake


@pytest.fixture
def fake_qbo():
    with FakeQuickBooksOnline() as fake:
        yield fake


@pytest.fixture
def fake_xero():
    with FakeXero() as fake:
        yield fake


def test_an_answer_of_an_unexpected_shape_fails_the_pull_with_a_clear_message(db, company, fake_qbo):
    conn = connect_to_fake(company, fake_qbo)
    fake_qbo.inject("/query", 200, {"QueryResponse": ["not", "an", "object"], "time": "2026-01-01T00:00:00Z"}, times=20)
    run = services.inbound_pull(connection=conn)
    assert run.status == SyncRun.Status.FAILED
    assert "QuickBooks Online answered something closebooks could not read" in run.error and "nothing was changed" in run.error


def test_the_scheduled_pull_goes_on_past_a_company_whose_vendor_answered_nonsense(db, company, other_company, fake_qbo):
    broken = connect_to_fake(company, fake_qbo)
    with FakeXero() as xero:
        fine = connect_to_fake(other_company, xero)
        xero.add_invoice(
            kind="ACCREC", number="INV-9", txn_date=date(2026, 3, 2), contact="Acme", lines=[("4000", Decimal("10.00"))]
        )
        fake_qbo.inject("/query", 200, {"QueryResponse": 7, "time": "2026-01-01T00:00:00Z"}, times=20)
        tasks.pull_inbound()
    assert SyncRun.objects.get(connection=broken, kind=SyncRun.Kind.INBOUND).status == SyncRun.Status.FAILED
    assert SyncRun.objects.get(connection=fine, kind=SyncRun.Kind.INBOUND).done == 1


def test_an_unknown_invoice_type_is_refused_alone(db, company, fake_xero):
    conn = connect_to_fake(company, fake_xero)
    fake_xero.add_invoice(
        kind="ACCREC", number="INV-1", txn_date=date(2026, 3, 2), contact="Acme", lines=[("4000", Decimal("10.00"))]
    )
    odd = fake_xero.add_invoice(
        kind="ACCREC", number="INV-2", txn_date=date(2026, 3, 2), contact="Acme", lines=[("4000", Decimal("5.00"))]
    )
    odd["Type"] = "ACCRECHOLOGRAM"
    run = services.inbound_pull(connection=conn)
    assert (run.status, run.done, run.failed) == (SyncRun.Status.PARTIAL, 1, 1)
    assert "ACCRECHOLOGRAM" in run.issues.get().message
    assert InboundRecord.objects.get(number="INV-2").state == InboundRecord.State.REJECTED


def test_empty_lists_and_extra_fields_are_read(db, company, fake_xero):
    conn = connect_to_fake(company, fake_xero)
    row = fake_xero.add_invoice(
        kind="ACCREC", number="INV-3", txn_date=date(2026, 3, 2), contact="Acme", lines=[("4000", Decimal("10.00"))]
    )
    row["BrandNewField"] = {"nested": [1, 2]}
    row["LineItems"][0]["AnotherNewField"] = "x"
    run = services.inbound_pull(connection=conn)
    assert (run.status, run.done, run.failed) == (SyncRun.Status.SUCCEEDED, 1, 0)
    empty = services.inbound_pull(connection=conn)  # nothing changed since: empty lists
    assert (empty.status, empty.done, empty.failed) == (SyncRun.Status.SUCCEEDED, 0, 0)


def test_a_full_page_asks_for_the_next_and_an_empty_one_ends_it(db, company, fake_xero):
    conn = connect_to_fake(company, fake_xero)
    for n in range(100):  # exactly one of Xero's pages of 100
        fake_xero.add_invoice(
            kind="ACCREC", number=f"INV-{n}", txn_date=date(2026, 3, 2), contact="Acme", lines=[("4000", Decimal("1.00"))]
        )
    run = services.inbound_pull(connection=conn)
    assert (run.status, run.done) == (SyncRun.Status.SUCCEEDED, 100)
    assert [r.query["page"] for r in fake_xero.received("GET", "/Invoices")] == ["1", "2"]
