"""Smoke-test a running production stack (``make prod SMOKE=1`` runs it, then stops the stack).

Checks, over HTTP against gunicorn: the login page, one static file through whitenoise (hashed
name, long cache, compressed), ``/healthz/``; then one sync round trip through the Celery worker
on the ``sync`` queue: a small company is pushed to a fake QuickBooks Online started in this
process, and the run must finish SUCCEEDED with every entry held by the fake exactly once.
The last line printed is one JSON object; the exit status is 1 when a check fails."""

from __future__ import annotations

import json
import re
import time

import httpx
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management.base import BaseCommand, CommandError

from integrations import services
from integrations.fakes import FAKES
from integrations.management.commands.bench_sync import Command as BenchSync
from integrations.models import SyncRun
from ledger.models import JournalEntry

SYNC_ENTRIES = 20


class Command(BaseCommand):
    help = "Check login page, static file, healthz and a sync through the worker of a running stack."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds the sync may take")

    def handle(self, *args, base_url, timeout, **options):
        if not settings.REDIS_URL:
            raise CommandError("prod_smoke needs REDIS_URL: the sync goes through a real worker.")
        checks: dict[str, str] = {}
        with httpx.Client(base_url=base_url, timeout=10.0, follow_redirects=False) as http:
            checks["login_page"] = self._login(http)
            checks["static_file"] = self._static(http)
            checks["healthz"] = self._healthz(http)
        checks["sync_via_worker"] = self._sync(timeout)
        ok = all(value == "ok" for value in checks.values())
        self.stdout.write(json.dumps({"ok": ok, **checks}))
        if not ok:
            raise SystemExit(1)

    @staticmethod
    def _login(http: httpx.Client) -> str:
        response = http.get("/login/")
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        if "csrfmiddlewaretoken" not in response.text or 'name="password"' not in response.text:
            return "no login form"
        return "ok"

    @staticmethod
    def _static(http: httpx.Client) -> str:
        url = staticfiles_storage.url("css/app.css")  # the manifest's hashed name in production
        if not re.search(r"app\.[0-9a-f]{12}\.css$", url):
            return f"not a hashed name: {url} (is STORAGES the compressed manifest storage?)"
        response = http.get(url, headers={"Accept-Encoding": "gzip"})
        if response.status_code != 200:
            return f"HTTP {response.status_code} for {url}"
        if "max-age=315360000" not in response.headers.get("cache-control", ""):
            return f"not cached for long: {response.headers.get('cache-control')!r}"
        if response.headers.get("content-encoding") != "gzip":
            return "not compressed"
        return "ok"

    @staticmethod
    def _healthz(http: httpx.Client) -> str:
        response = http.get("/healthz/")
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or body.get("database") != "ok" or body.get("redis") != "ok":
            return f"HTTP {response.status_code} {body}"
        return "ok"

    def _sync(self, timeout: float) -> str:
        fake = FAKES["qbo"](limits=False).start()
        try:
            bench = BenchSync()
            company = bench._company(fake, SYNC_ENTRIES)
            bench._connect(company, "qbo", fake)
            run = services.sync_run_start(company=company, actor=None)  # enqueued on the sync queue at commit
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                run.refresh_from_db()
                if run.is_finished:
                    break
                time.sleep(0.2)
            else:
                return f"run {run.pk} still {run.status} after {timeout:.0f} s: is a worker consuming the sync queue?"
            if run.status != SyncRun.Status.SUCCEEDED:
                return f"run {run.pk} {run.status}: {run.error}"
            held = fake.entries_by_local()
            ids = set(JournalEntry.objects.filter(company=company).values_list("pk", flat=True))
            if set(held) != ids or any(n != 1 for n in held.values()):
                return f"fake holds {len(held)} of {len(ids)} entries (duplicates or missing)"
            return "ok"
        finally:
            fake.stop()
