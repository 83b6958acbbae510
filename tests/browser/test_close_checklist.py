"""End to end in Chromium (issue 20): Lock waits for a checklist task due before it and links to
it; its preparer prepares it with a note and a workpaper, another member reviews it from My tasks,
and the period then locks. A screenshot of each step lands in test-artifacts/."""

from datetime import timedelta

import pytest

from closebooks import selectors as close_selectors
from closebooks.checklist import services as checklist_services
from closebooks.checklist.models import ChecklistTask
from closebooks.models import Period
from integrations import services as integration_services
from integrations.fakes import FakeQuickBooksOnline
from ledger import services as ledger_services
from ledger.models import Account, Role
from tests.factories import PASSWORD, AccountFactory, CompanyFactory, member
from tests.integrations.factories import connect_to_fake


def _sign_in(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your companies")


@pytest.mark.browser
def test_prepare_and_review_a_task_then_lock(live_server, page, transactional_db, artifacts, tmp_path):
    company = CompanyFactory(name="Harbor Coffee Roasters", slug="harbor")
    alice = member(company, Role.ACCOUNTANT, username="alice", email="alice@example.com")
    bob = member(company, Role.MANAGER, username="bob", email="bob@example.com")
    last_month = (company.today().replace(day=1) - timedelta(days=1)).replace(day=15)
    with FakeQuickBooksOnline() as fake:
        connect_to_fake(company, fake)
        cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
        equity = AccountFactory(company=company, code="3000", type=Account.Type.EQUITY)
        ledger_services.journal_entry_create(
            company=company,
            entry_date=last_month,
            actor=None,
            lines=[ledger_services.LineInput(cash, debit="250.00"), ledger_services.LineInput(equity, credit="250.00")],
        )
        period = close_selectors.period_get(company, last_month.strftime("%Y-%m"))
        run = integration_services.sync_run_start(
            company=company, actor=bob, period_start=period.first_day, period_end=period.last_day, enqueue=False
        )
        integration_services.sync_run_execute(run_id=run.pk, sleep=lambda seconds: None)
    checklist_services.template_task_save(
        company=company, actor=bob, name="Accruals", instructions="Accrue unbilled rent.", preparer=alice, reviewer=bob, due_day=1
    )
    checklist_services.checklist_create(period=period, actor=bob)
    workpaper = tmp_path / "accruals.csv"
    workpaper.write_text("account,amount\n2200,1500.00\n")

    # Lock waits for the task, and links to it
    _sign_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/c/harbor/close/{period.key}/lock/")
    blocker = page.locator("ul.blockers li", has_text="Accruals")
    assert "waiting for alice" in blocker.inner_text()
    page.screenshot(path=str(artifacts / "checklist-1-lock-waits.png"), full_page=True)
    blocker.locator("a", has_text="Fix it").click()

    # the preparer prepares it, with a note and the workpaper
    page.wait_for_selector("h1:text-is('Accruals')")
    page.fill("#id_note", "Rent for the month accrued: 1,500.00.")
    page.set_input_files("#id_files", str(workpaper))
    page.click("#prepare-task")
    page.wait_for_selector("text=is prepared")
    assert page.inner_text("#task-state") == "Prepared"
    assert page.locator("a", has_text="accruals.csv").count() == 1
    assert page.locator("#review-task").count() == 0  # not hers to review
    page.screenshot(path=str(artifacts / "checklist-2-prepared.png"), full_page=True)
    page.click("button:has-text('Log out')")

    # the reviewer finds it in My tasks and signs it off
    _sign_in(page, live_server.url, "bob")
    assert page.locator("#notifications-link .count").inner_text() == "1"  # waiting for review
    page.click("text=My tasks")
    page.locator("#my-tasks a", has_text="Accruals").click()
    page.fill("#id_note", "Agreed to the lease.")
    page.click("#review-task")
    page.wait_for_selector("text=is reviewed")
    assert page.inner_text("#task-state") == "Done"
    page.screenshot(path=str(artifacts / "checklist-3-reviewed.png"), full_page=True)

    # the period page shows it done, and Lock goes through
    page.goto(f"{live_server.url}/c/harbor/checklist/{period.key}/")
    assert page.locator("tr[data-state=done]", has_text="Accruals").count() == 1
    page.goto(f"{live_server.url}/c/harbor/close/{period.key}/lock/")
    page.click("#lock-period")
    page.wait_for_selector(f"text={period.name} is locked.")
    page.screenshot(path=str(artifacts / "checklist-4-locked.png"), full_page=True)

    assert Period.objects.get(company=company, month=period.month).state == Period.State.LOCKED
    steps = dict(ChecklistTask.objects.filter(company=company).values_list("name", "state"))
    assert steps["Accruals"] == "done" and steps["Lock the period"] == "done"
