"""Benchmark the push engine: a real Celery worker pushes N journal entries to a fake vendor
started in this process, over loopback. The last line printed is one JSON object.

    python manage.py bench_sync --provider qbo --entries 10000 --limits off
    python manage.py bench_sync --provider xero --entries 10000 --limits on

``--fault lost``: the vendor saves the first ``--faults`` push requests and their answers are lost on
the way back (HTTP 503 after the commit; for QuickBooks Desktop the Web Connector loses QuickBooks'
answer): closebooks must resend or look up without making a second entry. ``duplicates`` and
``missing`` are counted from what the fake vendor holds, never from closebooks' own records.
``--limits off``: the fake enforces no quota and our global limiter is off (our own overhead).
``--limits on``: the vendor's documented quotas on both sides; ``bound_seconds`` is the least time
those quotas allow for the requests made (a sliding 60 s window), ``of_bound`` our share of it.
Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): the worker is a separate process."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from integrations import selectors, services
from integrations.fakes import FAKES
from integrations.models import Connection, SyncRun
from integrations.tasks import push_run
from ledger.models import Account, Company, JournalEntry
from ledger.services import EntryInput, LineInput, journal_entries_post

PUSH_PATHS = {"qbo": "/batch", "xero": "ManualJournals", "intacct": "/xmlgw.phtml", "netsuite": "/journalentry"}


class Command(BaseCommand):
    help = "Push N entries through a real worker to a fake vendor and print throughput as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--provider", choices=sorted([*FAKES, "qbd"]), default="qbo")
        parser.add_argument("--entries", type=int, default=10000)
        parser.add_argument("--limits", choices=["on", "off"], default="off")
        parser.add_argument("--fault", choices=["none", "lost"], default="none", help="lost: answers lost after the vendor saved")
        parser.add_argument("--faults", type=int, default=3, help="how many push answers are lost (--fault lost)")

    def handle(self, *args, provider, entries, limits, fault="none", faults=3, **options):
        if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("bench_sync needs DATABASE_URL (PostgreSQL) and REDIS_URL: the worker is a separate process.")
        lost = faults if fault == "lost" else 0
        if provider == "qbd":
            self.stdout.write(json.dumps(self._qbd(entries, lost)))
            return
        # The worker is started as the fault tests start theirs: a test helper, imported only here, so the
        # commands that borrow this one's set-up (load_sync, prod_smoke) never load anything from tests/.
        from tests.worker_process import WorkerProcess

        limits_on = limits == "on"
        fake = FAKES[provider](limits=limits_on).start()
        worker = WorkerProcess(visibility_timeout=21600, extra_env={"INTEGRATIONS_RATE_LIMITS": "1" if limits_on else "0"})
        company = None
        try:
            company = self._company(fake, entries)
            self._connect(company, provider, fake)
            self.stderr.write(f"{entries} entries loaded; starting a worker on queue {worker.queue}...")
            worker.start()
            run = services.sync_run_start(company=company, actor=None, enqueue=False)
            before = len(fake.requests)
            if lost:
                # The vendor saves the request, then its answer is lost: the worker sees a 503.
                fake.inject(PUSH_PATHS[provider], 503, "Service Unavailable", times=lost, after_commit=True)
            started = time.perf_counter()
            push_run.apply_async(args=[run.pk], queue=worker.queue)
            while True:
                time.sleep(0.1)
                run.refresh_from_db()
                if run.is_finished:
                    break
            seconds = time.perf_counter() - started
            held = fake.entries_by_local()
            ids = set(JournalEntry.objects.filter(company=company).values_list("pk", flat=True))
            target = {"qbo": "/batch", "xero": "ManualJournals", "intacct": "/xmlgw.phtml"}.get(provider, "/journalentry")
            requests = len([r for r in fake.requests[before:] if r.path.endswith(target) or "/journalentry" in r.path])
            result = {
                "provider": provider,
                "entries": entries,
                "seconds": round(seconds, 2),
                "entries_per_s": round(entries / seconds, 1),
                "requests": requests,
                "duplicates": sum(n - 1 for n in held.values() if n > 1),
                "missing": len(ids - set(held)),
                "limits": limits,
                "throttled_429": fake.throttled,
                "fault": f"{lost} answers lost" if lost else "none",
                "run_status": run.status,
            }
            if limits_on:
                bound = self._bound_seconds(provider, requests)
                result.update({"bound_seconds": round(bound, 1), "of_bound": round(bound / seconds, 3) if seconds else None})
            assert not selectors.entries_needing_sync(company).exists() or run.status != SyncRun.Status.SUCCEEDED
        finally:
            worker.stop()
            fake.stop()
        self.stdout.write(json.dumps(result))

    def _qbd(self, entries: int, lost: int = 0) -> dict:
        """QuickBooks Desktop: no worker and no vendor URL. A fake Web Connector polls closebooks' SOAP
        handler in this process, one qbXML request per sendRequestXML/receiveResponseXML round trip."""
        from integrations import qbd
        from integrations.fakes.qbd import FakeQuickBooksDesktop

        with transaction.atomic():
            company = Company.objects.create(name="Bench qbd", slug=f"bench-{uuid.uuid4().hex[:8]}")
        conn, password = qbd.connection_connect_qbd(company=company, actor=None)
        wc = FakeQuickBooksDesktop(
            lambda body, action: qbd.soap_handle(body, client="bench")[1], username=conn.tenant_id, password=password
        )
        self._load(company, wc.chart, entries)
        services.accounts_pull(connection=conn, actor=None)
        wc.poll()
        rows = selectors.mapping_rows(conn)
        services.mappings_save(connection=conn, choices={r.account.pk: r.suggestion.pk for r in rows if r.suggestion}, actor=None)
        self.stderr.write(f"{entries} entries loaded; the fake Web Connector polls...")
        started = time.perf_counter()
        run = services.sync_run_start(company=company, actor=None)
        wc.lose_responses = lost  # QuickBooks ran these requests; their answers never reach closebooks
        polls = 0
        while not run.is_finished and polls < 1000:
            wc.poll()
            polls += 1
            run.refresh_from_db()
        seconds = time.perf_counter() - started
        held = wc.entries_by_local()
        ids = set(JournalEntry.objects.filter(company=company).values_list("pk", flat=True))
        return {
            "provider": "qbd",
            "entries": entries,
            "seconds": round(seconds, 2),
            "entries_per_s": round(entries / seconds, 1),
            "requests": sum(1 for c in wc.calls if c == "sendRequestXML"),
            "polls": polls,
            "duplicates": sum(n - 1 for n in held.values() if n > 1),
            "missing": len(ids - set(held)),
            "limits": "none documented",
            "fault": f"{lost} answers lost" if lost else "none",
            "run_status": run.status,
        }

    @staticmethod
    def _bound_seconds(provider: str, requests: int) -> float:
        """Least time a sliding 60 s window allows for ``requests`` calls: the first ``limit`` go at
        once, each further ``limit`` one window later."""
        limit = {"qbo": 40, "xero": 60}.get(provider)  # QBO batch calls/min; Xero calls/min
        if limit is None:
            return 0.0  # no documented per-minute quota (Sage Intacct bills per transaction)
        return ((requests - 1) // limit) * 60.0 if requests else 0.0

    def _company(self, fake, n: int) -> Company:
        slug = f"bench-{uuid.uuid4().hex[:8]}"
        with transaction.atomic():
            company = Company.objects.create(name=f"Bench {slug}", slug=slug)
        self._load(company, fake.chart, n)
        return company

    def _load(self, company: Company, chart: list[dict], n: int) -> None:
        with transaction.atomic():
            accounts = Account.objects.bulk_create(
                [Account(company=company, code=row["number"], name=row["name"], type=row["type"]) for row in chart]
            )
            by_code = {a.code: a for a in accounts}
            dr, cr = by_code["6100"], by_code["1000"]
            start = date(2026, 1, 1)
            entries = []
            for i in range(n):
                amount = Decimal(100 + i % 900) + Decimal("0.25")
                entries.append(
                    EntryInput(
                        entry_date=start + timedelta(days=i % 28),
                        memo=f"bench {i}",
                        lines=[
                            LineInput(dr, debit=amount, description="rent"),
                            LineInput(cr, credit=amount, description="cash"),
                        ],
                    )
                )
            journal_entries_post(company=company, entries=entries, actor=None)

    def _connect(self, company: Company, provider: str, fake) -> Connection:
        tokens = fake.issue_tokens()
        if provider == "intacct":
            from integrations.fakes.intacct import USER_ID, USER_PASSWORD
            from integrations.providers.intacct import credentials_secret

            tokens["refresh_token"] = credentials_secret(USER_ID, USER_PASSWORD)
        urls = (
            {
                "authorize_url": f"{fake.url}/oauth2/authorize",
                "token_url": f"{fake.url}/oauth2/v1/tokens/bearer",
                "api_base_url": fake.url,
            }
            if provider == "qbo"
            else {"authorize_url": "", "token_url": "", "api_base_url": fake.url}
            if provider == "intacct"
            else {
                "authorize_url": f"{fake.url}/app/login/oauth2/authorize.nl",
                "token_url": f"{fake.url}/services/rest/auth/oauth2/v1/token",
                "api_base_url": fake.url,
            }
            if provider == "netsuite"
            else {
                "authorize_url": f"{fake.url}/identity/connect/authorize",
                "token_url": f"{fake.url}/identity/connect/token",
                "api_base_url": f"{fake.url}/api.xro/2.0",
                "connections_url": f"{fake.url}/connections",
            }
        )
        conn = Connection.objects.create(
            company=company,
            provider=provider,
            tenant_id=fake.tenant_id,
            tenant_name=fake.tenant_name,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            access_expires_at=timezone.now() + timedelta(seconds=tokens["expires_in"]),
            **urls,
        )
        services.accounts_pull(connection=conn, actor=None)
        rows = selectors.mapping_rows(conn)
        services.mappings_save(connection=conn, choices={r.account.pk: r.suggestion.pk for r in rows if r.suggestion}, actor=None)
        return conn
