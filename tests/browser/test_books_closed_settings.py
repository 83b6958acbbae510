"""Headless Chromium walks Settings → Preferences → Accounting → Edit: enable closed books, set a
date, see an invoice in the closed period refused, reopen with a reason (BC1–BC4, PC6)."""

from datetime import timedelta

import pytest

from ledger.models import Account, BooksClosedSetting, Role
from tests.factories import PASSWORD, AccountFactory, CompanyFactory, CustomerFactory, member
from tests.navigation import go


@pytest.mark.browser
def test_enable_set_date_refused_invoice_reopen_with_reason(live_server, page, transactional_db, artifacts):
    company = CompanyFactory(name="Harbor Coffee Roasters")
    user = member(company, Role.ADMINISTRATOR, username="dana")
    CustomerFactory(company=company, name="Blue Door Cafe")
    AccountFactory(company=company, code="4000", name="Coffee sales", type=Account.Type.REVENUE)
    today = company.today()
    closed = today - timedelta(days=30)
    inside = closed - timedelta(days=5)

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your companies")
    page.click("text=Harbor Coffee Roasters")

    # Settings → Preferences → Accounting → Edit
    go(page, "Settings", "Accounting")
    page.wait_for_selector("h1:text-is('Accounting preferences')")
    assert page.inner_text("#bc-enabled") == "No"
    page.click("a[aria-label=Edit]")
    page.wait_for_selector("#books-closed-form")
    page.check("input[name=enabled][value=yes]")
    page.fill("#id_closed_date", closed.isoformat())
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Accounting preferences saved.")
    assert page.inner_text("#bc-enabled") == "Yes"
    assert page.inner_text("#bc-date") == closed.isoformat()
    page.screenshot(path=str(artifacts / "books-closed-set.png"), full_page=True)

    # An invoice dated in the closed period is refused, with the dates in the message.
    go(page, "Receivables", "Invoices")
    page.click("text=New invoice")
    page.fill("#id_number", "INV-1001")
    page.select_option("#id_party", label="Blue Door Cafe")
    page.fill("#id_doc_date", inside.isoformat())
    page.select_option("#id_lines-0-account", label="4000 Coffee sales")
    page.fill("#id_lines-0-amount", "120.00")
    page.click("button:has-text('Save')")
    error = page.locator("[role=alert]").first
    error.wait_for()
    assert f"dated {inside.isoformat()}: the books are closed through {closed.isoformat()}" in error.inner_text()
    page.screenshot(path=str(artifacts / "books-closed-refused-invoice.png"), full_page=True)

    # Reopen: moving the date earlier needs a reason.
    go(page, "Settings", "Accounting")
    page.click("a[aria-label=Edit]")
    page.wait_for_selector("#books-closed-form")
    page.fill("#id_closed_date", (inside - timedelta(days=1)).isoformat())
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=give a reason")
    page.fill("#id_reason", "Late invoice for Blue Door Cafe")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Accounting preferences saved.")
    assert page.inner_text("#bc-date") == (inside - timedelta(days=1)).isoformat()
    history = page.inner_text("#bc-audit")
    assert "books_closed.reopen" in history and "Late invoice for Blue Door Cafe" in history
    page.screenshot(path=str(artifacts / "books-closed-reopened.png"), full_page=True)
    assert BooksClosedSetting.objects.get(company=company).closed_date == inside - timedelta(days=1)

    # The same invoice now goes in.
    go(page, "Receivables", "Invoices")
    page.click("text=New invoice")
    page.fill("#id_number", "INV-1001")
    page.select_option("#id_party", label="Blue Door Cafe")
    page.fill("#id_doc_date", inside.isoformat())
    page.select_option("#id_lines-0-account", label="4000 Coffee sales")
    page.fill("#id_lines-0-amount", "120.00")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Invoice INV-1001 saved.")
