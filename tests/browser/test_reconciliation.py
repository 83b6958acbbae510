"""Headless Chromium: an automatic (LR3) and a manual (LR5) reconciliation, end to end."""

from datetime import date

import pytest

from ledger.models import Role
from reconciliation.models import ReconciledLine, Reconciliation
from tests.factories import PASSWORD, CompanyFactory, member
from tests.navigation import go
from tests.reconciliation.factories import make_books


def login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your companies")


@pytest.mark.browser
def test_automatic_then_manual_reconciliation(live_server, page, transactional_db, artifacts):
    company = CompanyFactory(name="Harbor Coffee Roasters", slug="harbor")
    user = member(company, Role.ACCOUNTANT, username="dana")
    books = make_books(company, permitted="0.10")
    pair = [books.post("125.00", on=date(2026, 1, 5)), books.post("-125.00", on=date(2026, 1, 20))]
    by_ref = [books.post("300.00", ref="INV-1001"), books.post("-299.95", ref="INV-1001", on=date(2026, 2, 1))]
    manual = [books.post("50.00", on=date(2026, 2, 3)), books.post("-30.00"), books.post("-20.00")]

    login(page, live_server, user)
    page.click("text=Harbor Coffee Roasters")
    go(page, "Close", "Reconcile")
    page.click(f"#reconcilable-accounts >> text={books.account}")
    page.wait_for_selector("#open-lines")
    assert page.locator("#open-lines input.pick").count() == 7

    # select all: the running selected balance is the sum of every line
    page.check("#select-all")
    assert page.inner_text("#selected-count") == "7"
    assert page.inner_text("#selected-balance") == "0.05"
    page.fill("#quick-filter", "INV-1001")
    assert page.locator("#open-lines tbody tr:visible").count() == 2
    page.fill("#quick-filter", "")
    page.screenshot(path=str(artifacts / "reconcile-selection.png"), full_page=True)

    page.click("#reconcile-automatically")
    page.wait_for_selector("#proposal-groups")
    assert page.locator("tbody.group").count() == 2
    assert page.locator("text=Same reconciliation reference “INV-1001”").count() == 1
    assert page.locator("text=paired oldest entry date first").count() == 1
    # unticking one line unticks its whole group
    group = page.locator("tbody.group").first
    group.locator("input.line-tick").first.uncheck()
    assert not group.locator("input.group-tick").is_checked()
    assert all(not box.is_checked() for box in group.locator("input.line-tick").all())
    group.locator("input.group-tick").check()
    page.screenshot(path=str(artifacts / "reconcile-proposal.png"), full_page=True)
    page.click("#finish")
    page.wait_for_selector("text=Reconciled 4 lines in 2 codes; 1 difference written off.")
    assert ReconciledLine.objects.filter(line_id__in=[line.pk for line in pair + by_ref]).count() == 4
    assert page.locator("#open-lines input.pick").count() == 3

    # manual: pick the three lines, sort them, watch the Balance column, finish
    for line in manual:
        page.check(f"input.pick[value='{line.pk}']")
    assert page.inner_text("#selected-balance") == "0.00"
    page.click("#reconcile-manually")
    page.wait_for_selector("#manual-lines")
    balances = page.locator("#manual-lines .balance").all_inner_texts()
    assert balances[-1] in ("0.00", "0")
    page.locator("#manual-lines tbody tr").nth(2).locator("button[data-dir='-1']").click()
    assert page.inner_text("#code-count") == "1"
    page.screenshot(path=str(artifacts / "reconcile-manual.png"), full_page=True)
    page.click("#finish-manual")
    page.wait_for_selector("text=Reconciled 3 lines")
    assert page.locator("text=No open lines").count() == 1
    assert Reconciliation.objects.filter(company=company).count() == 3
    page.screenshot(path=str(artifacts / "reconcile-done.png"), full_page=True)
