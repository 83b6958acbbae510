"""Sage Intacct: the real XML-gateway client against the fake gateway over loopback (IN1), and the
multi-entity closed dates (BC9): each entity's documents are checked against that entity's date."""

import dataclasses
from datetime import date
from decimal import Decimal

import httpx
import pytest

from integrations import contracts, services
from integrations.exceptions import IntegrationError
from integrations.fakes import FakeSageIntacct
from integrations.fakes.intacct import USER_ID, USER_PASSWORD
from integrations.models import Connection, ConnectionEntity, OutboxEntry, SyncRun
from integrations.providers import ProviderConfig, SageIntacct
from integrations.providers.base import (
    ClosedPeriodRejected,
    ConnectionBroken,
    EntryRejected,
    PushEntry,
    PushLine,
    TokenExpired,
    TransientError,
    UnexpectedResponse,
)
from integrations.providers.intacct import credentials_secret
from tests.integrations.factories import post_entries
from tests.integrations.intacct import connect_intacct


@pytest.fixture
def fake_intacct():
    with FakeSageIntacct() as fake:
        yield fake


def client(fake, *, signed_in=True):
    provider = SageIntacct(ProviderConfig(fake.client_id, fake.client_secret, "", "", fake.url), tenant_id=fake.tenant_id)
    if signed_in:
        provider.tokens = provider.sign_in(company_id=fake.tenant_id, user_id=USER_ID, password=USER_PASSWORD)
    return provider


def je(local_id, when=date(2026, 2, 10), amount="100.00", entity="", debit="6100", credit="1000"):
    return PushEntry(
        local_id,
        when,
        "rent",
        "R-1",
        "USD",
        (
            PushLine(debit, debit, Decimal(amount), Decimal(0), "rent"),
            PushLine(credit, credit, Decimal(0), Decimal(amount), "cash"),
        ),
        entity=entity,
    )


def test_get_api_session_with_sender_and_user_credentials(fake_intacct):
    provider = client(fake_intacct)
    assert provider.tokens.access_token in fake_intacct.sessions
    assert USER_PASSWORD in provider.tokens.refresh_token  # kept (encrypted on the connection) to make new sessions
    assert "ws-password" not in repr(provider.tokens)
    with pytest.raises(ConnectionBroken, match="refused the user"):
        client(fake_intacct, signed_in=False).sign_in(company_id=fake_intacct.tenant_id, user_id=USER_ID, password="wrong")


def test_wrong_sender_credentials_are_a_control_level_error_in_an_http_200(fake_intacct):
    provider = SageIntacct(ProviderConfig("someone-else", "x", "", "", fake_intacct.url), tenant_id=fake_intacct.tenant_id)
    with pytest.raises(ConnectionBroken, match="XL03000006"):
        provider.sign_in(company_id=fake_intacct.tenant_id, user_id=USER_ID, password=USER_PASSWORD)


def test_expired_session_is_an_authentication_level_error_then_a_new_session(fake_intacct):
    provider = client(fake_intacct)
    fake_intacct.expire_access_tokens()
    with pytest.raises(TokenExpired):
        provider.list_accounts()
    provider.tokens = provider.refresh()
    assert len(provider.list_accounts()) == len(fake_intacct.chart)


def test_chart_of_accounts_pages_through_read_more(fake_intacct):
    fake_intacct.page_max = 7
    accounts = client(fake_intacct).list_accounts()
    assert [a.number for a in accounts] == [a["number"] for a in fake_intacct.chart]
    assert len(fake_intacct.received("POST", "xmlgw")) >= 1 + len(accounts) // 7
    archived = next(a for a in accounts if a.number == "1050")
    assert archived.active is False


def test_glbatch_is_tr_type_and_positive_amounts_with_m_d_y_dates(fake_intacct):
    provider = client(fake_intacct)
    [outcome] = provider.push_entries([je(7, amount="250.50", entity="100")], key="k1")
    assert outcome.error is None and outcome.external_id
    body = fake_intacct.received("POST", "xmlgw")[-1].body.decode()
    assert "<BATCH_DATE>02/10/2026</BATCH_DATE>" in body
    assert "<TR_TYPE>1</TR_TYPE><TRX_AMOUNT>250.50</TRX_AMOUNT>" in body
    assert "<TR_TYPE>-1</TR_TYPE><TRX_AMOUNT>250.50</TRX_AMOUNT>" in body
    assert "<uniqueid>true</uniqueid>" in body and 'controlid="je-7-k1"' in body
    assert "<LOCATION>100</LOCATION>" in body
    assert fake_intacct.batches[outcome.external_id]["locations"] == ["100"]


