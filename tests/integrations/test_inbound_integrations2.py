"""Inbound transactions from Sage Intacct, NetSuite and QuickBooks Desktop (IN6) through the one
inbound path QBO and Xero use: each transaction imported once whatever is pulled twice, the
books-closed guard of the ledger deciding BC6 (per entity for Intacct, BC9; with QuickBooks
Desktop's receivable-invoice exception), and every refusal a row on the run."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from integrations import qbd, selectors, services
from integrations.fakes import FakeNetSuite, FakeSageIntacct
from integrations.fakes.qbd import FakeQuickBooksDesktop
from integrations.models import InboundRecord, QbdRequest, SyncRun
from integrations.providers import NetSuite, ProviderConfig, SageIntacct
from integrations.providers.base import Tokens
from integrations.providers.intacct import parse_ia_date
from ledger.models import Account, JournalEntry, Role
from ledger.services import books_closed_update
from tests.integrations.factories import connect_to_fake, fake_urls, post_entries
from tests.integrations.intacct import connect_intacct
from tests.integrations.test_qbd import soap_transport
from tests.integrations.test_views import login

pytestmark = pytest.mark.django_db
D = Decimal


def inbound_entries(company):
    return JournalEntry.objects.filter(company=company, source=JournalEntry.Source.INBOUND_SYNC)


def lines_of(entry):
    return sorted((line.account.code, line.debit, line.credit) for line in entry.lines.all())


def close_books(company, through=None, *, restrict_inbound=True):
    books_closed_update(company=company, actor=None, enabled=True, restrict_inbound=restrict_inbound)
    if through is not None:
        books_closed_update(company=company, actor=None, closed_date=through)


# ---------------------------------------------------------------- Sage Intacct


@pytest.fixture
def fake_intacct():
    with FakeSageIntacct() as fake:
        yield fake


def test_intacct_contract_glbatch_and_glentry_are_read_through_read_by_query_and_read_more(fake_intacct):
    """The client pages GLBATCH and GLENTRY with readMore and never pulls back what closebooks pushed."""
    fake_intacct.page_max = 2
    for day in range(1, 6):
        fake_intacct.add_batch(
            when=date(2026, 3, day), lines=[("6100", "debit", f"{day}0.00", "100"), ("1000", "credit", f"{day}0.00", "100")]
        )
    fake_intacct.batches["9999"] = {**fake_intacct.batches["4471"], "RECORDNO": "9999", "REFERENCENO": "JE-7"}  # pushed by us
    provider = SageIntacct(
        ProviderConfig(fake_intacct.client_id, fake_intacct.client_secret, "", "", fake_intacct.url),
        tenant_id=fake_intacct.tenant_id,
    )
    provider.tokens = provider.sign_in(company_id=fake_intacct.tenant_id, user_id="ws_closebooks", password="ws-password")
    txns = provider.pull_inbound(since=None)
    assert [t.external_id for t in txns] == ["4471", "4472", "4473", "4474", "4475"]
    first = txns[0]
    assert first.kind == "journal" and first.entity == "100" and first.txn_date == date(2026, 3, 1)
    assert [(x.external_account_id, x.debit, x.credit) for x in first.lines] == [("6100", D("10.00"), 0), ("1000", 0, D("10.00"))]
    bodies = [r.body.decode() for r in fake_intacct.received("POST", "xmlgw")]
    assert sum("<readMore>" in b for b in bodies) >= 2 + 4  # 6 batches and 10 lines, two a page
    assert any("<object>GLBATCH</object>" in b and "STATE = 'Posted'" in b for b in bodies)
    assert any("<object>GLENTRY</object>" in b and "BATCHNO IN (" in b for b in bodies)
    assert parse_ia_date("03/01/2026") == date(2026, 3, 1)
    # Changed since a moment after they were made: the WHENMODIFIED filter leaves them out.
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert provider.pull_inbound(since=later) == []
    assert f"WHENMODIFIED &gt;= '{later:%m/%d/%Y %H:%M:%S}'" in fake_intacct.received("POST", "xmlgw")[-1].body.decode()


def test_intacct_bc9_each_batch_is_checked_against_its_own_entitys_closed_date(company, fake_intacct):
    """BC6 + BC9: East is closed through January, West is open. A January batch of East is refused
    (a row on the run), West's comes in, an unknown entity is a clear error; pulled twice, nothing twice."""
    conn = connect_intacct(company, fake_intacct)
    close_books(company)
    services.entity_closed_date_set(connection=conn, external_id="100", closed_through=date(2026, 1, 31), actor=None)
    east_jan = fake_intacct.add_batch(
        when=date(2026, 1, 15), lines=[("6100", "debit", "80.00", "100"), ("1000", "credit", "80.00", "100")]
    )
    west_jan = fake_intacct.add_batch(
        when=date(2026, 1, 15), lines=[("6100", "debit", "90.00", "200"), ("1000", "credit", "90.00", "200")]
    )
    east_feb = fake_intacct.add_batch(
        when=date(2026, 2, 3), lines=[("6100", "debit", "70.00", "100"), ("1000", "credit", "70.00", "100")]
    )
    fake_intacct.entities["300"] = "North entity (new in Intacct)"
    north = fake_intacct.add_batch(
        when=date(2026, 2, 3), lines=[("6100", "debit", "5.00", "300"), ("1000", "credit", "5.00", "300")]
    )

    run = services.inbound_pull(connection=conn)
    assert (run.done, run.failed, run.status) == (2, 2, SyncRun.Status.PARTIAL)
    records = {r.external_id: r for r in InboundRecord.objects.filter(connection=conn)}
    assert records[west_jan].state == records[east_feb].state == InboundRecord.State.IMPORTED
    assert records[east_jan].state == InboundRecord.State.REJECTED and "closed through 2026-01-31" in records[east_jan].reason
    assert records[north].state == InboundRecord.State.REJECTED
    messages = [i.message for i in run.issues.all()]
    assert any("Entity “300” does not belong" in m for m in messages)
    west = records[west_jan].entry
    assert west.entity.key == "200" and lines_of(west) == [("1000", 0, D("90.00")), ("6100", D("90.00"), 0)]

    # Pulled again from the start: the imported ones are not doubled, the refused ones refused again.
    conn.refresh_from_db()
    conn.inbound_pulled_at = None
    conn.save(update_fields=["inbound_pulled_at"])
    again = services.inbound_pull(connection=conn)
    assert (again.done, again.failed) == (0, 2) and inbound_entries(company).count() == 2

    # Restrict-inbound off (BC6): the date no longer applies to inbound transactions.
    books_closed_update(company=company, actor=None, restrict_inbound=False)
    conn.inbound_pulled_at = None
    conn.save(update_fields=["inbound_pulled_at"])
    third = services.inbound_pull(connection=conn)
    assert third.done == 1 and InboundRecord.objects.get(external_id=east_jan).state == InboundRecord.State.IMPORTED
    assert inbound_entries(company).count() == 3


