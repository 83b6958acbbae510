"""Drill-down of a failing check: the documents and journal lines behind its difference, found
with set-based queries (rows that no sub-ledger document made, documents whose entry disagrees)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ledger.models import (
    ZERO,
    Account,
    Application,
    Company,
    CustomerCredit,
    Document,
    JournalLine,
    Payment,
    Refund,
    TransactionType,
)

from . import figures
from .figures import INVOICE, MONEY, Period
from .reports import Column


@dataclass
class Section:
    title: str
    columns: list[Column]
    rows: QuerySet
    limit: int = 200


LINE_COLUMNS = [
    Column("entry_id", "Entry", link="entry"),
    Column("entry_date", "Date"),
    Column("account__code", "Account"),
    Column("entry__memo", "Memo"),
    Column("amount", "Credit − debit", True),
]
DOC_COLUMNS = [
    Column("number", "Number", link="document"),
    Column("kind", "Kind"),
    Column("doc_date", "Date"),
    Column("customer__name", "Customer"),
]


def _not_from_subledger(lines: QuerySet[JournalLine], company: Company) -> QuerySet[JournalLine]:
    """Lines whose entry no document, payment, credit, refund or application made: posted by hand."""
    sources = [
        (Document, "journal_entry"),
        (Document, "void_entry"),
        (Payment, "journal_entry"),
        (Payment, "void_entry"),
        (CustomerCredit, "journal_entry"),
        (Refund, "journal_entry"),
        (Application, "journal_entry"),
    ]
    for model, field in sources:
        lines = lines.exclude(entry__in=model.objects.filter(company=company, **{f"{field}__isnull": False}).values(field))
    return lines


def _lines(lines: QuerySet[JournalLine]) -> QuerySet:
    return (
        lines.order_by("entry_date", "entry_id")
        .values("entry_id", "entry_date", "account__code", "entry__memo")
        .annotate(amount=F("credit") - F("debit"))
    )


def _mr1(company: Company, period: Period) -> list[Section]:
    revenue_of_entry = (
        JournalLine.objects.filter(entry=OuterRef("journal_entry"), account__type=Account.Type.REVENUE)
        .values("entry")
        .annotate(t=Sum(F("credit") - F("debit")))
        .values("t")
    )
    docs = (
        figures.period_documents(company, period)
        .filter(doc_date__gte=period.first_day)
        .annotate(
            gl_revenue=Coalesce(Subquery(revenue_of_entry, output_field=MONEY), Value(ZERO), output_field=MONEY),
            invoiced=figures.signed("subtotal"),
        )
    )
    disagreeing = docs.exclude(gl_revenue=F("invoiced")).annotate(gap=F("gl_revenue") - F("invoiced"))
    return [
        Section(
            "Revenue recorded without an invoice (revenue lines of the period that no document made)",
            LINE_COLUMNS,
            _lines(_not_from_subledger(figures.gl_revenue_lines(company, period), company)),
        ),
        Section(
            "Invoices whose revenue in the GL differs from their net amount (no revenue, or tax booked as revenue)",
            [
                *DOC_COLUMNS,
                Column("invoiced", "Net invoiced", True),
                Column("gl_revenue", "GL revenue", True),
                Column("gap", "Difference", True),
            ],
            disagreeing.order_by("doc_date", "id").values(
                "id", "number", "kind", "doc_date", "customer__name", "invoiced", "gl_revenue", "gap"
            ),
        ),
    ]


def _account_lines(company: Company, roles: tuple[str, ...], **date_filter) -> QuerySet[JournalLine]:
    posting = figures.posting_accounts(company)
    ids = [getattr(posting, f"{role}_id") for role in roles] if posting else []
    return figures.gl_lines(company).filter(account_id__in=ids, **date_filter)


def _mr2(company: Company, period: Period) -> list[Section]:
    lines = _account_lines(company, ("customer_credits",), entry_date__range=(period.first_day, period.last_day))
    refunds = Refund.objects.filter(company=company, refund_date__range=(period.first_day, period.last_day)).exclude(
        journal_entry__lines__account__in=_credit_accounts(company)
    )
    return [
        Section(
            "Postings to the customer credits account that no credit, credit memo, application or refund made",
            LINE_COLUMNS,
            _lines(_not_from_subledger(lines, company)),
        ),
        Section(
            "Refunds of the period whose entry does not touch the customer credits account",
            [Column("refund_date", "Date"), Column("customer__name", "Customer"), Column("amount", "Amount", True)],
            refunds.order_by("refund_date", "id").values("id", "refund_date", "customer__name", "amount"),
        ),
    ]


def _credit_accounts(company: Company) -> list[int]:
    posting = figures.posting_accounts(company)
    return [posting.customer_credits_id] if posting else []


def _mr3(company: Company, period: Period) -> list[Section]:
    lines = _account_lines(company, ("customer_deposits", "customer_credits"), entry_date__lte=period.last_day)
    return [
        Section(
            "Postings to customer deposits or customer credits (up to the close) that no payment, credit or application made",
            LINE_COLUMNS,
            _lines(_not_from_subledger(lines, company)),
        )
    ]


def _mr4(company: Company, period: Period) -> list[Section]:
    credits = CustomerCredit.objects.filter(company=company, credit_date__range=(period.first_day, period.last_day))
    mismatched = Q()
    for kind, transaction_type in CustomerCredit.KIND_TRANSACTION_TYPE.items():
        mismatched |= Q(kind=kind) & ~Q(transaction_type=transaction_type)
    refunds = Refund.objects.filter(company=company, refund_date__range=(period.first_day, period.last_day)).exclude(
        transaction_type=TransactionType.REFUND
    )
    return [
        Section(
            "Credits whose transaction type does not go with their kind",
            [
                Column("credit_date", "Date"),
                Column("customer__name", "Customer"),
                Column("kind", "Kind"),
                Column("transaction_type", "Transaction type"),
                Column("amount", "Amount", True),
            ],
            credits.filter(mismatched)
            .order_by("credit_date", "id")
            .values("id", "credit_date", "customer__name", "kind", "transaction_type", "amount"),
        ),
        Section(
            "Refunds recorded with another transaction type than Refund",
            [
                Column("refund_date", "Date"),
                Column("customer__name", "Customer"),
                Column("transaction_type", "Transaction type"),
                Column("amount", "Amount", True),
            ],
            refunds.order_by("refund_date", "id").values("id", "refund_date", "customer__name", "transaction_type", "amount"),
        ),
    ]


def _mr5(company: Company, period: Period) -> list[Section]:
    lines = _account_lines(company, ("cash",), entry_date__range=(period.first_day, period.last_day), debit__gt=0)
    payments = figures.incoming_payments(company).filter(
        process_date__range=(period.first_day, period.last_day), status__in=figures.POSTED_OR_VOIDED
    )
    return [
        Section(
            "Cash posted to the bank account by hand, without a payment",
            LINE_COLUMNS,
            _lines(_not_from_subledger(lines, company)),
        ),
        Section(
            "Payments of the period typed as something other than a payment",
            [
                Column("process_date", "Date"),
                Column("customer__name", "Customer"),
                Column("transaction_type", "Transaction type"),
                Column("amount", "Amount", True),
            ],
            payments.exclude(transaction_type=TransactionType.PAYMENT)
            .order_by("process_date", "id")
            .values("id", "process_date", "customer__name", "transaction_type", "amount"),
        ),
    ]


def _mr6(company: Company, period: Period) -> list[Section]:
    earlier_voided = Document.objects.filter(
        company=company, kind=INVOICE, doc_date__lt=period.first_day, status=Document.Status.VOID
    ).filter(figures.voided_in(company, period))
    later = Application.objects.filter(
        company=company, target__kind=INVOICE, applied_on__lte=period.last_day, target__doc_date__gt=period.last_day
    )
    return [
        Section(
            "Invoices of earlier periods voided in this period",
            [*DOC_COLUMNS, Column("voided_at", "Voided at"), Column("total", "Total", True)],
            earlier_voided.order_by("doc_date", "id").values(
                "id", "number", "kind", "doc_date", "customer__name", "voided_at", "total"
            ),
        ),
        Section(
            "Payments and credits applied by the close to invoices dated after it",
            [
                Column("applied_on", "Applied on"),
                Column("target__number", "Invoice", link="target"),
                Column("target__doc_date", "Invoice date"),
                Column("amount", "Amount", True),
            ],
            later.order_by("applied_on", "id").values(
                "id", "applied_on", "target_id", "target__number", "target__doc_date", "amount"
            ),
        ),
    ]


DRILL_DOWNS = {"MR1": _mr1, "MR2": _mr2, "MR3": _mr3, "MR4": _mr4, "MR5": _mr5, "MR6": _mr6}


def drill_down(company: Company, rule: str, period: Period) -> list[Section]:
    return DRILL_DOWNS[rule](company, period)


__all__ = ["Section", "drill_down"]
