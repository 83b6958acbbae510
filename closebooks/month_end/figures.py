"""The figures behind the month-end checks MR1–MR6, each defined once and computed set-based
(SQL aggregates, never a Python loop over documents). Reports list the rows behind a figure with
the same querysets, so a report total and a check input can never disagree.

Point in time: a document or payment counts "as of" a day when it is dated on or before that
day and was not voided by the end of that day in the company's time zone (``voided_at``). A void
posts its reversing entry on the void day (or the document's date, if later), so the sub-ledger
read this way and the GL agree on every date; an invoice voided later still counts on the dates
it was open (MR6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from ledger.models import (
    ZERO,
    Account,
    AccountDayBalance,
    Application,
    Company,
    CustomerCredit,
    Document,
    JournalLine,
    Payment,
    PostingAccounts,
    Refund,
    TransactionType,
)
from ledger.selectors import summaries_kept

MONEY = DecimalField(max_digits=20, decimal_places=2)
CENT = Decimal("0.01")
INVOICE, CREDIT_MEMO = Document.Kind.INVOICE, Document.Kind.CREDIT_MEMO
POSTED_OR_VOIDED = [*Payment.POSTED, Payment.Status.VOIDED]
# Money movements that are not cash (MR5 leaves them out of cash received).
NON_CASH_TYPES = (TransactionType.CUSTOMER_CREDIT, TransactionType.REFUND_AS_CREDIT, TransactionType.REFUND)
CREDIT_TYPES = (TransactionType.CUSTOMER_CREDIT, TransactionType.REFUND_AS_CREDIT)


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date

    @property
    def day_before(self) -> date:
        return self.first_day - timedelta(days=1)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        return cls(first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))

    @classmethod
    def containing(cls, day: date) -> Period:
        return cls.month(day.year, day.month)

    def previous(self) -> Period:
        return Period.containing(self.day_before)

    @property
    def label(self) -> str:
        return self.first_day.strftime("%B %Y")

    @property
    def key(self) -> str:
        return self.first_day.strftime("%Y-%m")


def day_end(company: Company, day: date) -> datetime:
    """The first instant after ``day`` in the company's time zone."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=company.tz)


def cents(value) -> Decimal:
    """A money figure to two places (SQLite, the ``make run`` default, hands sums back with more)."""
    return Decimal(value).quantize(CENT)


def total(queryset: QuerySet, expression) -> Decimal:
    return cents(queryset.aggregate(t=Coalesce(Sum(expression, output_field=MONEY), Value(ZERO), output_field=MONEY))["t"])


def open_as_of(company: Company, day: date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}voided_at__isnull": True}) | Q(**{f"{prefix}voided_at__gte": day_end(company, day)})


def voided_in(company: Company, period: Period, date_field: str = "doc_date") -> Q:
    """Voided with its reversal dated in ``period``: the later of the row's date and the void day."""
    return Q(voided_at__lt=day_end(company, period.last_day), **{f"{date_field}__lte": period.last_day}) & (
        Q(voided_at__gte=day_end(company, period.day_before)) | Q(**{f"{date_field}__gte": period.first_day})
    )


def posting_accounts(company: Company) -> PostingAccounts | None:
    """The company's posting accounts, or None when it never posted a document (every GL figure is then zero).
    Read only: unlike ``posting_accounts_get`` this never creates accounts."""
    return PostingAccounts.objects.filter(company=company).first()


# ---------------------------------------------------------------- GL


def gl_lines(company: Company) -> QuerySet[JournalLine]:
    return JournalLine.objects.filter(company=company)


def gl_revenue_lines(company: Company, period: Period) -> QuerySet[JournalLine]:
    return gl_lines(company).filter(account__type=Account.Type.REVENUE, entry_date__range=(period.first_day, period.last_day))


def gl_sums(company: Company) -> QuerySet:
    """What GL figures sum: the account-day balances the line triggers keep where the database keeps
    them (accounts x days rows, whatever the number of lines), else the lines themselves."""
    return AccountDayBalance.objects.filter(company=company) if summaries_kept() else gl_lines(company)


def gl_revenue(company: Company, period: Period) -> Decimal:
    revenue = list(Account.objects.filter(company=company, type=Account.Type.REVENUE).values_list("pk", flat=True))
    if not revenue:
        return ZERO
    return total(
        gl_sums(company).filter(account_id__in=revenue, entry_date__range=(period.first_day, period.last_day)),
        F("credit") - F("debit"),
    )


