"""Connection pages (IN2), mapping page (IN3, PC2), sync pages; permissions and the OAuth state check."""

import logging

import httpx
import pytest
from django.urls import reverse

from integrations import services
from integrations.models import AccountMapping, Connection, SyncRun
from ledger.models import Account, AuditEvent, Role
from tests.integrations.factories import connect_to_fake, post_entries, provider_settings

pytestmark = pytest.mark.django_db


def login(client, company, role):
    from tests.factories import member

    user = member(company, role)
    client.force_login(user)
    return user


def authorize_at_fake(location: str, decision="allow") -> str:
    """Play the user on the fake's authorize screen; return where it sends the browser back."""
    screen = httpx.get(location)
    assert screen.status_code == 200
    answer = httpx.post(location.split("?")[0], data={**dict(httpx.URL(location).params), "decision": decision})
    return answer.headers["location"]


def callback_path(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.path}?{parsed.query.decode()}"


@pytest.fixture
def vendor_settings(settings, fake):
    settings.INTEGRATIONS_PROVIDERS = {**settings.INTEGRATIONS_PROVIDERS, **provider_settings(fake)}
    return settings


def provider_code(fake):
    return "qbo" if "QuickBooks" in fake.vendor else "xero"


def test_connect_through_the_oauth_screen_stores_encrypted_tokens(client, company, fake, vendor_settings, caplog):
    """IN2: redirect to the vendor, callback with state, tokens encrypted at rest and never logged."""
    caplog.set_level(logging.DEBUG)
    for row in fake.chart:
        Account.objects.create(company=company, code=row["number"], name=row["name"], type=row["type"])
    login(client, company, Role.ADMINISTRATOR)
    response = client.post(reverse("integrations:connect", args=[company.slug]), {"provider": provider_code(fake)})
    assert response.status_code == 302 and response["Location"].startswith(fake.url)
    back = authorize_at_fake(response["Location"])
    response = client.get(callback_path(back))
    assert response.status_code == 302 and response["Location"].endswith("/integrations/mappings/")
    conn = Connection.objects.get(company=company)
    assert conn.status == Connection.Status.ACTIVE and conn.tenant_id == fake.tenant_id
    assert conn.external_accounts.count() == len(fake.chart)
    # at rest: ciphertext only
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM integrations_connection WHERE id = %s", [conn.pk])
        stored = cursor.fetchone()
    assert str(conn.access_token) not in stored[0] and str(conn.refresh_token) not in stored[1]
    assert stored[0].startswith("gAAAA")  # Fernet
    # never shown, never logged, never audited
    page = client.get(reverse("integrations:status", args=[company.slug])).content.decode()
    assert str(conn.access_token) not in page and str(conn.refresh_token) not in page
    assert str(conn.access_token) not in caplog.text and str(conn.refresh_token) not in caplog.text
    audit = AuditEvent.objects.get(company=company, action="connection.connect")
    assert str(conn.access_token) not in str(audit.after)
    assert "'********'" in repr(conn.access_token)


def test_callback_with_a_bad_state_is_refused_and_nothing_is_written(client, company, fake, vendor_settings):
    login(client, company, Role.ADMINISTRATOR)
    response = client.post(reverse("integrations:connect", args=[company.slug]), {"provider": provider_code(fake)})
    back = authorize_at_fake(response["Location"])
    forged = callback_path(back).replace("state=", "state=forged")
    response = client.get(forged)
    assert response.status_code == 400 and b"bad or reused state" in response.content
    assert not Connection.objects.exists()
    # the genuine answer still works once, and only once
    assert client.get(callback_path(back)).status_code == 302
    assert client.get(callback_path(back)).status_code == 400


