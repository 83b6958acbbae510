"""Security headers and a strict Content-Security-Policy on every page; no inline script or
handler anywhere in the templates (the policy would block them)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.security.access import ACCESS
from tests.security.test_access_matrix import _url

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def _assert_headers(response):
    policy = response["Content-Security-Policy"]
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_sign_in_page_headers(client):
    _assert_headers(client.get(reverse("login")))


@pytest.mark.parametrize("name", sorted(n for n, page in ACCESS.items() if page.get and page.pk is None and ":" in n))
def test_every_page_sends_the_security_headers(name, world, client):
    client.force_login(world.users["administrator"])
    response = client.get(_url(name, ACCESS[name], world))
    assert response.status_code in (200, 302)
    _assert_headers(response)


def test_the_connect_page_lets_its_forms_reach_the_vendors_sign_in_screens_and_no_other_site(world, client, settings):
    """The Connect buttons post to closebooks, which redirects to the vendor's authorize screen;
    browsers check every hop of that redirect against form-action, so the page allows exactly the
    configured vendors' origins besides its own (the OAuth connect was refused by the CSP before)."""
    settings.INTEGRATIONS_PROVIDERS = {
        **settings.INTEGRATIONS_PROVIDERS,
        "qbo": {**settings.INTEGRATIONS_PROVIDERS["qbo"], "authorize_url": "https://appcenter.example:8443/connect/oauth2"},
    }
    client.force_login(world.users["administrator"])
    response = client.get(reverse("integrations:status", kwargs={"slug": world.own.company.slug}))
    form_action = [part for part in response["Content-Security-Policy"].split(";") if part.strip().startswith("form-action")]
    sources = form_action[0].split()[1:]
    assert "'self'" in sources and "https://appcenter.example:8443" in sources
    assert all(src == "'self'" or src.startswith(("https://", "http://")) for src in sources) and "*" not in sources
    _assert_headers(response)
    other = client.get(reverse("ledger:journal", kwargs={"slug": world.own.company.slug}))
    assert "appcenter.example" not in other["Content-Security-Policy"]


def _templates():
    for path in sorted(ROOT.glob("**/templates/**/*.html")):
        if ".venv" not in path.parts and "site-packages" not in path.parts:
            yield path


def test_no_template_holds_inline_script_style_or_handlers():
    offenders = []
    for path in _templates():
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{path.relative_to(ROOT)}: inline <script>")
        for match in re.finditer(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.relative_to(ROOT)}: inline handler {match.group().strip()}")
        if re.search(r"\sstyle\s*=|<style", text):
            offenders.append(f"{path.relative_to(ROOT)}: inline style")
        if "javascript:" in text:
            offenders.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert not offenders, "\n".join(offenders)


def test_production_settings_force_https_hsts_and_secure_cookies():
    import subprocess
    import sys

    code = (
        "import django;django.setup();from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.DEBUG)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "CLOSEBOOKS_ENV": "production",
        "SECRET_KEY": "x" * 64,
        "ALLOWED_HOSTS": "books.example.com",
        "DJANGO_SETTINGS_MODULE": "closebooks.settings",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "True", "False"]