def test_intacct_batches_pushed_by_closebooks_are_not_pulled_back(company, fake_intacct):
    conn = connect_intacct(company, fake_intacct)
    post_entries(company, 2, entry_date=date(2026, 2, 5))
    push = services.sync_run_execute(run_id=services.sync_run_start(company=company, actor=None, enqueue=False, entity="100").pk)
    assert push.done == 2
    run = services.inbound_pull(connection=conn)
    assert run.total == 0 and not inbound_entries(company).exists()


# ---------------------------------------------------------------- NetSuite


@pytest.fixture
def fake_ns():
    with FakeNetSuite() as fake:
        yield fake


def ns_client(fake):
    urls = fake_urls(fake)
    urls.pop("connections_url")
    tokens = fake.issue_tokens()
    return NetSuite(
        ProviderConfig(fake.client_id, fake.client_secret, **urls),
        tenant_id=fake.tenant_id,
        tokens=Tokens(tokens["access_token"], tokens["refresh_token"], None),
    )


def ns_sales(fake, when=date(2026, 6, 3)):
    invoice = fake.add_transaction(
        type="CustInvc", when=when, tranid="INV-7", lines=[("1100", "540.00", ""), ("4020", "", "500.00"), ("2300", "", "40.00")]
    )
    bill = fake.add_transaction(
        type="VendBill", when=when, tranid="BILL-3", lines=[("5010", "120.50", ""), ("2000", "", "120.50")]
    )
    journal = fake.add_transaction(type="Journal", when=when, lines=[("6100", "75.00", ""), ("1000", "", "75.00")])
    return invoice, bill, journal


