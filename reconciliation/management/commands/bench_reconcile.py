"""bench_reconcile: a ledger with known ground truth, reconciled automatically end to end.

    python manage.py bench_reconcile --lines 1000000

The reconciled account gets ``--lines`` lines, loaded with COPY: groups sharing a reconciliation
reference (balanced, within the permitted difference, beyond it), exact opposite amounts without
reference, sets of duplicates of one amount (the truth pairs them oldest-first), payments settling
2–4 invoices of one counterparty, and noise that must stay open. The command proposes, finishes
every proposed group, and prints as its last line one JSON object:
``{"lines", "matchable", "auto_matched_pct", "false_matches", "propose_s", "apply_s"}``.
A proposed group is a false match unless it is exactly one ground-truth group.
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from ledger.models import Account, Company
from ledger.services import EntryInput, LineInput, account_save, company_create, journal_entries_post, journal_entries_purge
from reconciliation import services
from reconciliation.models import ProposalGroup

SLUG = "bench-reconcile"
START = date(2024, 1, 1)
SPAN_DAYS = 700
ENTRY_SIZE = 50

# share of the reconciled account's lines per kind
MIX = {
    "ref_exact": 0.20,
    "ref_within": 0.04,
    "ref_beyond": 0.02,
    "pair": 0.34,
    "duplicates": 0.12,
    "settlement": 0.18,
    "noise": 0.10,
}


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Generator:
    """Lines as (id placeholder order, day, cents, ref, party, truth). ``truth`` is the id of the
    ground-truth group, or None for a line that must stay open."""

    def __init__(self, seed: int, permitted_cents: int, lines: int):
        self.rng = random.Random(seed)
        self.permitted = permitted_cents
        self.used: set[int] = set()
        self.lines: list[tuple[int, int, str, str, int | None]] = []
        self.truth_groups = 0
        # about 20 lines per customer over the two years, whatever the size of the ledger
        self.parties = [f"customer {n:06d}" for n in range(1, max(50, lines // 20) + 1)]

    def fresh(self, low: int = 100, high: int = 5_000_000) -> int:
        """An amount (cents) no other line of the ledger has, in either sign."""
        while True:
            value = self.rng.randrange(low, high)
            if value not in self.used:
                self.used.add(value)
                return value

    def group(self) -> int:
        self.truth_groups += 1
        return self.truth_groups

    def day(self, base: int | None = None, spread: int = 30) -> int:
        if base is None:
            return self.rng.randrange(SPAN_DAYS)
        return min(SPAN_DAYS - 1, base + self.rng.randrange(spread + 1))

    def add(self, day: int, cents: int, ref: str = "", party: str = "", truth: int | None = None) -> None:
        self.lines.append((day, cents, ref, party, truth))

    def ref_group(self, kind: str) -> int:
        size = self.rng.choice((2, 2, 3))
        truth = self.group() if kind != "ref_beyond" else None
        ref = f"INV-{self.truth_groups:07d}-{len(self.lines)}"
        party = self.rng.choice(self.parties)
        start = self.day()
        parts = [self.rng.randrange(100, 2_000_000) for _ in range(size - 1)]
        total = -sum(parts)
        if kind == "ref_within":
            total += self.rng.choice((-1, 1)) * self.rng.randrange(1, self.permitted + 1)
        elif kind == "ref_beyond":
            total += self.rng.choice((-1, 1)) * self.rng.randrange(self.permitted + 1, self.permitted * 50 + 2)
        for cents in parts:
            self.add(self.day(start), cents, ref, party, truth)
        self.add(self.day(start, 45), total, ref, party, truth)
        return size

    def pair(self) -> int:
        cents = self.fresh()
        start = self.day()
        party = self.rng.choice(self.parties) if self.rng.random() < 0.5 else ""
        truth = self.group()
        self.add(start, cents, "", party, truth)
        self.add(self.day(start, 60), -cents, "", party, truth)
        return 2

    def duplicates(self) -> int:
        count = self.rng.randrange(2, 6)
        cents = self.fresh()
        debit_days = sorted(self.day() for _ in range(count))
        credit_days = sorted(self.day(d, 60) for d in debit_days)
        truths = [self.group() for _ in range(count)]
        # ground truth: the k-th oldest debit settles with the k-th oldest credit
        for truth, d_day, c_day in zip(truths, debit_days, credit_days, strict=True):
            self.add(d_day, cents, "", "", truth)
            self.add(c_day, -cents, "", "", truth)
        return 2 * count

    def settlement(self) -> int:
        count = self.rng.randrange(2, 5)
        party = self.rng.choice(self.parties)
        while True:
            invoices = [self.fresh(100, 1_000_000) for _ in range(count)]
            payment = sum(invoices)
            if payment not in self.used:
                self.used.add(payment)
                break
            self.used.difference_update(invoices)
        start = self.day()
        truth = self.group()
        for cents in invoices:
            self.add(self.day(start, 20), cents, "", party, truth)
        self.add(self.day(start + 20, 30), -payment, "", party, truth)
        return count + 1

    def noise(self) -> int:
        party = self.rng.choice(self.parties) if self.rng.random() < 0.5 else ""
        self.add(self.day(), self.rng.choice((-1, 1)) * self.fresh(), "", party, None)
        return 1

    def build(self, total: int) -> None:
        makers = {
            "ref_exact": lambda: self.ref_group("ref_exact"),
            "ref_within": lambda: self.ref_group("ref_within"),
            "ref_beyond": lambda: self.ref_group("ref_beyond"),
            "pair": self.pair,
            "duplicates": self.duplicates,
            "settlement": self.settlement,
            "noise": self.noise,
        }
        for kind, share in MIX.items():
            budget = int(total * share)
            made = 0
            while made < budget and len(self.lines) < total:
                made += makers[kind]()
        while len(self.lines) < total:
            self.noise()


class Command(BaseCommand):
    help = "Generate a ledger with known ground truth and reconcile it automatically; prints one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("--lines", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--permitted", default="1.00", help="Permitted difference (LR4).")

    def handle(self, *args, lines: int, seed: int, permitted: str, **options):
        permitted_amount = Decimal(permitted)
        company, account, clearing, discrepancy = self._reset_company()
        services.reconciliation_settings_save(
            company=company, actor=None, permitted_difference=permitted_amount, discrepancy_account=discrepancy
        )
        generator = Generator(seed, int(permitted_amount * 100), lines)
        generator.build(lines)
        load_started = time.monotonic()
        line_ids, truth_size = self._load(company, account, clearing, generator)
        self.stderr.write(f"loaded {len(generator.lines)} lines in {time.monotonic() - load_started:.1f} s")

        started = time.monotonic()
        proposal = services.proposal_create(company=company, account=account, actor=None)
        proposal = services.proposal_build(proposal=proposal)
        propose_s = time.monotonic() - started

        truth_by_line = {line_ids[i]: row[4] for i, row in enumerate(generator.lines) if row[4] is not None}
        matchable = len(truth_by_line)
        matched = false_matches = 0
        for ids in ProposalGroup.objects.filter(proposal=proposal).values_list("line_ids", flat=True).iterator(chunk_size=20_000):
            truths = {truth_by_line.get(i) for i in ids}
            (truth,) = truths if len(truths) == 1 else (None,)
            if truth is not None and truth_size[truth] == len(ids):
                matched += len(ids)
            else:
                false_matches += 1

        started = time.monotonic()
        services.proposal_finish(proposal=proposal, actor=None)
        apply_s = time.monotonic() - started
        self.stderr.write(f"proposal stats: {json.dumps(proposal.stats)}")
        # the machine is shared: say how busy it was, so the timings can be read for what they are
        self.stderr.write("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        result = {
            "lines": len(generator.lines),
            "matchable": matchable,
            "auto_matched_pct": round(100 * matched / matchable, 2) if matchable else 0.0,
            "false_matches": false_matches,
            "propose_s": round(propose_s, 2),
            "apply_s": round(apply_s, 2),
        }
        self.stdout.write(json.dumps(result))

    def _reset_company(self) -> tuple[Company, Account, Account, Account]:
        company = Company.objects.filter(slug=SLUG).first()
        with transaction.atomic(), connection.cursor() as cursor:
            if company is None:
                company = company_create(name="Reconciliation benchmark", slug=SLUG)
            else:
                # set-based clean-up of the previous run (the ORM's cascade would walk a million rows in Python)
                for sql in (
                    "DELETE FROM reconciliation_reconciledline r USING reconciliation_reconciliation c"
                    " WHERE r.reconciliation_id = c.id AND c.company_id = %s",
                    "DELETE FROM reconciliation_reconciliation WHERE company_id = %s",
                    "DELETE FROM reconciliation_proposalgroup g USING reconciliation_proposal p"
                    " WHERE g.proposal_id = p.id AND p.company_id = %s",
                    "DELETE FROM reconciliation_proposal WHERE company_id = %s",
                    "DELETE FROM reconciliation_reconciliationsettings WHERE company_id = %s",
                ):
                    cursor.execute(sql, [company.pk])
                journal_entries_purge(company=company, reason="bench_reconcile: the previous run's journal")
            accounts = {a.code: a for a in Account.objects.filter(company=company)}

            def ensure(code, name, type_, reconcilable=False):
                return accounts.get(code) or account_save(
                    company=company, actor=None, code=code, name=name, type=type_, reconcilable=reconcilable
                )

            account = ensure("1200", "Accounts receivable", Account.Type.ASSET, True)
            clearing = ensure("1090", "Clearing", Account.Type.ASSET)
            discrepancy = ensure("8990", "Balancing discrepancies", Account.Type.EXPENSE)
        return company, account, clearing, discrepancy

    def _load(self, company, account, clearing, generator: Generator) -> tuple[list[int], dict[int, int]]:
        """Post the entries through the posting service (written by COPY); returns the line id of each
        generated line and the truth group sizes."""
        order = sorted(range(len(generator.lines)), key=lambda i: generator.lines[i][0])
        groups: list[tuple[int, list[int]]] = []  # one entry per day, at most ENTRY_SIZE lines each
        for index in order:
            day = generator.lines[index][0]
            if not groups or groups[-1][0] != day or len(groups[-1][1]) >= ENTRY_SIZE:
                groups.append((day, []))
            groups[-1][1].append(index)
        entries, offsets = [], [0] * len(generator.lines)
        position = 0
        for day, members in groups:
            lines, net = [], 0
            for index in members:
                _, cents, ref, party, _ = generator.lines[index]
                debit, credit = (money(cents), "0.00") if cents > 0 else ("0.00", money(-cents))
                lines.append(LineInput(account.pk, debit=debit, credit=credit, description=party, reconciliation_ref=ref))
                offsets[index] = position
                position += 1
                net += cents
            if net:
                debit, credit = (money(-net), "0.00") if net < 0 else ("0.00", money(net))
                lines.append(LineInput(clearing.pk, debit=debit, credit=credit, description="bench counter"))
                position += 1
            entries.append(EntryInput(entry_date=START + timedelta(days=day), memo="bench", lines=lines))
        posted = journal_entries_post(company=company, entries=entries, actor=None, source="import").posted
        flat = [line_id for entry in posted for line_id in entry.line_ids]
        line_ids = [flat[offset] for offset in offsets]
        with connection.cursor() as cursor:
            # A ledger of this size is not minutes old: VACUUM sets the hint bits and the visibility map
            # a freshly COPYed table lacks (else the matcher's first scan rewrites every page), and the
            # checkpoint flushes the load's dirty pages so its WAL and writes are not billed to the
            # timed steps. Bench only; the matcher itself does neither.
            cursor.execute("VACUUM (ANALYZE) ledger_journalline")
            cursor.execute("VACUUM (ANALYZE) ledger_journalentry")
            for table in ("reconciliation_reconciledline", "reconciliation_reconciliation"):
                cursor.execute(f"VACUUM (ANALYZE) {table}")  # the previous run's rows, deleted by _reset_company
            cursor.execute("CHECKPOINT")
        sizes: dict[int, int] = {}
        for row in generator.lines:
            if row[4] is not None:
                sizes[row[4]] = sizes.get(row[4], 0) + 1
        return line_ids, sizes
