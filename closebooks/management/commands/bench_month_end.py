"""Benchmark the month-end checks: load a company with a year of AR activity (invoices with tax,
payments applied to them, voided invoices, customer credits, refunds, and the journal entries
each posts), then time the six checks MR1–MR6 together and the AR aging report.

The documents, payments, credits and refunds are generated inside PostgreSQL (``INSERT … SELECT``
over ``generate_series``). Their journal entries are generated there too, into a staging table,
and posted through the posting service (``journal_entries_post``, in batches, written by COPY):
nothing but the ledger writes the journal. Rows carry exactly what the posting services would
write, so all six checks pass on it (the JSON says how many did). The company is left in the
database: run it against a scratch database.

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from closebooks.month_end.checks import run_checks
from closebooks.month_end.figures import Period
from closebooks.month_end.reports import ReportParams, ar_aging
from ledger import services
from ledger.models import Company, Document, JournalEntry, JournalLine, Payment
from ledger.services import EntryInput, LineInput

POST_BATCH = 50_000  # entries per posting batch

RUNS = 3


def _reserve(cursor, table: str, count: int) -> int:
    """Take ``count`` consecutive ids from ``table``'s sequence; returns the first."""
    cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
    (first,) = cursor.fetchone()
    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, first + max(count, 1) - 1])
    return first


