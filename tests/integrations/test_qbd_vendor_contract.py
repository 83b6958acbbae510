"""QuickBooks Desktop as Intuit documents it (issue 22, items 20, 21, 23, 24): journal queries ask for
their lines, sales tax posts to the Sales Tax Payable account, amounts qbXML cannot carry are refused
before they are queued, and queries are read in iterator pages."""

from datetime import date
from decimal import Decimal

import pytest

from integrations import contracts, services
from integrations.models import InboundRecord, OutboxEntry, QbdRequest, SyncIssue, SyncRun
from integrations.providers import qbd as qbxml
from integrations.providers.base import EntryRejected, PushEntry, PushLine
from ledger.models import Account, JournalLine
from ledger.services import LineInput, journal_entry_create
from tests.integrations.test_inbound_integrations2 import inbound_entries, qbd_connected  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_item20_the_inbound_journal_query_asks_for_the_lines(company, qbd_connected):  # noqa: F811
    conn, wc = qbd_connected
    wc.add_journal(when=date(2026, 2, 10), lines=[("6100", "debit", "60.00"), ("1000", "credit", "60.00")], ref="QB-1")
    run = services.inbound_pull(connection=conn)
    wc.poll_until_idle()
    run.refresh_from_db()
    assert (run.status, run.done) == (SyncRun.Status.SUCCEEDED, 1)
    query = QbdRequest.objects.get(run=run, kind="inbound_journal_query").qbxml
    assert "<IncludeLineItems>true</IncludeLineItems>" in query
    [entry] = inbound_entries(company)
    assert sorted((line.account.code, line.debit, line.credit) for line in entry.lines.all()) == [
        ("1000", Decimal("0.00"), Decimal("60.00")),
        ("6100", Decimal("60.00"), Decimal("0.00")),
    ]


def test_item20_without_include_line_items_quickbooks_answers_no_lines(company, qbd_connected):  # noqa: F811
    _, wc = qbd_connected
    wc.add_journal(when=date(2026, 2, 10), lines=[("6100", "debit", "60.00"), ("1000", "credit", "60.00")], ref="QB-1")
    bare = (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
        '<JournalEntryQueryRq requestID="1"/></QBXMLMsgsRq></QBXML>'
    )
    answer = wc.quickbooks(bare)
    assert "<JournalEntryRet>" in answer and "JournalDebitLine" not in answer


def test_item21_sales_tax_posts_to_the_sales_tax_payable_account(company, qbd_connected):  # noqa: F811
    """SalesTaxTotal goes through the invoice's sales tax item, which has no account in qbXML: it posts to
    the chart's Sales Tax Payable account (SpecialAccountType), mapped once on the connection."""
    conn, wc = qbd_connected
    tax_item = wc.add_item("State tax", income_account=None, kind="ItemSalesTax")
    service = wc.add_item("Services", income_account="4020")
    wc.add_invoice(when=date(2026, 2, 12), lines=[(service, "100.00")], ref="INV-21", tax="8.00", tax_item=tax_item)
    run = services.inbound_pull(connection=conn)
    wc.poll_until_idle()
    run.refresh_from_db()
    assert (run.status, run.done, run.failed) == (SyncRun.Status.SUCCEEDED, 1, 0)
    assert InboundRecord.objects.get(number="INV-21").state == InboundRecord.State.IMPORTED
    lines = JournalLine.objects.filter(entry__company=company, entry__reference="qbd:invoice:INV-21")
    assert sorted((line.account.code, line.debit, line.credit) for line in lines) == [
        ("1100", Decimal("108.00"), Decimal("0.00")),
        ("2300", Decimal("0.00"), Decimal("8.00")),
        ("4020", Decimal("0.00"), Decimal("100.00")),
    ]


