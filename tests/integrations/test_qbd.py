"""QuickBooks Desktop through the Web Connector: a fake Web Connector polls closebooks' SOAP
endpoint (through the Django test client and the real URL) like the real one, carrying qbXML to a
fake QuickBooks company file. A lost answer never duplicates an entry (IN4); closed-date sync needs
the connector version of BC7; bad input is refused without writing anything."""

from datetime import date

import pytest
from django.urls import reverse

from integrations import qbd, services
from integrations.fakes.qbd import NS, FakeQuickBooksDesktop, WebConnectorStopped
from integrations.models import Connection, ExternalAccount, OutboxEntry, QbdRequest, QbdSession, SyncRun
from ledger.models import Account, Role
from tests.integrations.factories import post_entries
from tests.integrations.test_views import login

pytestmark = pytest.mark.django_db


def soap_transport(client):
    def transport(body: bytes, action: str) -> bytes:
        response = client.post(reverse("integrations_qbwc"), data=body, content_type="text/xml", HTTP_SOAPACTION=action)
        return response.content

    return transport


@pytest.fixture
def qbd_setup(db, company, client):
    """``company`` connected to QuickBooks Desktop, its chart pulled through a first poll and mapped."""
    conn, password = qbd.connection_connect_qbd(company=company, actor=None)
    wc = FakeQuickBooksDesktop(soap_transport(client), username=conn.tenant_id, password=password)
    for row in wc.chart:
        Account.objects.get_or_create(company=company, code=row["number"], defaults={"name": row["name"], "type": row["type"]})
    services.accounts_pull(connection=conn, actor=None)
    assert wc.poll() == 1
    from integrations import selectors

    services.mappings_save(
        connection=conn,
        choices={r.account.pk: r.suggestion.pk for r in selectors.mapping_rows(conn) if r.suggestion is not None},
        actor=None,
    )
    conn.refresh_from_db()
    return conn, wc


def test_the_web_connector_conversation_pulls_the_chart(qbd_setup):
    conn, wc = qbd_setup
    assert wc.calls == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]
    assert wc.percentages == [100]
    assert ExternalAccount.objects.filter(connection=conn).count() == len(wc.chart)
    run = SyncRun.objects.get(kind=SyncRun.Kind.ACCOUNTS)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert conn.remote_version == "2.0.8250.9"


def test_push_is_queued_then_sent_on_the_next_poll_with_progress(company, qbd_setup):
    conn, wc = qbd_setup
    entries = post_entries(company, 4)
    run = services.sync_run_start(company=company, actor=None)
    assert QbdRequest.objects.filter(run=run, state="queued").count() == 4 and not wc.journals  # nothing until polled
    assert wc.poll() == 4
    assert wc.percentages[-4:] == [25, 50, 75, 100]
    run.refresh_from_db()
    assert (run.status, run.done) == (SyncRun.Status.SUCCEEDED, 4)
    assert wc.entries_by_local() == {e.pk: 1 for e in entries}
    assert set(OutboxEntry.objects.filter(run=run).values_list("state", flat=True)) == {"synced"}
    assert "<JournalDebitLine>" in QbdRequest.objects.filter(run=run).first().qbxml
    assert wc.poll() == 0 and wc.calls[-2:] == ["authenticate", "closeConnection"]  # "none": nothing to do


def test_a_lost_response_is_looked_up_by_refnumber_and_not_sent_again(company, qbd_setup):
    """IN4: QuickBooks saved the entry but its answer never reached closebooks. The next poll asks
    for it by RefNumber first, finds it, and records it: one entry in QuickBooks."""
    conn, wc = qbd_setup
    entries = post_entries(company, 3)
    run = services.sync_run_start(company=company, actor=None)
    wc.lose_responses = 1
    assert wc.poll() == 1
    assert wc.calls[-2:] == ["connectionError", "closeConnection"]
    [(first, count)] = wc.entries_by_local().items()
    assert count == 1 and first in {e.pk for e in entries}
    wc.poll_until_idle()
    run.refresh_from_db()
    assert (run.status, run.done, run.failed) == (SyncRun.Status.SUCCEEDED, 3, 0)
    assert wc.entries_by_local() == {e.pk: 1 for e in entries}
    lookup = QbdRequest.objects.get(run=run, kind=QbdRequest.Kind.JOURNAL_ENTRY_QUERY)
    assert lookup.ref_number == f"CB{first}" and lookup.status_code == "0"


