"""AR/AP documents: what each posts, applications, voids, payments' moves, credits and refunds,
and the books-closed guard on each (BC4, BC5)."""

from datetime import date
from decimal import Decimal

import pytest

from ledger import services
from ledger.exceptions import ApplicationError, BooksClosedError, DocumentError, PaymentError
from ledger.models import Application, AuditEvent, CustomerCredit, Document, Invoice, JournalLine, Payment
from tests.factories import CustomerFactory, close_books, document, payment

pytestmark = pytest.mark.django_db
D = Decimal
CLOSED = date(2026, 1, 31)
IN_CLOSED = date(2026, 1, 15)
OPEN = date(2026, 3, 10)


def balances(company):
    """Account code -> debit minus credit over all posted lines."""
    out = {}
    for line in JournalLine.objects.filter(company=company).select_related("account"):
        out[line.account.code] = out.get(line.account.code, D(0)) + line.debit - line.credit
    return {code: amount for code, amount in out.items() if amount}


def test_invoice_posts_receivable_revenue_and_tax_MR1(company):
    invoice = document(company, "invoice", amount="100.00", tax="8.25")
    assert (invoice.subtotal, invoice.tax, invoice.total) == (D("100.00"), D("8.25"), D("108.25"))
    posted = balances(company)
    assert posted["12000"] == D("108.25") and posted["22000"] == D("-8.25")
    assert Invoice.objects.get() == invoice and AuditEvent.objects.filter(action="invoice.create").exists()


def test_bill_posts_expense_and_payable(company):
    document(company, "bill", amount="40.00")
    assert balances(company)["20100"] == D("-40.00")


def test_credit_memo_applies_to_an_invoice_of_the_same_customer(company):
    customer = CustomerFactory(company=company)
    invoice = document(company, "invoice", party=customer, amount="100.00")
    memo = document(company, "credit_memo", party=customer, amount="30.00")
    application = services.credit_apply(credit=memo, target=invoice, amount="30.00", actor=None, applied_on=date(2026, 3, 12))
    assert application.applied_on == date(2026, 3, 12)
    assert services.document_open_amount(invoice) == D("70.00") and services.document_open_amount(memo) == D("0.00")
    assert balances(company)["12000"] == D("70.00")
    with pytest.raises(ApplicationError, match="left to apply"):
        services.credit_apply(credit=memo, target=invoice, amount="1.00", actor=None)


def test_credit_cannot_apply_to_another_customers_invoice(company):
    invoice = document(company, "invoice")
    memo = document(company, "credit_memo")
    with pytest.raises(ApplicationError, match="another customer"):
        services.credit_apply(credit=memo, target=invoice, amount="10.00", actor=None)


def test_vendor_credit_applies_to_a_bill(company):
    from tests.factories import VendorFactory

    vendor = VendorFactory(company=company)
    bill = document(company, "bill", party=vendor, amount="50.00")
    credit = document(company, "vendor_credit", party=vendor, amount="20.00")
    services.credit_apply(credit=credit, target=bill, amount="20.00", actor=None)
    assert services.document_open_amount(bill) == D("30.00")


def test_incoming_payment_is_uninvoiced_until_applied_MR3(company):
    customer = CustomerFactory(company=company)
    invoice = document(company, "invoice", party=customer, amount="100.00")
    pay = payment(company, party=customer, amount="150.00")
    assert services.payment_unapplied(pay) == D("150.00") and balances(company)["23000"] == D("-150.00")
    services.payment_apply(payment=pay, target=invoice, amount="100.00", actor=None)
    assert services.payment_unapplied(pay) == D("50.00") and services.document_open_amount(invoice) == D("0.00")
    credit = services.customer_credit_create(
        company=company,
        customer=customer,
        kind=CustomerCredit.Kind.OVERPAYMENT,
        credit_date=OPEN,
        amount="50.00",
        actor=None,
        payment=pay,
    )
    assert services.payment_unapplied(pay) == D("0.00") and services.customer_credit_balance(customer) == D("50.00")
    refund = services.refund_create(company=company, customer=customer, refund_date=OPEN, amount="20.00", actor=None)
    assert services.customer_credit_balance(customer) == D("30.00") and refund.journal_entry is not None
    assert credit.journal_entry is not None


def test_refund_cannot_exceed_the_credit_balance(company):
    customer = CustomerFactory(company=company)
    with pytest.raises(Exception, match="credit balance of 0.00"):
        services.refund_create(company=company, customer=customer, refund_date=OPEN, amount="1.00", actor=None)


def test_payment_moves_follow_the_table(company):
    pay = payment(company, status="scheduled")
    assert pay.journal_entry is None
    services.payment_move(payment=pay, to="recorded", actor=None)
    pay.refresh_from_db()
    assert pay.status == "recorded" and pay.journal_entry is not None
    with pytest.raises(PaymentError, match="cannot be moved to cancelled"):
        services.payment_move(payment=pay, to="cancelled", actor=None)
    services.payment_move(payment=pay, to="deposited", actor=None)
    services.payment_move(payment=pay, to="cleared", actor=None)
    assert services.payment_move(payment=pay, to="cleared", actor=None).status == "cleared"  # retry: no-op


