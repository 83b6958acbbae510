"""The six month-end checks MR1–MR6 on the seed's hand-built month, and each failure cause the
seed lists making the right check fail by the right difference."""

from decimal import Decimal

import pytest

from closebooks.month_end.checks import failing_unaccepted_checks, run_checks
from closebooks.month_end.figures import Period
from ledger import services
from ledger.models import CustomerCredit, TransactionType
from ledger.services import LineInput

from .books import Books, month_of_ar

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def books(company):
    return Books(company)


def inputs(result) -> dict[str, Decimal]:
    return {i.label: i.amount for i in result.inputs}


def test_seed_month_passes_all_six_with_the_hand_computed_figures(books):
    """MR1–MR6 on the hand-built month: every input is the figure worked out by hand."""
    month_of_ar(books)
    checks = books.checks()
    assert books.failures() == {}
    assert [r.rule for r in run_checks(books.company, books.period.first_day, books.period.last_day)] == [
        "MR1", "MR2", "MR3", "MR4", "MR5", "MR6",
    ]  # fmt: skip

    mr1 = inputs(checks["MR1"])
    # INV2 2160 + INV3 1050 + INV4 600 + INV5 500 (voided after) - credit memo 108
    assert mr1 == {"Taxes Charged": D("202.00"), "GL Revenue": D("4000.00"), "Invoices Total": D("4202.00")}

    mr2 = checks["MR2"]
    assert mr2.expected == mr2.actual == D("110.00")  # 50 + 20 + 100 + 30 + 108 - 108 - 50 - 40

    mr3 = inputs(checks["MR3"])
    assert mr3["Un-invoiced Payments"] == D("0.00") and mr3["Customer Credit balance"] == D("110.00")
    assert checks["MR3"].expected == D("110.00")

    mr4 = inputs(checks["MR4"])
    assert mr4["Issued Credits"] == D("200.00")
    assert mr4["Manual Credits"] == D("20.00") and mr4["Overpayment Credits"] == D("100.00")
    assert checks["MR4"].actual == checks["MR4"].expected == D("80.00")

    assert checks["MR5"].actual == checks["MR5"].expected == D("2100.00")  # 400 + 1000 + 700

    mr6 = checks["MR6"]
    labels = inputs(mr6)
    assert labels["Opening AR (aging, last close)"] == D("580.00")
    assert labels["Closing AR (aging, this close)"] == D("2432.00")  # 22 + 1160 + 750 + 0 + 500
    assert labels["Invoices for the period"] == D("3810.00")
    assert labels["Voided invoices (dated in the period, voided after it)"] == D("500.00")
    assert labels["Transactions in the period on invoices of the period"] == D("1600.00")
    assert labels["Transactions before the period on invoices of the period (deposits)"] == D("300.00")
    assert labels["Transactions in the period on invoices of earlier periods"] == D("558.00")
    assert mr6.expected == mr6.actual == D("2458.00")


def test_a_period_with_no_activity_passes_with_zeros(books):
    for result in books.checks().values():
        assert result.passed and result.expected == result.actual == D("0.00")


def test_revenue_without_an_invoice_fails_mr1_by_its_amount(books):
    """MR1 cause: revenue was recorded without an invoice."""
    month_of_ar(books)
    books.entry(books.p(20), books.suspense, books.revenue, "250.00")
    assert books.failures() == {"MR1": D("250.00")}


def test_an_invoice_without_revenue_fails_mr1_by_its_net_amount(books):
    """MR1 cause: an invoice exists without revenue (its line posts to a liability)."""
    month_of_ar(books)
    books.invoice("Alder", books.p(20), "300.00", "24.00", account=books.other_liability)
    assert books.failures() == {"MR1": D("-300.00")}


def test_tax_booked_as_revenue_fails_mr1_by_the_tax(books):
    """MR1 cause: taxes were not included as taxes: the invoice's tax line was moved to revenue."""
    month_of_ar(books)
    invoice = books.invoice("Alder", books.p(20), "400.00", "32.00")
    services.journal_entry_update(
        entry=invoice.journal_entry,
        entry_date=invoice.doc_date,
        actor=books.user,
        lines=[
            LineInput(books.posting.receivable, debit=D("432.00")),
            LineInput(books.revenue, credit=D("432.00")),
        ],
    )
    assert books.failures() == {"MR1": D("32.00")}