def test_netsuite_contract_suiteql_over_transaction_lines_pages_with_has_more(fake_ns, monkeypatch):
    monkeypatch.setattr("integrations.providers.netsuite.PAGE", 2)
    invoice, bill, journal = ns_sales(fake_ns)
    txns = {t.external_id: t for t in ns_client(fake_ns).pull_inbound(since=None)}
    assert set(txns) == {invoice, bill, journal}
    assert txns[invoice].kind == "invoice" and txns[invoice].number == "INV-7" and txns[invoice].txn_date == date(2026, 6, 3)
    assert len(txns[invoice].lines) == 3  # its lines arrived over two pages and were put back together
    queries = fake_ns.received("POST", "/query/v1/suiteql")
    assert [q.query.get("offset") for q in queries] == ["0", "2", "4", "6"]  # 7 lines, 2 a page; hasMore ends it
    assert "FROM transaction t JOIN transactionaccountingline tal" in queries[0].json()["q"]  # issue 22 item 8
    assert all(q.headers.get("prefer") == "transient" for q in queries)


def test_netsuite_inbound_once_closed_period_refused_and_own_entries_not_pulled_back(company, fake_ns):
    """IN6 + BC6: pulled twice, nothing twice; a transaction in the closed period is a row on the run."""
    conn = connect_to_fake(company, fake_ns)
    post_entries(company, 1, entry_date=date(2026, 6, 2))
    assert services.sync_run_execute(run_id=services.sync_run_start(company=company, actor=None, enqueue=False).pk).done == 1
    invoice, bill, journal = ns_sales(fake_ns)
    old = fake_ns.add_transaction(type="Journal", when=date(2026, 1, 10), lines=[("6100", "9.00", ""), ("1000", "", "9.00")])
    close_books(company, date(2026, 1, 31))
    run = services.inbound_pull(connection=conn)
    assert (run.done, run.failed) == (3, 1)
    assert "Rejected inbound" in run.issues.get().message and "(BC6)" in run.issues.get().message
    assert InboundRecord.objects.get(external_id=old).state == InboundRecord.State.REJECTED
    entries = {e.reference: e for e in inbound_entries(company)}
    assert lines_of(entries["netsuite:invoice:INV-7"]) == [
        ("1100", D("540.00"), 0),
        ("2300", 0, D("40.00")),
        ("4020", 0, D("500.00")),
    ]
    assert not any("closebooks-JE" in r or ":JE-" in r for r in entries)  # our own upsert is not pulled back
    conn.refresh_from_db()
    conn.inbound_pulled_at = None
    conn.save(update_fields=["inbound_pulled_at"])
    again = services.inbound_pull(connection=conn)
    assert again.done == 0 and inbound_entries(company).count() == 3


# ---------------------------------------------------------------- QuickBooks Desktop (Web Connector)


@pytest.fixture
def qbd_connected(db, company, client):
    """``company`` connected to QuickBooks Desktop, its chart pulled through a first poll and mapped."""
    conn, password = qbd.connection_connect_qbd(company=company, actor=None)
    wc = FakeQuickBooksDesktop(soap_transport(client), username=conn.tenant_id, password=password)
    for row in wc.chart:
        Account.objects.get_or_create(company=company, code=row["number"], defaults={"name": row["name"], "type": row["type"]})
    services.accounts_pull(connection=conn, actor=None)
    assert wc.poll() == 1
    services.mappings_save(
        connection=conn,
        choices={r.account.pk: r.suggestion.pk for r in selectors.mapping_rows(conn) if r.suggestion is not None},
        actor=None,
    )
    conn.refresh_from_db()
    return conn, wc


def test_qbd_inbound_is_queued_item_journal_and_invoice_queries_carried_on_the_next_poll(company, qbd_connected):
    conn, wc = qbd_connected
    run = services.inbound_pull(connection=conn)
    assert run.status == SyncRun.Status.QUEUED
    assert services.inbound_pull(connection=conn).pk == run.pk  # one pull waits for the poll at a time
    requests = list(QbdRequest.objects.filter(run=run).order_by("id"))
    assert [r.kind for r in requests] == ["item_query", "inbound_journal_query", "invoice_query"]
    assert "<ItemQueryRq" in requests[0].qbxml and "<IncludeLineItems>true</IncludeLineItems>" in requests[2].qbxml
    assert "ModifiedDateRangeFilter" not in requests[1].qbxml  # the first pull reads everything
    assert wc.poll() == 3 and wc.percentages[-1] == 100
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.total == 0  # nothing made in QuickBooks yet
    conn.refresh_from_db()
    later = services.inbound_pull(connection=conn)
    journal_rq = QbdRequest.objects.get(run=later, kind="inbound_journal_query").qbxml
    assert f"<FromModifiedDate>{conn.inbound_pulled_at.isoformat(timespec='seconds')}</FromModifiedDate>" in journal_rq