def test_user_cancelling_on_the_vendor_screen(client, company, fake, vendor_settings):
    login(client, company, Role.ADMINISTRATOR)
    response = client.post(reverse("integrations:connect", args=[company.slug]), {"provider": provider_code(fake)})
    back = authorize_at_fake(response["Location"], decision="deny")
    response = client.get(callback_path(back), follow=True)
    assert b"did not connect: access_denied" in response.content
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    ("role", "connect", "sync"),
    [(Role.ADMINISTRATOR, 302, 302), (Role.MANAGER, 403, 302), (Role.ACCOUNTANT, 403, 403), (Role.VIEWER, 403, 403)],
)
def test_permissions(client, company, fake, vendor_settings, role, connect, sync):
    """Connect/disconnect need ADMINISTER; sync and mappings need MANAGE."""
    connect_to_fake(company, fake)
    login(client, company, role)
    assert client.post(reverse("integrations:sync", args=[company.slug])).status_code == sync
    assert client.get(reverse("integrations:mappings", args=[company.slug])).status_code == (200 if sync == 302 else 403)
    assert client.post(reverse("integrations:disconnect", args=[company.slug])).status_code == connect
    assert client.post(reverse("integrations:connect", args=[company.slug]), {"provider": "qbo"}).status_code == connect
    assert client.get(reverse("integrations:status", args=[company.slug])).status_code == 200


def test_other_companies_are_404(client, company, other_company, fake):
    connect_to_fake(other_company, fake)
    run = SyncRun.objects.create(company=other_company, connection=other_company.connections.get())
    login(client, company, Role.ADMINISTRATOR)
    assert client.get(reverse("integrations:status", args=[other_company.slug])).status_code == 404
    assert client.get(reverse("integrations:run", args=[company.slug, run.pk])).status_code == 404
    assert client.get(reverse("integrations:run_progress", args=[company.slug, run.pk])).status_code == 404


def test_mapping_page_bulk_accept_and_change(client, company, fake):
    conn = connect_to_fake(company, fake, map_accounts=False)
    crypto = Account.objects.create(company=company, code="1990", name="Crypto Clearing", type="asset")
    post_entries(company, 2, debit="1990")
    login(client, company, Role.MANAGER)
    page = client.get(reverse("integrations:mappings", args=[company.slug])).content.decode()
    assert "same number" in page and f"?account={crypto.pk}" in page
    client.post(reverse("integrations:mappings", args=[company.slug]), {"accept_suggestions": "1"})
    assert AccountMapping.objects.filter(connection=conn).count() == len(fake.chart) - 1  # the archived one is not suggested
    rent = conn.external_accounts.get(number="6100")
    client.post(reverse("integrations:mappings", args=[company.slug]), {f"map-{crypto.pk}": str(rent.pk)})
    assert AccountMapping.objects.get(connection=conn, account=crypto).external_account == rent
    archived = conn.external_accounts.get(number="1050")
    response = client.post(reverse("integrations:mappings", args=[company.slug]), {f"map-{crypto.pk}": str(archived.pk)})
    assert response.status_code == 200 and "archived" in response.content.decode()
    assert AccountMapping.objects.get(connection=conn, account=crypto).external_account == rent  # nothing half written
    assert AuditEvent.objects.filter(company=company, action="mapping.update").count() == 2


def test_sync_page_and_progress(client, company, fake):
    connect_to_fake(company, fake)
    post_entries(company, 3)
    login(client, company, Role.MANAGER)
    response = client.post(reverse("integrations:sync", args=[company.slug]))
    run = SyncRun.objects.get(company=company, kind=SyncRun.Kind.PUSH)
    assert response["Location"] == reverse("integrations:run", args=[company.slug, run.pk])
    assert client.get(reverse("integrations:run_progress", args=[company.slug, run.pk])).json()["status"] == "queued"
    services.sync_run_execute(run_id=run.pk)
    progress = client.get(reverse("integrations:run_progress", args=[company.slug, run.pk])).json()
    assert progress["finished"] and progress["done"] == 3 and progress["percent"] == 100
    assert b"run-progress" in client.get(response["Location"]).content


def test_disconnect_clears_tokens(client, company, fake):
    conn = connect_to_fake(company, fake)
    login(client, company, Role.ADMINISTRATOR)
    client.post(reverse("integrations:disconnect", args=[company.slug]))
    conn.refresh_from_db()
    assert conn.status == Connection.Status.DISCONNECTED and not conn.access_token and not conn.refresh_token


def test_admin_never_shows_secrets(admin_client, company, fake):
    conn = connect_to_fake(company, fake)
    page = admin_client.get(reverse("admin:integrations_connection_change", args=[conn.pk])).content.decode()
    assert conn.tenant_id in page
    assert str(conn.access_token) not in page and str(conn.refresh_token) not in page
    assert admin_client.get(reverse("admin:integrations_syncrun_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:integrations_outboxentry_changelist")).status_code == 200
