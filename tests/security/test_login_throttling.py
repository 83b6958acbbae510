"""Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
one address, even the right password is refused for the cool-off time; on the app's sign-in page,
the admin's, and the QuickBooks Web Connector's authenticate call."""

import pytest
from defusedxml import ElementTree
from django.conf import settings
from django.urls import reverse

from integrations import qbd
from ledger.models import Role
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("login_url", ["login", "admin:login"])
def test_repeated_wrong_passwords_lock_the_username_out(client, company, member, login_url):
    user = member(company, Role.ADMINISTRATOR, is_staff=True)
    url = reverse(login_url)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(url, {"username": user.username, "password": "wrong"}).status_code == 200  # form error
    assert client.post(url, {"username": user.username, "password": "wrong"}).status_code == 429
    response = client.post(url, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert "locked" in response.content.decode().lower()


def test_another_address_is_not_locked_out_by_an_attacker(client, company, member):
    user = member(company, Role.VIEWER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": user.username, "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


def test_a_success_before_the_limit_resets_the_count(client, company, member):
    user = member(company, Role.VIEWER)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert client.post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert client.post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 302


def _authenticate(client, username, password):
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<authenticate xmlns="{qbd.NS}"><strUserName>{username}</strUserName>'
        f"<strPassword>{password}</strPassword></authenticate>"
        "</soap:Body></soap:Envelope>"
    )
    return client.post(reverse("integrations_qbwc"), body, content_type="text/xml")


def _strings(response) -> list[str]:
    """The strings of a Web Connector SOAP answer (none when the answer is not SOAP, e.g. a lockout page)."""
    if not response["Content-Type"].startswith("text/xml"):
        return []
    return [e.text or "" for e in ElementTree.fromstring(response.content).iter() if e.tag.endswith("}string")]


def test_web_connector_authenticate_is_locked_out_after_repeated_failures(client, company):
    conn, password = qbd.connection_connect_qbd(company=company, actor=None)
    ticket, _ = _strings(_authenticate(client, conn.tenant_id, password))
    assert len(ticket) == 32  # the right password works
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _authenticate(client, conn.tenant_id, "guess")
        assert response.status_code == 200 and _strings(response) == ["", "nvu"]
    assert _authenticate(client, conn.tenant_id, "guess").status_code == 429
    locked = _authenticate(client, conn.tenant_id, password)
    assert locked.status_code == 429 and not _strings(locked)  # no ticket for the right password either