def test_a_credit_created_by_hand_fails_mr2_and_mr3(books):
    """MR2 cause: credits were manually created incorrectly (a journal entry, no credit behind it)."""
    month_of_ar(books)
    books.entry(books.p(20), books.posting.credits_expense, books.posting.customer_credits, "75.00")
    assert books.failures() == {"MR2": D("75.00"), "MR3": D("-75.00")}


def test_a_refund_paid_by_hand_fails_mr2_and_mr3(books):
    """MR2 cause: refunds were processed incorrectly (paid out by journal entry, not as a refund)."""
    month_of_ar(books)
    books.entry(books.p(20), books.posting.customer_credits, books.posting.cash, "40.00")
    assert books.failures() == {"MR2": D("-40.00"), "MR3": D("40.00")}


def test_a_manual_credit_typed_as_a_customer_credit_transaction_fails_mr4(books):
    """MR4 cause: a manually created credit entered as a Customer Credit transaction."""
    month_of_ar(books)
    books.credit("Birch", books.p(20), "20.00", CustomerCredit.Kind.MANUAL, transaction_type=TransactionType.CUSTOMER_CREDIT)
    assert books.failures() == {"MR4": D("-20.00")}


def test_a_refund_as_credit_processed_as_a_cash_refund_fails_mr4(books):
    """MR4 cause: a refund given as credit was processed with the Refund transaction type."""
    month_of_ar(books)
    books.credit("Cedar", books.p(20), "30.00", CustomerCredit.Kind.REFUND_AS_CREDIT, transaction_type=TransactionType.REFUND)
    assert books.failures() == {"MR4": D("30.00")}


def test_cash_posted_by_hand_fails_mr5(books):
    """MR5: cash in the bank account without a payment transaction."""
    month_of_ar(books)
    books.entry(books.p(20), books.posting.cash, books.suspense, "90.00")
    assert books.failures() == {"MR5": D("-90.00")}


def test_a_payment_typed_as_customer_credit_fails_mr4_and_mr5(books):
    month_of_ar(books)
    books.payment("Alder", books.p(20), "65.00", transaction_type=TransactionType.CUSTOMER_CREDIT)
    assert books.failures() == {"MR4": D("-65.00"), "MR5": D("-65.00")}


def test_an_earlier_invoice_voided_in_the_period_fails_mr6_by_its_total(company):
    """MR6: AR fell without a payment. MR1 still ties: the void is a negative document of the period."""
    books = Books(company, period=Period.containing(company.today()))
    old = books.invoice("Alder", books.q(3), "700.00", "35.00")
    books.void(old)
    assert books.failures() == {"MR6": D("-735.00")}


def test_an_invoice_voided_after_the_period_still_counts_at_its_close(books):
    """MR6 point in time: voiding today does not change last month's AR or its roll-forward."""
    invoice = books.invoice("Alder", books.p(2), "100.00")
    before = books.checks()["MR6"]
    books.void(invoice)
    after = books.checks()["MR6"]
    assert inputs(before)["Closing AR (aging, this close)"] == inputs(after)["Closing AR (aging, this close)"] == D("100.00")
    assert after.passed


def test_a_foreign_company_does_not_leak_into_the_checks(books, other_company):
    month_of_ar(books)
    other = Books(other_company)
    other.entry(other.p(5), other.suspense, other.revenue, "999.00")
    assert books.failures() == {}
    assert other.failures() == {"MR1": D("999.00")}


def test_failing_unaccepted_checks_lists_failures_until_accepted(books):
    from closebooks.month_end.services import check_acceptance_create

    month_of_ar(books)
    books.entry(books.p(20), books.suspense, books.revenue, "250.00")
    first, last = books.period.first_day, books.period.last_day
    assert [r.rule for r in failing_unaccepted_checks(books.company, first, last)] == ["MR1"]
    check_acceptance_create(
        company=books.company, rule="MR1", first_day=first, last_day=last, reason="Grant income", actor=books.user
    )
    assert failing_unaccepted_checks(books.company, first, last) == []
    books.entry(books.p(21), books.suspense, books.revenue, "1.00")  # the figures moved: the acceptance lapses
    assert [r.difference for r in failing_unaccepted_checks(books.company, first, last)] == [D("251.00")]
