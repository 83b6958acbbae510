"""Settings → Preferences → Accounting: roles (BC1, BC2), bad input, reopening with a reason
(BC3), the mismatch banner (BC8), the history (PC6); admin goes through the same service."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from ledger import services
from ledger.models import AuditEvent, BooksClosedSetting, Role

pytestmark = pytest.mark.django_db


def edit_url(company):
    return reverse("ledger:accounting_preferences_edit", kwargs={"slug": company.slug})


def form(enabled="yes", closed_date="2026-01-31", restrict="no", reason=""):
    return {"enabled": enabled, "closed_date": closed_date, "restrict_inbound": restrict, "reason": reason}


def test_administrator_enables_and_sets_the_date_BC1_BC2(client, company, member):
    client.force_login(member(company, Role.ADMINISTRATOR))
    response = client.post(edit_url(company), form())
    assert response.status_code == 302
    setting = BooksClosedSetting.objects.get(company=company)
    assert setting.enabled and setting.closed_date == date(2026, 1, 31)
    page = client.get(reverse("ledger:accounting_preferences", kwargs={"slug": company.slug})).content.decode()
    assert "2026-01-31" in page and "books_closed.update" in page


def test_manager_sets_the_date_but_not_the_switch_BC1_BC2(client, company, member):
    client.force_login(member(company, Role.MANAGER))
    page = client.get(edit_url(company)).content.decode()
    assert "Only an administrator can turn closed books on or off" in page
    response = client.post(edit_url(company), form(enabled="yes"))
    assert response.status_code == 302
    setting = BooksClosedSetting.objects.get(company=company)
    assert setting.closed_date == date(2026, 1, 31) and setting.enabled is False  # the disabled field is ignored


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.VIEWER])
def test_accountant_and_viewer_cannot_change_it(client, company, member, role):
    client.force_login(member(company, role))
    assert client.get(edit_url(company)).status_code == 403
    assert client.post(edit_url(company), form()).status_code == 403
    assert not BooksClosedSetting.objects.exists()


def test_non_member_gets_404(client, company, other_company, member):
    client.force_login(member(other_company, Role.ADMINISTRATOR))
    assert client.post(edit_url(company), form()).status_code == 404
    assert not BooksClosedSetting.objects.exists()


def test_future_date_is_refused_on_the_field_BC2(client, company, member):
    client.force_login(member(company, Role.ADMINISTRATOR))
    tomorrow = company.today() + timedelta(days=1)
    response = client.post(edit_url(company), form(closed_date=tomorrow.isoformat()))
    assert response.status_code == 200
    assert "must be today" in response.content.decode()
    assert not BooksClosedSetting.objects.exists() and not AuditEvent.objects.filter(action__startswith="books_closed").exists()


def test_malformed_date_is_refused(client, company, member):
    client.force_login(member(company, Role.ADMINISTRATOR))
    response = client.post(edit_url(company), form(closed_date="31/31/2026"))
    assert response.status_code == 200 and "Enter a valid date" in response.content.decode()
    assert not BooksClosedSetting.objects.exists()


def test_reopening_needs_a_reason_and_shows_it_in_the_history_BC3_PC6(client, company, member):
    admin = member(company, Role.ADMINISTRATOR)
    client.force_login(admin)
    client.post(edit_url(company), form(closed_date="2026-02-28"))
    response = client.post(edit_url(company), form(closed_date="2026-01-31"))
    assert "give a reason" in response.content.decode()
    assert BooksClosedSetting.objects.get(company=company).closed_date == date(2026, 2, 28)
    client.post(edit_url(company), form(closed_date="2026-01-31", reason="Supplier credit arrived late"))
    page = client.get(reverse("ledger:accounting_preferences", kwargs={"slug": company.slug})).content.decode()
    assert "books_closed.reopen" in page and "Supplier credit arrived late" in page


def test_mismatch_banner_when_the_accounting_system_differs_BC8(client, company, member):
    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 2, 28))
    services.books_closed_date_pull(company=company, pulled_date=date(2026, 1, 31), source="xero")
    client.force_login(member(company, Role.VIEWER))
    page = client.get(reverse("ledger:accounting_preferences", kwargs={"slug": company.slug})).content.decode()
    assert "reports books closed through 2026-01-31" in page and "closed through 2026-02-28" in page


def test_admin_changes_go_through_the_service_and_its_rules(client, company, member):
    admin = member(company, Role.ADMINISTRATOR)
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 2, 28))
    setting = BooksClosedSetting.objects.get(company=company)
    url = reverse("admin:ledger_booksclosedsetting_change", args=[setting.pk])
    data = {"enabled": "on", "closed_date": "2026-01-31", "reason": ""}
    response = client.post(url, data, follow=True)
    assert "give a reason" in response.content.decode()
    setting.refresh_from_db()
    assert setting.closed_date == date(2026, 2, 28)
    client.post(url, {**data, "reason": "audit adjustment"}, follow=True)
    setting.refresh_from_db()
    assert setting.closed_date == date(2026, 1, 31)
    assert AuditEvent.objects.get(action="books_closed.reopen").actor == admin
    assert "audit adjustment" in client.get(url).content.decode()


def test_refused_invoice_shows_the_guard_error_on_the_date_field_BC4(client, company, member):
    from tests.factories import AccountFactory, CustomerFactory

    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 1, 31))
    client.force_login(member(company, Role.ACCOUNTANT))
    customer, account = CustomerFactory(company=company), AccountFactory(company=company)
    response = client.post(
        reverse("ledger:invoice_new", kwargs={"slug": company.slug}),
        {
            "number": "INV-9",
            "party": customer.pk,
            "doc_date": "2026-01-20",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-account": account.pk,
            "lines-0-amount": "10.00",
            "lines-0-tax": "",
        },
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "Cannot create invoice INV-9 dated 2026-01-20: the books are closed through 2026-01-31" in text


# ---------------------------------------------------------------- per-entity dates (BC9)


def entity_url(company):
    return reverse("ledger:accounting_preferences_entity", kwargs={"slug": company.slug})


def entity_form(entity, closed_date="2026-02-28", reason=""):
    return {"entity-entity": entity.pk, "entity-closed_date": closed_date, "entity-reason": reason}


@pytest.fixture
def east(company):
    from tests.factories import LedgerEntityFactory

    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 1, 31))
    return LedgerEntityFactory(company=company, key="EAST", name="East")


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.MANAGER])
def test_administrator_or_manager_sets_an_entity_date_BC9(client, company, member, east, role):
    user = member(company, role)
    client.force_login(user)
    assert 'name="entity-closed_date"' in client.get(edit_url(company)).content.decode()
    response = client.post(entity_url(company), entity_form(east))
    assert response.status_code == 302
    setting = BooksClosedSetting.objects.get(company=company, entity=east)
    assert setting.closed_date == date(2026, 2, 28) and setting.source == "manual"
    assert BooksClosedSetting.objects.get(company=company, entity__isnull=True).closed_date == date(2026, 1, 31)
    event = AuditEvent.objects.filter(action="books_closed.update", actor=user).get()
    assert event.after["entity"] == "EAST" and event.after["closed_date"] == "2026-02-28"
    page = client.get(reverse("ledger:accounting_preferences", kwargs={"slug": company.slug})).content.decode()
    assert "2026-02-28" in page and f"Set by hand · {user.get_username()}" in page  # where the date came from


def test_entity_date_from_the_accounting_system_says_so_BC9(client, company, member, east):
    services.books_closed_date_pull(company=company, entity=east, pulled_date=date(2026, 3, 31), source="sage_intacct")
    client.force_login(member(company, Role.VIEWER))
    page = client.get(reverse("ledger:accounting_preferences", kwargs={"slug": company.slug})).content.decode()
    assert "2026-03-31" in page and "Pulled from the accounting system · sage_intacct" in page


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.VIEWER])
def test_accountant_and_viewer_cannot_set_an_entity_date(client, company, member, east, role):
    client.force_login(member(company, role))
    assert client.post(entity_url(company), entity_form(east)).status_code == 403
    assert not BooksClosedSetting.objects.filter(entity=east).exists()


def test_another_companys_entity_is_not_found(client, company, other_company, member, east):
    from tests.factories import LedgerEntityFactory

    theirs = LedgerEntityFactory(company=other_company)
    client.force_login(member(company, Role.ADMINISTRATOR))
    assert client.post(entity_url(company), entity_form(theirs)).status_code == 404
    assert not BooksClosedSetting.objects.filter(entity=theirs).exists()


def test_future_entity_date_is_refused_on_its_form_BC2(client, company, member, east):
    client.force_login(member(company, Role.MANAGER))
    tomorrow = company.today() + timedelta(days=1)
    response = client.post(entity_url(company), entity_form(east, closed_date=tomorrow.isoformat()))
    assert response.status_code == 200 and "must be today" in response.content.decode()
    assert not BooksClosedSetting.objects.filter(entity=east).exists()
    assert not AuditEvent.objects.filter(action="books_closed.update", after__entity="EAST").exists()


def test_moving_an_entity_date_earlier_needs_a_reason_BC3(client, company, member, east):
    client.force_login(member(company, Role.ADMINISTRATOR))
    client.post(entity_url(company), entity_form(east, closed_date="2026-02-28"))
    response = client.post(entity_url(company), entity_form(east, closed_date="2026-02-10"))
    assert "give a reason" in response.content.decode()
    assert BooksClosedSetting.objects.get(entity=east).closed_date == date(2026, 2, 28)
    client.post(entity_url(company), entity_form(east, closed_date="2026-02-10", reason="East audit adjustment"))
    assert BooksClosedSetting.objects.get(entity=east).closed_date == date(2026, 2, 10)
    assert AuditEvent.objects.get(action="books_closed.reopen").reason == "East audit adjustment"


def test_entity_date_guards_that_entitys_postings_BC9(client, company, member, east):
    from ledger.exceptions import BooksClosedError
    from tests.factories import AccountFactory

    client.force_login(member(company, Role.ADMINISTRATOR))
    client.post(entity_url(company), entity_form(east, closed_date="2026-02-28"))
    debit, credit = AccountFactory(company=company), AccountFactory(company=company)
    lines = [services.LineInput(debit, debit="5.00"), services.LineInput(credit, credit="5.00")]
    with pytest.raises(BooksClosedError, match="closed through 2026-02-28"):
        services.journal_entry_create(company=company, entity=east, entry_date=date(2026, 2, 15), lines=lines, actor=None)
    services.journal_entry_create(company=company, entry_date=date(2026, 2, 15), lines=lines, actor=None)  # company date
