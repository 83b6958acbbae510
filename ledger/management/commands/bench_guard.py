"""Measure what the books-closed guard and its trigger cost.

Posts the same entries through the posting service with the guard and trigger on and with them
off, then loads the same lines in bulk with COPY both ways. Prints one JSON object as its last
line: {"entries", "with_guard_per_s", "without_guard_per_s", "overhead", "bulk_overhead"}.

"On" is the real configuration: closed books enabled for the bench company with a date before
the entries, so the guard and the trigger do their whole check and let the entries in. "Off"
replaces the guard with a no-op for this process (mock.patch, no switch in the product code)
and disables the three books-closed triggers of ledger_journalline for the measured statements.
"Off" still takes the company lock: the posting service takes it whatever the guard says, and
"on" takes it in the same round trip as the date read. Both modes warm up untimed first, then
alternate in rounds (on/off, off/on, ...) so load from elsewhere on the machine falls on both alike.
Needs PostgreSQL. Leaves the bench company in the database (its audit trail is append-only).
"""

import io
import json
import signal
import sys
import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from ledger import services
from ledger.guard import Gate
from ledger.locks import company_lock
from ledger.models import Account, JournalEntry
from ledger.services import LineInput

OPS = ("insert", "update", "delete")

LINE_TRIGGERS = [f"ledger_journalline_books_closed_{op}" for op in OPS]


class Command(BaseCommand):
    help = "Benchmark the books-closed guard and trigger (posting service and bulk COPY)."

    def add_arguments(self, parser):
        parser.add_argument("--entries", type=int, default=100_000)
        parser.add_argument(
            "--rounds",
            type=int,
            default=None,
            help="Alternate on/off in this many rounds (default: one round per 500 entries, at least 10).",
        )

    def handle(self, *args, entries, rounds, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_guard measures the PostgreSQL trigger: run it with DATABASE_URL set to PostgreSQL.")
        if rounds is None:
            # Short rounds, so a burst of load from elsewhere on the machine falls on both modes alike.
            rounds = max(10, entries // 500)
        if entries < 2 or rounds < 1:
            raise CommandError("--entries must be at least 2 and --rounds at least 1.")
        rounds = min(rounds, entries // 2)
        # A stopped run must not leave the triggers disabled: SIGTERM unwinds through the finally blocks.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        self._triggers("ENABLE")
        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        company = services.company_create(name=f"Bench guard {stamp}", slug=f"bench-guard-{stamp}")
        expense = services.account_save(company=company, actor=None, code="6000", name="Expense", type=Account.Type.EXPENSE)
        payable = services.account_save(company=company, actor=None, code="2000", name="Payable", type=Account.Type.LIABILITY)
        today = company.today()
        services.books_closed_update(company=company, actor=None, enabled=True, closed_date=today - timedelta(days=400))
        days = [today - timedelta(days=1 + i % 300) for i in range(entries)]  # all after the closed date
        amounts = [Decimal(1 + i % 997) + Decimal("0.25") for i in range(entries)]

        def post(indexes):
            for i in indexes:
                services.journal_entry_create(
                    company=company,
                    entry_date=days[i],
                    actor=None,
                    memo="bench",
                    lines=[LineInput(expense, debit=amounts[i]), LineInput(payable, credit=amounts[i])],
                )

        # Each mode posts every entry once, in the same order, in interleaved rounds, after an
        # untimed warm-up of both modes (connection, plan caches, the trigger functions).
        chunks = [range(r * entries // rounds, (r + 1) * entries // rounds) for r in range(rounds)]
        warm_up = range(min(200, entries // 10 or 1))
        for mode in ("on", "off"):
            self._timed(mode, company, lambda: post(warm_up))
        timings = {"on": 0.0, "off": 0.0}
        for r, chunk in enumerate(chunks):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                timings[mode] += self._timed(mode, company, lambda chunk=chunk: post(chunk))
            self.stderr.write(
                f"posting round {r + 1}/{rounds}: on {timings['on']:.1f}s, off {timings['off']:.1f}s,"
                f" overhead so far {timings['on'] / timings['off']:.3f}"
            )
        with_per_s = entries / timings["on"]
        without_per_s = entries / timings["off"]

        # Bulk: the same 2 x entries lines loaded with COPY, trigger on and off, into fresh entries.
        bulk = {"on": 0.0, "off": 0.0}
        for r, chunk in enumerate(chunks):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                payload, first_entry = self._copy_payload(company, chunk, days, amounts, expense, payable)
                bulk[mode] += self._timed(mode, company, lambda payload=payload: self._copy(payload), guard_patch=False)
            self.stderr.write(f"bulk round {r + 1}/{rounds}: on {bulk['on']:.2f}s, off {bulk['off']:.2f}s")
        services.journal_entries_reflag(company=company)
        result = {
            "entries": entries,
            "with_guard_per_s": round(with_per_s, 1),
            "without_guard_per_s": round(without_per_s, 1),
            "overhead": round(timings["on"] / timings["off"], 3),
            "bulk_overhead": round(bulk["on"] / bulk["off"], 3),
        }
        self.stdout.write(json.dumps(result))

    def _timed(self, mode, company, work, guard_patch=True) -> float:
        if mode == "on":
            start = time.perf_counter()
            work()
            return time.perf_counter() - start
        def no_guard(company, entity_ids):
            # Same work minus the guard: the posting still takes the company lock (FOR SHARE), as
            # every posting did before the guard read the date in the lock's round trip, and an
            # open Gate decides nothing.
            company_lock(company.pk)
            return Gate(company)

        self._triggers("DISABLE")
        try:
            patch = mock.patch("ledger.services.posting._gate", side_effect=no_guard)
            with patch if guard_patch else _nothing():
                start = time.perf_counter()
                work()
                return time.perf_counter() - start
        finally:
            self._triggers("ENABLE")

    def _triggers(self, action):
        with transaction.atomic(), connection.cursor() as cursor:
            for name in LINE_TRIGGERS:
                cursor.execute(f"ALTER TABLE ledger_journalline {action} TRIGGER {name}")

    def _copy_payload(self, company, chunk, days, amounts, expense, payable):
        """Create the chunk's entries (not timed) and the COPY text of their lines."""
        created = JournalEntry.objects.bulk_create(
            [
                JournalEntry(company=company, entry_date=days[i], memo="bench bulk", source=JournalEntry.Source.IMPORT)
                for i in chunk
            ]
        )
        out = io.StringIO()
        for entry, i in zip(created, chunk, strict=True):
            day = days[i].isoformat()
            out.write(f"{entry.pk}\t{company.pk}\t{day}\t1\t{expense.pk}\t{amounts[i]}\t0.00\tUSD\t\t\n")
            out.write(f"{entry.pk}\t{company.pk}\t{day}\t2\t{payable.pk}\t0.00\t{amounts[i]}\tUSD\t\t\n")
        return out.getvalue(), created[0].pk

    def _copy(self, payload):
        columns = (
            "entry_id, company_id, entry_date, line_no, account_id, debit, credit, currency, description, reconciliation_ref"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ledger_journalline ({columns}) FROM STDIN") as copy:
                copy.write(payload)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
