"""Xero as Xero documents it (issue 22, items 9-12): the organisation of this sign-in only, per-journal
Warnings on the run, AccountID on journal lines, If-Modified-Since with its UTC offset."""

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from integrations import contracts, services
from integrations.fakes import FakeXero
from integrations.models import Connection, SyncIssue, SyncRun
from integrations.providers import ProviderConfig, Xero
from integrations.providers.base import TenantChoiceNeeded
from integrations.providers.xero import auth_event_id
from tests.integrations.factories import connect_to_fake, fake_urls, post_entries, provider_settings


@pytest.fixture
def fake_xero():
    with FakeXero() as fake:
        yield fake


def signed_in(fake, redirect="http://127.0.0.1:9/cb"):
    """The authorization-code flow up to the code exchange, as the callback runs it."""
    provider = Xero(ProviderConfig(fake.client_id, fake.client_secret, **fake_urls(fake)))
    url = provider.authorize_url(state="s-1", redirect_uri=redirect)
    answer = httpx.post(url.split("?")[0], data={**dict(httpx.URL(url).params), "decision": "allow"})
    back = dict(httpx.URL(answer.headers["location"]).params)
    provider.exchange_code(code=back["code"], redirect_uri=redirect)
    return provider, back


def test_item9_the_organisation_of_this_sign_in_not_the_first_ever_connected(fake_xero):
    """Issue 22 item 9: /connections lists an organisation of an earlier sign-in first; the access
    token's authentication_event_id picks this sign-in's."""
    provider, back = signed_in(fake_xero)
    assert fake_xero.connections[0]["tenantId"] != fake_xero.tenant_id  # what taking the first entry would bind
    assert provider.tenant_from_callback(back) == (fake_xero.tenant_id, fake_xero.tenant_name)
    asked = fake_xero.received("GET", "/connections")[-1]
    assert asked.query["authEventId"] == auth_event_id(provider.tokens.access_token) == fake_xero.auth_events[-1]


def test_item9_several_organisations_in_one_sign_in_are_the_users_choice(db, company, fake_xero, settings):
    settings.INTEGRATIONS_PROVIDERS = {**settings.INTEGRATIONS_PROVIDERS, **provider_settings(fake_xero)}
    fake_xero.also_authorise = [("00000000-0000-4000-8000-000000000002", "Second org")]
    provider, back = signed_in(fake_xero)
    with pytest.raises(TenantChoiceNeeded) as raised:
        provider.tenant_from_callback(back)
    assert dict(raised.value.tenants) == {
        fake_xero.tenant_id: fake_xero.tenant_name,
        "00000000-0000-4000-8000-000000000002": "Second org",
    }
    conn = services.connection_connect_chosen(
        company=company, provider_code="xero", tokens=provider.tokens, tenant_id=fake_xero.tenant_id, actor=None
    )
    assert conn.tenant_id == fake_xero.tenant_id and conn.is_active
    other = fake_xero.connections[0]["tenantId"]  # an earlier sign-in's organisation: not choosable with these tokens
    with pytest.raises(Exception, match="not authorised in this sign-in"):
        services.connection_connect_chosen(
            company=company, provider_code="xero", tokens=provider.tokens, tenant_id=other, actor=None
        )


def test_item9_the_callback_page_asks_which_organisation(client, db, company, fake_xero, settings, member):
    from django.urls import reverse

    from ledger.models import Role

    settings.INTEGRATIONS_PROVIDERS = {**settings.INTEGRATIONS_PROVIDERS, **provider_settings(fake_xero)}
    fake_xero.also_authorise = [("00000000-0000-4000-8000-000000000002", "Second org")]
    client.force_login(member(company, Role.ADMINISTRATOR))
    start = client.post(reverse("integrations:connect", args=[company.slug]), {"provider": "xero"})
    consent = httpx.post(start.url.split("?")[0], data={**dict(httpx.URL(start.url).params), "decision": "allow"})
    back = httpx.URL(consent.headers["location"])
    page = client.get(back.path, dict(back.params))
    assert page.status_code == 200 and b"Second org" in page.content and b"Choose the organisation" in page.content
    assert not Connection.objects.filter(company=company).exists()  # nothing stored before the choice
    done = client.post(
        reverse("integrations:connect_choose", args=[company.slug]), {"tenant": "00000000-0000-4000-8000-000000000002"}
    )
    assert done.status_code == 302
    # The fake serves one organisation's data: the choice is stored, then its chart is pulled from it.
    assert Connection.objects.get(company=company).tenant_id == "00000000-0000-4000-8000-000000000002"


