"""Edit and delete pages for customer credits and refunds, and the page that reverses an
application: through the services, the POST role (404 for another company's object), the
books-closed guard's refusal shown on the form (BC4, BC5), nothing half written, audit rows (PC6)."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from ledger import services
from ledger.models import Application, AuditEvent, CustomerCredit, JournalEntry, Refund, Role
from tests.factories import CustomerFactory, close_books, document, payment

pytestmark = pytest.mark.django_db

MARCH = date(2026, 3, 1)
APPLIED = date(2026, 3, 12)


def url(name, company, **kwargs):
    return reverse(f"ledger:{name}", kwargs={"slug": company.slug, **kwargs})


def credit(company, customer=None, amount="25.00", credit_date=MARCH):
    return services.customer_credit_create(
        company=company,
        customer=customer or CustomerFactory(company=company),
        kind="manual",
        credit_date=credit_date,
        amount=amount,
        actor=None,
    )


def refund(company, amount="10.00", refund_date=date(2026, 3, 2)):
    given = credit(company, amount="25.00")
    return services.refund_create(company=company, customer=given.customer, refund_date=refund_date, amount=amount, actor=None)


def entries(company):
    return sorted(JournalEntry.objects.filter(company=company).values_list("pk", flat=True))


# ---------------------------------------------------------------- customer credits


def test_accountant_edits_a_credit_and_its_entry_is_replaced(client, company, member):
    given = credit(company)
    old_entry = given.journal_entry_id
    client.force_login(member(company, Role.ACCOUNTANT))
    assert "Edit customer credit" in client.get(url("customer_credit_edit", company, pk=given.pk)).content.decode()
    response = client.post(
        url("customer_credit_edit", company, pk=given.pk), {"credit_date": "2026-03-05", "amount": "30.00", "memo": "more"}
    )
    assert response.status_code == 302
    given.refresh_from_db()
    assert (given.credit_date, given.amount, given.memo) == (date(2026, 3, 5), Decimal("30.00"), "more")
    assert given.journal_entry_id != old_entry and not JournalEntry.objects.filter(pk=old_entry).exists()
    assert given.journal_entry.entry_date == date(2026, 3, 5)
    assert AuditEvent.objects.filter(action="customer_credit.update", subject_id=str(given.pk)).exists()


def test_credit_in_closed_period_cannot_be_edited_and_the_form_says_why_BC4(client, company, member):
    given = credit(company, credit_date=date(2026, 1, 15))
    close_books(company, date(2026, 1, 31))
    before = entries(company)
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(
        url("customer_credit_edit", company, pk=given.pk), {"credit_date": "2026-03-05", "amount": "30.00", "memo": ""}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Cannot edit customer credit" in page and "2026-01-15" in page and "closed through 2026-01-31" in page
    given.refresh_from_db()
    assert (given.credit_date, given.amount) == (date(2026, 1, 15), Decimal("25.00")) and entries(company) == before


def test_credit_cannot_be_moved_into_the_closed_period_BC4(client, company, member):
    given = credit(company)
    close_books(company, date(2026, 1, 31))
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(
        url("customer_credit_edit", company, pk=given.pk), {"credit_date": "2026-01-20", "amount": "25.00", "memo": ""}
    )
    assert "Cannot edit customer credit" in response.content.decode()
    assert CustomerCredit.objects.get().credit_date == MARCH


def test_accountant_deletes_a_credit_with_its_entry(client, company, member):
    given = credit(company)
    entry = given.journal_entry_id
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("customer_credit_edit", company, pk=given.pk), {"delete": "1", "reason": "typo"})
    assert response.status_code == 302
    assert not CustomerCredit.objects.exists() and not JournalEntry.objects.filter(pk=entry).exists()
    assert AuditEvent.objects.get(action="customer_credit.delete").reason == "typo"


def test_credit_delete_in_closed_period_is_refused_on_the_form_BC4(client, company, member):
    given = credit(company, credit_date=date(2026, 1, 15))
    close_books(company, date(2026, 1, 31))
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("customer_credit_edit", company, pk=given.pk), {"delete": "1", "reason": "typo"})
    assert response.status_code == 200
    assert "Cannot delete customer credit" in response.content.decode()
    assert CustomerCredit.objects.filter(pk=given.pk).exists() and given.journal_entry_id in entries(company)


def test_credit_that_paid_a_refund_cannot_be_deleted_or_shrunk(client, company, member):
    paid = refund(company, amount="10.00")
    given = CustomerCredit.objects.get()
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("customer_credit_edit", company, pk=given.pk), {"delete": "1"})
    assert "would take it below zero" in response.content.decode() and CustomerCredit.objects.exists()
    response = client.post(
        url("customer_credit_edit", company, pk=given.pk), {"credit_date": "2026-03-01", "amount": "5.00", "memo": ""}
    )
    assert "would take it below zero" in response.content.decode()
    assert CustomerCredit.objects.get().amount == Decimal("25.00") and Refund.objects.get() == paid


def test_applied_credit_cannot_be_edited(client, company, member):
    given = credit(company)
    invoice = document(company, "invoice", party=given.customer, amount="40.00")
    services.customer_credit_apply(credit=given, target=invoice, amount="5.00", actor=None)
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(
        url("customer_credit_edit", company, pk=given.pk), {"credit_date": "2026-03-01", "amount": "30.00", "memo": ""}
    )
    assert "has applications; reverse them" in response.content.decode()
    assert CustomerCredit.objects.get().amount == Decimal("25.00")


@pytest.mark.parametrize("role", [Role.VIEWER])
def test_viewer_cannot_edit_or_delete_a_credit(client, company, member, role):
    given = credit(company)
    client.force_login(member(company, role))
    assert client.get(url("customer_credit_edit", company, pk=given.pk)).status_code == 403
    assert client.post(url("customer_credit_edit", company, pk=given.pk), {"delete": "1"}).status_code == 403
    assert CustomerCredit.objects.filter(pk=given.pk).exists()


def test_another_companys_credit_is_not_found(client, company, other_company, member):
    theirs = credit(other_company)
    client.force_login(member(company, Role.ADMINISTRATOR))
    assert client.get(url("customer_credit_edit", company, pk=theirs.pk)).status_code == 404
    assert client.post(url("customer_credit_edit", company, pk=theirs.pk), {"delete": "1"}).status_code == 404
    assert CustomerCredit.objects.filter(pk=theirs.pk).exists()


def test_credit_list_links_to_edit(client, company, member):
    given = credit(company)
    client.force_login(member(company, Role.ACCOUNTANT))
    assert url("customer_credit_edit", company, pk=given.pk) in client.get(url("customer_credits", company)).content.decode()


# ---------------------------------------------------------------- refunds


def test_accountant_edits_a_refund_within_the_credit_balance(client, company, member):
    paid = refund(company, amount="10.00")
    client.force_login(member(company, Role.ACCOUNTANT))
    assert url("refund_edit", company, pk=paid.pk) in client.get(url("refunds", company)).content.decode()
    response = client.post(url("refund_edit", company, pk=paid.pk), {"refund_date": "2026-03-03", "amount": "26.00"})
    assert "credit balance of 25.00" in response.content.decode()
    assert Refund.objects.get().amount == Decimal("10.00")
    response = client.post(url("refund_edit", company, pk=paid.pk), {"refund_date": "2026-03-03", "amount": "25.00"})
    assert response.status_code == 302
    paid.refresh_from_db()
    assert (paid.refund_date, paid.amount) == (date(2026, 3, 3), Decimal("25.00"))
    assert paid.journal_entry.entry_date == date(2026, 3, 3)
    assert services.customer_credit_balance(paid.customer) == 0
    assert AuditEvent.objects.filter(action="refund.update").exists()


def test_refund_in_closed_period_cannot_be_edited_or_deleted_BC4(client, company, member):
    paid = refund(company, refund_date=date(2026, 3, 2))
    close_books(company, date(2026, 3, 31))
    before = entries(company)
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("refund_edit", company, pk=paid.pk), {"refund_date": "2026-04-02", "amount": "10.00"})
    assert "Cannot edit refund" in response.content.decode() and "closed through 2026-03-31" in response.content.decode()
    response = client.post(url("refund_edit", company, pk=paid.pk), {"delete": "1"})
    assert "Cannot delete refund" in response.content.decode()
    assert Refund.objects.get().refund_date == date(2026, 3, 2) and entries(company) == before


def test_accountant_deletes_a_refund_and_the_balance_returns(client, company, member):
    paid = refund(company, amount="10.00")
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("refund_edit", company, pk=paid.pk), {"delete": "1", "reason": "bounced"})
    assert response.status_code == 302 and not Refund.objects.exists()
    assert services.customer_credit_balance(paid.customer) == Decimal("25.00")
    assert AuditEvent.objects.get(action="refund.delete").reason == "bounced"


def test_viewer_and_other_company_cannot_touch_a_refund(client, company, other_company, member):
    paid = refund(company)
    theirs = refund(other_company)
    client.force_login(member(company, Role.VIEWER))
    assert client.post(url("refund_edit", company, pk=paid.pk), {"delete": "1"}).status_code == 403
    client.force_login(member(company, Role.ADMINISTRATOR))
    assert client.post(url("refund_edit", company, pk=theirs.pk), {"delete": "1"}).status_code == 404
    assert Refund.objects.count() == 2


# ---------------------------------------------------------------- reversing an application


def applied(company, source_kind):
    customer = CustomerFactory(company=company)
    invoice = document(company, "invoice", party=customer, amount="50.00")
    if source_kind == "credit_memo":
        memo = document(company, "credit_memo", party=customer, amount="20.00")
        return services.credit_apply(credit=memo, target=invoice, amount="20.00", actor=None, applied_on=APPLIED)
    if source_kind == "payment":
        paid = payment(company, party=customer, amount="20.00")
        return services.payment_apply(payment=paid, target=invoice, amount="20.00", actor=None, applied_on=APPLIED)
    if source_kind == "customer_credit":
        given = credit(company, customer=customer, amount="20.00")
        return services.customer_credit_apply(credit=given, target=invoice, amount="20.00", actor=None, applied_on=APPLIED)
    bill = document(company, "bill", amount="50.00")
    vendor_credit = document(company, "vendor_credit", party=bill.vendor, amount="20.00")
    return services.credit_apply(credit=vendor_credit, target=bill, amount="20.00", actor=None, applied_on=APPLIED)


@pytest.mark.parametrize("source_kind", ["credit_memo", "vendor_credit", "payment", "customer_credit"])
def test_accountant_reverses_an_application(client, company, member, source_kind):
    application = applied(company, source_kind)
    client.force_login(member(company, Role.ACCOUNTANT))
    assert "Reverse application" in client.get(url("application_reverse", company, pk=application.pk)).content.decode()
    response = client.post(url("application_reverse", company, pk=application.pk), {"reason": "wrong invoice"})
    assert response.status_code == 302
    reversal = Application.objects.get(reverses=application)
    assert reversal.amount == -application.amount and reversal.applied_on == company.today()
    assert services.document_open_amount(application.target) == application.target.total
    assert AuditEvent.objects.get(action="application.reverse").reason == "wrong invoice"


def test_reversal_in_a_closed_period_posts_today_and_leaves_the_period_alone_BC5(client, company, member):
    application = applied(company, "payment")
    close_books(company, date(2026, 3, 31))
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("application_reverse", company, pk=application.pk), {"reason": "late fix"})
    assert response.status_code == 302
    reversal = Application.objects.get(reverses=application)
    assert reversal.applied_on == company.today() and reversal.journal_entry.entry_date == company.today()


def test_second_reversal_is_refused_on_the_form(client, company, member):
    application = applied(company, "credit_memo")
    services.application_reverse(application=application, actor=None)
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("application_reverse", company, pk=application.pk), {"reason": "again"})
    assert response.status_code == 200 and "already reversed" in response.content.decode()
    assert Application.objects.filter(reverses=application).count() == 1


def test_document_and_payment_pages_link_to_the_reversal(client, company, member):
    application = applied(company, "payment")
    client.force_login(member(company, Role.ACCOUNTANT))
    link = url("application_reverse", company, pk=application.pk)
    assert link in client.get(url("payment", company, pk=application.payment_id)).content.decode()
    assert link in client.get(url("document", company, pk=application.target_id)).content.decode()
    client.force_login(member(company, Role.VIEWER))
    assert link not in client.get(url("document", company, pk=application.target_id)).content.decode()


def test_viewer_and_other_company_cannot_reverse(client, company, other_company, member):
    application = applied(company, "credit_memo")
    theirs = applied(other_company, "credit_memo")
    client.force_login(member(company, Role.VIEWER))
    assert client.post(url("application_reverse", company, pk=application.pk)).status_code == 403
    client.force_login(member(company, Role.ADMINISTRATOR))
    assert client.get(url("application_reverse", company, pk=theirs.pk)).status_code == 404
    assert client.post(url("application_reverse", company, pk=theirs.pk)).status_code == 404
    assert not Application.objects.filter(amount__lt=0).exists()