def test_item16_a_repeated_controlid_is_refused_and_the_entry_is_found_by_its_reference(fake_intacct):
    """Issue 22 item 16, IN4: a resent request (answer lost) carries the same controlids. Intacct refuses
    a function it already executed (uniqueid=true) instead of replaying it; the client looks the entry up
    by REFERENCENO and reports the batch it finds: each entry once, no refusal shown."""
    provider = client(fake_intacct)
    fake_intacct.inject("xmlgw", 503, "lost", after_commit=True)
    with pytest.raises(TransientError):
        provider.push_entries([je(1), je(2)], key="same")  # saved by Intacct, answer lost
    again = provider.push_entries([je(1), je(2)], key="same")
    assert all(o.error is None for o in again)
    held = {b["REFERENCENO"]: record for record, b in fake_intacct.batches.items()}
    assert [o.external_id for o in again] == [held["JE-1"], held["JE-2"]]
    assert fake_intacct.entries_by_local() == {1: 1, 2: 1}
    last = fake_intacct.received("POST", "xmlgw")[-1].body.decode()
    assert "REFERENCENO IN ('JE-1', 'JE-2')" in last  # the look-up, after the refusal


def test_item16_the_fake_refuses_a_repeated_controlid_as_intacct_documents(fake_intacct):
    provider = client(fake_intacct)
    provider.push_entries([je(1)], key="once")
    body = fake_intacct.received("POST", "xmlgw")[-1].body
    answer = httpx.post(f"{fake_intacct.url}/ia/xml/xmlgw.phtml", content=body.replace(b"<sessionid>", b"<sessionid>"))
    assert "<status>failure</status>" in answer.text and "already executed" in answer.text
    assert fake_intacct.entries_by_local() == {1: 1}


def test_item17_base_currency_sends_no_currency_and_a_foreign_one_its_rate_type(fake_intacct):
    """Issue 22 item 17: CURRENCY only with EXCH_RATE_TYPE_ID; an entry in the base currency sends none."""
    provider = client(fake_intacct)
    base = dataclasses.replace(je(1), base_currency="USD")
    foreign = dataclasses.replace(je(2), currency="EUR", base_currency="USD")
    assert [o.error for o in provider.push_entries([base, foreign], key="cur")] == [None, None]
    body = fake_intacct.received("POST", "xmlgw")[-1].body.decode()
    first, second = body.split("</GLBATCH>")[:2]
    assert "<CURRENCY>" not in first
    assert "<CURRENCY>EUR</CURRENCY><EXCH_RATE_TYPE_ID>Intacct Daily Rate</EXCH_RATE_TYPE_ID>" in second


def test_item17_currency_without_rate_type_breaks_the_contract(fake_intacct):
    provider = client(fake_intacct)
    provider.push_entries([je(1)], key="c1")
    body = (
        fake_intacct.received("POST", "xmlgw")[-1]
        .body.replace(b"<TRX_AMOUNT>100.00</TRX_AMOUNT>", b"<TRX_AMOUNT>100.00</TRX_AMOUNT><CURRENCY>USD</CURRENCY>")
        .replace(b'controlid="je-1-c1"', b'controlid="je-1-c2"')
    )
    with contracts.expect_violations() as found:
        answer = httpx.post(f"{fake_intacct.url}/ia/xml/xmlgw.phtml", content=body)
    assert "XL03000003" in answer.text and any("EXCH_RATE_TYPE_ID" in v for v in found)


@pytest.mark.parametrize(
    "endpoint, followed",
    [("https://api-eu.intacct.com/ia/xml/xmlgw.phtml", True), ("https://intacct.com.evil.example/ia/xml/xmlgw.phtml", False)],
)
def test_item18_the_session_endpoint_is_followed_only_on_an_intacct_host(fake_intacct, endpoint, followed):
    fake_intacct.session_endpoint = endpoint
    provider = client(fake_intacct)
    assert provider.endpoint == (endpoint if followed else f"{fake_intacct.url}/ia/xml/xmlgw.phtml")


