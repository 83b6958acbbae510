"""Prepare the company ``make load`` browses: the demo chart, customers and vendors, a year of
invoices with payments and credits posted through the services, and ``--lines`` journal lines
(default a million) posted in batches through the posting service (``journal_entries_post``, written by COPY). Idempotent:
a company of that slug with at least ``--lines`` lines is kept as it is.

It also makes the load user (``--username``, member with the administrator role) whose password
is read from ``LOAD_PASSWORD`` (a loopback-only test login; the default is printed on purpose).
The last line printed is one JSON object."""

from __future__ import annotations

import json
import os
import random
import time
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from ledger import services
from ledger.demo_ar import seed_demo_ar
from ledger.management.commands.seed_demo import CHART, CUSTOMERS, POSTING_ACCOUNTS, VENDORS
from ledger.models import Account, Company, Customer, JournalEntry, JournalLine, Role, Vendor
from ledger.services import EntryInput, LineInput, journal_entries_post

DEFAULT_PASSWORD = "closebooks-load-test"  # noqa: S105 - loopback load-test login, printed on purpose
LINES_PER_ENTRY = 4
CHUNK_ENTRIES = 25_000
BANK = "1000"


class Command(BaseCommand):
    help = "Make (or keep) the load-test company with a million journal lines; print it as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="load")
        parser.add_argument("--lines", type=int, default=1_000_000)
        parser.add_argument("--username", default="load")
        parser.add_argument("--invoices-per-month", type=int, default=10)
        parser.add_argument(
            "--sessions", type=int, default=0, help="signed-in sessions to hand the load users (listed in the JSON)"
        )

    def handle(self, *args, slug, lines, username, invoices_per_month, sessions=0, **options):
        if connection.vendor != "postgresql":
            raise CommandError("load_prepare needs PostgreSQL (set DATABASE_URL): it loads by COPY.")
        if lines < LINES_PER_ENTRY:
            raise CommandError(f"--lines must be at least {LINES_PER_ENTRY}.")
        password = os.environ.get("LOAD_PASSWORD") or DEFAULT_PASSWORD
        user = self._user(username, password)
        started = time.perf_counter()
        company = Company.objects.filter(slug=slug).first()
        if company is None:
            company = self._company(slug, user, invoices_per_month)
        else:
            services.membership_set_role(company=company, user=user, role=Role.ADMINISTRATOR, actor=None)
        have = JournalLine.objects.filter(company=company).count()
        if have + LINES_PER_ENTRY <= lines:
            self._bulk(company, lines - have)
            # What autovacuum does soon after a bulk load in production: fresh statistics for the
            # planner, and the visibility map that lets counts use index-only scans.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE) ledger_journalentry")
                cursor.execute("VACUUM (ANALYZE) ledger_journalline")
                cursor.execute("ANALYZE ledger_account")
        total = JournalLine.objects.filter(company=company).count()
        bank = Account.objects.get(company=company, code=BANK)
        customer = Customer.objects.filter(company=company).order_by("pk").first()
        revenue = Account.objects.filter(company=company, code="4020").first()
        self.stdout.write(
            json.dumps(
                {
                    "company": company.slug,
                    "company_id": company.pk,
                    "bank_account_id": bank.pk,
                    "customer_id": customer.pk,
                    "entry_id": JournalEntry.objects.filter(company=company).order_by("-id").values_list("pk", flat=True).first(),
                    "revenue_account_id": revenue.pk,
                    "today": company.today().isoformat(),
                    "last_month": (company.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
                    "journal_lines": total,
                    "username": username,
                    "seconds": round(time.perf_counter() - started, 1),
                    "sessions": self._sessions(user, sessions),
                }
            )
        )

    @staticmethod
    def _sessions(user, count: int) -> list[str]:
        """Sessions of ``user`` as if signed in through the login page: the load scenario measures
        browsing, not PBKDF2 (each login hashes the password for about half a CPU-second on
        purpose, and 50 at once would swamp the first seconds of the test)."""
        from importlib import import_module

        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

        store = import_module(settings.SESSION_ENGINE).SessionStore
        keys = []
        for _ in range(count):
            session = store()
            session[SESSION_KEY] = str(user.pk)
            # ModelBackend loads the user back; axes (first in AUTHENTICATION_BACKENDS) only refuses sign-ins
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            keys.append(session.session_key)
        return keys

    @staticmethod
    def _user(username: str, password: str):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username, email=f"{username}@example.com", password=password)
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def _company(self, slug: str, user, invoices_per_month: int) -> Company:
        rng = random.Random(20261122)
        with transaction.atomic():
            company = services.company_create(
                name=f"Load test ({slug})", slug=slug, time_zone="UTC", base_currency="USD", administrator=user, actor=user
            )
            accounts = {
                code: services.account_save(company=company, actor=user, code=code, name=name, type=kind, reconcilable=rec)
                for code, name, kind, rec in CHART
            }
            for name in CUSTOMERS:
                Customer.objects.create(company=company, name=name)
            for name in VENDORS:
                Vendor.objects.create(company=company, name=name)
            services.posting_accounts_set(
                company=company, actor=user, **{role: accounts[code] for role, code in POSTING_ACCOUNTS.items()}
            )
            today = company.today()
            first_month = (today.replace(day=1) - timedelta(days=330)).replace(day=1)
            invoices = seed_demo_ar(
                company=company, admin=user, rng=rng, first_month=first_month, today=today, per_month=invoices_per_month
            )
        self.stderr.write(f"{company}: chart, parties and {invoices} invoices with payments posted.")
        return company

    def _bulk(self, company: Company, lines: int) -> None:
        """Balanced four-line entries over the last 365 days: revenue into the bank and
        receivables, expenses out of the bank and payables; every fourth bank line has a
        reconciliation reference (an open line the reconcile page lists)."""
        rng = random.Random(company.pk)
        accounts = {a.code: a.pk for a in Account.objects.filter(company=company, blocked=False)}
        revenue = [accounts[c] for c in accounts if c.startswith("4")]
        expense = [accounts[c] for c in accounts if c.startswith(("5", "6"))]
        bank, receivable, payable = accounts[BANK], accounts["1100"], accounts["2000"]
        today = company.today()
        entries_needed = lines // LINES_PER_ENTRY
        made = 0
        started = time.perf_counter()
        while made < entries_needed:
            batch = []
            for n in range(made, min(made + CHUNK_ENTRIES, entries_needed)):
                day = today - timedelta(days=rng.randrange(365))
                a = Decimal(rng.randrange(1_000, 500_000)) / 100
                b = Decimal(rng.randrange(1_000, 500_000)) / 100
                ref = f"LD{n}" if n % 4 == 0 else ""
                batch.append(
                    EntryInput(
                        entry_date=day,
                        memo=f"Load entry {n}",
                        reference=f"L-{n:07d}",
                        lines=[
                            LineInput(bank, debit=a, description="Deposit", reconciliation_ref=ref),
                            LineInput(rng.choice(revenue), credit=a, description="Sale"),
                            LineInput(rng.choice(expense), debit=b, description="Expense"),
                            LineInput(rng.choice([payable, receivable]), credit=b, description="Settlement"),
                        ],
                    )
                )
            journal_entries_post(company=company, entries=batch, actor=None, source="import")
            made += len(batch)
            rate = made * LINES_PER_ENTRY / (time.perf_counter() - started)
            self.stderr.write(f"  {made * LINES_PER_ENTRY} of {entries_needed * LINES_PER_ENTRY} lines ({rate:,.0f} lines/s)")
