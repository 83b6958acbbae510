"""Wizard pages: Lock, Unlock and Close through the browser's forms, by role (PC3–PC5)."""

from datetime import date

import pytest
from django.urls import reverse

from closebooks.models import Period
from ledger import services
from ledger.models import Account, Role
from tests.factories import AccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def books(company, connected):
    cash = AccountFactory(company=company, code="1000", type=Account.Type.ASSET)
    sales = AccountFactory(company=company, code="3000", type=Account.Type.EQUITY)
    for month in (3, 4):
        services.journal_entry_create(
            company=company,
            entry_date=date(2026, month, 5),
            actor=None,
            lines=[services.LineInput(cash, debit="10"), services.LineInput(sales, credit="10")],
        )
    return cash, sales


def url(name, company, key="2026-03"):
    return reverse(f"close:{name}", kwargs={"slug": company.slug, "period": key})


def test_lock_unlock_close_through_the_pages(client, company, member, books, sync_period):
    from closebooks.selectors import period_get

    sync_period(period_get(company, "2026-03"))
    client.force_login(member(company, Role.ADMINISTRATOR))
    page = client.get(url("lock", company)).content.decode()
    assert "Lock March 2026" in page
    client.post(url("lock_confirm", company))
    assert Period.objects.get(month=date(2026, 3, 1)).state == "locked"
    response = client.post(url("unlock", company), {"reason": ""}, follow=True)
    assert "Say why" in response.content.decode()
    client.post(url("unlock", company), {"reason": "late invoice"})
    assert Period.objects.get(month=date(2026, 3, 1)).state == "open"
    client.post(url("lock_confirm", company))
    response = client.post(url("close", company), {"confirm_name": "March"})
    assert "Type the period" in response.content.decode()
    response = client.post(url("close", company), {"confirm_name": "March 2026"}, follow=True)
    page = response.content.decode()
    assert "closed for good" in page and "New adjusting entry" in page and "date=2026-04-01" in page
    assert Period.objects.get(month=date(2026, 3, 1)).state == "closed"
    # the adjusting-entry offer prefills the first open period's first day
    form = client.get(reverse("ledger:journal_entry_new", kwargs={"slug": company.slug}), {"date": "2026-04-01"}).context["form"]
    assert form.initial["entry_date"] == date(2026, 4, 1)


def test_lock_page_says_exactly_what_blocks_and_links_to_it_PC2(client, company, member, books):
    cash, sales = books
    services.journal_entry_create(
        company=company,
        entry_date=date(2026, 3, 9),
        actor=None,
        source="import",
        lines=[services.LineInput(cash, debit="10"), services.LineInput(sales, credit="9")],
    )
    client.force_login(member(company, Role.MANAGER))
    page = client.get(url("lock", company)).content.decode()
    assert "1 unbalanced journal entries must be fixed" in page and "review/?flagged=true" in page
    client.post(url("lock_confirm", company))
    assert not Period.objects.filter(state="locked").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ACCOUNTANT])
def test_viewers_and_accountants_cannot_lock_or_close(client, company, member, books, role):
    client.force_login(member(company, role))
    assert "An administrator or a manager locks periods" in client.get(url("lock", company)).content.decode()
    response = client.post(url("lock_confirm", company), follow=True)
    assert "Only an administrator or a manager can lock" in response.content.decode()
    assert not Period.objects.exists()


def test_manager_can_lock_but_not_close_or_unlock(client, company, member, books, sync_period):
    from closebooks.selectors import period_get

    sync_period(period_get(company, "2026-03"))
    client.force_login(member(company, Role.MANAGER))
    client.post(url("lock_confirm", company))
    assert Period.objects.get().state == "locked"
    response = client.post(url("close", company), {"confirm_name": "March 2026"})
    assert "Only an administrator can close" in response.content.decode()
    client.post(url("unlock", company), {"reason": "x"})
    assert Period.objects.get().state == "locked"


def test_wizard_urls_of_another_company_are_404(client, company, other_company, member, books):
    client.force_login(member(company, Role.ADMINISTRATOR))
    for name in ["review", "lock", "close"]:
        assert client.get(url(name, other_company)).status_code == 404
    for name in ["lock_confirm", "unlock", "close"]:
        assert client.post(url(name, other_company)).status_code == 404


def test_admin_actions_call_the_period_services(client, company, books, sync_period):
    from tests.factories import MembershipFactory, UserFactory

    staff = UserFactory(is_staff=True)
    MembershipFactory(company=company, user=staff, role=Role.ADMINISTRATOR)
    client.force_login(staff)
    changelist = reverse("admin:closebooks_period_changelist")
    from closebooks.selectors import period_get
    from closebooks.services import period_lock

    sync_period(period_get(company, "2026-03"))
    period_lock(period=period_get(company, "2026-03"), actor=staff)
    row = Period.objects.get()
    confirm = client.post(changelist, {"action": "unlock_periods", "_selected_action": [row.pk]})
    assert confirm.status_code == 200 and "Unlock periods" in confirm.content.decode()
    client.post(changelist, {"action": "unlock_periods", "_selected_action": [row.pk], "reason": "reconcile again"})
    assert Period.objects.get().state == "open"
    client.post(changelist, {"action": "lock_periods", "_selected_action": [row.pk]})
    assert Period.objects.get().state == "locked"
    assert client.post(reverse("admin:closebooks_period_change", args=[row.pk]), {"state": "closed"}).status_code == 403
