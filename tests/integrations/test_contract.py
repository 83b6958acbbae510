"""Contract tests: the real provider clients against the fake vendors over loopback (IN1).
The fakes answer what the vendors document (integration-apis.md); the clients must read it."""

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest

from integrations.fakes import FakeQuickBooksOnline, FakeXero
from integrations.providers import ProviderConfig, QuickBooksOnline, Xero
from integrations.providers.base import (
    ClosedPeriodRejected,
    ConnectionBroken,
    EntryRejected,
    PushEntry,
    PushLine,
    RateLimited,
    TokenExpired,
    Tokens,
    TransientError,
    UnexpectedResponse,
)
from integrations.providers.xero import ms_json_date
from tests.integrations.factories import fake_urls


def client_for(fake, cls=None):
    cls = cls or (QuickBooksOnline if isinstance(fake, FakeQuickBooksOnline) else Xero)
    config = ProviderConfig(fake.client_id, fake.client_secret, **fake_urls(fake))
    tokens = fake.issue_tokens()
    return cls(config, tenant_id=fake.tenant_id, tokens=Tokens(tokens["access_token"], tokens["refresh_token"], None))


def entry(client, local_id, *, when=date(2026, 1, 31), amount="100.00", credit_code="1000"):
    accounts = {a.number: a for a in client.list_accounts()}
    dr, cr = accounts["6100"], accounts[credit_code]
    return PushEntry(
        local_id,
        when,
        "rent",
        "R-1",
        "USD",
        (
            PushLine(dr.external_id, dr.number, Decimal(amount), Decimal(0), "rent"),
            PushLine(cr.external_id, cr.number, Decimal(0), Decimal(amount), "cash"),
        ),
    )


def oauth_round_trip(fake, client, redirect="http://127.0.0.1:9/cb"):
    url = client.authorize_url(state="s-123", redirect_uri=redirect)
    screen = httpx.get(url)
    assert screen.status_code == 200 and "Connect" in screen.text
    answer = httpx.post(url.split("?")[0], data={**dict(httpx.URL(url).params), "decision": "allow"})
    assert answer.status_code == 302
    back = dict(httpx.URL(answer.headers["location"]).params)
    assert back["state"] == "s-123"
    return back


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_authorization_code_flow_gives_tokens_and_the_tenant(cls):
    """IN2: authorize screen, redirect with code+state (+realmId for QBO), code exchange, tenant."""
    with cls() as fake:
        client = client_for(fake)
        client.tokens = None
        back = oauth_round_trip(fake, client)
        tokens = client.exchange_code(code=back["code"], redirect_uri="http://127.0.0.1:9/cb")
        assert tokens.access_token and tokens.refresh_token
        assert client.tenant_from_callback(back)[0] == fake.tenant_id
        # a code is good once
        with pytest.raises(ConnectionBroken):
            client.exchange_code(code=back["code"], redirect_uri="http://127.0.0.1:9/cb")


def test_tokens_never_show_in_repr():
    tokens = Tokens("secret-access", "secret-refresh", None)
    assert "secret" not in repr(tokens)


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_expired_access_token_is_a_401_and_refresh_fixes_it(cls):
    with cls() as fake:
        client = client_for(fake)
        fake.expire_access_tokens()
        with pytest.raises(TokenExpired):
            client.list_accounts()
        client.refresh()
        assert len(client.list_accounts()) == len(fake.chart)


def test_xero_refresh_tokens_rotate_and_the_old_one_dies_after_the_grace():
    with FakeXero() as fake:
        client = client_for(fake)
        old = client.tokens.refresh_token
        client.refresh()
        assert client.tokens.refresh_token != old
        fake.refresh_grace = 0.0
        client.tokens = Tokens("x", old, None)
        with pytest.raises(ConnectionBroken, match="invalid_grant"):
            client.refresh()


