"""AR documents for the demo company (issue 8): a year of invoices with tax, payments applied to
them, deposits taken before their invoice, credit memos, credits of every kind, refunds and a few
voids, all through the document services, so the month-end checks (MR1–MR6) have books to read."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from .models import Account, Company, Customer, CustomerCredit, Document, Payment
from .services import (
    DocumentLineInput,
    credit_apply,
    customer_credit_apply,
    customer_credit_balance,
    customer_credit_create,
    document_create,
    document_open_amount,
    document_void,
    payment_apply,
    payment_create,
    refund_create,
)

REVENUE_CODES = ["4000", "4010", "4020", "4030"]
TAX_RATE = Decimal("0.08")
CENT = Decimal("0.01")


QUARTER = Decimal("0.25")


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    # Quarters: exact in binary floating point too, so SQLite (the `make run` default, which
    # keeps decimals as REAL) checks "total = subtotal + tax" without a rounding error.
    return Decimal(rng.randrange(low * 4, high * 4)) * QUARTER


def _tax(net: Decimal) -> Decimal:
    return (net * TAX_RATE / QUARTER).quantize(Decimal(1)) * QUARTER


def seed_demo_ar(*, company: Company, admin, rng: random.Random, first_month: date, today: date, per_month: int = 6) -> int:
    """Post ``per_month`` invoices a month from ``first_month`` to ``today`` with their payments
    and credits. Returns the number of invoices."""
    customers = list(Customer.objects.filter(company=company).order_by("name")[:6])
    revenue = list(Account.objects.filter(company=company, code__in=REVENUE_CODES))
    count, month = 0, first_month
    while month <= today:
        last = min((month + timedelta(days=32)).replace(day=1) - timedelta(days=1), today)
        days = (last - month).days + 1

        def day(after: date = month, last: date = last) -> date:
            return min(after + timedelta(days=rng.randrange(max(1, (last - after).days + 1))), last)

        invoices = []
        for n in range(per_month):
            customer = rng.choice(customers)
            net = _money(rng, 300, 6000)
            doc_date = month + timedelta(days=rng.randrange(days))
            invoices.append(
                document_create(
                    company=company,
                    kind=Document.Kind.INVOICE,
                    actor=admin,
                    number=f"AR-{month:%y%m}-{n + 1:02d}",
                    party=customer,
                    doc_date=doc_date,
                    due_date=doc_date + timedelta(days=30),
                    lines=[DocumentLineInput(rng.choice(revenue), net, _tax(net), "Services")],
                )
            )
            count += 1
        for invoice in invoices[:-2]:  # the last two of each month stay open for the aging
            share = Decimal(rng.choice(["1", "1", "0.5"]))
            amount = (invoice.total * share).quantize(CENT)
            paid_on = day(invoice.doc_date)
            payment = payment_create(
                company=company,
                direction=Payment.Direction.INCOMING,
                party=invoice.customer,
                process_date=paid_on,
                amount=amount,
                actor=admin,
                status=Payment.Status.RECORDED,
                method=rng.choice(["ach", "check", "card"]),
            )
            payment_apply(payment=payment, target=invoice, amount=amount, actor=admin, applied_on=paid_on)
        # a deposit taken at the start of the month, applied to a later invoice of the same customer
        target = invoices[-1]
        deposit = payment_create(
            company=company,
            direction=Payment.Direction.INCOMING,
            party=target.customer,
            process_date=month,
            amount=(target.total / 4).quantize(CENT),
            actor=admin,
            status=Payment.Status.RECORDED,
            method="ach",
        )
        payment_apply(payment=deposit, target=target, amount=deposit.amount, actor=admin, applied_on=max(month, target.doc_date))
        # a credit memo applied to an open invoice, an issued credit, an overpayment, a refund given as credit, a refund
        open_invoice = invoices[-2]
        memo = document_create(
            company=company,
            kind=Document.Kind.CREDIT_MEMO,
            actor=admin,
            number=f"CM-{month:%y%m}",
            party=open_invoice.customer,
            doc_date=open_invoice.doc_date,
            lines=[DocumentLineInput(rng.choice(revenue), Decimal("100.00"), Decimal("8.00"), "Discount")],
        )
        credit_apply(credit=memo, target=open_invoice, amount=memo.total, actor=admin, applied_on=open_invoice.doc_date)
        customer = rng.choice(customers)
        issued = customer_credit_create(
            company=company,
            customer=customer,
            kind=CustomerCredit.Kind.ISSUED,
            credit_date=day(),
            amount=Decimal("75.00"),
            actor=admin,
        )
        customer_open = [i for i in invoices if i.customer_id == customer.pk and document_open_amount(i) >= issued.amount]
        if customer_open:
            customer_credit_apply(
                credit=issued,
                target=customer_open[0],
                amount=issued.amount,
                actor=admin,
                applied_on=max(issued.credit_date, customer_open[0].doc_date),
            )
        over = payment_create(
            company=company,
            direction=Payment.Direction.INCOMING,
            party=customer,
            process_date=day(),
            amount=Decimal("60.00"),
            actor=admin,
            status=Payment.Status.RECORDED,
            method="card",
        )
        customer_credit_create(
            company=company,
            customer=customer,
            kind=CustomerCredit.Kind.OVERPAYMENT,
            credit_date=over.process_date,
            amount=over.amount,
            actor=admin,
            payment=over,
        )
        refund_date = day()
        customer_credit_create(
            company=company,
            customer=customer,
            kind=CustomerCredit.Kind.REFUND_AS_CREDIT,
            credit_date=refund_date,
            amount=Decimal("25.00"),
            actor=admin,
        )
        balance = customer_credit_balance(customer)
        if balance >= Decimal("20.00"):
            refund_create(company=company, customer=customer, refund_date=refund_date, amount=Decimal("20.00"), actor=admin)
        month = (month + timedelta(days=32)).replace(day=1)
    # one invoice of last month voided today: it still counts in last month's AR (MR6)
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    duplicate = document_create(
        company=company,
        kind=Document.Kind.INVOICE,
        actor=admin,
        number=f"AR-{last_month:%y%m}-DUP",
        party=customers[0],
        doc_date=last_month + timedelta(days=9),
        due_date=last_month + timedelta(days=39),
        lines=[DocumentLineInput(revenue[0], Decimal("480.00"), Decimal("38.50"), "Services (billed twice)")],
    )
    document_void(document=duplicate, actor=admin, reason="Demo: billed twice")
    return count
