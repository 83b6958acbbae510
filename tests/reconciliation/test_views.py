"""Reconciliation pages: tenant isolation on every URL, roles, and the flows a user walks."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import URLPattern, reverse

from ledger.models import AuditEvent, JournalEntry, Role
from reconciliation import services
from reconciliation import urls as reconciliation_urls
from reconciliation.models import Proposal, ProposalGroup, ReconciledLine, Reconciliation, ReconciliationSettings
from tests.factories import AccountFactory
from tests.reconciliation.factories import make_books

pytestmark = pytest.mark.django_db


def routes():
    return [p for p in reconciliation_urls.urlpatterns if isinstance(p, URLPattern)]


@pytest.fixture
def world(company, other_company, member):
    admin = member(company, Role.ADMINISTRATOR)
    theirs = make_books(other_company)
    a, b = theirs.post("5.00"), theirs.post("-5.00")
    (rec,) = services.reconciliation_create_manual(
        company=other_company, account=theirs.account, line_ids=[a.pk, b.pk], actor=None
    )
    theirs.post("7.00"), theirs.post("-7.00")
    proposal = services.proposal_build(
        proposal=services.proposal_create(company=other_company, account=theirs.account, actor=None)
    )
    return {"admin": admin, "account": theirs.account, "reconciliation": rec, "proposal": proposal}


def foreign_kwargs(pattern, slug, world):
    kwargs = {"slug": slug}
    if "<int:pk>" in str(pattern.pattern):
        if pattern.name.startswith("proposal"):
            kwargs["pk"] = world["proposal"].pk
        elif pattern.name.startswith("reconciliation"):
            kwargs["pk"] = world["reconciliation"].pk
        else:
            kwargs["pk"] = world["account"].pk
    return kwargs


@pytest.mark.parametrize("pattern", routes(), ids=lambda p: p.name)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_companys_reconciliation_urls_answer_404(client, company, other_company, world, pattern, method):
    client.force_login(world["admin"])
    for slug in (other_company.slug, company.slug):  # their slug, or ours with their object
        if slug == company.slug and "<int:pk>" not in str(pattern.pattern):
            continue
        response = getattr(client, method)(reverse(f"reconciliation:{pattern.name}", kwargs=foreign_kwargs(pattern, slug, world)))
        assert response.status_code in (404, 405)
    assert ReconciledLine.objects.count() == 2 and Proposal.objects.get().status == Proposal.Status.READY


def test_a_viewer_sees_the_open_lines_but_cannot_reconcile(client, company, member):
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    client.force_login(member(company, Role.VIEWER))
    page = client.get(reverse("reconciliation:reconcile", args=[company.slug, books.account.pk]))
    assert page.status_code == 200 and "Reconcile automatically" not in page.content.decode()
    response = client.post(reverse("reconciliation:propose", args=[company.slug, books.account.pk]), {"lines": [a.pk, b.pk]})
    assert response.status_code == 403
    response = client.post(
        reverse("reconciliation:manual", args=[company.slug, books.account.pk]), {"lines": [a.pk, b.pk], "action": "reconcile"}
    )
    assert response.status_code == 403
    assert not ReconciledLine.objects.exists()


def test_only_managers_change_settings_and_account_properties(client, company, member):
    books = make_books(company)
    client.force_login(member(company, Role.ACCOUNTANT))
    assert client.get(reverse("reconciliation:settings", args=[company.slug])).status_code == 403
    assert client.get(reverse("reconciliation:account_properties", args=[company.slug, books.account.pk])).status_code == 403


def test_settings_page_saves_and_shows_service_errors_LR4(client, company, member):
    books = make_books(company)
    client.force_login(member(company, Role.MANAGER))
    url = reverse("reconciliation:settings", args=[company.slug])
    response = client.post(url, {"permitted_difference": "-1", "discrepancy_account": books.discrepancy.pk})
    assert "cannot be negative" in response.content.decode()
    response = client.post(url, {"permitted_difference": "0.25", "discrepancy_account": books.discrepancy.pk})
    assert response.status_code == 302
    assert ReconciliationSettings.objects.get(company=company).permitted_difference == Decimal("0.25")


def test_account_properties_switch_reconciliation_and_pairing_through_account_save_LR1(client, company, member):
    account = AccountFactory(company=company, code="2000", name="Payables", blocked=True)
    clearing = AccountFactory(company=company, code="2010")
    client.force_login(member(company, Role.MANAGER))
    url = reverse("reconciliation:account_properties", args=[company.slug, account.pk])
    assert client.post(url, {"reconcilable": "on", "reconcile_with": clearing.pk}).status_code == 302
    account.refresh_from_db()
    assert account.reconcilable and account.reconcile_with == clearing and account.blocked  # blocked stays (LR2)
    assert AuditEvent.objects.filter(action="account.update", subject_id=str(account.pk)).exists()
    page = client.get(reverse("reconciliation:index", args=[company.slug])).content.decode()
    assert "2000 Payables" in page and "still reconciles" in page


def test_reconcile_page_shows_the_open_lines_of_both_paired_accounts_LR1(client, company, member):
    books = make_books(company)
    clearing = AccountFactory(company=company, code="1210")
    books.account.reconcile_with = clearing
    books.account.save()
    a = books.post("11.00", description="mine")
    b = books.post("-11.00", description="paired", account=clearing)
    c, d = books.post("3.00"), books.post("-3.00")
    services.reconciliation_create_manual(company=company, account=books.account, line_ids=[c.pk, d.pk], actor=None)
    client.force_login(member(company, Role.ACCOUNTANT))
    page = client.get(reverse("reconciliation:reconcile", args=[company.slug, books.account.pk])).content.decode()
    assert f'value="{a.pk}"' in page and f'value="{b.pk}"' in page
    assert f'value="{c.pk}"' not in page  # reconciled lines are not open
    filtered = client.get(reverse("reconciliation:reconcile", args=[company.slug, books.account.pk]), {"side": "credit"})
    assert f'value="{a.pk}"' not in filtered.content.decode()


def test_propose_then_finish_through_the_pages_LR3(client, company, member):
    books = make_books(company)
    a, b = books.post("5.00"), books.post("-5.00")
    c, d = books.post("8.00"), books.post("-8.00")
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(reverse("reconciliation:propose", args=[company.slug, books.account.pk]), {"all_matching": "1"})
    proposal = Proposal.objects.get()
    assert response.url == reverse("reconciliation:proposal", args=[company.slug, proposal.pk])
    page = client.get(response.url).content.decode()
    assert "Opposite amounts" in page and "oldest entry date first" in page
    first = ProposalGroup.objects.get(proposal=proposal, line_ids__contains=[a.pk])
    second = ProposalGroup.objects.get(proposal=proposal, line_ids__contains=[c.pk])
    response = client.post(
        reverse("reconciliation:proposal_ticks", args=[company.slug, proposal.pk]),
        {"on_page": [first.number, second.number], "groups": [second.number], "action": "finish"},
    )
    assert response.status_code == 302
    assert set(ReconciledLine.objects.values_list("line_id", flat=True)) == {c.pk, d.pk}
    assert not ReconciledLine.objects.filter(line_id__in=[a.pk, b.pk]).exists()


def test_manual_page_warns_before_writing_off_a_discrepancy_LR5(client, company, member):
    books = make_books(company, permitted="0.10")
    a, b = books.post("20.00"), books.post("-18.00")
    user = member(company, Role.ACCOUNTANT)
    client.force_login(user)
    url = reverse("reconciliation:manual", args=[company.slug, books.account.pk])
    page = client.get(url, {"ids": f"{b.pk},{a.pk}"}).content.decode()
    assert "outside the permitted difference" in page and "2.00" in page
    response = client.post(url, {"lines": [a.pk, b.pk], "action": "reconcile"}, follow=True)
    assert "outside the permitted difference of 0.10" in response.content.decode()
    response = client.post(url, {"lines": [a.pk, b.pk], "action": "write_off"})
    assert response.status_code == 200 and "falls <strong>outside</strong>" in response.content.decode()
    assert not Reconciliation.objects.exists()
    response = client.post(url, {"lines": [a.pk, b.pk], "action": "write_off", "confirm": "1"})
    assert response.status_code == 302
    rec = Reconciliation.objects.get()
    assert rec.reconciled_by == user and rec.write_off_amount == Decimal("-2.00")
    assert JournalEntry.objects.filter(source=JournalEntry.Source.WRITE_OFF).count() == 1


def test_delete_page_reopens_lines_LR6(client, company, member):
    books = make_books(company, permitted="1.00")
    a, b = books.post("20.00"), books.post("-19.50")
    (rec,) = services.reconciliation_create_manual(company=company, account=books.account, line_ids=[a.pk, b.pk], actor=None)
    client.force_login(member(company, Role.ACCOUNTANT))
    detail = client.get(reverse("reconciliation:reconciliation", args=[company.slug, rec.pk])).content.decode()
    assert rec.code in detail and "reverses the write-off" in detail
    response = client.post(reverse("reconciliation:reconciliation_delete", args=[company.slug, rec.pk]), {"reason": "oops"})
    assert response.status_code == 302
    assert not ReconciledLine.objects.filter(line_id__in=[a.pk, b.pk]).exists()


def test_reconcile_from_a_journal_ticks_the_entrys_lines_LR7(client, company, member):
    books = make_books(company)
    line = books.post("42.00", on=date(2026, 3, 3))
    client.force_login(member(company, Role.ACCOUNTANT))
    page = client.get(reverse("reconciliation:journal", args=[company.slug])).content.decode()
    link = reverse("reconciliation:reconcile", args=[company.slug, books.account.pk]) + f"?select={line.pk}"
    assert link in page
    reconcile = client.get(link).content.decode()
    assert f'value="{line.pk}" aria-label="Select line {line.pk}" checked' in reconcile


def test_select_all_matching_proposes_only_the_filtered_lines_LR3(client, company, member):
    books = make_books(company)
    a, b = books.post("5.00", on=date(2026, 1, 1)), books.post("-5.00", on=date(2026, 1, 2))
    books.post("6.00", on=date(2026, 3, 1)), books.post("-6.00", on=date(2026, 3, 2))
    client.force_login(member(company, Role.ACCOUNTANT))
    client.post(
        reverse("reconciliation:propose", args=[company.slug, books.account.pk]),
        {"all_matching": "1", "date_to": "2026-01-31"},
    )
    (group,) = ProposalGroup.objects.filter(proposal=Proposal.objects.get())
    assert set(group.line_ids) == {a.pk, b.pk}
