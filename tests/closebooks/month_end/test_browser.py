"""Headless Chromium opens the demo company's month-end page: the six checks and both charts."""

import pytest
from django.core.management import call_command

from ledger.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME
from tests.navigation import go


@pytest.mark.browser
def test_demo_month_end_page_with_checks_and_charts(live_server, page, transactional_db, artifacts):
    call_command("seed_demo", "--entries-per-month", "10")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", DEMO_USERNAME)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your companies")
    page.goto(f"{live_server.url}/c/demo/")
    go(page, "Close", "Month-end")
    page.wait_for_selector("h1:has-text('Month-end checks')")
    assert page.locator("section.check").count() == 6
    for rule in ("MR1", "MR2", "MR3", "MR4", "MR5", "MR6"):
        assert page.locator(f"#check-{rule} .status").inner_text() in {"Pass", "Fail"}
    # the demo's journal books revenue without invoices: MR1 fails and explains itself
    assert page.locator("#check-MR1 .status").inner_text() == "Fail"
    assert page.locator("#check-MR1 .causes").inner_text().startswith("Revenue was recorded without an invoice")
    aging = page.locator("#chart-ar-aging svg.chart")
    revenue = page.locator("#chart-revenue svg.chart")
    assert aging.is_visible() and revenue.is_visible()
    assert aging.locator("rect.bar").count() == 5
    assert revenue.locator("rect.bar.invoiced").count() == 12 and revenue.locator("rect.bar.gl").count() == 12
    assert float(aging.locator("rect.bar").first.get_attribute("height")) >= 0
    page.screenshot(path=str(artifacts / "month-end.png"), full_page=True)

    page.click("#check-MR1 a.drill-down")
    page.wait_for_selector("text=Revenue recorded without an invoice")
    page.go_back()
    page.click("#check-MR6 >> text=Closing AR (aging, this close)")
    page.wait_for_selector("h1:has-text('AR Aging report')")
    assert page.locator("table.report tbody tr").count() >= 1
    page.screenshot(path=str(artifacts / "ar-aging.png"), full_page=True)
