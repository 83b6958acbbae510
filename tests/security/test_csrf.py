"""Every form view refuses a POST without the CSRF token (403), whatever the role."""

import pytest
from django.test import Client

from tests.security.access import ACCESS
from tests.security.test_access_matrix import _url

pytestmark = pytest.mark.django_db

# The Web Connector's SOAP endpoint has no browser session to forge: it signs in with its own
# username and password on every call (and counts towards the sign-in lockout). The API (issue 20)
# neither: it authenticates each call by the company key in its Authorization header, never by
# the session cookie a forged request would carry (test_api_access_by_key: a session alone gets 401).
CSRF_EXEMPT = {
    "integrations_qbwc",
    "api-v1:books_closed",
    "api-v1:date_check",
    "api-v1:periods",
    "api-v1:close_progress",
    "api-v1:journal_entries",
}


@pytest.mark.parametrize("name", sorted(n for n, page in ACCESS.items() if page.post and n not in CSRF_EXEMPT))
def test_post_without_csrf_token_is_refused(name, world):
    client = Client(enforce_csrf_checks=True)
    if name != "login":
        client.force_login(world.users["administrator"])
    response = client.post(_url(name, ACCESS[name], world), {})
    assert response.status_code == 403, f"{name} accepted a POST without a CSRF token"


def test_the_csrf_exempt_list_is_only_the_web_connector_and_the_key_authenticated_api():
    from django.urls import get_resolver

    exempt = set()

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                if pattern.namespace != "admin":
                    walk(pattern.url_patterns, pattern.namespace or namespace)
            elif getattr(pattern.callback, "csrf_exempt", False):
                exempt.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns)
    assert exempt == CSRF_EXEMPT
