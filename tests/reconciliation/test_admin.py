"""Reconciliation admin: company-scoped for staff, deletes through the service (LR6), settings through the service."""

from decimal import Decimal

import pytest
from django.urls import reverse

from ledger.models import AuditEvent, JournalEntry, Role
from reconciliation import services
from reconciliation.models import ReconciledLine, Reconciliation, ReconciliationSettings
from tests.factories import MembershipFactory, UserFactory
from tests.reconciliation.factories import make_books

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(company):
    user = UserFactory(is_staff=True)
    MembershipFactory(company=company, user=user, role=Role.MANAGER)
    return user


def reconcile_pair(books, amounts=("5.00", "-4.50")):
    a, b = (books.post(x) for x in amounts)
    (rec,) = services.reconciliation_create_manual(
        company=books.company, account=books.account, line_ids=[a.pk, b.pk], actor=None
    )
    return rec


@pytest.mark.parametrize("model", ["reconciliation", "reconciledline", "proposal", "reconciliationsettings"])
def test_every_model_has_a_company_scoped_changelist(client, company, other_company, staff, model):
    client.force_login(staff)
    assert client.get(reverse(f"admin:reconciliation_{model}_changelist")).status_code == 200


def test_staff_see_only_their_companies_reconciliations(client, company, other_company, staff):
    ours = reconcile_pair(make_books(company, permitted="1.00"))
    theirs = reconcile_pair(make_books(other_company, permitted="1.00"))
    client.force_login(staff)
    page = client.get(reverse("admin:reconciliation_reconciliation_changelist")).content.decode()
    assert ours.code in page and theirs.code not in page
    found = client.get(reverse("admin:reconciliation_reconciliation_changelist"), {"q": ours.code}).content.decode()
    assert ours.code in found


def test_admin_delete_action_reverses_the_write_off_through_the_service_LR6(client, company, staff):
    books = make_books(company, permitted="1.00")
    rec = reconcile_pair(books)
    client.force_login(staff)
    response = client.post(
        reverse("admin:reconciliation_reconciliation_changelist"),
        {"action": "delete_through_service", "_selected_action": [rec.pk]},
    )
    assert response.status_code == 302
    assert not Reconciliation.objects.filter(pk=rec.pk).exists()
    assert JournalEntry.objects.filter(source=JournalEntry.Source.WRITE_OFF).count() == 2
    assert AuditEvent.objects.filter(action="reconciliation.delete", actor=staff).exists()
    assert ReconciledLine.objects.count() == 2  # the write-off and its reversal, paired


def test_admin_settings_save_through_the_service(client, company, staff):
    books = make_books(company)
    settings_row = ReconciliationSettings.objects.get(company=company)
    client.force_login(staff)
    response = client.post(
        reverse("admin:reconciliation_reconciliationsettings_change", args=[settings_row.pk]),
        {"permitted_difference": "0.75", "discrepancy_account": books.discrepancy.pk},
    )
    assert response.status_code == 302
    assert ReconciliationSettings.objects.get(company=company).permitted_difference == Decimal("0.75")
    assert AuditEvent.objects.filter(action="reconciliation_settings.save", actor=staff).exists()