def gl_balance(company: Company, account_ids: list[int], day: date) -> Decimal:
    """Credit balance of liability accounts at the end of ``day``."""
    if not account_ids:
        return ZERO
    return total(gl_sums(company).filter(account_id__in=account_ids, entry_date__lte=day), F("credit") - F("debit"))


def _entries_of(queryset: QuerySet, field: str) -> QuerySet:
    return queryset.filter(**{f"{field}__isnull": False}).values(field)


def gl_cash_receipts(company: Company, period: Period) -> Decimal:
    """Cash the GL received in the period: debits to the bank account, less incoming payments voided
    in it, leaving out outgoing payments (and their voids) and refunds (MR5's other side)."""
    posting = posting_accounts(company)
    if posting is None:
        return ZERO
    lines = gl_lines(company).filter(account_id=posting.cash_id, entry_date__range=(period.first_day, period.last_day))
    # Outgoing payments credit the bank; only their voids debit it. Both kinds of void are read
    # through the partial index on voided payments, never a scan of every payment.
    voided = Payment.objects.filter(company=company, status=Payment.Status.VOIDED)
    outgoing_voids = _entries_of(voided.filter(direction=Payment.Direction.OUTGOING), "void_entry")
    incoming_voids = _entries_of(voided.filter(direction=Payment.Direction.INCOMING), "void_entry")
    debits = lines.filter(debit__gt=0).exclude(entry__in=outgoing_voids)
    voids = lines.filter(credit__gt=0, entry__in=incoming_voids)
    return total(debits, "debit") - total(voids, "credit")


# ---------------------------------------------------------------- invoices (MR1, MR6)


def period_documents(company: Company, period: Period) -> QuerySet[Document]:
    """The documents behind Invoices Total and Taxes Charged (MR1): invoices and credit memos dated
    in the period and not void at its end, and, with the opposite sign, those of earlier periods
    voided in it (their reversal lowers this period's GL revenue). ``sign`` is +1 or -1 per row."""
    in_period = Q(doc_date__range=(period.first_day, period.last_day)) & open_as_of(company, period.last_day)
    earlier_voided = Q(doc_date__lt=period.first_day) & voided_in(company, period)
    return (
        Document.objects.filter(company=company, kind__in=[INVOICE, CREDIT_MEMO])
        .filter(in_period | earlier_voided)
        .annotate(
            sign=Case(
                When(doc_date__lt=period.first_day, kind=CREDIT_MEMO, then=Value(1)),
                When(doc_date__lt=period.first_day, then=Value(-1)),
                When(kind=CREDIT_MEMO, then=Value(-1)),
                default=Value(1),
            )
        )
    )


def signed(field: str) -> F:
    """A figure of a ``period_documents`` row with its sign: credit memos and voids of earlier documents count negative."""
    return ExpressionWrapper(F(field) * F("sign"), output_field=MONEY)


def taxes_and_totals(company: Company, period: Period) -> tuple[Decimal, Decimal]:
    """(Taxes Charged, Invoices Total) of the period (MR1)."""
    figures = period_documents(company, period).aggregate(
        tax=Coalesce(Sum(signed("tax")), Value(ZERO), output_field=MONEY),
        total=Coalesce(Sum(signed("total")), Value(ZERO), output_field=MONEY),
    )
    return cents(figures["tax"]), cents(figures["total"])


def invoices_of_period(company: Company, period: Period) -> QuerySet[Document]:
    """Invoice report: invoices dated in the period and not void now."""
    return Document.objects.filter(
        company=company, kind=INVOICE, status=Document.Status.OPEN, doc_date__range=(period.first_day, period.last_day)
    )


def invoices_voided_after(company: Company, period: Period) -> QuerySet[Document]:
    """Voided invoices report: invoice date in the period, voided after it (still AR at its close)."""
    return Document.objects.filter(
        company=company,
        kind=INVOICE,
        status=Document.Status.VOID,
        doc_date__range=(period.first_day, period.last_day),
        voided_at__gte=day_end(company, period.last_day),
    )


def ar_invoices(company: Company, day: date) -> QuerySet[Document]:
    """Invoices that were receivable at the end of ``day``: dated on or before it, not void by then."""
    return Document.objects.filter(company=company, kind=INVOICE, doc_date__lte=day).filter(open_as_of(company, day))


def ar_applications(company: Company, day: date) -> QuerySet[Application]:
    return Application.objects.filter(
        company=company, applied_on__lte=day, target__kind=INVOICE, target__doc_date__lte=day
    ).filter(open_as_of(company, day, prefix="target__"))