def test_qbd_bc6_receivable_invoices_come_in_even_in_a_closed_period_and_an_unmapped_item_waits(company, client, qbd_connected):
    """BC6 with restrict-inbound on: a journal entry dated in the closed period is refused, a
    receivable invoice dated there comes in (QuickBooks Desktop's exception, carried as the
    provider policy the ledger's guard applies). An invoice selling an item whose income account
    has no mapping waits, visibly, and is posted once the mapping is saved. Pulled twice: nothing twice."""
    conn, wc = qbd_connected
    post_entries(company, 1, entry_date=date(2026, 2, 2))
    services.sync_run_start(company=company, actor=None)
    assert wc.poll() == 1 and len(wc.journals) == 1  # closebooks' own entry: never pulled back
    consulting_revenue = Account.objects.get(company=company, code="4030")
    services.mappings_save(connection=conn, choices={consulting_revenue.pk: None}, actor=None)
    close_books(company, date(2026, 1, 31))

    services_item = wc.add_item("Services", income_account="4020")
    training = wc.add_item("Training", income_account="4030")  # 4030 is not mapped in closebooks
    jan_invoice = wc.add_invoice(when=date(2026, 1, 15), lines=[(services_item, "500.00")], ref="INV-1")
    feb_invoice = wc.add_invoice(when=date(2026, 2, 12), lines=[(services_item, "200.00"), (training, "300.00")], ref="INV-2")
    jan_journal = wc.add_journal(when=date(2026, 1, 20), lines=[("6100", "debit", "40.00"), ("1000", "credit", "40.00")])
    feb_journal = wc.add_journal(
        when=date(2026, 2, 10), lines=[("6100", "debit", "60.00"), ("1000", "credit", "60.00")], ref="QB-9", memo="rent"
    )

    run = services.inbound_pull(connection=conn)
    assert wc.poll() == 3
    run.refresh_from_db()
    assert (run.done, run.failed, run.status) == (2, 2, SyncRun.Status.PARTIAL)
    records = {r.external_id: r for r in InboundRecord.objects.filter(connection=conn)}
    assert set(records) == {jan_invoice, feb_invoice, jan_journal, feb_journal}
    invoice = records[jan_invoice].entry
    assert records[jan_invoice].state == InboundRecord.State.IMPORTED and invoice.entry_date == date(2026, 1, 15)
    assert invoice.closed_period_policy == "quickbooks_desktop:invoice"
    assert lines_of(invoice) == [("1100", D("500.00"), 0), ("4020", 0, D("500.00"))]
    assert records[jan_journal].state == InboundRecord.State.REJECTED and "(BC6)" in records[jan_journal].reason
    assert records[feb_journal].state == InboundRecord.State.IMPORTED
    waiting = records[feb_invoice]
    assert waiting.state == InboundRecord.State.WAITING and waiting.entry is None
    assert "Training" in waiting.reason and "4030" in waiting.reason
    issue = run.issues.get(code="inbound_waiting")
    assert "INV-2" in issue.message and "waiting for a mapping" in issue.message
    login(client, company, Role.VIEWER)
    page = client.get(reverse("integrations:status", args=[company.slug])).content.decode()
    assert "Inbound transactions waiting for a mapping" in page and "invoice INV-2" in page
    assert "Receivable invoices created in QuickBooks Desktop sync in even when dated in a closed period" in page

    # The mapping is saved: the waiting invoice is posted, on its own run.
    services.mappings_save(
        connection=conn, choices={consulting_revenue.pk: conn.external_accounts.get(number="4030").pk}, actor=None
    )
    waiting.refresh_from_db()
    assert waiting.state == InboundRecord.State.IMPORTED and waiting.payload is None
    assert lines_of(waiting.entry) == [("1100", D("500.00"), 0), ("4020", 0, D("200.00")), ("4030", 0, D("300.00"))]
    assert inbound_entries(company).count() == 3

    # Pulled again from the start: nothing imported twice; the closed-period journal refused again.
    conn.refresh_from_db()
    conn.inbound_pulled_at = None
    conn.save(update_fields=["inbound_pulled_at"])
    again = services.inbound_pull(connection=conn)
    assert wc.poll() == 3
    again.refresh_from_db()
    assert (again.done, again.failed) == (0, 1) and inbound_entries(company).count() == 3