def test_item19_a_changed_entry_is_deleted_and_created_again_in_one_transaction(fake_intacct):
    """Issue 22 item 19: the SDK has no GLBATCH update. The old batch is deleted and the entry created
    again, in one operation transaction="true"; <update><GLBATCH> is never sent."""
    provider = client(fake_intacct)
    [first] = provider.push_entries([je(5)], key="a")
    changed = dataclasses.replace(je(5, amount="150.00"), external_id=first.external_id)
    [second] = provider.push_entries([changed], key="b")
    assert second.error is None and second.external_id != first.external_id
    assert list(fake_intacct.batches) == [second.external_id]
    assert fake_intacct.batches[second.external_id]["entries"][0]["TRX_AMOUNT"] == "150.00"
    body = fake_intacct.received("POST", "xmlgw")[-1].body.decode()
    assert 'transaction="true"' in body and "<delete><object>GLBATCH</object>" in body and "<update>" not in body


def test_item19_a_refused_replacement_keeps_the_old_batch(fake_intacct):
    provider = client(fake_intacct)
    [first] = provider.push_entries([je(5)], key="a")
    moved = dataclasses.replace(je(5, debit="9999"), external_id=first.external_id)
    [second] = provider.push_entries([moved], key="b")
    assert isinstance(second.error, EntryRejected) and "Invalid account 9999" in second.error.message
    assert list(fake_intacct.batches) == [first.external_id]  # rolled back: the delete did not stand


def test_item19_update_of_a_glbatch_breaks_the_contract(fake_intacct):
    provider = client(fake_intacct)
    provider.push_entries([je(1)], key="u1")
    body = fake_intacct.received("POST", "xmlgw")[-1].body.replace(b"<create>", b"<update>").replace(b"</create>", b"</update>")
    with contracts.expect_violations() as found:
        answer = httpx.post(f"{fake_intacct.url}/ia/xml/xmlgw.phtml", content=body)
    assert "<status>failure</status>" in answer.text and any("never updated" in v for v in found)


def test_result_level_errors_per_function(fake_intacct):
    fake_intacct.closed_through["200"] = date(2026, 1, 31)
    provider = client(fake_intacct)
    ok, unknown, closed = provider.push_entries(
        [je(1, entity="100"), je(2, debit="9999"), je(3, when=date(2026, 1, 15), entity="200")], key="k"
    )
    assert ok.error is None
    assert isinstance(unknown.error, EntryRejected) and "Invalid account 9999" in unknown.error.message
    assert isinstance(closed.error, ClosedPeriodRejected) and "Periods are closed" in closed.error.message


def test_malformed_xml_answer_is_a_clear_error(fake_intacct):
    provider = client(fake_intacct)
    fake_intacct.inject("xmlgw", 200, "<response><control>", times=1)
    with pytest.raises(UnexpectedResponse, match="not XML"):
        provider.list_accounts()


def test_malformed_xml_request_is_refused_at_control_level(fake_intacct):
    with contracts.expect_violations():
        answer = httpx.post(f"{fake_intacct.url}/ia/xml/xmlgw.phtml", content=b"<request><control>")
    assert answer.status_code == 200 and "<status>failure</status>" in answer.text and "XL03000003" in answer.text


def test_entities_are_listed_from_locations(fake_intacct):
    assert client(fake_intacct).list_entities() == [("100", "East entity"), ("200", "West entity")]


# ---------------------------------------------------------------- through the services


def test_connect_with_credentials_stores_entities_and_refuses_a_bad_password(db, company, fake_intacct, settings):
    settings.INTEGRATIONS_PROVIDERS = {
        **settings.INTEGRATIONS_PROVIDERS,
        "intacct": {**settings.INTEGRATIONS_PROVIDERS["intacct"], "api_base_url": fake_intacct.url},
    }
    with pytest.raises(IntegrationError, match="refused the user"):
        services.connection_connect_credentials(
            company=company,
            provider_code="intacct",
            company_id=fake_intacct.tenant_id,
            user_id=USER_ID,
            password="nope",
            actor=None,
        )
    assert not Connection.objects.filter(company=company).exists()  # nothing half written
    conn = services.connection_connect_credentials(
        company=company,
        provider_code="intacct",
        company_id=fake_intacct.tenant_id,
        user_id=USER_ID,
        password=USER_PASSWORD,
        actor=None,
    )
    assert conn.provider == "intacct" and conn.is_active
    assert str(conn.refresh_token) == credentials_secret(USER_ID, USER_PASSWORD)
    assert list(conn.entities.values_list("external_id", "name")) == [("100", "East entity"), ("200", "West entity")]


