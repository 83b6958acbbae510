"""Headless Chromium logs in and sees Home."""

import pytest

from ledger.models import Role
from tests.factories import PASSWORD, CompanyFactory, member


@pytest.mark.browser
def test_login_and_see_home(live_server, page, transactional_db, artifacts):
    company = CompanyFactory(name="Harbor Coffee Roasters")
    user = member(company, Role.ADMINISTRATOR, username="dana")
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your companies")
    assert page.locator(".company-card h2").inner_text() == "Harbor Coffee Roasters"
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    page.click("text=Harbor Coffee Roasters")
    page.wait_for_selector("text=Recent journal entries")


@pytest.mark.browser
def test_wrong_password_is_refused(live_server, page, transactional_db):
    company = CompanyFactory()
    user = member(company, Role.VIEWER)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Please enter a correct username and password")
    assert "/login/" in page.url
