"""Django admin: company-scoped for staff, writes through the services."""

import pytest
from django.urls import reverse

from ledger.models import Account, AuditEvent, JournalEntry, Role
from tests.factories import AccountFactory, JournalEntryFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(company):
    user = UserFactory(is_staff=True)
    MembershipFactory(company=company, user=user, role=Role.MANAGER)
    return user


def test_staff_see_only_their_companies_rows(client, company, other_company, staff):
    JournalEntryFactory(company=company, memo="ours")
    JournalEntryFactory(company=other_company, memo="theirs")
    client.force_login(staff)
    page = client.get(reverse("admin:ledger_journalentry_changelist")).content.decode()
    assert "ours" in page and "theirs" not in page
    foreign = JournalEntry.objects.get(memo="theirs")
    assert client.get(reverse("admin:ledger_journalentry_change", args=[foreign.pk])).status_code in (302, 404)


def test_admin_account_save_goes_through_the_service_and_shows_its_error(client, company, staff):
    AccountFactory(company=company, code="1000")
    client.force_login(staff)
    url = reverse("admin:ledger_account_add")
    data = {"company": company.pk, "code": "1000", "name": "Dup", "type": "asset"}
    response = client.post(url, data)
    assert response.status_code == 200 and "already used" in response.content.decode()
    data["code"] = "1001"
    assert client.post(url, data).status_code == 302
    assert Account.objects.filter(company=company, code="1001").exists()
    assert AuditEvent.objects.filter(action="account.create", actor=staff).exists()


def test_admin_cannot_create_accounts_in_a_foreign_company(client, other_company, staff):
    client.force_login(staff)
    response = client.post(
        reverse("admin:ledger_account_add"), {"company": other_company.pk, "code": "9", "name": "x", "type": "asset"}
    )
    assert response.status_code == 200 and not Account.objects.filter(company=other_company).exists()


def test_admin_delete_action_uses_the_posting_service(client, company, staff):
    entry = JournalEntryFactory(company=company)
    client.force_login(staff)
    response = client.post(
        reverse("admin:ledger_journalentry_changelist"),
        {"action": "delete_through_posting_service", "_selected_action": [entry.pk]},
    )
    assert response.status_code == 302
    assert not JournalEntry.objects.exists()
    assert AuditEvent.objects.filter(action="journal_entry.delete", actor=staff).exists()


def test_viewer_staff_cannot_change_accounts(client, company):
    viewer = UserFactory(is_staff=True)
    MembershipFactory(company=company, user=viewer, role=Role.VIEWER)
    account = AccountFactory(company=company)
    client.force_login(viewer)
    response = client.post(
        reverse("admin:ledger_account_change", args=[account.pk]), {"code": "X", "name": "changed", "type": "asset"}
    )
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.name != "changed"


def test_admin_membership_keeps_an_administrator(client, company):
    admin_user = UserFactory(is_staff=True)
    MembershipFactory(company=company, user=admin_user, role=Role.ADMINISTRATOR)
    client.force_login(admin_user)
    membership = admin_user.memberships.get()
    response = client.post(reverse("admin:ledger_membership_change", args=[membership.pk]), {"role": "viewer"})
    assert response.status_code == 200 and "at least one administrator" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.ADMINISTRATOR
