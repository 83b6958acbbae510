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
    assert params["scope"] == "rest_webservices" and params["response_type"] == "code"
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
    fake_ns.periods[6]["closed"] = "T"  # April 2026, after open Feb/Mar
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
        {"id": "2", "periodname": "Feb", "startdate": "2/1/2026", "enddate": "2/28/2026", "closed": "F", "alllocked": "T"},
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