def test_item10_journal_warnings_are_shown_on_the_run(db, company, fake_xero):
    connect_to_fake(company, fake_xero)
    fake_xero.warnings_next = ["Account code '6100' is a system account; check the journal."]
    [entry] = post_entries(company, 1)
    run = services.sync_run_execute(
        run_id=services.sync_run_start(company=company, actor=None, enqueue=False).pk, sleep=lambda s: None
    )
    assert (run.status, run.done, run.failed) == (SyncRun.Status.SUCCEEDED, 1, 0)
    issue = SyncIssue.objects.get(run=run)
    assert issue.code == "vendor_warning" and issue.entry_id == entry.pk and "system account" in issue.message


def test_item11_journal_lines_name_the_account_by_accountid(db, company, fake_xero):
    connect_to_fake(company, fake_xero)
    post_entries(company, 1)
    services.sync_run_execute(run_id=services.sync_run_start(company=company, actor=None, enqueue=False).pk, sleep=lambda s: None)
    line = fake_xero.received("PUT", "ManualJournals")[-1].json()["ManualJournals"][0]["JournalLines"][0]
    rent = next(a for a in fake_xero.accounts if a["Code"] == "6100")
    assert line["AccountID"] == rent["AccountID"] and "AccountCode" not in line


def test_item11_an_account_without_a_code_can_be_posted_to(db, company, fake_xero):
    """Code is optional in Xero: an account without one is still mapped and posted to by its AccountID."""
    rent = next(a for a in fake_xero.accounts if a["Code"] == "6100")
    connect_to_fake(company, fake_xero)
    rent["Code"] = ""  # the code removed in Xero after the mapping
    post_entries(company, 1)
    run = services.sync_run_execute(
        run_id=services.sync_run_start(company=company, actor=None, enqueue=False).pk, sleep=lambda s: None
    )
    assert run.status == SyncRun.Status.SUCCEEDED


def test_item12_if_modified_since_carries_the_utc_offset(db, company, fake_xero):
    conn = connect_to_fake(company, fake_xero)
    conn.inbound_pulled_at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    conn.save(update_fields=["inbound_pulled_at"])
    services.inbound_pull(connection=conn)
    assert fake_xero.received("GET", "/Invoices")[-1].headers["if-modified-since"] == "2026-03-01T09:30:00+00:00"


def test_item12_a_time_without_offset_breaks_the_contract(fake_xero):
    tokens = fake_xero.issue_tokens()
    with contracts.expect_violations() as found:
        answer = httpx.get(
            f"{fake_xero.url}/api.xro/2.0/Invoices",
            headers={
                "Authorization": f"Bearer {tokens['access_token']}",
                "xero-tenant-id": fake_xero.tenant_id,
                "If-Modified-Since": "2026-03-01T09:30:00",
            },
        )
    assert answer.status_code == 400 and any("If-Modified-Since" in v for v in found)


def test_bad_input_an_invoice_with_an_unknown_status_and_extra_fields_is_read(db, company, fake_xero):
    """Unusual but valid: extra fields and an empty line list are read; the run says what it did."""
    conn = connect_to_fake(company, fake_xero)
    row = fake_xero.add_invoice(
        kind="ACCREC", number="INV-1", txn_date=date(2026, 3, 2), contact="Acme", lines=[("4000", Decimal("10.00"))]
    )
    row["SomethingNew"] = {"nested": True}
    fake_xero.add_invoice(kind="ACCREC", number="INV-EMPTY", txn_date=date(2026, 3, 2), contact="Acme", lines=[])
    run = services.inbound_pull(connection=conn)
    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL) and run.done >= 1
