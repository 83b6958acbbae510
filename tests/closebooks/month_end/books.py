"""A small bookkeeper for the month-end tests: every change goes through the ledger services,
dated inside the period under test (the month before today) or the month before it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from closebooks.month_end.checks import run_checks
from closebooks.month_end.figures import Period
from ledger import services
from ledger.models import Account, Customer, CustomerCredit, Document, Payment, Role
from ledger.services import DocumentLineInput, LineInput
from tests.factories import member


class Books:
    def __init__(self, company, period: Period | None = None):
        self.company = company
        self.period = period or Period.containing(company.today()).previous()
        self.previous = self.period.previous()
        self.user = member(company, Role.ADMINISTRATOR)
        self.revenue = services.account_save(company=company, actor=self.user, code="4000", name="Sales", type="revenue")
        self.suspense = services.account_save(company=company, actor=self.user, code="1999", name="Suspense", type="asset")
        self.other_liability = services.account_save(
            company=company, actor=self.user, code="2999", name="Other liabilities", type="liability"
        )
        self.posting = services.posting_accounts_get(company=company)
        self.numbers = 0
        self.customers = {}

    # dates
    def p(self, n: int) -> date:
        """Day ``n`` (0-based) of the period under test."""
        return self.period.first_day + timedelta(days=n)

    def q(self, n: int) -> date:
        """Day ``n`` (0-based) of the month before it."""
        return self.previous.first_day + timedelta(days=n)

    def customer(self, name: str) -> Customer:
        if name not in self.customers:
            self.customers[name] = Customer.objects.create(company=self.company, name=name)
        return self.customers[name]

    def invoice(self, name, day, amount, tax="0", account: Account | None = None, kind=Document.Kind.INVOICE, due=None):
        self.numbers += 1
        return services.document_create(
            company=self.company,
            kind=kind,
            actor=self.user,
            number=f"{kind[:3].upper()}-{self.numbers}",
            party=self.customer(name),
            doc_date=day,
            due_date=due,
            lines=[DocumentLineInput(account or self.revenue, Decimal(amount), Decimal(tax))],
        )

    def credit_memo(self, name, day, amount, tax="0"):
        return self.invoice(name, day, amount, tax, kind=Document.Kind.CREDIT_MEMO)

    def payment(self, name, day, amount, apply_to=None, applied_on=None, apply_amount=None, transaction_type=None) -> Payment:
        payment = services.payment_create(
            company=self.company,
            direction=Payment.Direction.INCOMING,
            party=self.customer(name),
            process_date=day,
            amount=Decimal(amount),
            actor=self.user,
            status=Payment.Status.RECORDED,
            method="check",
        )
        if transaction_type:
            Payment.objects.filter(pk=payment.pk).update(transaction_type=transaction_type)
            payment.refresh_from_db()
        if apply_to is not None:
            self.apply(payment, apply_to, apply_amount or amount, applied_on or day)
        return payment

    def apply(self, source, target, amount, day):
        amount = Decimal(amount)
        if isinstance(source, Payment):
            return services.payment_apply(payment=source, target=target, amount=amount, actor=self.user, applied_on=day)
        if isinstance(source, CustomerCredit):
            return services.customer_credit_apply(credit=source, target=target, amount=amount, actor=self.user, applied_on=day)
        return services.credit_apply(credit=source, target=target, amount=amount, actor=self.user, applied_on=day)

    def credit(self, name, day, amount, kind, payment=None, transaction_type=None) -> CustomerCredit:
        return services.customer_credit_create(
            company=self.company,
            customer=self.customer(name),
            kind=kind,
            credit_date=day,
            amount=Decimal(amount),
            actor=self.user,
            payment=payment,
            transaction_type=transaction_type,
        )

    def refund(self, name, day, amount):
        return services.refund_create(
            company=self.company, customer=self.customer(name), refund_date=day, amount=Decimal(amount), actor=self.user
        )

    def void(self, document):
        return services.document_void(document=document, actor=self.user, reason="test")

    def entry(self, day, debit_account, credit_account, amount, memo="by hand"):
        amount = Decimal(amount)
        return services.journal_entry_create(
            company=self.company,
            entry_date=day,
            lines=[LineInput(debit_account, debit=amount), LineInput(credit_account, credit=amount)],
            actor=self.user,
            memo=memo,
        )

    # checks
    def checks(self, period: Period | None = None) -> dict:
        period = period or self.period
        return {r.rule: r for r in run_checks(self.company, period.first_day, period.last_day)}

    def failures(self, period: Period | None = None) -> dict[str, Decimal]:
        return {rule: r.difference for rule, r in self.checks(period).items() if not r.passed}


def month_of_ar(books: Books) -> dict:
    """The hand-built month of the seed: invoices with tax, a deposit taken before its invoice,
    payments on this month's and last month's invoices, a credit memo, issued / manual /
    overpayment / refund-as-credit credits, a refund, and an invoice voided after the month."""
    b = books
    inv1 = b.invoice("Alder", b.q(2), "1000.00", "80.00", due=b.q(31))
    b.payment("Alder", b.q(9), "500.00", apply_to=inv1)
    deposit = b.payment("Birch", b.q(19), "300.00")
    inv2 = b.invoice("Birch", b.p(3), "2000.00", "160.00")
    inv3 = b.invoice("Birch", b.p(1), "1000.00", "50.00")
    b.apply(deposit, inv3, "300.00", b.q(27))  # a deposit linked to an invoice of the period
    b.payment("Alder", b.p(4), "400.00", apply_to=inv1)
    b.payment("Birch", b.p(5), "1000.00", apply_to=inv2)
    memo = b.credit_memo("Alder", b.p(6), "100.00", "8.00")
    b.apply(memo, inv1, "108.00", b.p(7))
    issued = b.credit("Alder", b.p(8), "50.00", CustomerCredit.Kind.ISSUED)
    b.credit("Birch", b.p(8), "20.00", CustomerCredit.Kind.MANUAL)
    inv4 = b.invoice("Cedar", b.p(9), "600.00")
    overpaid = b.payment("Cedar", b.p(9), "700.00", apply_to=inv4, apply_amount="600.00")
    b.credit("Cedar", b.p(9), "100.00", CustomerCredit.Kind.OVERPAYMENT, payment=overpaid)
    b.credit("Cedar", b.p(10), "30.00", CustomerCredit.Kind.REFUND_AS_CREDIT)
    b.refund("Cedar", b.p(11), "40.00")
    inv5 = b.invoice("Alder", b.p(13), "500.00")
    b.apply(issued, inv1, "50.00", b.p(15))
    b.void(inv5)  # today: after the period, so still AR at its close (MR6)
    return {"inv1": inv1, "inv2": inv2, "inv3": inv3, "inv4": inv4, "inv5": inv5, "memo": memo, "issued": issued}