def test_a_request_lost_before_quickbooks_ran_it_is_sent_again_once(company, qbd_setup):
    conn, wc = qbd_setup
    [entry] = post_entries(company, 1)
    run = services.sync_run_start(company=company, actor=None)
    first = QbdRequest.objects.get(run=run)
    # closebooks handed the request out, then the Web Connector lost it before QuickBooks saw it.
    session = QbdSession.objects.create(connection=conn, ticket="t-lost")
    assert qbd.send_request_xml(session.ticket, "C:\\x.qbw") == first.qbxml
    wc.poll_until_idle()
    kinds = list(QbdRequest.objects.filter(run=run).order_by("id").values_list("kind", "status_code"))
    assert kinds == [("journal_entry_add", ""), ("journal_entry_query", "1"), ("journal_entry_add", "0")]
    assert wc.entries_by_local() == {entry.pk: 1}
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED


def test_closing_date_is_read_from_preferences(company, qbd_setup):
    conn, wc = qbd_setup
    wc.closing_date = date(2026, 1, 31)
    run = services.closed_date_pull(connection=conn)
    assert run.status == SyncRun.Status.QUEUED
    wc.poll()
    run.refresh_from_db()
    conn.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.result["closed_through"] == "2026-01-31"
    assert conn.remote_closed_date == date(2026, 1, 31)


def test_closed_date_sync_is_refused_below_connector_v_2_0_8250_9(company, qbd_setup):
    """BC7: an older Web Connector is warned at clientVersion and closed-date sync is refused; nothing queued."""
    conn, wc = qbd_setup
    wc.version = "2.0.8100.3"
    wc.poll()
    conn.refresh_from_db()
    assert conn.remote_version == "2.0.8100.3"
    run = services.closed_date_pull(connection=conn)
    assert run.status == SyncRun.Status.FAILED and "v_2.0.8250.9 or later" in run.error and "2.0.8100.3" in run.error
    assert not QbdRequest.objects.filter(kind=QbdRequest.Kind.PREFERENCES_QUERY).exists()
    assert qbd.client_version("2.0.8100.3", client="x").startswith("W:")
    assert qbd.client_version("v_2.0.8250.9", client="x") == ""


def test_entry_in_the_closed_period_is_refused_by_quickbooks_and_shown(company, qbd_setup):
    conn, wc = qbd_setup
    wc.closing_date = date(2026, 1, 31)
    closed = post_entries(company, 1, entry_date=date(2026, 1, 10))
    fine = post_entries(company, 1, entry_date=date(2026, 2, 10))
    run = services.sync_run_start(company=company, actor=None)
    wc.poll()
    run.refresh_from_db()
    assert (run.status, run.done, run.failed) == (SyncRun.Status.PARTIAL, 1, 1)
    issue = run.issues.get()
    assert issue.entry_id == closed[0].pk and issue.code == "closed_period" and "closing date" in issue.message
    assert wc.entries_by_local() == {fine[0].pk: 1}


def test_bad_password_is_nvu_and_unknown_ticket_is_refused(company, qbd_setup):
    conn, wc = qbd_setup
    wc.password = "wrong"
    with pytest.raises(WebConnectorStopped, match="nvu"):
        wc.poll()
    assert qbd.send_request_xml("no-such-ticket", "") == ""
    assert qbd.receive_response_xml("no-such-ticket", "<QBXML/>", "", "") == -1
    assert "Unknown ticket" in qbd.get_last_error("no-such-ticket")
    assert not QbdSession.objects.filter(ticket="no-such-ticket").exists()