def ar_balance(company: Company, day: date) -> Decimal:
    """Accounts receivable at the end of ``day``, point in time (the AR aging total)."""
    return total(ar_invoices(company, day), "total") - total(ar_applications(company, day), "amount")


def invoice_applications(company: Company, period: Period) -> dict[str, QuerySet[Application]]:
    """Transactions on invoices (MR6), as the seed runs the transaction report:
    in the period on invoices of the period; before the period on invoices of the period (deposits);
    in the period on invoices of earlier periods."""
    apps = Application.objects.filter(company=company, target__kind=INVOICE)
    in_period = Q(applied_on__range=(period.first_day, period.last_day))
    invoice_in_period = Q(target__doc_date__range=(period.first_day, period.last_day))
    return {
        "in_period": apps.filter(in_period & invoice_in_period),
        "deposits": apps.filter(invoice_in_period, applied_on__lt=period.first_day),
        "earlier_invoices": apps.filter(in_period, target__doc_date__lt=period.first_day),
    }


def _sums(queryset: QuerySet, amount, filters: dict[str, Q]) -> dict[str, Decimal]:
    """Several filtered sums of ``amount`` in one scan (SUM … FILTER (WHERE …))."""
    figures = queryset.aggregate(
        **{key: Coalesce(Sum(amount, filter=condition), Value(ZERO), output_field=MONEY) for key, condition in filters.items()}
    )
    return {key: cents(value) for key, value in figures.items()}


def ar_rollforward_parts(company: Company, period: Period) -> dict[str, Decimal]:
    """Everything MR6 reads, in two scans: opening and closing AR (point in time), the period's
    invoices and those voided after it, and the three groups of transactions on invoices."""
    before, first, last = period.day_before, period.first_day, period.last_day
    invoices = _sums(
        Document.objects.filter(company=company, kind=INVOICE, doc_date__lte=last),
        "total",
        {
            "opening_invoices": Q(doc_date__lte=before) & open_as_of(company, before),
            "closing_invoices": open_as_of(company, last),
            "invoices": Q(doc_date__gte=first, status=Document.Status.OPEN),
            "voided": Q(doc_date__gte=first, status=Document.Status.VOID, voided_at__gte=day_end(company, last)),
        },
    )
    applications = _sums(
        Application.objects.filter(company=company, target__kind=INVOICE, target__doc_date__lte=last),
        "amount",
        {
            "opening_applied": Q(applied_on__lte=before, target__doc_date__lte=before) & open_as_of(company, before, "target__"),
            "closing_applied": Q(applied_on__lte=last) & open_as_of(company, last, "target__"),
            "in_period": Q(applied_on__range=(first, last), target__doc_date__gte=first),
            "deposits": Q(applied_on__lt=first, target__doc_date__gte=first),
            "earlier_invoices": Q(applied_on__range=(first, last), target__doc_date__lt=first),
        },
    )
    return {
        "opening": invoices["opening_invoices"] - applications["opening_applied"],
        "closing": invoices["closing_invoices"] - applications["closing_applied"],
        "invoices": invoices["invoices"],
        "voided": invoices["voided"],
        "in_period": applications["in_period"],
        "deposits": applications["deposits"],
        "earlier_invoices": applications["earlier_invoices"],
    }


def gl_balances(company: Company, account_ids: list[int], days: list[date]) -> list[Decimal]:
    """Credit balances of liability accounts at the end of each of ``days``, in one scan."""
    if not account_ids:
        return [ZERO for _ in days]
    sums = _sums(
        gl_sums(company).filter(account_id__in=account_ids, entry_date__lte=max(days)),
        F("credit") - F("debit"),
        {f"d{n}": Q(entry_date__lte=day) for n, day in enumerate(days)},
    )
    return [sums[f"d{n}"] for n in range(len(days))]


# ---------------------------------------------------------------- customer credits (MR2, MR3, MR4)


def _credit_applications(company: Company) -> QuerySet[Application]:
    # A semi-join on the (few) credit memos rather than a join of every application to its credit.
    memos = Document.objects.filter(company=company, kind=CREDIT_MEMO).values("id")
    return Application.objects.filter(company=company).filter(Q(customer_credit__isnull=False) | Q(credit_document__in=memos))


