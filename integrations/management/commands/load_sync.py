"""The sync that runs during ``make load``: a company with ``--entries`` journal entries is
pushed to a fake QuickBooks Online started in this process, by the stack's own Celery worker on
the ``sync`` queue (so it competes with the web processes for the machine, as in production).
Waits for the run and prints one JSON object as its last line: seconds, entries, status,
duplicates and missing entries at the fake."""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations import services
from integrations.fakes import FAKES
from integrations.management.commands.bench_sync import Command as BenchSync
from ledger.models import JournalEntry


class Command(BaseCommand):
    help = "Push N entries through the running stack's worker to a fake QuickBooks Online; print JSON."

    def add_arguments(self, parser):
        parser.add_argument("--entries", type=int, default=20_000)
        parser.add_argument("--timeout", type=float, default=600.0)

    def handle(self, *args, entries, timeout, **options):
        if not settings.REDIS_URL:
            raise CommandError("load_sync needs REDIS_URL: the stack's worker runs the sync.")
        fake = FAKES["qbo"](limits=False).start()
        try:
            bench = BenchSync()
            company = bench._company(fake, entries)
            bench._connect(company, "qbo", fake)
            self.stderr.write(f"load_sync: {entries} entries loaded; the worker pushes them now.")
            started = time.perf_counter()
            run = services.sync_run_start(company=company, actor=None)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                run.refresh_from_db()
                if run.is_finished:
                    break
                time.sleep(0.5)
            seconds = time.perf_counter() - started
            held = fake.entries_by_local()
            ids = set(JournalEntry.objects.filter(company=company).values_list("pk", flat=True))
            result = {
                "entries": entries,
                "seconds": round(seconds, 1),
                "status": run.status,
                "duplicates": sum(n - 1 for n in held.values() if n > 1),
                "missing": len(ids - set(held)),
            }
        finally:
            fake.stop()
        self.stdout.write(json.dumps(result))
