"""Document, payment, credit and refund pages: lists with filters, void, apply, roles."""

from datetime import date

import pytest
from django.urls import reverse

from ledger import services
from ledger.models import CustomerCredit, Document, Payment, Refund, Role
from tests.factories import CustomerFactory, document, payment

pytestmark = pytest.mark.django_db


def url(name, company, **kwargs):
    return reverse(f"ledger:{name}", kwargs={"slug": company.slug, **kwargs})


@pytest.mark.parametrize(
    "name", ["invoices", "bills", "credit_memos", "vendor_credits", "payments", "customer_credits", "refunds"]
)
def test_lists_answer_a_viewer(client, company, member, name):
    client.force_login(member(company, Role.VIEWER))
    assert client.get(url(name, company)).status_code == 200


def test_invoice_list_filters_by_status_and_text(client, company, member):
    customer = CustomerFactory(company=company, name="Blue Door Cafe")
    keep = document(company, "invoice", party=customer, number="INV-KEEP")
    gone = document(company, "invoice", number="INV-GONE")
    services.document_void(document=gone, actor=None)
    client.force_login(member(company, Role.VIEWER))
    page = client.get(url("invoices", company), {"status": "open", "q": "blue door"}).content.decode()
    assert keep.number in page and gone.number not in page


def test_viewer_cannot_create_or_void(client, company, member):
    invoice = document(company, "invoice")
    client.force_login(member(company, Role.VIEWER))
    assert client.get(url("invoice_new", company)).status_code == 403
    assert client.post(url("document_void", company, pk=invoice.pk)).status_code == 403
    assert Document.objects.get().status == "open"


def test_void_page_voids_and_shows_the_timestamp(client, company, member):
    invoice = document(company, "invoice")
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("document_void", company, pk=invoice.pk), {"reason": "duplicate"}, follow=True)
    assert "voided" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "void" and invoice.voided_at is not None


def test_payment_page_records_and_applies(client, company, member):
    customer = CustomerFactory(company=company)
    invoice = document(company, "invoice", party=customer, amount="80.00")
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(
        url("payment_new", company),
        {"direction": "incoming", "customer": customer.pk, "process_date": "2026-03-12", "amount": "80.00", "status": "recorded"},
    )
    pay = Payment.objects.get()
    assert response.status_code == 302 and pay.status == "recorded"
    client.post(url("payment_apply", company, pk=pay.pk), {"target": invoice.pk, "amount": "80.00", "applied_on": "2026-03-12"})
    assert services.document_open_amount(invoice) == 0


def test_payment_form_needs_the_party(client, company, member):
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(
        url("payment_new", company),
        {"direction": "incoming", "process_date": "2026-03-12", "amount": "5.00", "status": "recorded"},
    )
    assert "Choose the customer who pays" in response.content.decode() and not Payment.objects.exists()


def test_customer_credit_and_refund_pages(client, company, member):
    customer = CustomerFactory(company=company)
    client.force_login(member(company, Role.ACCOUNTANT))
    client.post(
        url("customer_credits", company),
        {"customer": customer.pk, "kind": "manual", "credit_date": "2026-03-01", "amount": "25.00", "memo": "goodwill"},
    )
    assert CustomerCredit.objects.get().amount == 25
    response = client.post(url("refunds", company), {"customer": customer.pk, "refund_date": "2026-03-02", "amount": "30.00"})
    assert "credit balance of 25.00" in response.content.decode() and not Refund.objects.exists()
    client.post(url("refunds", company), {"customer": customer.pk, "refund_date": "2026-03-02", "amount": "20.00"})
    assert Refund.objects.get().amount == 20


def test_viewer_cannot_post_a_credit(client, company, member):
    customer = CustomerFactory(company=company)
    client.force_login(member(company, Role.VIEWER))
    response = client.post(
        url("customer_credits", company), {"customer": customer.pk, "kind": "manual", "credit_date": "2026-03-01", "amount": "5"}
    )
    assert response.status_code == 403 and not CustomerCredit.objects.exists()


def test_deposited_payment_void_in_closed_period_shows_the_error_BC5(client, company, member):
    pay = payment(company, process_date=date(2026, 1, 10))
    services.payment_move(payment=pay, to="deposited", actor=None)
    services.books_closed_update(company=company, actor=None, enabled=True, closed_date=date(2026, 1, 31))
    client.force_login(member(company, Role.ACCOUNTANT))
    response = client.post(url("payment_move", company, pk=pay.pk), {"to": "voided"}, follow=True)
    assert "cannot be moved to voided" in response.content.decode()
    assert Payment.objects.get().status == "deposited"


def test_customer_credit_applies_to_an_invoice_from_its_page(client, company, member):
    customer = CustomerFactory(company=company)
    invoice = document(company, "invoice", party=customer, amount="40.00")
    credit = services.customer_credit_create(
        company=company, customer=customer, kind="issued", credit_date=date(2026, 3, 1), amount="15.00", actor=None
    )
    client.force_login(member(company, Role.ACCOUNTANT))
    client.post(url("customer_credit_apply", company, pk=credit.pk), {"target": invoice.pk, "amount": "15.00"})
    assert services.document_open_amount(invoice) == 25 and services.customer_credit_balance(customer) == 0
