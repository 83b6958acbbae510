"""Profile the pages ``make load`` browses, one request at a time, on the load company
(``manage.py load_prepare``): per page the status, the number of SQL queries, and the median
and slowest of ``--runs`` timings through Django's test client (no network, no concurrency).
``--explain`` prints PostgreSQL's EXPLAIN ANALYZE of each page's slowest query.

    python manage.py load_profile --slug load --runs 5

The last line printed is one JSON object: {page: {"status", "queries", "median_ms", "max_ms"}}."""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from closebooks.month_end.reports import REPORTS
from ledger.models import Account, Company, Document, JournalEntry


def load_pages(company: Company) -> dict[str, str]:
    """The pages of the load scenario, by name (locustfile.py browses the same set)."""
    slug = company.slug
    bank = Account.objects.filter(company=company, code="1000").first()
    entry = JournalEntry.objects.filter(company=company).order_by("-id").first()
    invoice = Document.objects.filter(company=company, kind=Document.Kind.INVOICE).order_by("-id").first()
    last_month = (company.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    pages = {
        "home": reverse("home"),
        "dashboard": reverse("ledger:dashboard", args=[slug]),
        "journal": reverse("ledger:journal", args=[slug]),
        "journal_page_200": reverse("ledger:journal", args=[slug]) + "?page=200",
        "journal_filtered": reverse("ledger:journal", args=[slug]) + "?memo=entry+12",
        "accounts": reverse("ledger:accounts", args=[slug]),
        "invoices": reverse("ledger:invoices", args=[slug]),
        "bills": reverse("ledger:bills", args=[slug]),
        "payments": reverse("ledger:payments", args=[slug]),
        "customer_credits": reverse("ledger:customer_credits", args=[slug]),
        "invoice_new": reverse("ledger:invoice_new", args=[slug]),
        "reconcile_index": reverse("reconciliation:index", args=[slug]),
        "reconcile_journal": reverse("reconciliation:journal", args=[slug]),
        "reconciliations": reverse("reconciliation:reconciliations", args=[slug]),
        "close_overview": reverse("close:overview", args=[slug]),
        "review": reverse("close:review", args=[slug, last_month]),
        "month_end": reverse("month_end:index", args=[slug]),
        "reports": reverse("month_end:reports", args=[slug]),
        "integrations": reverse("integrations:status", args=[slug]),
    }
    if bank is not None:
        pages["reconcile_bank"] = reverse("reconciliation:reconcile", args=[slug, bank.pk])
    if entry is not None:
        pages["journal_entry"] = reverse("ledger:journal_entry", args=[slug, entry.pk])
    if invoice is not None:
        pages["invoice"] = reverse("ledger:document", args=[slug, invoice.pk])
    for key in REPORTS:
        pages[f"report_{key}"] = reverse("month_end:report", args=[slug, key])
    return pages


class Command(BaseCommand):
    help = "Time each load-scenario page once per run through the test client; print queries and ms as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="load")
        parser.add_argument("--username", default="load")
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--only", default="", help="comma-separated page names")
        parser.add_argument("--explain", action="store_true")

    def handle(self, *args, slug, username, runs, only, explain, **options):
        company = Company.objects.filter(slug=slug).first()
        user = get_user_model().objects.filter(username=username).first()
        if company is None or user is None:
            raise CommandError(f"No company {slug!r} or user {username!r}: run `manage.py load_prepare` first.")
        client = Client()
        client.force_login(user)
        pages = load_pages(company)
        if only:
            pages = {k: v for k, v in pages.items() if k in set(only.split(","))}
        results = {}
        for name, url in pages.items():
            client.get(url)  # warm: templates, connection, PostgreSQL's caches
            times = []
            for _ in range(max(runs, 1)):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    response = client.get(url)
                    if getattr(response, "streaming", False):
                        b"".join(response.streaming_content)
                    times.append((time.perf_counter() - t0) * 1000)
            slowest = max(ctx.captured_queries, key=lambda q: float(q["time"]), default=None)
            results[name] = {
                "status": response.status_code,
                "queries": len(ctx.captured_queries),
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
            }
            self.stderr.write(
                f"{name:32} {response.status_code} {len(ctx.captured_queries):4} q {results[name]['median_ms']:9.1f} ms"
                + (f"   slowest query {float(slowest['time']) * 1000:.0f} ms" if slowest else "")
            )
            if explain and slowest and slowest["sql"].lstrip().upper().startswith("SELECT"):
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])  # noqa: S608 - our own captured query
                    self.stderr.write("\n".join("    " + row[0] for row in cursor.fetchall()))
        self.stdout.write(json.dumps(results))