def test_an_entity_of_another_connection_is_refused(db, company, fake_intacct):
    conn = connect_intacct(company, fake_intacct)
    with pytest.raises(IntegrationError, match="does not belong"):
        services.entity_closed_date_set(connection=conn, external_id="999", closed_through=date(2026, 1, 31), actor=None)
    with pytest.raises(IntegrationError, match="does not belong"):
        services.sync_run_start(company=company, actor=None, entity="999", enqueue=False)
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.PUSH).exists()


def test_bc9_two_entities_with_different_closed_dates_each_accept_and_refuse_the_right_documents(db, company, fake_intacct):
    """BC9: East is closed through January (entered in closebooks), West only through December
    (learned from Intacct's refusal). A January entry goes to West and is refused for East;
    a December entry is refused for both; February goes to both."""
    conn = connect_intacct(company, fake_intacct)
    services.entity_closed_date_set(connection=conn, external_id="100", closed_through=date(2026, 1, 31), actor=None)
    fake_intacct.closed_through["200"] = date(2025, 12, 31)  # what Intacct holds, no API says it

    dec, jan, feb = (post_entries(company, 1, entry_date=d)[0] for d in (date(2025, 12, 20), date(2026, 1, 20), date(2026, 2, 5)))
    east = services.sync_run_start(company=company, actor=None, entity="100", enqueue=False)
    east = services.sync_run_execute(run_id=east.pk)
    assert (east.done, east.failed) == (1, 2)
    refused = {i.entry_id: i.message for i in east.issues.filter(code="closed_period")}
    assert set(refused) == {dec.pk, jan.pk}
    assert "entered in closebooks" in refused[jan.pk]  # says which date it was checked against
    assert fake_intacct.entries_by_local() == {feb.pk: 1}

    # The same entries for West: the closed rows are tried again under the West entity.
    OutboxEntry.objects.filter(connection=conn).delete()
    west = services.sync_run_start(company=company, actor=None, entity="200", enqueue=False)
    west = services.sync_run_execute(run_id=west.pk)
    assert (west.done, west.failed) == (2, 1)
    [issue] = west.issues.all()
    assert issue.entry_id == dec.pk and issue.code == "closed_period" and "Periods are closed" in issue.message
    west_entity = ConnectionEntity.objects.get(connection=conn, external_id="200")
    assert west_entity.closed_through == date(2025, 12, 20)
    assert west_entity.closed_source.startswith("Learned from")
    # Next time West's December entry is refused here, before it reaches Intacct.
    requests = len(fake_intacct.requests)
    assert services.entity_closed_refusal(entity=west_entity, entry_date=date(2025, 12, 15))
    assert not services.entity_closed_refusal(entity=west_entity, entry_date=date(2026, 1, 20))
    assert not services.entity_closed_refusal(
        entity=ConnectionEntity.objects.get(connection=conn, external_id="100"), entry_date=date(2026, 2, 1)
    )
    assert len(fake_intacct.requests) == requests

    # The ledger holds each entity's own date too, so closebooks' own postings obey it (BC9).
    from ledger.exceptions import BooksClosedError
    from ledger.models import Account
    from ledger.services import LineInput, books_closed_update, journal_entry_create, ledger_entity_get

    books_closed_update(company=company, actor=None, enabled=True)  # the company's switch (BC1)
    dr, cr = Account.objects.get(company=company, code="6100"), Account.objects.get(company=company, code="1000")

    def post(entity_key, day):
        return journal_entry_create(
            company=company,
            entry_date=day,
            actor=None,
            entity=ledger_entity_get(company=company, key=entity_key),
            lines=[LineInput(dr, debit="1.00"), LineInput(cr, credit="1.00")],
        )

    with pytest.raises(BooksClosedError):
        post("100", date(2026, 1, 10))  # East: closed through January 31, entered in closebooks
    post("200", date(2026, 1, 10))  # West: open in January
    with pytest.raises(BooksClosedError):
        post("200", date(2025, 12, 10))  # West: closed through December 20, learned from the refusal


