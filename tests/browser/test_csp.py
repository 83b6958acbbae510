"""Headless Chromium loads the pages under the strict Content-Security-Policy: no violation is
reported and the pages' behaviour (moved from inline scripts to static/js/app.js) still works."""

import pytest
from django.urls import reverse

from tests.factories import PASSWORD
from tests.security import world as security_world

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.mark.browser
def test_pages_load_with_no_csp_violation(live_server, page, transactional_db, artifacts):
    world = security_world.build()
    slug, objects = world.own.company.slug, world.own.objects
    console = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.add_init_script(RECORD_VIOLATIONS)

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", world.users["administrator"].username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your companies")

    urls = [
        reverse("ledger:dashboard", args=[slug]),
        reverse("ledger:journal", args=[slug]),
        reverse("ledger:journal_entry", args=[slug, objects["entry"].pk]),
        reverse("ledger:document", args=[slug, objects["invoice"].pk]),
        reverse("ledger:invoice_new", args=[slug]),
        reverse("ledger:payments", args=[slug]),
        reverse("ledger:customer_credits", args=[slug]),
        reverse("ledger:accounting_preferences", args=[slug]),
        reverse("month_end:index", args=[slug]),
        reverse("month_end:reports", args=[slug]),
        reverse("reconciliation:index", args=[slug]),
        reverse("reconciliation:reconcile", args=[slug, objects["account"].pk]),
        reverse("reconciliation:manual", args=[slug, objects["account"].pk]),
        reverse("reconciliation:proposal", args=[slug, objects["proposal"].pk]),
        reverse("close:overview", args=[slug]),
        reverse("close:lock", args=[slug, "2026-03"]),
        reverse("checklist:template", args=[slug]),
        reverse("checklist:period", args=[slug, "2026-03"]),
        reverse("checklist:task", args=[slug, "2026-03", objects["task"].pk]),
        reverse("my_tasks"),
        reverse("notifications:list"),
        reverse("notifications:preferences"),
        reverse("api_settings:keys", args=[slug]),
        reverse("api_settings:webhooks", args=[slug]),
        reverse("api-v1:openapi-view"),
        reverse("integrations:status", args=[slug]),
        reverse("integrations:run", args=[slug, objects["run"].pk]),
        reverse("admin:index"),
        reverse("admin:ledger_journalentry_changelist"),
        reverse("admin:ledger_account_change", args=[objects["account"].pk]),
    ]
    violations = {}
    for url in urls:
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__csp")
        if found:
            violations[url] = found

    # behaviour that used to be inline: the review page loads its checks, the entry form adds up
    page.goto(f"{live_server.url}{reverse('close:review', args=[slug, '2026-03'])}")
    page.wait_for_selector("#month-end-checks >> text=of 6 pass", timeout=30000)
    if page.evaluate("window.__csp"):
        violations["review"] = page.evaluate("window.__csp")
    page.goto(f"{live_server.url}{reverse('ledger:journal_entry_new', args=[slug])}")
    rows_before = page.locator("#line-rows tr").count()
    page.click("#add-line")
    assert page.locator("#line-rows tr").count() == rows_before + 1
    page.fill('input[name="lines-0-debit"]', "12.50")
    assert page.locator("#balance-state").inner_text() == "Off by 12.50"
    page.screenshot(path=str(artifacts / "csp-journal-entry.png"), full_page=True)
    if page.evaluate("window.__csp"):
        violations["journal_entry_new"] = page.evaluate("window.__csp")

    assert not violations, violations
    assert not [line for line in console if "Content Security Policy" in line or "Refused to" in line], console