def test_qbd_refused_inbound_query_fails_the_run_and_writes_nothing(company, qbd_connected):
    conn, wc = qbd_connected
    wc.add_invoice(when=date(2026, 2, 12), lines=[(wc.add_item("Services", income_account="4020"), "10.00")], ref="INV-3")
    original = wc._answer

    def refuse_items(rq):
        if rq.tag == "ItemQueryRq":
            return wc._rs(rq, "3250", "This feature is not enabled or not available in this version of QuickBooks.")
        return original(rq)

    wc._answer = refuse_items
    run = services.inbound_pull(connection=conn)
    wc.poll_until_idle()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and "3250" in run.error
    assert not inbound_entries(company).exists() and not QbdRequest.objects.filter(run=run, state__in=["queued", "sent"]).exists()


def test_netsuite_suiteql_error_fails_the_run_with_its_error_details_and_writes_nothing(company, fake_ns):
    conn = connect_to_fake(company, fake_ns)
    ns_sales(fake_ns)
    fake_ns.inject(
        "suiteql",
        400,
        {
            "title": "Bad Request",
            "status": 400,
            "o:errorDetails": [{"detail": "Search error occurred.", "o:errorCode": "SSS_SEARCH_ERROR"}],
        },
    )
    run = services.inbound_pull(connection=conn)
    assert run.status == SyncRun.Status.FAILED and "SSS_SEARCH_ERROR" in run.error and "Search error occurred" in run.error
    assert not InboundRecord.objects.filter(connection=conn).exists() and not inbound_entries(company).exists()
    conn.refresh_from_db()
    assert conn.inbound_pulled_at is None  # the next pull starts from the same place


def test_qbd_unreadable_amount_refuses_that_entry_alone_with_its_reason(company, qbd_connected):
    """Bad input from the Web Connector (issue 22): a journal line whose amount is not a number refuses
    that journal entry, with the reason on the run; nothing of it is posted, and the rest of the pull
    (the invoice) is imported."""
    conn, wc = qbd_connected
    wc.add_journal(when=date(2026, 2, 10), lines=[("6100", "debit", "12,50"), ("1000", "credit", "12,50")], ref="QB-1")
    wc.add_invoice(when=date(2026, 2, 12), lines=[(wc.add_item("Services", income_account="4020"), "10.00")], ref="INV-4")
    run = services.inbound_pull(connection=conn)
    wc.poll_until_idle()
    run.refresh_from_db()
    assert (run.status, run.done, run.failed) == (SyncRun.Status.PARTIAL, 1, 1)
    issue = run.issues.get()
    assert "QB-1" in issue.message and "“12,50” is not a number" in issue.message
    assert InboundRecord.objects.get(connection=conn, number="QB-1").state == InboundRecord.State.REJECTED
    assert [e.reference for e in inbound_entries(company)] == ["qbd:invoice:INV-4"]


def test_qbd_the_scheduled_inbound_pull_queues_one_pull_for_the_next_poll(company, qbd_connected):
    from integrations.tasks import pull_inbound

    conn, wc = qbd_connected
    pull_inbound()
    pull_inbound()  # the beat again before the Web Connector polled: still one pull waiting
    runs = SyncRun.objects.filter(connection=conn, kind=SyncRun.Kind.INBOUND)
    assert runs.count() == 1 and runs.get().status == SyncRun.Status.QUEUED
    wc.add_journal(when=date(2026, 2, 10), lines=[("6100", "debit", "60.00"), ("1000", "credit", "60.00")], ref="QB-1")
    assert wc.poll() == 3
    assert runs.get().status == SyncRun.Status.SUCCEEDED and inbound_entries(company).count() == 1