def test_closed_date_pull_says_intacct_has_no_api_date_and_shows_each_entity(db, company, fake_intacct):
    conn = connect_intacct(company, fake_intacct)
    services.entity_closed_date_set(connection=conn, external_id="100", closed_through=date(2026, 1, 31), actor=None)
    run = services.closed_date_pull(connection=conn)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.result["source"] == "none"
    assert run.result["entities"]["100"] == {"closed_through": "2026-01-31", "source": "Entered in closebooks"}
    assert run.result["entities"]["200"] == {"closed_through": None, "source": "No closed date"}


# ---------------------------------------------------------------- a real worker, SIGKILLed


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_request_duplicates_nothing_at_intacct(company):
    """IN4: SIGKILL while Intacct has saved a request of GLBATCH functions whose answer is still on
    its way; the successor resends them with the same function controlids, the gateway refuses the
    repeats (uniqueid=true) and each refused entry is found by its REFERENCENO: each entry once."""
    import time

    from integrations.tasks import push_run
    from tests.worker_process import WorkerProcess, wait_for

    with FakeSageIntacct() as fake:
        connect_intacct(company, fake)
        entries = post_entries(company, 200)
        worker = WorkerProcess().start()
        try:
            fake.latency = 0.4
            run = services.sync_run_start(company=company, actor=None, enqueue=False, entity="100")
            push_run.apply_async(args=[run.pk], queue=worker.queue)
            wait_for(lambda: sum(fake.entries_by_local().values()) >= 100, timeout=60)
            worker.kill()
        finally:
            worker.stop()
        run.refresh_from_db()
        assert not run.is_finished
        assert OutboxEntry.objects.filter(run=run, state=OutboxEntry.State.PENDING).exclude(request_key="").exists()
        fake.latency = 0.0
        time.sleep(worker.visibility_timeout + 1)
        successor = WorkerProcess(visibility_timeout=4)
        successor.queue, successor.env = worker.queue, worker.env
        successor.start()
        try:
            run = wait_for(lambda: run if (run.refresh_from_db() or run.is_finished) else None, timeout=120, step=0.25)
        finally:
            successor.stop()
        assert run.status == SyncRun.Status.SUCCEEDED and run.done == 200
        assert fake.entries_by_local() == {e.pk: 1 for e in entries}


def test_item19_a_replacement_in_a_closed_period_says_so(fake_intacct):
    provider = client(fake_intacct)
    [first] = provider.push_entries([je(5, when=date(2026, 1, 10))], key="a")
    fake_intacct.closed_through[""] = date(2026, 1, 31)
    changed = dataclasses.replace(je(5, when=date(2026, 1, 10), amount="150.00"), external_id=first.external_id)
    [second] = provider.push_entries([changed], key="b")
    assert isinstance(second.error, ClosedPeriodRejected) and "Periods are closed" in second.error.message
    assert list(fake_intacct.batches) == [first.external_id]


def test_control_characters_never_make_ill_formed_xml(db, company, fake_intacct, settings):
    """Found by the contract check (issue 22): a control character in a typed credential is refused with
    a form error, one in a memo is sent as a space; the XML sent is always well-formed."""
    settings.INTEGRATIONS_PROVIDERS = {
        **settings.INTEGRATIONS_PROVIDERS,
        "intacct": {**settings.INTEGRATIONS_PROVIDERS["intacct"], "api_base_url": fake_intacct.url},
    }
    with pytest.raises(IntegrationError, match="control character"):
        services.connection_connect_credentials(
            company=company, provider_code="intacct", company_id="\x08", user_id=USER_ID, password=USER_PASSWORD, actor=None
        )
    provider = client(fake_intacct)
    [ok] = provider.push_entries([dataclasses.replace(je(1), memo="rent\x0bmarch")], key="ctl")
    assert ok.error is None and fake_intacct.batches[ok.external_id]["BATCH_TITLE"] == "rent march"
