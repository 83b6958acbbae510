"""Pages of Integrations II: Sage Intacct connected with credentials, its entities with their
closed dates (BC9) and entity-scoped sync; NetSuite through its OAuth screen, its bundle version
shown with the minimum closed-date sync needs (BC7)."""

from datetime import date

import pytest
from django.urls import reverse

from integrations.fakes import FakeNetSuite, FakeSageIntacct
from integrations.fakes.intacct import USER_ID, USER_PASSWORD
from integrations.models import Connection, ConnectionEntity, SyncRun
from ledger.models import Account, AuditEvent, Role
from tests.integrations.factories import post_entries, provider_settings
from tests.integrations.intacct import connect_intacct
from tests.integrations.test_views import authorize_at_fake, callback_path, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_intacct(settings):
    with FakeSageIntacct() as fake:
        settings.INTEGRATIONS_PROVIDERS = {
            **settings.INTEGRATIONS_PROVIDERS,
            "intacct": {**settings.INTEGRATIONS_PROVIDERS["intacct"], "api_base_url": fake.url},
        }
        yield fake


def test_connect_intacct_with_credentials_lists_entities_and_never_shows_the_password(client, company, fake_intacct):
    for row in fake_intacct.chart:
        Account.objects.create(company=company, code=row["number"], name=row["name"], type=row["type"])
    login(client, company, Role.ADMINISTRATOR)
    page = client.get(reverse("integrations:status", args=[company.slug]))
    assert "Connect Sage Intacct" in page.content.decode()
    url = reverse("integrations:connect_credentials", args=[company.slug])
    bad = client.post(url, {"company_id": fake_intacct.tenant_id, "user_id": USER_ID, "password": "wrong"}, follow=True)
    assert "refused the user" in bad.content.decode() and not Connection.objects.exists()
    ok = client.post(url, {"company_id": fake_intacct.tenant_id, "user_id": USER_ID, "password": USER_PASSWORD})
    assert ok.status_code == 302 and ok["Location"].endswith("/integrations/mappings/")
    page = client.get(reverse("integrations:status", args=[company.slug])).content.decode()
    assert "East entity" in page and "West entity" in page and "no API that gives the closed date" in page
    assert USER_PASSWORD not in page
    assert not AuditEvent.objects.filter(after__icontains=USER_PASSWORD).exists()


def test_entity_closed_date_is_set_per_entity_and_says_where_it_comes_from(client, company, fake_intacct):
    conn = connect_intacct(company, fake_intacct)
    login(client, company, Role.ADMINISTRATOR)
    url = reverse("integrations:entity_closed_date", args=[company.slug])
    response = client.post(url, {"entity": "100", "closed_through": "2026-01-31"}, follow=True)
    assert "closed through 2026-01-31 (Entered in closebooks)" in response.content.decode()
    assert ConnectionEntity.objects.get(connection=conn, external_id="100").manual_closed_date == date(2026, 1, 31)
    assert ConnectionEntity.objects.get(connection=conn, external_id="200").manual_closed_date is None
    wrong = client.post(url, {"entity": "999", "closed_through": "2026-01-31"}, follow=True)
    assert "does not belong to this connection" in wrong.content.decode()
    garbage = client.post(url, {"entity": "200", "closed_through": "31/01/2026"}, follow=True)
    assert "is not a date" in garbage.content.decode()
    assert ConnectionEntity.objects.get(connection=conn, external_id="200").manual_closed_date is None


def test_entity_closed_date_needs_an_administrator(client, company, fake_intacct):
    connect_intacct(company, fake_intacct)
    login(client, company, Role.MANAGER)
    response = client.post(
        reverse("integrations:entity_closed_date", args=[company.slug]), {"entity": "100", "closed_through": "2026-01-31"}
    )
    assert response.status_code == 403


def test_sync_for_one_entity_from_the_page(client, company, fake_intacct):
    conn = connect_intacct(company, fake_intacct)
    ConnectionEntity.objects.filter(connection=conn, external_id="200").update(manual_closed_date=date(2026, 1, 31))
    post_entries(company, 2, entry_date=date(2026, 1, 10))
    login(client, company, Role.ADMINISTRATOR)
    response = client.post(reverse("integrations:sync", args=[company.slug]), {"entity": "200"})
    run = SyncRun.objects.get(kind=SyncRun.Kind.PUSH)
    assert response.status_code == 302 and run.entity.external_id == "200"


def test_netsuite_connects_through_oauth_and_shows_the_bundle_version_with_the_minimum(client, company, settings):
    with FakeNetSuite() as fake:
        settings.INTEGRATIONS_PROVIDERS = {**settings.INTEGRATIONS_PROVIDERS, **provider_settings(fake)}
        for row in fake.chart:
            Account.objects.create(company=company, code=row["number"], name=row["name"], type=row["type"])
        login(client, company, Role.ADMINISTRATOR)
        response = client.post(reverse("integrations:connect", args=[company.slug]), {"provider": "netsuite"})
        assert response.status_code == 302 and response["Location"].startswith(fake.url)
        assert "code_challenge_method=S256" in response["Location"]  # PKCE; the verifier stays in the session
        response = client.get(callback_path(authorize_at_fake(response["Location"])))
        assert "code_verifier=" in fake.received("POST", "/oauth2/v1/token")[-1].body.decode()
        assert response.status_code == 302
        conn = Connection.objects.get(company=company)
        assert conn.provider == "netsuite" and conn.tenant_id == fake.tenant_id and conn.remote_version == "3.2.1"
        page = client.get(reverse("integrations:status", args=[company.slug])).content.decode()
        assert "3.2.1 (closed-date sync needs 3.2.0 or later)" in page


def test_admin_sets_an_entity_closed_date_through_the_service(client, company, fake_intacct, django_user_model):
    conn = connect_intacct(company, fake_intacct)
    entity = ConnectionEntity.objects.get(connection=conn, external_id="100")
    admin_user = django_user_model.objects.create_superuser("root6", "root6@example.com", "pw")
    client.force_login(admin_user)
    url = reverse("admin:integrations_connectionentity_change", args=[entity.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"manual_closed_date": "2026-03-31"})
    assert response.status_code == 302
    entity.refresh_from_db()
    assert entity.manual_closed_date == date(2026, 3, 31)
    assert AuditEvent.objects.filter(action="connection.entity_closed_date").exists()