def test_malformed_soap_and_malformed_qbxml_are_clear_errors_and_write_nothing(company, client, qbd_setup):
    conn, wc = qbd_setup
    response = client.post(reverse("integrations_qbwc"), data=b"<soap:Envelope", content_type="text/xml")
    assert response.status_code == 500 and b"not well-formed XML" in response.content
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    response = client.post(reverse("integrations_qbwc"), data=bomb, content_type="text/xml")
    assert response.status_code == 500 and b"not accepted" in response.content
    post_entries(company, 1)
    run = services.sync_run_start(company=company, actor=None)
    session = QbdSession.objects.create(connection=conn, ticket="t-bad")
    qbd.send_request_xml(session.ticket, "")
    assert qbd.receive_response_xml(session.ticket, "<QBXML><QBXMLMsgsRs>", "", "") == -1
    assert "not well-formed" in qbd.get_last_error(session.ticket)
    run.refresh_from_db()
    assert run.done == 0 and OutboxEntry.objects.get(run=run).state == "pending"
    assert not wc.journals


def test_qwc_file_and_connect_page(client, company):
    login(client, company, Role.ADMINISTRATOR)
    response = client.post(reverse("integrations:connect_qbd", args=[company.slug]), follow=True)
    page = response.content.decode()
    assert "type this password" in page and "Download the .qwc file" in page
    conn = Connection.objects.get(company=company)
    qwc = client.get(reverse("integrations:qwc", args=[company.slug]))
    assert qwc["Content-Disposition"].startswith("attachment") and qwc.status_code == 200
    text = qwc.content.decode()
    assert f"<UserName>{conn.tenant_id}</UserName>" in text and "/integrations/qbwc/</AppURL>" in text
    assert "<QBType>QBFS</QBType>" in text and "<OwnerID>{" in text
    response = client.post(reverse("integrations:pull", args=[company.slug]), {"what": "closed_date"}, follow=True)
    assert "v_2.0.8250.9 or later" in response.content.decode()


def test_soap_server_version_answer_shape(client):
    body = (
        f'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><serverVersion xmlns="{NS}"/></soap:Body></soap:Envelope>'
    ).encode()
    response = client.post(reverse("integrations_qbwc"), data=body, content_type="text/xml")
    assert response.status_code == 200 and b"serverVersionResult" in response.content


def test_client_version_reaches_authenticate_through_the_database_not_a_process_cache(company, qbd_setup):
    """clientVersion and authenticate may be served by two web processes: the version is kept in
    the database per Web Connector, read by its own authenticate only, and only while fresh."""
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    from integrations.models import QbdClientVersion

    conn, wc = qbd_setup
    assert qbd.client_version("2.0.8250.12", client="10.0.0.7") == ""
    cache.clear()  # nothing of it lives in a process
    assert QbdClientVersion.objects.get(client="10.0.0.7").version == "2.0.8250.12"
    password = wc.password
    ticket, _ = qbd.authenticate(conn.tenant_id, password, client="10.0.0.7")
    assert QbdSession.objects.get(ticket=ticket).client_version == "2.0.8250.12"
    conn.refresh_from_db()
    assert conn.remote_version == "2.0.8250.12"
    other, _ = qbd.authenticate(conn.tenant_id, password, client="10.0.0.8")  # another machine: no version of its own
    assert QbdSession.objects.get(ticket=other).client_version == ""
    QbdClientVersion.objects.filter(client="10.0.0.7").update(reported_at=timezone.now() - timedelta(hours=1))
    stale, _ = qbd.authenticate(conn.tenant_id, password, client="10.0.0.7")
    assert QbdSession.objects.get(ticket=stale).client_version == ""