def test_item21_unmapped_sales_tax_payable_waits_with_a_clear_reason(company, qbd_connected):  # noqa: F811
    conn, wc = qbd_connected
    from integrations.models import AccountMapping

    AccountMapping.objects.filter(connection=conn, account__code="2300").delete()
    tax_item = wc.add_item("State tax", income_account=None, kind="ItemSalesTax")
    wc.add_invoice(
        when=date(2026, 2, 12),
        lines=[(wc.add_item("Services", income_account="4020"), "100.00")],
        ref="INV-22",
        tax="8.00",
        tax_item=tax_item,
    )
    run = services.inbound_pull(connection=conn)
    wc.poll_until_idle()
    assert InboundRecord.objects.get(number="INV-22").state == InboundRecord.State.WAITING
    assert "which no closebooks account is mapped to" in SyncIssue.objects.get(run=run).message


def test_item23_an_amount_over_13_digits_is_refused_before_it_is_queued(company, qbd_connected):  # noqa: F811
    conn, wc = qbd_connected
    cash, rent = Account.objects.get(company=company, code="1000"), Account.objects.get(company=company, code="6100")
    huge = journal_entry_create(
        company=company,
        entry_date=date(2026, 2, 3),
        actor=None,
        memo="too big for qbXML",
        lines=[LineInput(rent, debit=Decimal("12345678901234.00")), LineInput(cash, credit=Decimal("12345678901234.00"))],
    )
    run = services.sync_run_start(company=company, actor=None)
    run.refresh_from_db()
    assert not QbdRequest.objects.filter(run=run, kind="journal_entry_add").exists()
    assert OutboxEntry.objects.get(entry=huge).state == OutboxEntry.State.FAILED
    assert "13 digits" in SyncIssue.objects.get(run=run, entry=huge).message
    assert run.status == SyncRun.Status.PARTIAL


def test_item23_the_builder_refuses_and_the_contract_would_too():
    entry = PushEntry(
        1,
        date(2026, 2, 3),
        "m",
        "r",
        "USD",
        (
            PushLine("A", "", Decimal("99999999999999.00"), Decimal(0)),
            PushLine("B", "", Decimal(0), Decimal("99999999999999.00")),
        ),
    )
    with pytest.raises(EntryRejected, match="13 digits"):
        qbxml.journal_entry_add(entry, "rid")
    fine = qbxml.journal_entry_add(
        PushEntry(
            1,
            date(2026, 2, 3),
            "m",
            "r",
            "USD",
            (
                PushLine("A", "", Decimal("9999999999999.99"), Decimal(0)),
                PushLine("B", "", Decimal(0), Decimal("9999999999999.99")),
            ),
        ),
        "rid",
    )
    contracts.check_qbxml(fine)
    with contracts.expect_violations() as found, pytest.raises(contracts.ContractViolation):
        contracts.check_qbxml(fine.replace("9999999999999.99", "99999999999999.99", 1))
    assert any("AMTTYPE" in v or "pattern" in v for v in found)


def test_item24_queries_are_read_in_iterator_pages(company, qbd_connected, monkeypatch):  # noqa: F811
    monkeypatch.setattr(qbxml, "ITERATOR_PAGE", 2)
    conn, wc = qbd_connected
    for n in range(5):
        wc.add_journal(when=date(2026, 2, 10 + n), lines=[("6100", "debit", "10.00"), ("1000", "credit", "10.00")], ref=f"QB-{n}")
    run = services.inbound_pull(connection=conn)
    wc.poll_until_idle()
    run.refresh_from_db()
    assert (run.status, run.done) == (SyncRun.Status.SUCCEEDED, 5)
    pages = list(QbdRequest.objects.filter(run=run, kind="inbound_journal_query").order_by("id").values_list("qbxml", flat=True))
    assert len(pages) == 3 and 'iterator="Start"' in pages[0] and "<MaxReturned>2</MaxReturned>" in pages[0]
    assert all('iterator="Continue"' in p and "iteratorID=" in p for p in pages[1:])
    assert inbound_entries(company).count() == 5


def test_item24_account_query_has_no_iterator_in_the_contract():
    with contracts.expect_violations() as found, pytest.raises(contracts.ContractViolation):
        contracts.check_qbxml(qbxml.account_query("r1").replace("<AccountQueryRq ", '<AccountQueryRq iterator="Start" '))
    assert found
