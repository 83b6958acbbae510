"""The six month-end checks MR1–MR6 (DESIGN.md; seed: month-end-reconciliations).

``run_checks(company, first_day, last_day)`` is what the month-end page and the close wizard's
Review step call; ``failing_unaccepted_checks`` is what Lock asks: a failing check blocks it
unless an administrator accepted that check's difference with a reason (``services``).
Each figure comes from ``figures`` (set-based aggregates, one definition each).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse

from ledger.models import ZERO, Company, CustomerCredit

from . import figures
from .figures import CREDIT_TYPES, NON_CASH_TYPES, Period
from .models import CheckAcceptance
from .rules import RULES


@dataclass(frozen=True)
class CheckInput:
    label: str
    amount: Decimal
    url: str = ""  # the report behind the figure


@dataclass(frozen=True)
class CheckResult:
    rule: str
    title: str
    formula: str
    inputs: list[CheckInput]
    expected: Decimal
    actual: Decimal
    expected_label: str
    actual_label: str
    causes: list[str] = field(default_factory=list)
    drill_down_url: str = ""

    @property
    def difference(self) -> Decimal:
        """Actual minus expected."""
        return self.actual - self.expected

    @property
    def passed(self) -> bool:
        return self.difference == ZERO


_run_cache: ContextVar[dict | None] = ContextVar("month_end_run_cache", default=None)


def _transaction_totals(company: Company, period: Period) -> dict:
    """MR4 and MR5 read the same transaction report: computed once per ``run_checks``."""
    cache = _run_cache.get()
    if cache is None:
        return figures.transaction_totals(company, period)
    key = ("transaction_totals", company.pk, period)
    if key not in cache:
        cache[key] = figures.transaction_totals(company, period)
    return cache[key]


def _report_url(company: Company, key: str, **params) -> str:
    url = reverse("month_end:report", args=[company.slug, key])
    query = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items() if v not in (None, "")}
    return f"{url}?{urlencode(query, doseq=True)}" if query else url


def _period_params(period: Period) -> dict:
    return {"first": period.first_day, "last": period.last_day}


def _drill_url(company: Company, rule: str, period: Period) -> str:
    return f"{reverse('month_end:drill_down', args=[company.slug, rule])}?{urlencode(_period_params(period), doseq=True)}"


def check_total_revenue(company: Company, period: Period) -> CheckResult:
    taxes, invoices_total = figures.taxes_and_totals(company, period)
    revenue = figures.gl_revenue(company, period)
    pp = _period_params(period)
    return CheckResult(
        rule="MR1",
        title=RULES["MR1"],
        formula="Taxes Charged + GL Revenue = Invoices Total",
        inputs=[
            CheckInput("Taxes Charged", taxes, _report_url(company, "taxes-charged", **pp)),
            CheckInput("GL Revenue", revenue, _report_url(company, "gl-revenue", **pp)),
            CheckInput("Invoices Total", invoices_total, _report_url(company, "invoices-total", **pp)),
        ],
        expected=invoices_total,
        actual=taxes + revenue,
        expected_label="Invoices Total",
        actual_label="Taxes Charged + GL Revenue",
        causes=[
            "Revenue was recorded without an invoice (a journal entry to a revenue account).",
            "An invoice exists without revenue (its lines post to an account that is not revenue).",
            "Taxes were not included: tax charged on an invoice was booked as revenue, or left out of the tax line.",
        ],
        drill_down_url=_drill_url(company, "MR1", period),
    )


def _credit_account_ids(company: Company, *roles: str) -> list[int]:
    posting = figures.posting_accounts(company)
    return [getattr(posting, f"{role}_id") for role in roles] if posting else []


def check_customer_credits(company: Company, period: Period) -> CheckResult:
    ids = _credit_account_ids(company, "customer_credits")
    closing, opening = figures.gl_balances(company, ids, [period.last_day, period.day_before])
    activity = figures.credit_activity(company, period)
    return CheckResult(
        rule="MR2",
        title=RULES["MR2"],
        formula="Credit Balance (this close) − Credit Balance (last close) = Customer Credit report (this period)",
        inputs=[
            CheckInput(
                f"Credit Balance at {period.last_day:%Y-%m-%d} (GL)",
                closing,
                _report_url(company, "credit-balance", as_of=period.last_day),
            ),
            CheckInput(
                f"Credit Balance at {period.day_before:%Y-%m-%d} (GL)",
                opening,
                _report_url(company, "credit-balance", as_of=period.day_before),
            ),
            CheckInput("Customer Credit report", activity, _report_url(company, "customer-credit", **_period_params(period))),
        ],
        expected=activity,
        actual=closing - opening,
        expected_label="Customer Credit report",
        actual_label="Change in credit balance",
        causes=[
            "Credits were manually created incorrectly (posted to the customer credits account without a credit).",
            "Refunds were processed incorrectly (paid out without a refund, or a refund that did not reduce the credit balance).",
        ],
        drill_down_url=_drill_url(company, "MR2", period),
    )


def check_unearned_revenue(company: Company, period: Period) -> CheckResult:
    day = period.last_day
    uninvoiced = figures.uninvoiced_payments(company, day)
    credits = figures.credit_balance(company, day)
    gl = figures.gl_balance(company, _credit_account_ids(company, "customer_deposits", "customer_credits"), day)
    return CheckResult(
        rule="MR3",
        title=RULES["MR3"],
        formula="Un-invoiced Payments + Customer Credit = Unearned Revenue (at close)",
        inputs=[
            CheckInput("Un-invoiced Payments", uninvoiced, _report_url(company, "uninvoiced-payments", as_of=day)),
            CheckInput("Customer Credit balance", credits, _report_url(company, "credit-balance", as_of=day)),
            CheckInput("Unearned Revenue (GL: customer deposits + customer credits)", gl),
        ],
        expected=gl,
        actual=uninvoiced + credits,
        expected_label="Unearned Revenue in the GL",
        actual_label="Un-invoiced Payments + Customer Credit",
        causes=[
            "Money was posted to customer deposits or customer credits by hand, without a payment or credit behind it.",
            "A payment or credit was recorded without its journal entry, or its entry was changed afterwards.",
        ],
        drill_down_url=_drill_url(company, "MR3", period),
    )


def check_credit_transactions(company: Company, period: Period) -> CheckResult:
    by_kind = figures.credits_by_kind(company, period)
    issued = sum(by_kind.values(), ZERO)
    manual, overpayment = by_kind[CustomerCredit.Kind.MANUAL], by_kind[CustomerCredit.Kind.OVERPAYMENT]
    transactions = _transaction_totals(company, period)
    credit_transactions = sum((transactions[t] for t in CREDIT_TYPES), ZERO)
    pp = _period_params(period)
    return CheckResult(
        rule="MR4",
        title=RULES["MR4"],
        formula=(
            "Issued Credits − Manual Credits − Overpayment Credits"
            " = Transaction report (Customer Credit, Refund as Customer Credit)"
        ),
        inputs=[
            CheckInput("Issued Credits", issued, _report_url(company, "credits", **pp)),
            CheckInput("Manual Credits", manual, _report_url(company, "credits", kind="manual", **pp)),
            CheckInput("Overpayment Credits", overpayment, _report_url(company, "credits", kind="overpayment", **pp)),
            CheckInput(
                "Transaction report: Customer Credit + Refund as Customer Credit",
                credit_transactions,
                _report_url(company, "transactions", include=list(CREDIT_TYPES), **pp),
            ),
        ],
        expected=credit_transactions,
        actual=issued - manual - overpayment,
        expected_label="Transaction report total",
        actual_label="Issued − Manual − Overpayment",
        causes=[
            "Credits were manually created incorrectly"
            " (a hand-made credit recorded as a Customer Credit transaction, or the reverse).",
            "Refunds were processed incorrectly"
            " (a refund recorded as Refund as Customer Credit, or a credit refund typed as cash).",
        ],
        drill_down_url=_drill_url(company, "MR4", period),
    )


def check_net_cash(company: Company, period: Period) -> CheckResult:
    transactions = _transaction_totals(company, period)
    cash = sum((amount for t, amount in transactions.items() if t not in NON_CASH_TYPES), ZERO)
    gl = figures.gl_cash_receipts(company, period)
    return CheckResult(
        rule="MR5",
        title=RULES["MR5"],
        formula="Net Cash Received = Transaction report, excluding Customer Credit, Refund as Customer Credit and Refund",
        inputs=[
            CheckInput(
                "Transaction report (cash types)",
                cash,
                _report_url(company, "transactions", exclude=list(NON_CASH_TYPES), **_period_params(period)),
            ),
            CheckInput("Cash received in the GL (bank debits, less incoming payments voided)", gl),
        ],
        expected=gl,
        actual=cash,
        expected_label="Cash received in the GL",
        actual_label="Transaction report total",
        causes=[
            "Cash was posted to the bank account by hand, without a payment.",
            "A payment carries the wrong transaction type (a cash payment typed as a credit, or the reverse).",
            "A payment was recorded without its journal entry, or its entry was changed afterwards.",
        ],
        drill_down_url=_drill_url(company, "MR5", period),
    )


def check_ar_rollforward(company: Company, period: Period) -> CheckResult:
    parts = figures.ar_rollforward_parts(company, period)
    opening, closing, invoices, voided = parts["opening"], parts["closing"], parts["invoices"], parts["voided"]
    pp = _period_params(period)
    first, last = period.first_day, period.last_day
    return CheckResult(
        rule="MR6",
        title=RULES["MR6"],
        formula="Opening AR + (Invoices + Voided Invoices) − Closing AR = Transactions on Invoices",
        inputs=[
            CheckInput("Opening AR (aging, last close)", opening, _report_url(company, "ar-aging", as_of=period.day_before)),
            CheckInput("Invoices for the period", invoices, _report_url(company, "invoices", **pp)),
            CheckInput(
                "Voided invoices (dated in the period, voided after it)", voided, _report_url(company, "voided-invoices", **pp)
            ),
            CheckInput("Closing AR (aging, this close)", closing, _report_url(company, "ar-aging", as_of=period.last_day)),
            CheckInput(
                "Transactions in the period on invoices of the period",
                parts["in_period"],
                _report_url(company, "transactions", txn_from=first, txn_to=last, inv_from=first, inv_to=last),
            ),
            CheckInput(
                "Transactions before the period on invoices of the period (deposits)",
                parts["deposits"],
                _report_url(company, "transactions", txn_to=period.day_before, inv_from=first, inv_to=last),
            ),
            CheckInput(
                "Transactions in the period on invoices of earlier periods",
                parts["earlier_invoices"],
                _report_url(company, "transactions", txn_from=first, txn_to=last, inv_to=period.day_before),
            ),
        ],
        expected=opening + invoices + voided - closing,
        actual=parts["in_period"] + parts["deposits"] + parts["earlier_invoices"],
        expected_label="Opening AR + Adjusted Invoice Total − Closing AR",
        actual_label="Transactions on invoices",
        causes=[
            "An invoice of an earlier period was voided in this period (AR fell without a payment).",
            "A payment or credit was applied to an invoice dated after the period.",
            "The AR aging was read at another date than the period's close (aging is point in time).",
        ],
        drill_down_url=_drill_url(company, "MR6", period),
    )


CHECKS = {
    "MR1": check_total_revenue,
    "MR2": check_customer_credits,
    "MR3": check_unearned_revenue,
    "MR4": check_credit_transactions,
    "MR5": check_net_cash,
    "MR6": check_ar_rollforward,
}


def run_check(company: Company, rule: str, first_day: date, last_day: date) -> CheckResult:
    return CHECKS[rule](company, Period(first_day, last_day))


def run_checks(company: Company, first_day: date, last_day: date) -> list[CheckResult]:
    """The six month-end checks of ``company`` for the period ``first_day``–``last_day`` (MR1–MR6)."""
    period = Period(first_day, last_day)
    token = _run_cache.set({})
    try:
        return [check(company, period) for check in CHECKS.values()]
    finally:
        _run_cache.reset(token)


def failing_unaccepted_checks(company: Company, first_day: date, last_day: date) -> list[CheckResult]:
    """The checks that block locking the period: failing, and not accepted by an administrator
    for exactly their current difference (an acceptance lapses when the figures move)."""
    failing = [result for result in run_checks(company, first_day, last_day) if not result.passed]
    accepted = set(
        CheckAcceptance.objects.filter(company=company, first_day=first_day, last_day=last_day).values_list("rule", "difference")
    )
    return [result for result in failing if (result.rule, result.difference) not in accepted]


__all__ = ["CheckInput", "CheckResult", "failing_unaccepted_checks", "run_check", "run_checks"]
