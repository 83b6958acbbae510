"""Property (MR1–MR6): any valid AR activity, made through the ledger services, ties out: all six
checks pass for the period and for the month before it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.models import CustomerCredit, Document
from ledger.services import customer_credit_balance, document_open_amount, payment_unapplied
from tests.factories import CompanyFactory

from .books import Books

pytestmark = pytest.mark.django_db

CUSTOMERS = ["Alder", "Birch", "Cedar"]
cents = st.integers(min_value=1, max_value=200_000).map(lambda n: Decimal(n) / 100)
fraction = st.integers(min_value=1, max_value=100).map(lambda n: Decimal(n) / 100)
day = st.integers(min_value=0, max_value=55)  # across the month before the period and the period
who = st.integers(min_value=0, max_value=len(CUSTOMERS) - 1)

operation = st.one_of(
    st.tuples(st.just("invoice"), who, day, cents, st.integers(min_value=0, max_value=15)),
    st.tuples(st.just("credit_memo"), who, day, cents, st.integers(min_value=0, max_value=15)),
    st.tuples(st.just("payment"), who, day, cents, fraction),
    st.tuples(st.just("credit"), who, day, cents, st.sampled_from(CustomerCredit.Kind.values)),
    st.tuples(st.just("apply_credits"), who, day, fraction, st.none()),
    st.tuples(st.just("refund"), who, day, fraction, st.none()),
    st.tuples(st.just("void"), who, day, fraction, st.none()),
)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


class Activity:
    """Turns a generated plan into valid service calls: applications never exceed what is open,
    refunds never exceed the credit balance, voids only hit invoices with nothing applied."""

    def __init__(self, books: Books):
        self.b = books
        self.start = books.previous.first_day
        self.invoices: list[Document] = []
        self.payments = []
        self.credits = []

    def date(self, n: int):
        return min(self.start + timedelta(days=n), self.b.period.last_day)

    def open_invoices(self, name):
        return [i for i in self.invoices if i.customer.name == name and document_open_amount(i) > 0]

    def pay_invoices(self, source, open_amount, name, when):
        for invoice in self.open_invoices(name):
            amount = min(open_amount, document_open_amount(invoice))
            if amount <= 0:
                break
            self.b.apply(source, invoice, amount, max(when, invoice.doc_date))
            open_amount -= amount

    def run(self, op):
        kind, idx, n, a, b = op
        name, when = CUSTOMERS[idx], self.date(n)
        if kind == "invoice":
            invoice = self.b.invoice(name, when, a, _money(a * b / 100))
            invoice.refresh_from_db()
            self.invoices.append(invoice)
        elif kind == "credit_memo":
            self.credits.append(self.b.credit_memo(name, when, a, _money(a * b / 100)))
        elif kind == "payment":
            payment = self.b.payment(name, when, a)
            self.pay_invoices(payment, _money(a * b), name, when)
            left = payment_unapplied(payment)
            if left > 0 and b < Decimal("0.5"):
                self.b.credit(name, when, left, CustomerCredit.Kind.OVERPAYMENT, payment=payment)
        elif kind == "credit" and b != CustomerCredit.Kind.OVERPAYMENT:
            self.credits.append(self.b.credit(name, when, a, b))
        elif kind == "apply_credits":
            for credit in self.credits:
                holder = credit.customer if isinstance(credit, CustomerCredit) else credit.customer
                if holder.name != name:
                    continue
                credit.refresh_from_db()
                left = (
                    credit.amount - sum((x.amount for x in credit.applications.all()), Decimal(0))
                    if isinstance(credit, CustomerCredit)
                    else document_open_amount(credit)
                )
                start = credit.credit_date if isinstance(credit, CustomerCredit) else credit.doc_date
                if left > 0:
                    self.pay_invoices(credit, _money(left * a), name, max(when, start))
        elif kind == "refund":
            balance = customer_credit_balance(self.b.customer(name))
            amount = _money(balance * a)
            if amount > 0:
                self.b.refund(name, when, amount)
        elif kind == "void":
            candidates = [i for i in self.invoices if i.customer.name == name and document_open_amount(i) == i.total]
            if candidates:
                invoice = candidates[int(a * (len(candidates) - 1))]
                self.b.void(invoice)
                invoice.refresh_from_db()  # the plan's own copy must see the void, or it would be paid later


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(operation, min_size=1, max_size=14))
def test_valid_ar_activity_passes_all_six_checks(db, plan):
    books = Books(CompanyFactory())
    activity = Activity(books)
    for op in plan:
        activity.run(op)
    assert books.failures() == {}
    assert books.failures(books.previous) == {}
