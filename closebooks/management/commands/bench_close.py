"""Benchmark the close of a month with a million journal lines.

Builds a fresh company with ``--lines`` lines in one ended month (posted in batches through the
posting service, ``journal_entries_post``, which writes them by COPY), connected to an
accounting system with every account mapped and every entry recorded as synced (as after a
finished sync run: the push itself is measured by bench_sync), then times: the flag computation
(unbalanced + unmapped entries, PC2), the Review page's first render through the test client,
Lock (with all its prerequisites, the month-end checks included), and Close. Prints one JSON
object as its last line. Run it on a scratch database:
closed periods and the audit trail are append-only, so the company it builds stays."""

import json
import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from closebooks import selectors, services
from integrations.models import AccountMapping, Connection, ExternalAccount
from ledger import services as ledger_services
from ledger.models import JournalEntry
from ledger.services import EntryInput, LineInput

# No revenue accounts: revenue journal lines without invoices would (rightly) fail MR1.
ACCOUNT_TYPES = ["asset", "liability", "equity", "expense"]
BATCH = 50_000  # entries per posting batch: a bounded memory whatever --lines is


class Command(BaseCommand):
    help = "Time flags, the Review page, Lock and Close on a month with --lines journal lines."

    def add_arguments(self, parser):
        parser.add_argument("--lines", type=int, default=1_000_000)
        parser.add_argument("--accounts", type=int, default=60)
        parser.add_argument("--flagged", type=int, default=12, help="unbalanced entries to plant, then fix")

    def handle(self, *args, lines: int, accounts: int, flagged: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_close needs PostgreSQL: set DATABASE_URL.")
        if lines < 2:
            raise CommandError("--lines must be at least 2.")
        rng = random.Random(7)
        tag = uuid.uuid4().hex[:8]
        user = get_user_model().objects.create_user(f"bench-{tag}", password=uuid.uuid4().hex)
        company = ledger_services.company_create(
            name=f"Bench close {tag}", slug=f"bench-close-{tag}", administrator=user, actor=None
        )
        chart = [
            ledger_services.account_save(
                company=company, actor=None, code=f"{1000 + i}", name=f"Account {i}", type=ACCOUNT_TYPES[i % len(ACCOUNT_TYPES)]
            )
            for i in range(accounts)
        ]
        today = company.today()
        month = (today.replace(day=1) - timedelta(days=40)).replace(day=1)
        days = ((month + timedelta(days=32)).replace(day=1) - month).days

        load_started = time.perf_counter()
        flagged_at = {n * 997 % (lines // 2): n for n in range(flagged)}
        total_lines = 0
        for first in range(0, lines // 2, BATCH):
            entries = []
            for n in range(first, min(first + BATCH, lines // 2)):
                if n in flagged_at:
                    k = flagged_at[n]
                    entries.append(
                        EntryInput(
                            entry_date=month + timedelta(days=k % days),
                            memo=f"unbalanced {k}",
                            lines=[
                                LineInput(chart[0].pk, debit=Decimal("10.00")),
                                LineInput(chart[1].pk, credit=Decimal("9.99")),
                            ],
                        )
                    )
                    continue
                amount = Decimal(rng.randrange(100, 1_000_000)).scaleb(-2)
                debit, credit = rng.sample(chart, 2)
                entries.append(
                    EntryInput(
                        entry_date=month + timedelta(days=n % days),
                        memo=f"bench {n}",
                        reference=f"B-{n}",
                        lines=[LineInput(debit.pk, debit=amount), LineInput(credit.pk, credit=amount)],
                    )
                )
            ledger_services.journal_entries_post(company=company, entries=entries, actor=None, source=JournalEntry.Source.IMPORT)
            total_lines += sum(len(e.lines) for e in entries)
            self.stderr.write(f"  {total_lines:,} of {lines:,} lines posted")
        with connection.cursor() as cursor:
            # what autovacuum does after a large insert: statistics and the visibility map
            cursor.execute("VACUUM ANALYZE ledger_journalline")
            cursor.execute("VACUUM ANALYZE ledger_journalentry")
        load_s = time.perf_counter() - load_started
        period = selectors.period_get(company, month.strftime("%Y-%m"))

        _connect(company, chart)
        started = time.perf_counter()
        flags = selectors.flagged_entry_ids(company, period.first_day, period.last_day)
        flags_s = time.perf_counter() - started
        if len(flags["unbalanced"]) != flagged:
            raise CommandError(f"expected {flagged} unbalanced entries, found {len(flags['unbalanced'])}")

        # fix the flagged entries the way a person would: delete the bad imports
        for entry in JournalEntry.objects.filter(pk__in=flags["unbalanced"]):
            ledger_services.journal_entry_delete(entry=entry, actor=user, reason="bench: bad import")
        _synced(company)

        client = Client()
        client.force_login(user)
        url = reverse("close:review", kwargs={"slug": company.slug, "period": period.key})
        started = time.perf_counter()
        response = client.get(url)
        review_s = time.perf_counter() - started
        if response.status_code != 200:
            raise CommandError(f"review page answered {response.status_code}")

        started = time.perf_counter()
        services.period_lock(period=period, actor=user)
        lock_s = time.perf_counter() - started

        started = time.perf_counter()
        services.period_close(period=selectors.period_get(company, period.key), actor=user, confirm_name=period.name)
        close_s = time.perf_counter() - started

        result = {
            "lines": total_lines,
            "load_s": round(load_s, 3),
            "flags_s": round(flags_s, 3),
            "review_page_s": round(review_s, 3),
            "lock_s": round(lock_s, 3),
            "close_s": round(close_s, 3),
        }
        self.stdout.write(json.dumps(result))


def _connect(company, chart) -> None:
    """An active connection with the vendor's chart pulled and every account mapped."""
    now = timezone.now()
    conn = Connection.objects.create(
        company=company,
        provider=Connection.Provider.QBO,
        tenant_id=f"bench-{company.pk}",
        tenant_name="bench",
        authorize_url="http://127.0.0.1:9/authorize",
        token_url="http://127.0.0.1:9/token",
        api_base_url="http://127.0.0.1:9",
        access_token="bench",
        refresh_token="bench",
    )
    for account in chart:
        external = ExternalAccount.objects.create(
            connection=conn, external_id=str(account.pk), number=account.code, name=account.name, pulled_at=now
        )
        AccountMapping.objects.create(connection=conn, account=account, external_account=external)


def _synced(company) -> None:
    """Every entry as it stands now recorded as held by the vendor, set-based."""
    conn = Connection.objects.get(company=company)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO integrations_outboxentry
                (connection_id, entry_id, state, request_key, synced_version, external_id, external_version, attempts,
                 last_error, synced_at)
            SELECT %s, e.id, 'synced', 'bench-' || e.id, e.updated_at, e.id::text, '0', 1, '', now()
            FROM ledger_journalentry e WHERE e.company_id = %s
            """,
            [conn.pk, company.pk],
        )
        # what autovacuum does after a large insert, as after any finished sync run
        cursor.execute("VACUUM ANALYZE integrations_outboxentry")
