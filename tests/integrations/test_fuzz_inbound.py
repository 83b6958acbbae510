"""Bad input at scale from the other side (issue 9 part 4, IN6): an accounting system sending
malformed amounts or dates in the invoices, bills and payments closebooks imports. Never a
crash: a value closebooks cannot read fails the pull with a run error naming it, and nothing is
imported from that pull; a value it can read is imported or rejected per transaction."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations import services
from integrations.models import SyncRun
from ledger.models import JournalEntry
from tests.integrations.factories import connect_to_fake

pytestmark = pytest.mark.django_db

BAD_AMOUNTS = ["abc", "NaN", "Infinity", "-Infinity", "1e999999999", "1e30", "12.345", "0.001", "", "1,000.00", "\x00"]
BAD_DATES = ["2026-13-01", "2026-02-30", "0000-01-01", "10000-01-01", "yesterday", "", "\x00", "2026/01/01"]
FIELDS = {
    ("Payment", "TotalAmt"): st.one_of(st.sampled_from(BAD_AMOUNTS), st.decimals(allow_nan=True).map(str), st.text(max_size=8)),
    ("Payment", "TxnDate"): st.one_of(st.sampled_from(BAD_DATES), st.dates().map(date.isoformat), st.text(max_size=12)),
    ("Bill", "TotalAmt"): st.sampled_from(BAD_AMOUNTS),
    ("Bill", "TxnDate"): st.sampled_from(BAD_DATES),
}


@pytest.fixture
def fake_qbo_connected(company):
    from integrations.fakes import FakeQuickBooksOnline

    with FakeQuickBooksOnline() as fake:
        yield fake, connect_to_fake(company, fake)


@settings(max_examples=24, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_malformed_vendor_values_fail_the_pull_clearly_and_import_nothing(fake_qbo_connected, data):
    fake, conn = fake_qbo_connected
    table, name = data.draw(st.sampled_from(sorted(FIELDS)))
    value = data.draw(FIELDS[(table, name)])
    if table == "Payment":
        row = fake.add_payment(txn_date=date(2026, 3, 3), customer="Acme", amount=Decimal("540.00"))
    else:
        row = fake.add_bill(number="B-1", txn_date=date(2026, 3, 3), vendor="AWS", lines=[("5010", Decimal("120.50"))])
    row[name] = value
    try:
        with transaction.atomic():
            before = JournalEntry.objects.count()
            run = services.inbound_pull(connection=conn)
            imported = JournalEntry.objects.count() - before
            transaction.set_rollback(True)
    finally:
        fake.tables[table].remove(row)
    assert run.is_finished
    if run.status == SyncRun.Status.FAILED:
        assert run.error and imported == 0
    else:
        assert run.done + run.failed == 1 and imported == run.done
