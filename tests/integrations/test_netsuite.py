"""Oracle NetSuite: the real REST client against the fake account over loopback (IN1), the closed
date from accounting periods (BC7, BC8) and exactly-once upserts by external id (IN4)."""

import time
from datetime import date
from decimal import Decimal

import httpx
import pytest

from integrations import services
from integrations.fakes import FakeNetSuite
from integrations.models import Connection, OutboxEntry, SyncRun
from integrations.providers import NetSuite, ProviderConfig
from integrations.providers.base import (
    ClosedPeriodRejected,
    ConnectionBroken,
    EntryRejected,
    ProviderError,
    PushEntry,
    PushLine,
    RateLimited,
    TokenExpired,
    Tokens,
    UnexpectedResponse,
)
from integrations.providers.http import dumps
from integrations.providers.netsuite import closed_through_from_periods, version_tuple
from tests.integrations.factories import connect_to_fake, fake_urls, post_entries


@pytest.fixture
def fake_ns():
    with FakeNetSuite() as fake:
        yield fake


def client(fake):
    urls = fake_urls(fake)
    urls.pop("connections_url")
    tokens = fake.issue_tokens()
    return NetSuite(
        ProviderConfig(fake.client_id, fake.client_secret, **urls),
        tenant_id=fake.tenant_id,
        tokens=Tokens(tokens["access_token"], tokens["refresh_token"], None),
    )


def je(provider, local_id, when=date(2026, 5, 10), amount="100.00", debit="6100"):
    accounts = {a.number: a for a in provider.list_accounts()}
    dr, cr = accounts.get(debit), accounts["1000"]
    return PushEntry(
        local_id,
        when,
        "rent",
        "R",
        "USD",
        (
            PushLine(dr.external_id if dr else "99999", debit, Decimal(amount), Decimal(0), "rent"),
            PushLine(cr.external_id, "1000", Decimal(0), Decimal(amount), "cash"),
        ),
    )


def test_oauth2_authorization_code_flow_with_pkce_names_the_account(fake_ns):
    """IN2: the authorize request carries an S256 challenge; only the matching verifier gets tokens."""
    provider = client(fake_ns)
    provider.tokens = None
    verifier, challenge = services.pkce_pair()
    assert 43 <= len(verifier) <= 128 and "=" not in challenge
    url = provider.authorize_url(state="s" * 24, redirect_uri="http://127.0.0.1:9/cb", code_challenge=challenge)
    params = dict(httpx.URL(url).params)
    assert params["scope"] == "restlets rest_webservices" and params["response_type"] == "code"
    assert params["code_challenge"] == challenge and params["code_challenge_method"] == "S256"
    assert verifier not in url  # the verifier never leaves closebooks before the exchange

    def consent():
        answer = httpx.post(url.split("?")[0], data={**params, "decision": "allow"})
        return dict(httpx.URL(answer.headers["location"]).params)

    back = consent()
    with pytest.raises(ConnectionBroken, match="invalid_grant"):
        provider.exchange_code(code=back["code"], redirect_uri="http://127.0.0.1:9/cb", code_verifier=services.pkce_pair()[0])
    back = consent()
    tokens = provider.exchange_code(code=back["code"], redirect_uri="http://127.0.0.1:9/cb", code_verifier=verifier)
    assert tokens.access_token and provider.tenant_from_callback(back)[0] == fake_ns.tenant_id
    exchange = fake_ns.received("POST", "/oauth2/v1/token")[-1].body.decode()
    assert "code_verifier=" in exchange
    provider.tokens = tokens
    assert provider.remote_version() == "3.2.1"
    # Without a challenge the fake NetSuite refuses the authorize request, as Oracle does for PKCE clients.
    bare = httpx.get(url.split("?")[0], params={k: v for k, v in params.items() if not k.startswith("code_challenge")})
    assert bare.status_code == 400 and "PKCE" in bare.text


def test_expired_token_is_a_401_then_refresh(fake_ns):
    provider = client(fake_ns)
    fake_ns.expire_access_tokens()
    with pytest.raises(TokenExpired):
        provider.list_accounts()
    provider.tokens = provider.refresh()
    assert len(provider.list_accounts()) == len(fake_ns.chart)


