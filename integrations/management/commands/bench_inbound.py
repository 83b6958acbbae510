"""Benchmark the inbound pull (IN6): a real Celery worker pulls N transactions made in a fake
QuickBooks Online (started in this process, over loopback, quotas off: our own overhead) through
the real task, and posts them set-based through the ledger's posting service. The last line
printed is one JSON object: {"entries", "seconds", "entries_per_s", "duplicates", "missing"}.

    python manage.py bench_inbound --entries 100000

``duplicates``: transactions that became more than one journal entry; ``missing``: transactions of
the vendor that became none. Both are counted from the vendor's rows and the journal, not from what
the code under test reports. Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): the worker is a
separate process. Leaves its company in the database: run it on a scratch database."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from integrations import selectors, services
from integrations.fakes import FakeQuickBooksOnline
from integrations.models import Connection, SyncRun
from integrations.tasks import pull_inbound_connection
from ledger.models import Account, Company, JournalEntry


class Command(BaseCommand):
    help = "Pull N inbound transactions from a fake QuickBooks Online through a real worker and print throughput as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--entries", type=int, default=100_000)

    def handle(self, *args, entries: int, **options):
        if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("bench_inbound needs DATABASE_URL (PostgreSQL) and REDIS_URL: the worker is a separate process.")
        if entries < 1:
            raise CommandError("--entries must be at least 1.")
        # The worker is started as bench_sync starts its own: a test helper, imported only here.
        from tests.worker_process import WorkerProcess

        fake = FakeQuickBooksOnline(limits=False).start()
        worker = WorkerProcess(visibility_timeout=21600, extra_env={"INTEGRATIONS_RATE_LIMITS": "0"})
        try:
            conn = self._connect(fake)
            start = date(2026, 1, 1)
            made = [
                fake.add_bill(
                    number=f"B-{n}",
                    txn_date=start + timedelta(days=n % 300),
                    vendor=f"Vendor {n % 50}",
                    lines=[("6100", Decimal(100 + n % 900) + Decimal("0.25"))],
                )
                for n in range(entries)
            ]
            vendor_ids = {str(row["Id"]) for row in made}
            self.stderr.write(f"{entries} bills made in the fake QuickBooks Online; starting a worker on queue {worker.queue}...")
            worker.start()
            started = time.perf_counter()
            pull_inbound_connection.apply_async(args=[conn.pk], queue=worker.queue)
            run = None
            while run is None or not run.is_finished:
                time.sleep(0.2)
                run = SyncRun.objects.filter(connection=conn, kind=SyncRun.Kind.INBOUND).order_by("-id").first()
            seconds = time.perf_counter() - started
        finally:
            worker.stop()
            fake.stop()
        # The truth: the vendor's rows against the journal (one inbound entry per bill, found by its reference).
        prefix = f"{conn.provider}:bill:"
        references = Counter(
            JournalEntry.objects.filter(company=conn.company, source=JournalEntry.Source.INBOUND_SYNC).values_list(
                "reference", flat=True
            )
        )
        numbers = {f"{prefix}B-{n}" for n in range(entries)}
        result = {
            "entries": entries,
            "seconds": round(seconds, 2),
            "entries_per_s": round(entries / seconds, 1),
            "duplicates": sum(count - 1 for ref, count in references.items() if ref in numbers and count > 1),
            "missing": len(numbers - set(references)),
            "run_status": run.status,
            "vendor_rows": len(vendor_ids),
        }
        self.stdout.write(json.dumps(result))

    def _connect(self, fake) -> Connection:
        slug = f"bench-in-{uuid.uuid4().hex[:8]}"
        with transaction.atomic():
            company = Company.objects.create(name=f"Bench inbound {slug}", slug=slug)
            Account.objects.bulk_create(
                [Account(company=company, code=row["number"], name=row["name"], type=row["type"]) for row in fake.chart]
            )
        tokens = fake.issue_tokens()
        conn = Connection.objects.create(
            company=company,
            provider=Connection.Provider.QBO,
            tenant_id=fake.tenant_id,
            tenant_name=fake.tenant_name,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            access_expires_at=timezone.now() + timedelta(seconds=tokens["expires_in"]),
            authorize_url=f"{fake.url}/oauth2/authorize",
            token_url=f"{fake.url}/oauth2/v1/tokens/bearer",
            api_base_url=fake.url,
        )
        services.accounts_pull(connection=conn, actor=None)
        rows = selectors.mapping_rows(conn)
        services.mappings_save(connection=conn, choices={r.account.pk: r.suggestion.pk for r in rows if r.suggestion}, actor=None)
        return conn