def test_voiding_a_payment_reverses_its_entry_and_applications(company):
    customer = CustomerFactory(company=company)
    invoice = document(company, "invoice", party=customer, amount="100.00")
    pay = payment(company, party=customer, amount="100.00")
    services.payment_apply(payment=pay, target=invoice, amount="100.00", actor=None)
    services.payment_move(payment=pay, to="voided", actor=None, reason="bounced")
    pay.refresh_from_db()
    assert pay.status == "voided" and pay.voided_at is not None and pay.void_entry is not None
    assert services.document_open_amount(invoice) == D("100.00")
    assert Application.objects.filter(amount__lt=0).count() == 1
    assert balances(company).get("10100") is None  # cash in and out


def test_voiding_an_invoice_keeps_it_with_a_timestamp_MR6(company):
    invoice = document(company, "invoice", amount="100.00")
    services.document_void(document=invoice, actor=None, reason="duplicate")
    invoice.refresh_from_db()
    assert invoice.status == "void" and invoice.voided_at is not None and invoice.total == D("100.00")
    assert balances(company) == {}


def test_document_with_applications_cannot_be_deleted_or_edited(company):
    customer = CustomerFactory(company=company)
    invoice = document(company, "invoice", party=customer)
    pay = payment(company, party=customer)
    services.payment_apply(payment=pay, target=invoice, amount="10.00", actor=None)
    with pytest.raises(DocumentError, match="has applications"):
        services.document_delete(document=invoice, actor=None)


def test_duplicate_number_is_refused(company):
    customer = CustomerFactory(company=company)
    document(company, "invoice", party=customer, number="INV-1")
    with pytest.raises(DocumentError, match="already used") as exc:
        document(company, "invoice", party=customer, number="INV-1")
    assert exc.value.field == "number"


# ---------------------------------------------------------------- the guard on documents (BC4, BC5)


@pytest.mark.parametrize("kind", ["invoice", "bill", "credit_memo", "vendor_credit"])
def test_no_document_is_created_in_the_closed_period_BC4(company, kind):
    close_books(company, CLOSED)
    with pytest.raises(BooksClosedError) as exc:
        document(company, kind, doc_date=IN_CLOSED, number="X-1")
    message = str(exc.value)
    assert "Cannot create" in message and "X-1" in message and "2026-01-15" in message and "2026-01-31" in message
    assert not Document.objects.exists() and not JournalLine.objects.exists()


def test_closed_date_day_itself_is_closed_and_the_next_day_open_BC4(company):
    close_books(company, CLOSED)
    with pytest.raises(BooksClosedError):
        document(company, "invoice", doc_date=CLOSED)
    document(company, "invoice", doc_date=date(2026, 2, 1))


def test_moving_an_open_invoice_into_the_closed_period_is_refused_BC4(company):
    invoice = document(company, "invoice", doc_date=OPEN)
    close_books(company, CLOSED)
    with pytest.raises(BooksClosedError, match="Cannot edit"):
        services.document_update(
            document=invoice,
            actor=None,
            number=invoice.number,
            party=invoice.customer,
            doc_date=IN_CLOSED,
            lines=[services.DocumentLineInput(invoice.lines[0]["account"], amount="5.00")],
        )


def test_credit_memo_dated_in_the_closed_period_still_applies_on_an_open_date_BC5(company):
    customer = CustomerFactory(company=company)
    memo = document(company, "credit_memo", party=customer, doc_date=IN_CLOSED, amount="25.00")
    invoice = document(company, "invoice", party=customer, doc_date=OPEN)
    close_books(company, CLOSED)
    application = services.credit_apply(credit=memo, target=invoice, amount="20.00", actor=None)
    assert application.applied_on == company.today() and application.journal_entry.entry_date > CLOSED
    with pytest.raises(BooksClosedError):  # but the application itself cannot be dated in the closed period
        services.credit_apply(credit=memo, target=invoice, amount="1.00", actor=None, applied_on=IN_CLOSED)


@pytest.mark.parametrize(("start", "to"), [("recorded", "voided"), ("scheduled", "cancelled")])
def test_payment_in_the_closed_period_can_be_voided_or_cancelled_on_an_open_date_BC5(company, start, to):
    pay = payment(company, process_date=IN_CLOSED, status=start)
    close_books(company, CLOSED)
    services.payment_move(payment=pay, to=to, actor=None)
    pay.refresh_from_db()
    assert pay.status == to
    if to == "voided":
        assert pay.void_entry.entry_date == company.today()
        assert not JournalLine.objects.filter(entry=pay.void_entry, entry_date__lte=CLOSED).exists()


def test_deposited_payment_in_the_closed_period_cannot_be_voided_BC5(company):
    pay = payment(company, process_date=IN_CLOSED)
    services.payment_move(payment=pay, to="deposited", actor=None)
    close_books(company, CLOSED)
    with pytest.raises(PaymentError, match="cannot be moved to voided"):
        services.payment_move(payment=pay, to="voided", actor=None)


def test_scheduled_payment_cannot_be_recorded_into_the_closed_period_BC4(company):
    pay = payment(company, process_date=IN_CLOSED, status="scheduled")
    close_books(company, CLOSED)
    with pytest.raises(BooksClosedError, match="record payment"):
        services.payment_move(payment=pay, to="recorded", actor=None)
    assert Payment.objects.get().status == "scheduled"