def test_suiteql_pages_with_limit_and_offset(fake_ns, monkeypatch):
    monkeypatch.setattr("integrations.providers.netsuite.PAGE", 7)
    accounts = client(fake_ns).list_accounts()
    assert sorted(a.number for a in accounts) == sorted(r["number"] for r in fake_ns.chart)
    queries = fake_ns.received("POST", "suiteql")
    assert len(queries) == -(-len(accounts) // 7)  # hasMore ends the paging: no request for an empty page
    assert all(q.headers.get("prefer") == "transient" for q in queries)


def test_upsert_by_external_id_never_makes_a_second_record(fake_ns):
    """IN4: the same entry sent twice (its answer lost) is one record, updated."""
    provider = client(fake_ns)
    entry = je(provider, 41)
    [first] = provider.push_entries([entry], key="k")
    [again] = provider.push_entries([entry], key="k")
    assert first.error is None and first.external_id == again.external_id
    assert fake_ns.entries_by_local() == {41: 1}
    put = fake_ns.received("PUT", "journalentry")[-1]
    assert put.path.endswith("/eid:closebooks-JE-41") and put.json()["externalId"] == "closebooks-JE-41"


def test_o_error_details_are_read_per_entry(fake_ns):
    fake_ns.close_through(date(2026, 1, 31))
    provider = client(fake_ns)
    closed, unknown = provider.push_entries([je(provider, 1, when=date(2026, 1, 5))], key="a") + provider.push_entries(
        [je(provider, 2, debit="4242")], key="b"
    )
    assert isinstance(closed.error, ClosedPeriodRejected) and "accounting period" in closed.error.message
    assert isinstance(unknown.error, EntryRejected) and "INVALID_KEY_OR_REF" in unknown.error.message


def test_concurrency_limit_is_a_429(fake_ns):
    provider = client(fake_ns)
    fake_ns.inject("journalentry", 429, {"o:errorDetails": [{"detail": "x", "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}]})
    with pytest.raises(RateLimited):
        provider.push_entries([je(provider, 3)], key="c")


def test_closed_date_is_the_end_of_the_last_contiguous_closed_period_and_locks_are_shown(fake_ns):
    """BC7: closed Oct–Jan; Feb and Mar locked but not closed; an odd closed April after open March is not counted."""
    fake_ns.close_through(date(2026, 1, 31), locked_after=2)
    next(p for p in fake_ns.periods if p["periodname"] == "Apr 2026")["closed"] = "T"  # after open Feb/Mar
    [closed] = client(fake_ns).read_closed_dates()
    assert closed.closed_through == date(2026, 1, 31)
    assert [p["period"] for p in closed.detail["locked_not_closed"]] == ["Feb 2026", "Mar 2026"]
    assert closed.detail["locked_not_closed"][0]["state"] == "locked, not closed"
    assert closed.detail["closed_after_an_open_period"] == ["Apr 2026"]


def test_periods_with_a_gap_are_a_clear_error(fake_ns):
    fake_ns.close_through(date(2026, 1, 31))
    del fake_ns.periods[2]  # December 2025 missing
    with pytest.raises(UnexpectedResponse, match="not contiguous: Nov 2025 ends 2025-11-30 and Jan 2026 starts 2026-01-01"):
        client(fake_ns).read_closed_dates()


def test_bundle_below_3_2_0_refuses_closed_date_sync(fake_ns):
    """BC7: below bundle 3.2.0 the closed date is not read at all."""
    fake_ns.bundle_version = "3.1.9"
    fake_ns.close_through(date(2026, 1, 31))
    with pytest.raises(ProviderError, match=r"needs the closebooks bundle 3\.2\.0 or later.*has 3\.1\.9"):
        client(fake_ns).read_closed_dates()
    assert not fake_ns.received("POST", "suiteql")
    assert version_tuple("3.10.0") > version_tuple("3.2.0") > version_tuple("3.1.9")


def test_no_closed_period_gives_no_date():
    rows = [
        {"id": "1", "periodname": "Jan", "startdate": "2026-01-01", "enddate": "2026-01-31", "closed": "F"},
        {"id": "2", "periodname": "Feb", "startdate": "2026-02-01", "enddate": "2026-02-28", "closed": "F", "alllocked": "T"},
    ]
    closed, detail = closed_through_from_periods(rows)
    assert closed is None and detail["locked_not_closed"] == [{"period": "Feb", "locked": "all", "state": "locked, not closed"}]


# ---------------------------------------------------------------- through the services


def test_closed_date_pull_records_the_date_and_the_refusal_leaves_it(db, company, fake_ns):
    conn = connect_to_fake(company, fake_ns)
    fake_ns.close_through(date(2026, 1, 31), locked_after=1)
    run = services.closed_date_pull(connection=conn)
    assert run.status == SyncRun.Status.SUCCEEDED and run.result["closed_through"] == "2026-01-31"
    assert run.result["locked_not_closed"][0]["period"] == "Feb 2026"
    fake_ns.bundle_version = "3.0.0"
    fake_ns.close_through(date(2026, 2, 28))
    refused = services.closed_date_pull(connection=conn)
    assert refused.status == SyncRun.Status.FAILED and "3.2.0 or later" in refused.error
    conn.refresh_from_db()
    assert conn.remote_closed_date == date(2026, 1, 31)  # nothing half written


def test_push_run_through_the_engine(db, company, fake_ns):
    conn = connect_to_fake(company, fake_ns)
    fake_ns.close_through(date(2026, 1, 31))
    ok = post_entries(company, 4, entry_date=date(2026, 3, 3))
    refused = post_entries(company, 1, entry_date=date(2026, 1, 3))
    run = services.sync_run_start(company=company, actor=None, enqueue=False)
    run = services.sync_run_execute(run_id=run.pk, sleep=lambda s: None)
    assert (run.status, run.done, run.failed) == (SyncRun.Status.PARTIAL, 4, 1)
    assert run.issues.get().entry_id == refused[0].pk and run.issues.get().code == "closed_period"
    assert fake_ns.entries_by_local() == {e.pk: 1 for e in ok}
    assert Connection.objects.get(pk=conn.pk).provider == "netsuite"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_run_duplicates_nothing_at_netsuite(company):
    """IN4: SIGKILL while NetSuite has saved an entry whose answer is still on its way; the successor
    upserts it again on the same external id: each entry once."""
    from integrations.tasks import push_run
    from tests.worker_process import WorkerProcess, wait_for

    with FakeNetSuite() as fake:
        connect_to_fake(company, fake)
        entries = post_entries(company, 40)
        worker = WorkerProcess().start()
        try:
            fake.latency = 0.3
            run = services.sync_run_start(company=company, actor=None, enqueue=False)
            push_run.apply_async(args=[run.pk], queue=worker.queue)
            wait_for(lambda: sum(fake.entries_by_local().values()) >= 5, timeout=60)
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
        assert run.status == SyncRun.Status.SUCCEEDED and run.done == 40
        assert fake.entries_by_local() == {e.pk: 1 for e in entries}


# ---------------------------------------------------------------- issue 22: NetSuite as Oracle documents it


def test_item1_the_account_hosts_come_from_the_redirect_and_the_connection_keeps_them(settings):
    """Issue 22 item 1: production settings name no host; the account id the redirect returns makes the
    token endpoint, the REST host and the RESTlet host (1234567_SB1 is the host label 1234567-sb1)."""
    config = ProviderConfig(
        "id",
        "secret",
        **{k: v for k, v in settings.INTEGRATIONS_PROVIDERS["netsuite"].items() if k not in ("client_id", "client_secret")},
    )
    provider = NetSuite(config)
    provider.prepare_from_callback({"code": "c", "state": "s", "company": "1234567_SB1"})
    assert provider.tenant_id == "1234567_SB1"
    assert provider.config.token_url == "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    assert provider.config.api_base_url == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert provider.restlet_base == "https://1234567-sb1.restlets.api.netsuite.com"
    assert provider.tenant_from_callback({"company": "1234567_SB1"}) == ("1234567_SB1", "NetSuite account 1234567_SB1")


def test_item1_connect_through_the_callback_stores_the_hosts_it_used(db, company, fake_ns, settings):
    from tests.integrations.factories import provider_settings

    settings.INTEGRATIONS_PROVIDERS = {**settings.INTEGRATIONS_PROVIDERS, **provider_settings(fake_ns)}
    verifier, challenge = services.pkce_pair()
    url = NetSuite(services.provider_config("netsuite")).authorize_url(
        state="s" * 24, redirect_uri="http://127.0.0.1:9/cb", code_challenge=challenge
    )
    answer = httpx.post(url.split("?")[0], data={**dict(httpx.URL(url).params), "decision": "allow"})
    back = dict(httpx.URL(answer.headers["location"]).params)
    conn = services.connection_connect(
        company=company,
        provider_code="netsuite",
        code=back["code"],
        params=back,
        redirect_uri="http://127.0.0.1:9/cb",
        actor=None,
        code_verifier=verifier,
    )
    assert conn.tenant_id == fake_ns.tenant_id and conn.remote_version == "3.2.1"
    assert conn.token_url == f"{fake_ns.url}/services/rest/auth/oauth2/v1/token" and conn.api_base_url == fake_ns.url


def test_item2_the_bundle_restlet_is_called_on_the_restlet_host_with_the_restlets_scope(fake_ns):
    provider = client(fake_ns)
    provider.config = ProviderConfig(**{**provider.config.__dict__, "connections_url": f"{fake_ns.url}/restlets-host"})
    assert provider.remote_version() == ""  # the RESTlet host is where it goes: here, a path the fake does not serve
    assert fake_ns.received("GET", "/restlets-host/app/site/hosting/restlet.nl")
    provider = client(fake_ns)
    assert provider.remote_version() == "3.2.1"
    only_rest = fake_ns._issue(scope="rest_webservices")
    provider.tokens = Tokens(only_rest["access_token"], only_rest["refresh_token"], None)
    with pytest.raises(TokenExpired):  # NetSuite refuses a token without the restlets scope (401)
        provider.remote_version()


def test_item3_oneworld_journal_entries_carry_the_subsidiary(fake_ns):
    """Issue 22 item 3: OneWorld requires a subsidiary; the account's only posting subsidiary is sent
    (its elimination subsidiary takes no postings), the run's entity when there is one."""
    provider = client(fake_ns)
    [ok] = provider.push_entries([je(provider, 1)], key="a")
    assert ok.error is None and fake_ns.records[ok.external_id]["subsidiary"] == {"id": "1"}
    fake_ns.subsidiaries["2"] = {"name": "Canada", "iselimination": "F", "isinactive": "F"}
    provider = client(fake_ns)
    [several] = provider.push_entries([je(provider, 2)], key="b")
    assert isinstance(several.error, EntryRejected) and "several subsidiaries" in several.error.message
    entry = je(provider, 3)
    [chosen] = provider.push_entries([PushEntry(**{**entry.__dict__, "entity": "2"})], key="c")
    assert chosen.error is None and fake_ns.records[chosen.external_id]["subsidiary"] == {"id": "2"}


def test_item3_without_oneworld_no_subsidiary_is_sent_and_a_missing_one_is_refused_by_oneworld(fake_ns):
    fake_ns.oneworld = False
    provider = client(fake_ns)
    [ok] = provider.push_entries([je(provider, 1)], key="a")
    assert ok.error is None and "subsidiary" not in fake_ns.records[ok.external_id]
    fake_ns.oneworld = True
    body = dict(fake_ns.records[ok.external_id], externalId="closebooks-JE-9")
    answer = httpx.post(
        f"{fake_ns.url}/services/rest/record/v1/journalentry",
        content=dumps(body),
        headers={"Authorization": f"Bearer {provider.tokens.access_token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and "Subsidiary" in answer.text


def test_item4_a_resend_replaces_the_lines_instead_of_adding_them(fake_ns):
    """Issue 22 item 4: PUT …/eid:X?replace=line; without it NetSuite adds the lines it cannot match."""
    provider = client(fake_ns)
    entry = je(provider, 41)
    [first] = provider.push_entries([entry], key="k")
    [again] = provider.push_entries([entry], key="k")
    assert first.external_id == again.external_id and len(fake_ns.records[first.external_id]["line"]["items"]) == 2
    put = fake_ns.received("PUT", "journalentry")[-1]
    assert put.query == {"replace": "line"}
    merged = httpx.put(
        f"{fake_ns.url}{put.path}",
        content=put.body,
        headers={"Authorization": f"Bearer {provider.tokens.access_token}", "Content-Type": "application/json"},
    )
    assert merged.status_code == 204 and len(fake_ns.records[first.external_id]["line"]["items"]) == 4  # what the fix avoids


def test_item5_adjustment_periods_do_not_break_the_run_of_closed_periods(fake_ns):
    """Issue 22 item 5: the year-end adjustment period overlaps December; it is excluded (isadjust)."""
    assert any(p["isadjust"] == "T" for p in fake_ns.periods)
    fake_ns.close_through(date(2026, 1, 31))
    [closed] = client(fake_ns).read_closed_dates()
    assert closed.closed_through == date(2026, 1, 31)
    assert "isadjust='F'" in fake_ns.received("POST", "suiteql")[-1].json()["q"]


def test_item6_dates_are_asked_for_as_yyyy_mm_dd_whatever_the_users_format(fake_ns):
    """Issue 22 item 6: with the user's D/M/YYYY preference, 12/1 is 12 January; SuiteQL is asked for
    TO_CHAR(…, 'YYYY-MM-DD') and a date in any other form is a clear error, never a guess."""
    fake_ns.date_format = "D/M/YYYY"
    fake_ns.close_through(date(2026, 1, 31))
    [closed] = client(fake_ns).read_closed_dates()
    assert closed.closed_through == date(2026, 1, 31)
    with pytest.raises(UnexpectedResponse, match="not as YYYY-MM-DD"):
        closed_through_from_periods([{"periodname": "Jan", "startdate": "12/1/2026", "enddate": "31/1/2026", "closed": "T"}])


def test_item7_a_refresh_answer_without_a_refresh_token_keeps_the_stored_one(fake_ns):
    provider = client(fake_ns)
    stored = provider.tokens.refresh_token
    fresh = provider.refresh()
    assert fresh.refresh_token == stored and fresh.access_token != provider.tokens.access_token


def test_item8_inbound_reads_the_posting_lines_tax_included_in_base_currency(db, company, fake_ns):
    """Issue 22 item 8: transactionaccountingline: every GL line (the tax line too), base amounts."""
    conn = connect_to_fake(company, fake_ns)
    fake_ns.add_transaction(
        type="CustInvc",
        when=date(2026, 3, 4),
        tranid="INV-7",
        lines=[("1100", "108.00", ""), ("4000", "", "100.00"), ("2300", "", "8.00")],
    )
    run = services.inbound_pull(connection=conn)
    assert (run.status, run.done, run.failed) == (SyncRun.Status.SUCCEEDED, 1, 0)
    query = fake_ns.received("POST", "suiteql")[-1].json()["q"]
    assert "transactionaccountingline" in query and "isprimary = 'T'" in query
    from ledger.models import JournalLine

    lines = JournalLine.objects.filter(entry__company=company, entry__reference__contains="INV-7")
    assert sorted((line.account.code, line.debit, line.credit) for line in lines) == [
        ("1100", Decimal("108.00"), Decimal("0.00")),
        ("2300", Decimal("0.00"), Decimal("8.00")),
        ("4000", Decimal("0.00"), Decimal("100.00")),
    ]


def test_bad_input_an_unreadable_transaction_is_refused_alone_with_its_reason(db, company, fake_ns):
    """Issue 22, bad input: one transaction with an amount closebooks cannot hold is refused on its own,
    with the reason on the run; the others are imported."""
    conn = connect_to_fake(company, fake_ns)
    fake_ns.add_transaction(
        type="Journal", when=date(2026, 3, 4), tranid="J-OK", lines=[("6100", "5.00", ""), ("1000", "", "5.00")]
    )
    fake_ns.add_transaction(
        type="Journal", when=date(2026, 3, 4), tranid="J-BAD", lines=[("6100", "5.001", ""), ("1000", "", "5.001")]
    )
    run = services.inbound_pull(connection=conn)
    assert (run.status, run.done, run.failed) == (SyncRun.Status.PARTIAL, 1, 1)
    assert "J-BAD" in run.issues.get().message and "more than two decimal places" in run.issues.get().message