def credit_balance_parts(company: Company, day: date) -> dict[str, Decimal]:
    """Customer credit balance at the end of ``day`` from the sub-ledger, in its parts."""
    memos = Document.objects.filter(company=company, kind=CREDIT_MEMO, doc_date__lte=day).filter(open_as_of(company, day))
    return {
        "credits": total(CustomerCredit.objects.filter(company=company, credit_date__lte=day), "amount"),
        "credit_memos": total(memos, "total"),
        "applied": total(_credit_applications(company).filter(applied_on__lte=day), "amount"),
        "refunded": total(Refund.objects.filter(company=company, refund_date__lte=day), "amount"),
    }


def credit_balance(company: Company, day: date) -> Decimal:
    parts = credit_balance_parts(company, day)
    return parts["credits"] + parts["credit_memos"] - parts["applied"] - parts["refunded"]


def credit_activity_parts(company: Company, period: Period) -> dict[str, Decimal]:
    """Customer Credit report of a period: credits given, credit memos (less voids), applied, refunded."""
    span = (period.first_day, period.last_day)
    memos = Document.objects.filter(company=company, kind=CREDIT_MEMO)
    return {
        "credits": total(CustomerCredit.objects.filter(company=company, credit_date__range=span), "amount"),
        "credit_memos": total(memos.filter(doc_date__range=span), "total"),
        "credit_memo_voids": total(memos.filter(voided_in(company, period)), "total"),
        "applied": total(_credit_applications(company).filter(applied_on__range=span), "amount"),
        "refunded": total(Refund.objects.filter(company=company, refund_date__range=span), "amount"),
    }


def credit_activity(company: Company, period: Period) -> Decimal:
    p = credit_activity_parts(company, period)
    return p["credits"] + p["credit_memos"] - p["credit_memo_voids"] - p["applied"] - p["refunded"]


def credits_by_kind(company: Company, period: Period) -> dict[str, Decimal]:
    """Credits report of the period: every issued credit, and the manual and overpayment ones."""
    rows = (
        CustomerCredit.objects.filter(company=company, credit_date__range=(period.first_day, period.last_day))
        .values("kind")
        .annotate(t=Sum("amount"))
    )
    by_kind = {kind: ZERO for kind in CustomerCredit.Kind.values}
    by_kind.update({row["kind"]: cents(row["t"]) for row in rows})
    return by_kind


# ---------------------------------------------------------------- payments (MR3, MR5)


def incoming_payments(company: Company) -> QuerySet[Payment]:
    return Payment.objects.filter(company=company, direction=Payment.Direction.INCOMING)


def payments_posted_as_of(company: Company, day: date) -> QuerySet[Payment]:
    return (
        incoming_payments(company)
        .filter(process_date__lte=day)
        .filter(Q(status__in=Payment.POSTED) | Q(status=Payment.Status.VOIDED, voided_at__gte=day_end(company, day)))
    )


def uninvoiced_payments_parts(company: Company, day: date) -> dict[str, Decimal]:
    """Un-invoiced payments at the end of ``day``: received, less applied to invoices, less turned into overpayment credits."""
    return {
        "received": total(payments_posted_as_of(company, day), "amount"),
        "applied": total(
            # every payment application but those of outgoing payments: no join of each application to its payment
            Application.objects.filter(company=company, payment__isnull=False, applied_on__lte=day).exclude(
                payment__in=Payment.objects.filter(company=company, direction=Payment.Direction.OUTGOING).values("id")
            ),
            "amount",
        ),
        "credited": total(
            CustomerCredit.objects.filter(company=company, kind=CustomerCredit.Kind.OVERPAYMENT, credit_date__lte=day),
            "amount",
        ),
    }


def uninvoiced_payments(company: Company, day: date) -> Decimal:
    p = uninvoiced_payments_parts(company, day)
    return p["received"] - p["applied"] - p["credited"]


def transaction_totals(company: Company, period: Period) -> dict[str, Decimal]:
    """Transaction report of the period, totalled by transaction type: incoming payments (less
    those voided in the period), customer credits that are transactions, refunds."""
    span = (period.first_day, period.last_day)
    totals = {t: ZERO for t in TransactionType.values}

    def add(queryset: QuerySet, sign: int = 1) -> None:
        for row in queryset.values("transaction_type").annotate(t=Sum("amount")).order_by():
            totals[row["transaction_type"]] += sign * cents(row["t"])

    payments = incoming_payments(company)
    add(payments.filter(process_date__range=span, status__in=POSTED_OR_VOIDED))
    add(payments.filter(status=Payment.Status.VOIDED).filter(voided_in(company, period, "process_date")), sign=-1)
    add(CustomerCredit.objects.filter(company=company, credit_date__range=span).exclude(transaction_type=""))
    add(Refund.objects.filter(company=company, refund_date__range=span))
    return totals
