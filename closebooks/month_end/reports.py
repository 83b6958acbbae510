"""The reports behind the month-end checks (seed: month-end-reconciliations). Each lists the rows
behind one figure of ``figures`` with the same queryset, so its total is the check's input.

A report is built from ``ReportParams`` (already validated by the view) and returns rows (a
queryset of dicts where possible, paginated and exported as they stream) and totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, CharField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, TruncDate

from ledger.models import ZERO, Application, Company, Customer, CustomerCredit, Document, Payment, Refund, TransactionType

from . import figures
from .figures import CREDIT_MEMO, INVOICE, MONEY, POSTED_OR_VOIDED, Period

BUCKETS = [("current", "Current"), ("1_30", "1–30"), ("31_60", "31–60"), ("61_90", "61–90"), ("over_90", "Over 90")]
TYPE_LABELS = dict(TransactionType.choices)


@dataclass(frozen=True)
class ReportParams:
    period: Period | None = None
    as_of: date | None = None
    customer: int | None = None
    kind: str = ""
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    txn_from: date | None = None
    txn_to: date | None = None
    inv_from: date | None = None
    inv_to: date | None = None


@dataclass
class Column:
    key: str
    label: str
    money: bool = False
    link: str = ""  # "document", "target", "payment" or "entry": the cell links to the row behind it


@dataclass
class Report:
    columns: list[Column]
    rows: QuerySet | list[dict]
    totals: list[tuple[str, Decimal]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportSpec:
    key: str
    title: str
    mode: str  # "period", "as_of" or "ranges"
    description: str
    build: Callable[[Company, ReportParams], Report]
    filters: tuple[str, ...] = ("customer",)


def _customer(qs: QuerySet, params: ReportParams, path: str = "customer_id") -> QuerySet:
    return qs.filter(**{path: params.customer}) if params.customer else qs


def _sum_rows(rows: Iterable[dict], key: str) -> Decimal:
    return sum((row[key] for row in rows), ZERO)


DOC_COLUMNS = [
    Column("number", "Number", link="document"),
    Column("kind", "Kind"),
    Column("doc_date", "Date"),
    Column("customer__name", "Customer"),
]


DOCUMENTS_NOTE = (
    "Invoices and credit memos (negative) dated in the period and not void at its end;"
    " documents of earlier periods voided in this one count with the opposite sign."
)


def _documents(qs: QuerySet[Document]) -> QuerySet:
    return qs.order_by("doc_date", "id").values("id", "number", "kind", "doc_date", "customer__name")


# ---------------------------------------------------------------- MR1


def taxes_charged(company: Company, params: ReportParams) -> Report:
    qs = _customer(figures.period_documents(company, params.period), params)
    rows = _documents(qs).annotate(signed_tax=figures.signed("tax"))
    return Report(
        [*DOC_COLUMNS, Column("signed_tax", "Tax charged", True)],
        rows,
        [("Taxes Charged", figures.total(qs, figures.signed("tax")))],
        [DOCUMENTS_NOTE],
    )


def gl_revenue(company: Company, params: ReportParams) -> Report:
    qs = figures.gl_revenue_lines(company, params.period)
    rows = (
        qs.order_by("entry_date", "entry_id", "line_no")
        .values("entry_id", "entry_date", "account__code", "account__name", "description", "entry__memo")
        .annotate(amount=F("credit") - F("debit"))
    )
    return Report(
        [
            Column("entry_id", "Entry", link="entry"),
            Column("entry_date", "Date"),
            Column("account__code", "Account"),
            Column("account__name", "Account name"),
            Column("entry__memo", "Memo"),
            Column("amount", "Revenue (credit − debit)", True),
        ],
        rows,
        [("GL Revenue", figures.total(qs, F("credit") - F("debit")))],
        ["Every journal line on a revenue account dated in the period, whatever made it."],
    )


def invoices_total(company: Company, params: ReportParams) -> Report:
    qs = _customer(figures.period_documents(company, params.period), params)
    rows = _documents(qs).annotate(
        signed_subtotal=figures.signed("subtotal"), signed_tax=figures.signed("tax"), signed_total=figures.signed("total")
    )
    return Report(
        [
            *DOC_COLUMNS,
            Column("signed_subtotal", "Subtotal", True),
            Column("signed_tax", "Tax", True),
            Column("signed_total", "Total", True),
        ],
        rows,
        [("Invoices Total", figures.total(qs, figures.signed("total")))],
        [DOCUMENTS_NOTE],
    )


# ---------------------------------------------------------------- credits (MR2, MR3, MR4)


def credit_balance(company: Company, params: ReportParams) -> Report:
    day = params.as_of
    memos = Document.objects.filter(company=company, kind=CREDIT_MEMO, doc_date__lte=day).filter(figures.open_as_of(company, day))
    parts = {
        "credits": (CustomerCredit.objects.filter(company=company, credit_date__lte=day), "customer_id", "amount"),
        "credit_memos": (memos, "customer_id", "total"),
        "applied": (
            Application.objects.filter(company=company, applied_on__lte=day).filter(
                Q(customer_credit__isnull=False) | Q(credit_document__kind=CREDIT_MEMO)
            ),
            "target__customer_id",
            "amount",
        ),
        "refunded": (Refund.objects.filter(company=company, refund_date__lte=day), "customer_id", "amount"),
    }
    by_customer: dict[int, dict] = {}
    for key, (qs, path, amount) in parts.items():
        grouped = _customer(qs, params, path).values(path).annotate(t=Sum(amount)).order_by()
        for row in grouped:
            entry = by_customer.setdefault(row[path], {k: ZERO for k in parts})
            entry[key] = row["t"]
    names = dict(Customer.objects.filter(company=company, pk__in=list(by_customer)).values_list("pk", "name"))
    rows = []
    for customer_id, p in sorted(by_customer.items(), key=lambda item: names.get(item[0], "")):
        balance = p["credits"] + p["credit_memos"] - p["applied"] - p["refunded"]
        if any(p.values()):
            rows.append({"customer__name": names.get(customer_id, customer_id), **p, "balance": balance})
    ids = figures.posting_accounts(company)
    gl = figures.gl_balance(company, [ids.customer_credits_id] if ids else [], day)
    return Report(
        [
            Column("customer__name", "Customer"),
            Column("credits", "Credits given", True),
            Column("credit_memos", "Credit memos", True),
            Column("applied", "Applied to invoices", True),
            Column("refunded", "Refunded", True),
            Column("balance", "Credit balance", True),
        ],
        rows,
        [("Credit balance (customers)", _sum_rows(rows, "balance")), ("Customer credits account in the GL", gl)],
        [f"Point in time: everything dated on or before {day:%Y-%m-%d}, credit memos not void by then."],
    )


def _union_rows(parts: list[QuerySet]) -> QuerySet:
    first, *rest = parts
    return first.union(*rest, all=True).order_by("date", "what")


def customer_credit(company: Company, params: ReportParams) -> Report:
    period = params.period
    span = (period.first_day, period.last_day)

    def shape(qs: QuerySet, date_field: str, what, amount, customer: str = "customer") -> QuerySet:
        qs = qs.filter(**{f"{customer}_id": params.customer}) if params.customer else qs
        # no ordering inside a UNION part: SQLite refuses it (the union is ordered as a whole)
        return (
            qs.order_by()
            .annotate(date=F(date_field), what=what, amount_=amount, customer_name=F(f"{customer}__name"))
            .values("date", "customer_name", "what", "amount_")
        )

    kind_label = Case(*[When(kind=k, then=Value(label)) for k, label in CustomerCredit.Kind.choices], output_field=CharField())
    memos = Document.objects.filter(company=company, kind=CREDIT_MEMO)
    applied = Application.objects.filter(company=company, applied_on__range=span).filter(
        Q(customer_credit__isnull=False) | Q(credit_document__kind=CREDIT_MEMO)
    )
    parts = [
        shape(CustomerCredit.objects.filter(company=company, credit_date__range=span), "credit_date", kind_label, F("amount")),
        shape(memos.filter(doc_date__range=span), "doc_date", Value("Credit memo"), F("total")),
        shape(memos.filter(figures.voided_in(company, period)), "doc_date", Value("Credit memo voided"), -F("total")),
        shape(applied, "applied_on", Value("Applied to an invoice"), -F("amount"), customer="target__customer"),
        shape(Refund.objects.filter(company=company, refund_date__range=span), "refund_date", Value("Refund"), -F("amount")),
    ]
    rows = parts[0].union(*parts[1:], all=True).order_by("date", "what")
    total = sum((figures.total(p, "amount_") for p in parts), ZERO)
    return Report(
        [
            Column("date", "Date"),
            Column("customer_name", "Customer"),
            Column("what", "Activity"),
            Column("amount_", "Amount", True),
        ],
        rows,
        [("Customer Credit report total", total)],
        ["Credits given and credit memos add to the balance; voids, applications and refunds take from it."],
    )


def credits(company: Company, params: ReportParams) -> Report:
    qs = _customer(
        CustomerCredit.objects.filter(company=company, credit_date__range=(params.period.first_day, params.period.last_day)),
        params,
    )
    if params.kind:
        qs = qs.filter(kind=params.kind)
    rows = qs.order_by("credit_date", "id").values(
        "id", "credit_date", "customer__name", "kind", "transaction_type", "amount", "memo"
    )
    by_kind = {row["kind"]: row["t"] for row in qs.values("kind").annotate(t=Sum("amount")).order_by()}
    totals = [("Issued credits" if not params.kind else "Total", figures.total(qs, "amount"))]
    totals += [(label, by_kind.get(kind, ZERO)) for kind, label in CustomerCredit.Kind.choices if not params.kind]
    return Report(
        [
            Column("credit_date", "Date"),
            Column("customer__name", "Customer"),
            Column("kind", "Kind"),
            Column("transaction_type", "Transaction type"),
            Column("memo", "Memo"),
            Column("amount", "Amount", True),
        ],
        rows,
        totals,
        ["Every credit issued in the period; filter by kind for the manual and the overpayment credits (MR4)."],
    )


# ---------------------------------------------------------------- payments and transactions (MR3, MR5, MR6)


def uninvoiced_payments(company: Company, params: ReportParams) -> Report:
    day = params.as_of
    applied = (
        Application.objects.filter(payment=OuterRef("pk"), applied_on__lte=day)
        .values("payment")
        .annotate(t=Sum("amount"))
        .values("t")
    )
    credited = (
        CustomerCredit.objects.filter(payment=OuterRef("pk"), kind=CustomerCredit.Kind.OVERPAYMENT, credit_date__lte=day)
        .values("payment")
        .annotate(t=Sum("amount"))
        .values("t")
    )
    qs = _customer(figures.payments_posted_as_of(company, day), params).annotate(
        applied=Coalesce(Subquery(applied, output_field=MONEY), Value(ZERO), output_field=MONEY),
        credited=Coalesce(Subquery(credited, output_field=MONEY), Value(ZERO), output_field=MONEY),
    )
    qs = qs.annotate(unapplied=F("amount") - F("applied") - F("credited")).exclude(unapplied=0)
    rows = qs.order_by("process_date", "id").values(
        "id", "process_date", "customer__name", "method", "reference", "amount", "applied", "credited", "unapplied"
    )
    total = figures.uninvoiced_payments(company, day) if not params.customer else _sum_rows(rows, "unapplied")
    return Report(
        [
            Column("process_date", "Date", link="payment"),
            Column("customer__name", "Customer"),
            Column("method", "Method"),
            Column("reference", "Reference"),
            Column("amount", "Received", True),
            Column("applied", "Applied to invoices", True),
            Column("credited", "Turned into credit", True),
            Column("unapplied", "Un-invoiced", True),
        ],
        rows,
        [("Un-invoiced payments", total)],
        [f"Incoming payments posted by {day:%Y-%m-%d}, less what was applied or credited by then."],
    )


def _types(qs: QuerySet, params: ReportParams, path: str = "transaction_type") -> QuerySet:
    if params.include:
        qs = qs.filter(**{f"{path}__in": params.include})
    if params.exclude:
        qs = qs.exclude(**{f"{path}__in": params.exclude})
    return qs


def _range(qs: QuerySet, path: str, start: date | None, end: date | None) -> QuerySet:
    if start:
        qs = qs.filter(**{f"{path}__gte": start})
    if end:
        qs = qs.filter(**{f"{path}__lte": end})
    return qs


TXN_COLUMNS = [
    Column("date", "Transaction date"),
    Column("customer_name", "Customer"),
    Column("transaction_type", "Type"),
    Column("what", "Transaction"),
    Column("invoice_number", "Invoice"),
    Column("invoice_date", "Invoice date"),
    Column("amount", "Amount", True),
]
TXN_VALUES = ("date", "customer_name", "transaction_type", "what", "invoice_number", "invoice_date", "amount")


def transactions(company: Company, params: ReportParams) -> Report:
    """Money movements by transaction type and date; with an invoice-date range, the
    transactions on invoices (applications) of those invoices instead (MR6)."""
    if params.inv_from or params.inv_to:
        return _transactions_on_invoices(company, params)
    start, end = params.txn_from, params.txn_to
    none = Value(None, output_field=CharField())
    no_date = Value(None, output_field=Document._meta.get_field("doc_date"))
    payments = _customer(figures.incoming_payments(company), params)
    void_day = Greatest(F("process_date"), TruncDate("voided_at", tzinfo=company.tz))
    parts = [
        _types(_range(payments.filter(status__in=POSTED_OR_VOIDED), "process_date", start, end), params).annotate(
            date=F("process_date"), what=Value("Payment"), amount_=F("amount")
        ),
        _types(_range(payments.filter(status=Payment.Status.VOIDED).annotate(day=void_day), "day", start, end), params).annotate(
            date=F("day"), what=Value("Payment voided"), amount_=-F("amount")
        ),
        _types(
            _range(
                _customer(CustomerCredit.objects.filter(company=company), params).exclude(transaction_type=""),
                "credit_date",
                start,
                end,
            ),
            params,
        ).annotate(date=F("credit_date"), what=Value("Customer credit"), amount_=F("amount")),
        _types(_range(_customer(Refund.objects.filter(company=company), params), "refund_date", start, end), params).annotate(
            date=F("refund_date"), what=Value("Refund"), amount_=F("amount")
        ),
    ]
    shaped = [
        p.order_by()
        .annotate(customer_name=F("customer__name"), invoice_number=none, invoice_date=no_date)
        .values("date", "customer_name", "transaction_type", "what", "invoice_number", "invoice_date", "amount_")
        for p in parts
    ]
    totals_by_type: dict[str, Decimal] = {}
    for p in parts:
        for row in p.values("transaction_type").annotate(t=Sum("amount_")).order_by():
            totals_by_type[row["transaction_type"]] = totals_by_type.get(row["transaction_type"], ZERO) + row["t"]
    rows = shaped[0].union(*shaped[1:], all=True).order_by("date", "what")
    return Report(
        [*TXN_COLUMNS[:-1], Column("amount_", "Amount", True)],
        rows,
        [("Transaction report total", sum(totals_by_type.values(), ZERO))]
        + [(TYPE_LABELS[t], totals_by_type.get(t, ZERO)) for t in TransactionType.values],
        ["Incoming payments (voids as negative rows), credits that are transactions, refunds."],
    )


def _transactions_on_invoices(company: Company, params: ReportParams) -> Report:
    qs = Application.objects.filter(company=company, target__kind=INVOICE)
    qs = _range(_range(qs, "applied_on", params.txn_from, params.txn_to), "target__doc_date", params.inv_from, params.inv_to)
    if params.customer:
        qs = qs.filter(target__customer_id=params.customer)
    qs = qs.annotate(
        transaction_type=Case(
            When(payment__isnull=False, then=F("payment__transaction_type")),
            When(
                customer_credit__isnull=False, customer_credit__transaction_type="", then=Value(TransactionType.CUSTOMER_CREDIT)
            ),
            When(customer_credit__isnull=False, then=F("customer_credit__transaction_type")),
            default=Value(TransactionType.CUSTOMER_CREDIT),
            output_field=CharField(),
        )
    )
    qs = _types(qs, params)
    rows = (
        qs.order_by("applied_on", "id")
        .annotate(
            date=F("applied_on"),
            customer_name=F("target__customer__name"),
            what=Case(
                When(payment__isnull=False, then=Value("Payment applied")),
                When(customer_credit__isnull=False, then=Value("Customer credit applied")),
                default=Value("Credit memo applied"),
                output_field=CharField(),
            ),
            invoice_number=F("target__number"),
            invoice_date=F("target__doc_date"),
        )
        .values(*TXN_VALUES)
    )
    return Report(
        TXN_COLUMNS,
        rows,
        [("Transactions on invoices", figures.total(qs, "amount"))],
        ["Payments and credits applied to invoices, by transaction date and invoice date; reversals are negative."],
    )


# ---------------------------------------------------------------- AR (MR6)


def _with_bucket(qs: QuerySet, day: date, prefix: str = "") -> QuerySet:
    """Annotate days-past-due buckets at ``day``; an invoice without a due date is due on its date."""
    qs = qs.annotate(_due=Coalesce(F(f"{prefix}due_date"), F(f"{prefix}doc_date")))
    return qs.annotate(
        bucket=Case(
            When(_due__gte=day, then=Value("current")),
            When(_due__gte=day - timedelta(days=30), then=Value("1_30")),
            When(_due__gte=day - timedelta(days=60), then=Value("31_60")),
            When(_due__gte=day - timedelta(days=90), then=Value("61_90")),
            default=Value("over_90"),
            output_field=CharField(),
        )
    )


def ar_aging_buckets(company: Company, day: date, customer: int | None = None) -> dict[str, Decimal]:
    """AR at the end of ``day`` by days past due: two grouped aggregates, no per-invoice work."""
    invoices = figures.ar_invoices(company, day)
    applied = figures.ar_applications(company, day)
    if customer:
        invoices, applied = invoices.filter(customer_id=customer), applied.filter(target__customer_id=customer)
    out = {key: ZERO for key, _ in BUCKETS}
    for row in _with_bucket(invoices, day).values("bucket").annotate(t=Sum("total")).order_by():
        out[row["bucket"]] += figures.cents(row["t"])
    for row in _with_bucket(applied, day, "target__").values("bucket").annotate(t=Sum("amount")).order_by():
        out[row["bucket"]] -= figures.cents(row["t"])
    return out


def ar_aging(company: Company, params: ReportParams) -> Report:
    day = params.as_of
    applied = (
        Application.objects.filter(target=OuterRef("pk"), applied_on__lte=day)
        .values("target")
        .annotate(t=Sum("amount"))
        .values("t")
    )
    qs = _customer(figures.ar_invoices(company, day), params).annotate(
        applied=Coalesce(Subquery(applied, output_field=MONEY), Value(ZERO), output_field=MONEY)
    )
    qs = _with_bucket(qs.annotate(open_amount=F("total") - F("applied")).exclude(open_amount=0), day)
    rows = qs.order_by("doc_date", "id").values(
        "id", "number", "customer__name", "doc_date", "due_date", "total", "applied", "open_amount", "bucket"
    )
    buckets = ar_aging_buckets(company, day, params.customer)
    labels = dict(BUCKETS)
    return Report(
        [
            Column("number", "Invoice", link="document"),
            Column("customer__name", "Customer"),
            Column("doc_date", "Invoice date"),
            Column("due_date", "Due"),
            Column("bucket", "Days past due"),
            Column("total", "Total", True),
            Column("applied", "Paid or credited", True),
            Column("open_amount", "Open", True),
        ],
        rows,
        [("AR total", sum(buckets.values(), ZERO))] + [(labels[k], v) for k, v in buckets.items()],
        [
            f"Point in time at the end of {day:%Y-%m-%d}: an invoice voided later still counts; "
            "payments and credits applied after that day do not."
        ],
    )


def _invoice_rows(qs: QuerySet[Document], params: ReportParams) -> Report:
    qs = _customer(qs, params)
    rows = qs.order_by("doc_date", "id").values(
        "id", "number", "doc_date", "due_date", "customer__name", "subtotal", "tax", "total", "status", "voided_at"
    )
    return Report(
        [
            Column("number", "Invoice", link="document"),
            Column("doc_date", "Invoice date"),
            Column("due_date", "Due"),
            Column("customer__name", "Customer"),
            Column("status", "Status"),
            Column("voided_at", "Voided at"),
            Column("subtotal", "Subtotal", True),
            Column("tax", "Tax", True),
            Column("total", "Total", True),
        ],
        rows,
        [("Total", figures.total(qs, "total"))],
    )


def invoices(company: Company, params: ReportParams) -> Report:
    report = _invoice_rows(figures.invoices_of_period(company, params.period), params)
    report.notes.append("Invoices dated in the period that are not void.")
    return report


def voided_invoices(company: Company, params: ReportParams) -> Report:
    report = _invoice_rows(figures.invoices_voided_after(company, params.period), params)
    report.notes.append("Invoice date in the period, voided after it: still receivable at the period's close (MR6).")
    return report


REPORTS = {
    spec.key: spec
    for spec in [
        ReportSpec("taxes-charged", "Taxes Charged", "period", "Tax on the period's invoices (MR1).", taxes_charged),
        ReportSpec("gl-revenue", "GL Revenue Entry", "period", "Revenue-account lines of the period (MR1).", gl_revenue, ()),
        ReportSpec("invoices-total", "Invoices Total", "period", "Totals of the period's invoices (MR1).", invoices_total),
        ReportSpec(
            "credit-balance", "Credit Balance", "as_of", "Customers' credit balances at a date (MR2, MR3).", credit_balance
        ),
        ReportSpec("customer-credit", "Customer Credit", "period", "Credit activity of a period (MR2).", customer_credit),
        ReportSpec(
            "uninvoiced-payments",
            "Un-invoiced Payments",
            "as_of",
            "Money received, not yet on an invoice (MR3).",
            uninvoiced_payments,
        ),
        ReportSpec(
            "transactions",
            "Transactions",
            "ranges",
            "Money movements by type, transaction date and invoice date (MR4, MR5, MR6).",
            transactions,
            ("customer", "types", "ranges"),
        ),
        ReportSpec("credits", "Credits", "period", "Issued credits by kind (MR4).", credits, ("customer", "kind")),
        ReportSpec("ar-aging", "AR Aging", "as_of", "Receivables at a date by days past due (MR6).", ar_aging),
        ReportSpec("invoices", "Invoices", "period", "Invoices of the period (MR6).", invoices),
        ReportSpec(
            "voided-invoices", "Voided Invoices", "period", "Dated in the period, voided after it (MR6).", voided_invoices
        ),
    ]
}