def test_qbo_refresh_keeps_working_and_revocation_breaks_it():
    with FakeQuickBooksOnline() as fake:
        client = client_for(fake)
        client.refresh()
        fake.revoke()
        with pytest.raises(ConnectionBroken):
            client.refresh()


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_chart_of_accounts_includes_archived_accounts(cls):
    with cls() as fake:
        accounts = {a.number: a for a in client_for(fake).list_accounts()}
        assert accounts["1050"].active is False  # archived in the vendor
        assert accounts["6100"].name == "Rent" and accounts["6100"].active


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_replayed_idempotency_key_returns_the_original_not_a_duplicate(cls):
    """IN4: same key -> the vendor's original answer; the fake holds one entry."""
    with cls() as fake:
        client = client_for(fake)
        je = entry(client, 7)
        first = client.push_entries([je], key="key-7")
        again = client.push_entries([je], key="key-7")
        assert first[0].external_id and again[0].external_id == first[0].external_id
        assert fake.entries_by_local() == {7: 1}


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_without_a_key_a_retry_creates_a_duplicate(cls):
    """The fakes reproduce what the vendors do when a client forgets its key."""
    with cls() as fake:
        client = client_for(fake)
        je = entry(client, 8)
        if cls is FakeQuickBooksOnline:
            for _ in range(2):
                client._call(
                    "POST",
                    client._url("journalentry"),
                    content=json.dumps(
                        {
                            **client.journal_entry_body(je),
                            "Line": [{**line, "Amount": 100.0} for line in client.journal_entry_body(je)["Line"]],
                        }
                    ),
                    headers={"Content-Type": "application/json"},
                )
        else:
            body = {
                "ManualJournals": [
                    {
                        **client.manual_journal_body(je),
                        "JournalLines": [{"LineAmount": 100, "AccountCode": "6100"}, {"LineAmount": -100, "AccountCode": "1000"}],
                    }
                ]
            }
            for _ in range(2):
                client._call("PUT", "ManualJournals", content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert fake.entries_by_local() == {8: 2}


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_batch_push_with_per_entry_results(cls):
    with (
        cls(book_close_date=date(2025, 12, 31))
        if cls is FakeQuickBooksOnline
        else cls(period_lock_date=date(2025, 12, 31)) as fake
    ):
        client = client_for(fake)
        entries = [entry(client, n) for n in (1, 2)] + [entry(client, 3, when=date(2025, 12, 15))]
        outcomes = client.push_entries(entries, key="batch-1")
        assert [bool(o.external_id) for o in outcomes] == [True, True, False]
        assert isinstance(outcomes[2].error, ClosedPeriodRejected)
        assert fake.entries_by_local() == {1: 1, 2: 1}
        # the whole batch replayed: the original per-entry answers, nothing new
        assert [o.external_id for o in client.push_entries(entries, key="batch-1")] == [o.external_id for o in outcomes]
        assert fake.entries_by_local() == {1: 1, 2: 1}


def test_qbo_closed_period_is_matched_on_message_also_inside_http_200():
    with FakeQuickBooksOnline(book_close_date=date(2026, 1, 31), faults_in_200=True) as fake:
        client = client_for(fake)
        (outcome,) = client.push_entries([entry(client, 1)], key="k")
        assert isinstance(outcome.error, ClosedPeriodRejected)
        assert "Account Period Closed" in outcome.error.message


def test_qbo_validation_fault_inside_http_200_is_an_entry_rejection():
    with FakeQuickBooksOnline(faults_in_200=True) as fake:
        client = client_for(fake)
        (outcome,) = client.push_entries([entry(client, 1, credit_code="1050")], key="k")  # archived account
        assert type(outcome.error) is EntryRejected and "inactive" in outcome.error.message


def test_xero_validation_errors_and_archived_accounts():
    with FakeXero() as fake:
        client = client_for(fake)
        (outcome,) = client.push_entries([entry(client, 1, credit_code="1050")], key="k")
        assert type(outcome.error) is EntryRejected and "archived" in outcome.error.message


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_throttling_and_server_errors_are_classified(cls):
    with cls() as fake:
        client = client_for(fake)
        target = "journalentry" if cls is FakeQuickBooksOnline else "ManualJournals"
        fake.inject(
            target,
            429,
            {"Fault": {"Error": [{"Message": "ThrottleExceeded", "code": "003001"}]}}
            if cls is FakeQuickBooksOnline
            else {"Title": "Too Many Requests"},
            headers={"Retry-After": "7", "X-Rate-Limit-Problem": "minute"},
        )
        fake.inject(target, 503, "Service Unavailable")
        je = entry(client, 1)
        with pytest.raises(RateLimited) as throttled:
            client.push_entries([je], key="k")
        assert throttled.value.retry_after == 7.0
        with pytest.raises(TransientError):
            client.push_entries([je], key="k")
        assert client.push_entries([je], key="k")[0].external_id


def test_xero_throttles_at_sixty_calls_a_minute_with_its_headers():
    with FakeXero() as fake:
        client = client_for(fake)
        for _ in range(60):
            client._call("GET", "Organisation")
        with pytest.raises(RateLimited) as exc:
            client._call("GET", "Organisation")
        assert 0 < exc.value.retry_after <= 60
        assert "minute limit" in exc.value.message and fake.throttled == 1


def test_qbo_throttles_batch_calls_at_forty_a_minute():
    with FakeQuickBooksOnline() as fake:
        client = client_for(fake)
        entries = [entry(client, 1), entry(client, 2)]
        for n in range(40):
            client.push_entries(entries, key=f"b{n}")
        with pytest.raises(RateLimited):
            client.push_entries(entries, key="b40")


@pytest.mark.parametrize("cls", [FakeQuickBooksOnline, FakeXero])
def test_closed_dates(cls):
    """BC7: QBO BookCloseDate; Xero the later of PeriodLockDate and EndOfYearLockDate (MS-JSON)."""
    kwargs = (
        {"book_close_date": date(2026, 3, 31)}
        if cls is FakeQuickBooksOnline
        else {"period_lock_date": date(2026, 3, 31), "end_of_year_lock_date": date(2025, 12, 31)}
    )
    with cls(**kwargs) as fake:
        assert client_for(fake).read_closed_date().closed_through == date(2026, 3, 31)
    with cls() as fake:
        assert client_for(fake).read_closed_date().closed_through is None


def test_ms_json_dates():
    assert ms_json_date("/Date(1546214400000+0000)/") == date(2018, 12, 31)
    with pytest.raises(UnexpectedResponse):
        ms_json_date("2018-12-31")


def test_a_response_that_is_not_what_the_documentation_says_is_a_clear_error():
    with FakeQuickBooksOnline() as fake:
        client = client_for(fake)
        fake.inject("preferences", 200, "<html>maintenance</html>")
        with pytest.raises(UnexpectedResponse, match="not JSON"):
            client.read_closed_date()
        fake.inject("preferences", 200, {"Something": "else"})
        with pytest.raises(UnexpectedResponse, match="Preferences"):
            client.read_closed_date()


def test_wrong_tenant_is_refused():
    with FakeXero() as fake:
        client = client_for(fake)
        client.tenant_id = "00000000-0000-0000-0000-000000000000"
        with pytest.raises(ConnectionBroken):
            client.list_accounts()


def test_xero_whole_request_validation_exception_is_read():
    with FakeXero() as fake:
        client = client_for(fake)
        body = {
            "ManualJournals": [
                {
                    "Narration": "x",
                    "Date": "2026-01-01",
                    "Status": "POSTED",
                    "JournalLines": [{"LineAmount": 100, "AccountCode": "6100"}, {"LineAmount": -10, "AccountCode": "1000"}],
                }
            ]
        }
        with pytest.raises(EntryRejected, match=r"The total debits \(100.00\) must equal total credits \(-10.00\)"):
            client._call("PUT", "ManualJournals", content=json.dumps(body), headers={"Content-Type": "application/json"})