class Command(BaseCommand):
    help = "Time the six month-end checks and the AR aging report on generated data (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--invoices", type=int, default=100_000)
        parser.add_argument("--payments", type=int, default=300_000)
        parser.add_argument("--customers", type=int, default=0, help="Default: one per 50 invoices.")
        parser.add_argument(
            "--reuse", action="store_true", help="Time the latest bench company of the same size again instead of loading one."
        )

    def handle(self, *args, invoices: int, payments: int, customers: int, reuse: bool = False, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_month_end needs PostgreSQL (set DATABASE_URL).")
        if invoices < 1 or payments < 0:
            raise CommandError("--invoices must be at least 1 and --payments not negative.")
        customers = customers or max(10, invoices // 50)
        started = time.perf_counter()
        previous = self._previous(invoices, payments) if reuse else None
        if previous is not None:
            company, period = previous
            lines = JournalLine.objects.filter(company=company).count()
        else:
            company, period, lines = self._load(invoices, payments, customers)
        load_seconds = time.perf_counter() - started if previous is None else 0.0
        self.stdout.write(f"Loaded {invoices} invoices, {payments} payments, {lines} journal lines in {load_seconds:.1f} s.")

        check_times, results = [], []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            results = run_checks(company, period.first_day, period.last_day)
            check_times.append(time.perf_counter() - t0)
        aging_times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            report = ar_aging(company, ReportParams(as_of=period.last_day))
            list(report.rows[:100])  # the first page, as the report page shows it
            aging_times.append(time.perf_counter() - t0)
        for result in results:
            self.stdout.write(f"{result.rule} {result.title}: {'pass' if result.passed else f'FAIL {result.difference}'}")
        self.stdout.write(
            json.dumps(
                {
                    "bench": "month_end",
                    "invoices": invoices,
                    "payments": payments,
                    "customers": customers,
                    "journal_lines": lines,
                    "period": period.key,
                    "load_seconds": round(load_seconds, 2),
                    "reused_data": previous is not None,
                    "six_checks_seconds": round(statistics.median(check_times), 3),
                    "six_checks_first_run_seconds": round(check_times[0], 3),
                    "ar_aging_seconds": round(statistics.median(aging_times), 3),
                    "checks_passed": sum(1 for r in results if r.passed),
                    "runs": RUNS,
                }
            )
        )

    def _previous(self, invoices: int, payments: int):
        for company in Company.objects.filter(slug__startswith="bench-me-").order_by("-id"):
            if (
                Document.objects.filter(company=company).count() == invoices
                and Payment.objects.filter(company=company).count() == payments
            ):
                return company, Period.containing(company.today()).previous()
        return None

    @transaction.atomic
    def _load(self, n_invoices: int, n_payments: int, n_customers: int):
        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        company = services.company_create(name=f"Bench month-end {stamp}", slug=f"bench-me-{stamp}"[:60])
        posting = services.posting_accounts_get(company=company)
        revenue = services.account_save(company=company, actor=None, code="4000", name="Sales", type="revenue")
        period = Period.containing(company.today()).previous()
        start = (period.first_day - timedelta(days=330)).replace(day=1)
        span = (period.last_day - start).days + 1
        n_credits = max(1, n_invoices // 20)
        with connection.cursor() as cur:
            ids = {
                "customer": _reserve(cur, "ledger_customer", n_customers),
                "document": _reserve(cur, "ledger_document", n_invoices),
                "payment": _reserve(cur, "ledger_payment", n_payments),
                "application": _reserve(cur, "ledger_application", n_payments),
                "credit": _reserve(cur, "ledger_customercredit", n_credits),
                "refund": _reserve(cur, "ledger_refund", n_credits),
            }
            # entry slots (the staging table's numbers, mapped to posted entry ids before the
            # documents are written): invoice, invoice void, payment, application, credit, refund
            ids["entry"] = 1
            e_inv = ids["entry"]
            e_void = e_inv + n_invoices
            e_pay = e_void + n_invoices
            e_app = e_pay + n_payments
            e_credit = e_app + n_payments
            e_refund = e_credit + n_credits
            p = {
                "company": company.pk,
                "start": start,
                "span": span,
                "last": period.last_day,
                "n": n_invoices,
                "m": n_payments,
                "c": n_customers,
                "k": n_credits,
                "cust0": ids["customer"],
                "doc0": ids["document"],
                "pay0": ids["payment"],
                "app0": ids["application"],
                "credit0": ids["credit"],
                "refund0": ids["refund"],
                "e_inv": e_inv,
                "e_void": e_void,
                "e_pay": e_pay,
                "e_app": e_app,
                "e_credit": e_credit,
                "e_refund": e_refund,
                "receivable": posting.receivable_id,
                "revenue": revenue.pk,
                "tax": posting.tax_id,
                "cash": posting.cash_id,
                "deposits": posting.customer_deposits_id,
                "credits": posting.customer_credits_id,
                "expense": posting.credits_expense_id,
            }
            cur.execute("CREATE TEMP TABLE bench_entry (slot bigint PRIMARY KEY, entry_date date) ON COMMIT DROP")
            cur.execute(
                "CREATE TEMP TABLE bench_line (slot bigint, line_no int, account_id bigint, debit numeric, credit numeric)"
                " ON COMMIT DROP"
            )
            cur.execute("CREATE TEMP TABLE bench_entry_map (slot bigint PRIMARY KEY, id bigint) ON COMMIT DROP")
            for sql in ENTRY_SQL:
                cur.execute(sql, p)
            self._post_staged(company, cur)
            for sql in LOAD_SQL:
                cur.execute(sql, p)
            for table in ("ledger_journalentry", "ledger_journalline", "ledger_document", "ledger_payment", "ledger_application"):
                cur.execute(f"ANALYZE {table}")  # noqa: S608 - fixed table names
        return company, period, JournalLine.objects.filter(company=company).count()

    def _post_staged(self, company, cur) -> None:
        """Post the staged entries through the posting service and keep slot -> entry id."""
        cur.execute(
            "SELECT e.slot, e.entry_date, array_agg(l.account_id ORDER BY l.line_no), array_agg(l.debit ORDER BY l.line_no),"
            " array_agg(l.credit ORDER BY l.line_no) FROM bench_entry e JOIN bench_line l USING (slot)"
            " GROUP BY e.slot, e.entry_date ORDER BY e.slot"
        )
        rows = cur.fetchall()
        for start in range(0, len(rows), POST_BATCH):
            batch = rows[start : start + POST_BATCH]
            entries = [
                EntryInput(
                    entry_date=day,
                    lines=[LineInput(a, debit=dr, credit=cr) for a, dr, cr in zip(accs, drs, crs, strict=True)],
                )
                for _, day, accs, drs, crs in batch
            ]
            posted = services.journal_entries_post(
                company=company, entries=entries, actor=None, source=JournalEntry.Source.DOCUMENT
            ).posted
            slots = [row[0] for row in batch]
            cur.execute(
                "INSERT INTO bench_entry_map (slot, id) SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                [[slots[p.index] for p in posted], [p.entry_id for p in posted]],
            )
            self.stderr.write(f"  {min(start + POST_BATCH, len(rows)):,} of {len(rows):,} entries posted")


# Invoice i (1..n): dated start + (i*37 mod span), subtotal 100.00–999.99, tax 8 %. Every 50th is voided: the same
# day, or 40 days later when that falls after the close (then it still counts in the close's AR, MR6).
INV = {
    "date": "(%(start)s::date + ((i * 37) %% %(span)s)::int)",
    "subtotal": "((100 + i %% 900)::numeric + (i %% 100)::numeric / 100)",
}
INV["tax"] = f"round({INV['subtotal']} * 0.08, 2)"
INV["total"] = f"({INV['subtotal']} + {INV['tax']})"
INV["void"] = "(i %% 50 = 0)"
INV["void_day"] = f"(CASE WHEN {INV['date']} > %(last)s::date - 40 THEN {INV['date']} + 40 ELSE {INV['date']} END)"


def _inv(expr: str, var: str) -> str:
    """An invoice expression written over ``i`` rewritten over another variable."""
    return INV[expr].replace("i ", f"{var} ").replace("(i)", f"({var})")


# Payment j (1..m) pays a quarter of invoice ((j-1) mod n)+1, 5 + 10*((j-1)/n) days after it; applied that day
# unless the invoice is voided (then it stays an un-invoiced payment).
PAY_INV = "(((j - 1) %% %(n)s) + 1)"
PAY = {
    "inv": PAY_INV,
    "amount": f"round({_inv('total', PAY_INV)} / 4, 2)",
    "date": f"({_inv('date', PAY_INV)} + 5 + 10 * (((j - 1) / %(n)s) %% 3))",
    "applied": f"(NOT {_inv('void', PAY_INV)})",
}



def _entries(id_expr: str, date_expr: str, series: str, where: str = "TRUE") -> str:
    """Stage entries (slot, date) for the posting service."""
    return f"INSERT INTO bench_entry (slot, entry_date) SELECT {id_expr}, {date_expr} FROM {series} WHERE {where}"


def _lines(id_expr: str, date_expr: str, series: str, legs: list[tuple[str, str, str]], where: str = "TRUE") -> str:
    """legs: (account, debit expression, credit expression), one line each."""
    values = ", ".join(f"({n}, {acc}, {dr}, {cr})" for n, (acc, dr, cr) in enumerate(legs, start=1))
    return (
        f"INSERT INTO bench_line (slot, line_no, account_id, debit, credit) SELECT {id_expr}, leg.n, leg.acc, "
        f"leg.dr, leg.cr FROM {series} CROSS JOIN LATERAL (VALUES {values}) AS leg(n, acc, dr, cr) "
        f"WHERE {where} AND (leg.dr > 0 OR leg.cr > 0)"
    )


def _entry_id(slot_expr: str) -> str:
    """The posted entry id of a staged slot."""
    return f"(SELECT m.id FROM bench_entry_map m WHERE m.slot = {slot_expr})"


INVOICES = "generate_series(1, %(n)s) AS i"
PAYMENTS = "generate_series(1, %(m)s) AS j"
CREDITS = "generate_series(1, %(k)s) AS c"
CREDIT = {
    "date": "(%(start)s::date + ((c * 13) %% %(span)s)::int)",
    "amount": "(20 + c %% 50)::numeric",
    "customer": "(%(cust0)s + (c %% %(c)s))",
}
ZERO_ = "0::numeric"

ENTRY_SQL = [
    _entries("%(e_inv)s + i - 1", INV["date"], INVOICES),
    _lines(
        "%(e_inv)s + i - 1",
        INV["date"],
        INVOICES,
        [
            ("%(receivable)s", INV["total"], ZERO_),
            ("%(revenue)s", ZERO_, INV["subtotal"]),
            ("%(tax)s", ZERO_, INV["tax"]),
        ],
    ),
    _entries("%(e_void)s + i - 1", INV["void_day"], INVOICES, INV["void"]),
    _lines(
        "%(e_void)s + i - 1",
        INV["void_day"],
        INVOICES,
        [
            ("%(receivable)s", ZERO_, INV["total"]),
            ("%(revenue)s", INV["subtotal"], ZERO_),
            ("%(tax)s", INV["tax"], ZERO_),
        ],
        INV["void"],
    ),
    _entries("%(e_pay)s + j - 1", PAY["date"], PAYMENTS),
    _lines(
        "%(e_pay)s + j - 1", PAY["date"], PAYMENTS, [("%(cash)s", PAY["amount"], ZERO_), ("%(deposits)s", ZERO_, PAY["amount"])]
    ),
    _entries("%(e_app)s + j - 1", PAY["date"], PAYMENTS, PAY["applied"]),
    _lines(
        "%(e_app)s + j - 1",
        PAY["date"],
        PAYMENTS,
        [("%(deposits)s", PAY["amount"], ZERO_), ("%(receivable)s", ZERO_, PAY["amount"])],
        PAY["applied"],
    ),
    _entries("%(e_credit)s + c - 1", CREDIT["date"], CREDITS),
    _lines(
        "%(e_credit)s + c - 1",
        CREDIT["date"],
        CREDITS,
        [("%(expense)s", CREDIT["amount"], ZERO_), ("%(credits)s", ZERO_, CREDIT["amount"])],
    ),
    _entries("%(e_refund)s + c - 1", f"{CREDIT['date']} + 3", CREDITS, "c %% 5 = 0"),
    _lines(
        "%(e_refund)s + c - 1",
        f"{CREDIT['date']} + 3",
        CREDITS,
        [("%(credits)s", f"{CREDIT['amount']} / 2", ZERO_), ("%(cash)s", ZERO_, f"{CREDIT['amount']} / 2")],
        "c %% 5 = 0",
    ),
]

LOAD_SQL = [
    "INSERT INTO ledger_customer (id, company_id, name, email, created_at) "
    "SELECT %(cust0)s + g - 1, %(company)s, 'Customer ' || g, '', now() FROM generate_series(1, %(c)s) AS g",
    "INSERT INTO ledger_document (id, company_id, kind, number, customer_id, doc_date, due_date, currency, lines, subtotal, tax,"
    " total, status, voided_at, memo, origin, external_id, closed_period_policy, journal_entry_id, void_entry_id, created_at,"
    " updated_at) SELECT %(doc0)s + i - 1, %(company)s, 'invoice', 'INV-' || i, %(cust0)s + (i %% %(c)s), "
    f"{INV['date']}, {INV['date']} + 30, 'USD', "
    "jsonb_build_array(jsonb_build_object('account', %(revenue)s, "
    f"'amount', {INV['subtotal']}::text, 'tax', {INV['tax']}::text)),"
    f" {INV['subtotal']}, {INV['tax']}, {INV['total']}, CASE WHEN {INV['void']} THEN 'void' ELSE 'open' END, "
    f"CASE WHEN {INV['void']} THEN ({INV['void_day']})::timestamp + interval '12 hours' END AT TIME ZONE 'UTC', '', '', '', '', "
    f"{_entry_id('%(e_inv)s + i - 1')}, CASE WHEN {INV['void']} THEN {_entry_id('%(e_void)s + i - 1')} END, now(), now() "
    f"FROM {INVOICES}",
    "INSERT INTO ledger_payment (id, company_id, direction, customer_id, process_date, amount, currency, method, reference, "
    "transaction_type, status, origin, external_id, journal_entry_id, created_at, updated_at) "
    f"SELECT %(pay0)s + j - 1, %(company)s, 'incoming', %(cust0)s + ({PAY['inv']} %% %(c)s), {PAY['date']}, {PAY['amount']}, "
    f"'USD', 'ach', '', 'payment', 'recorded', '', '', {_entry_id('%(e_pay)s + j - 1')}, now(), now() FROM {PAYMENTS}",
    "INSERT INTO ledger_application (id, company_id, target_id, payment_id, applied_on, amount, journal_entry_id, created_at) "
    f"SELECT %(app0)s + j - 1, %(company)s, %(doc0)s + {PAY['inv']} - 1, %(pay0)s + j - 1, {PAY['date']}, {PAY['amount']}, "
    f"{_entry_id('%(e_app)s + j - 1')}, now() FROM {PAYMENTS} WHERE {PAY['applied']}",
    "INSERT INTO ledger_customercredit (id, company_id, customer_id, kind, credit_date, amount, currency, transaction_type, memo,"
    f" journal_entry_id, created_at) SELECT %(credit0)s + c - 1, %(company)s, {CREDIT['customer']}, 'issued', {CREDIT['date']},"
    f" {CREDIT['amount']}, 'USD', 'customer_credit', '', {_entry_id('%(e_credit)s + c - 1')}, now() FROM {CREDITS}",
    "INSERT INTO ledger_refund (id, company_id, customer_id, refund_date, amount, currency, transaction_type, memo, "
    f"journal_entry_id, created_at) SELECT %(refund0)s + c - 1, %(company)s, {CREDIT['customer']}, {CREDIT['date']} + 3, "
    f"{CREDIT['amount']} / 2, 'USD', 'refund', '', {_entry_id('%(e_refund)s + c - 1')}, now() FROM {CREDITS} WHERE c %% 5 = 0",
]
