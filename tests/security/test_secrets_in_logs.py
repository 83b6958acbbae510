"""Secrets never in logs, pages or flash messages: every log record of every level, from every
logger, captured while companies connect (QuickBooks Online and NetSuite through OAuth, Sage
Intacct with credentials, QuickBooks Desktop through its Web Connector) and while a sync runs,
holds none of the tokens, codes, passwords or client secrets involved."""

import logging

import httpx
import pytest
from django.urls import reverse

from integrations import selectors, services
from integrations.fakes import FakeNetSuite, FakeQuickBooksOnline, FakeSageIntacct
from integrations.fakes.intacct import USER_ID, USER_PASSWORD
from integrations.models import Connection, SyncRun
from ledger.models import Account, Role
from tests.factories import member
from tests.integrations.factories import post_entries, provider_settings
from tests.integrations.test_views import authorize_at_fake, callback_path
from tests.security.test_login_throttling import _authenticate, _strings

pytestmark = pytest.mark.django_db


@pytest.fixture
def all_logs(caplog):
    """Every record of every level from every logger (the SQL log included)."""
    caplog.set_level(logging.DEBUG)
    for name in ("django.db.backends", "httpx", "httpcore", "celery", "integrations", "django.request"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _assert_absent(secrets, *texts):
    secrets = {s for s in secrets if s and len(s) >= 6}
    assert secrets, "no secret collected: the test would prove nothing"
    for text in texts:
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"secret values found: {leaked}"


def _admin(client, company):
    user = member(company, Role.ADMINISTRATOR)
    client.force_login(user)
    return user


def _chart(company, fake):
    for row in fake.chart:
        Account.objects.get_or_create(company=company, code=row["number"], defaults={"name": row["name"], "type": row["type"]})


def _oauth_connect(client, company, fake, provider):
    response = client.post(reverse("integrations:connect", args=[company.slug]), {"provider": provider})
    back = authorize_at_fake(response["Location"])
    code = httpx.URL(back).params["code"]
    page = client.get(callback_path(back), follow=True)
    return code, page.content.decode()


def _tokens(company):
    conn = Connection.objects.get(company=company, status=Connection.Status.ACTIVE)
    return {str(conn.access_token), str(conn.refresh_token)}


def test_quickbooks_online_connect_and_sync_log_no_secret(client, company, settings, all_logs):
    with FakeQuickBooksOnline() as fake:
        settings.INTEGRATIONS_PROVIDERS = {**settings.INTEGRATIONS_PROVIDERS, **provider_settings(fake)}
        _chart(company, fake)
        _admin(client, company)
        code, page = _oauth_connect(client, company, fake, "qbo")
        secrets = {code, settings.INTEGRATIONS_PROVIDERS["qbo"]["client_secret"], *_tokens(company)}
        conn = Connection.objects.get(company=company)
        rows = selectors.mapping_rows(conn)
        services.mappings_save(
            connection=conn, choices={r.account.pk: r.suggestion.pk for r in rows if r.suggestion}, actor=None
        )
        post_entries(company, 3)
        client.post(reverse("integrations:sync", args=[company.slug]))
        run = SyncRun.objects.get(company=company, kind=SyncRun.Kind.PUSH)
        assert services.sync_run_execute(run_id=run.pk).done == 3
        secrets |= _tokens(company)  # a refresh during the sync would have made new ones
        status = client.get(reverse("integrations:status", args=[company.slug])).content.decode()
        runs = client.get(reverse("integrations:run", args=[company.slug, run.pk])).content.decode()
    assert all_logs.records, "nothing was logged: the capture is not working"
    _assert_absent(secrets, all_logs.text, page, status, runs)


def test_netsuite_connect_logs_no_secret(client, company, settings, all_logs):
    with FakeNetSuite() as fake:
        settings.INTEGRATIONS_PROVIDERS = {**settings.INTEGRATIONS_PROVIDERS, **provider_settings(fake)}
        _chart(company, fake)
        _admin(client, company)
        code, page = _oauth_connect(client, company, fake, "netsuite")
        secrets = {code, settings.INTEGRATIONS_PROVIDERS["netsuite"]["client_secret"], *_tokens(company)}
    _assert_absent(secrets, all_logs.text, page)


def test_intacct_connect_logs_no_secret(client, company, settings, all_logs):
    with FakeSageIntacct() as fake:
        providers = settings.INTEGRATIONS_PROVIDERS
        settings.INTEGRATIONS_PROVIDERS = {**providers, "intacct": {**providers["intacct"], "api_base_url": fake.url}}
        _chart(company, fake)
        _admin(client, company)
        url = reverse("integrations:connect_credentials", args=[company.slug])
        data = {"company_id": fake.tenant_id, "user_id": USER_ID}
        refused = client.post(url, {**data, "password": "wrong-password-1"}, follow=True).content.decode()
        page = client.post(url, {**data, "password": USER_PASSWORD}, follow=True).content.decode()
        secrets = {USER_PASSWORD, "wrong-password-1", settings.INTEGRATIONS_PROVIDERS["intacct"]["client_secret"]}
    _assert_absent(secrets, all_logs.text, page, refused)


def test_quickbooks_desktop_password_is_shown_once_and_never_logged_or_kept(client, company, all_logs):
    """The user needs the Web Connector password once, to type it in: it is on the page that
    answers the POST (not cached), and nowhere else: not in a flash message, the session, a
    cookie, the status page or a log."""
    _admin(client, company)
    response = client.post(reverse("integrations:connect_qbd", args=[company.slug]))
    password = response.context["password"]
    assert password in response.content.decode() and "no-store" in response["Cache-Control"]
    later = client.get(reverse("integrations:status", args=[company.slug])).content.decode()
    session = str(dict(client.session.items()))
    cookies = str({k: v.value for k, v in client.cookies.items()})
    conn = Connection.objects.get(company=company, provider="qbd")
    ticket, _ = _strings(_authenticate(client, conn.tenant_id, password))
    assert len(ticket) == 32
    _authenticate(client, conn.tenant_id, "not-the-password")
    _assert_absent({password, ticket, "not-the-password"}, all_logs.text, later, session, cookies)


def test_records_are_redacted_at_every_level_and_in_tracebacks(all_logs):
    log = logging.getLogger("integrations.anything")
    secret = "s3cr3t-value-123"
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
        log.log(level, "POST /token code=%s client_secret=%s", secret, secret)
        log.log(level, "answer %s", {"access_token": secret, "refresh_token": secret})
        log.log(level, "header Authorization: Bearer %s", secret)
        log.log(level, "<login><password>%s</password><sessionid>%s</sessionid></login>", secret, secret)
    try:
        raise ValueError(f"vendor said: password={secret}")
    except ValueError:
        log.exception("failed")
    assert len(all_logs.records) == 21
    _assert_absent({secret}, all_logs.text, str([r.getMessage() for r in all_logs.records]))
    assert "[redacted]" in all_logs.text


