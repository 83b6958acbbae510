"""Import journal entries from a CSV file through the posting service, all or nothing.

    python manage.py import_journal entries.csv --company acme [--user alice]

Columns (a header row names them; order free): ``entry`` (lines with the same value form one
entry), ``date`` (YYYY-MM-DD), ``account`` (the account code), ``debit``, ``credit``, and
optionally ``description``, ``memo``, ``reference``, ``currency``. Amounts are read by the one
money parser in the company's amount format (Company.amount_format): ``1e5``, ``1_000``, digits
other than 0-9, NaN, infinities and more decimals than the currency has are refused with the row
and column named. Any bad row stops the import before anything is written (exit code 1). Entries
that arrive unbalanced are kept and flagged for the close (PC2), as every import is.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ledger.exceptions import LedgerError
from ledger.models import Account, Company, JournalEntry
from ledger.money import MoneyError, money_parse
from ledger.services import EntryInput, LineInput, journal_entries_post

REQUIRED = ("entry", "date", "account", "debit", "credit")
MAX_ERRORS = 20


class Command(BaseCommand):
    help = "Import journal entries from a CSV file through the posting service (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--company", required=True, help="the company's slug")
        parser.add_argument("--user", default="", help="import as this user (needs the post permission); default: the system")

    def handle(self, *args, path: Path, company: str, user: str, **options):
        found = Company.objects.filter(slug=company).first()
        if found is None:
            raise CommandError(f"No company with the slug “{company}”.")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"No user “{user}”.")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        entries, errors = self._entries(found, text.splitlines())
        if errors:
            shown = "\n".join(errors[:MAX_ERRORS])
            more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
            raise CommandError(f"Nothing was imported: {len(errors)} problem(s) in {path}:\n{shown}{more}")
        if not entries:
            raise CommandError(f"{path} has no journal lines.")
        try:
            result = journal_entries_post(company=found, entries=entries, actor=actor, source=JournalEntry.Source.IMPORT)
        except LedgerError as exc:
            raise CommandError(f"Nothing was imported: {exc.message}") from None
        flagged = sum(1 for posted in result.posted if not posted.is_balanced)
        note = f"; {flagged} unbalanced, flagged for the close." if flagged else "."
        self.stdout.write(f"Imported {len(result.posted)} entries into {found}{note}")

    def _entries(self, company: Company, rows: list[str]) -> tuple[list[EntryInput], list[str]]:
        reader = csv.DictReader(rows)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            return [], [f"the header lacks the column(s): {', '.join(missing)}"]
        reader.fieldnames = header
        accounts = {a.code: a for a in Account.objects.filter(company=company)}
        fmt = company.money_format
        groups: OrderedDict[str, dict] = OrderedDict()
        errors: list[str] = []
        for number, row in enumerate(reader, start=2):
            row = {key: (value or "").strip() for key, value in row.items() if key}
            where = f"row {number}"
            try:
                day = date.fromisoformat(row["date"])
            except ValueError:
                errors.append(f"{where}, date: “{row['date']}” is not a date (YYYY-MM-DD).")
                continue
            account = accounts.get(row["account"])
            if account is None:
                errors.append(f"{where}, account: {company} has no account “{row['account']}”.")
                continue
            currency = (row.get("currency") or company.base_currency).upper()
            amounts = {}
            for column in ("debit", "credit"):
                try:
                    amounts[column] = money_parse(row[column], fmt=fmt, currency=currency, label=column.capitalize())
                except MoneyError as exc:
                    errors.append(f"{where}, {column}: {exc.message}")
            if len(amounts) < 2:
                continue
            group = groups.setdefault(
                row["entry"], {"date": day, "memo": row.get("memo", ""), "reference": row.get("reference", ""), "lines": []}
            )
            if group["date"] != day:
                errors.append(f"{where}, date: entry “{row['entry']}” already has the date {group['date']}.")
                continue
            group["lines"].append(
                LineInput(
                    account,
                    debit=amounts["debit"],
                    credit=amounts["credit"],
                    description=row.get("description", ""),
                    currency=currency,
                )
            )
        entries = [
            EntryInput(entry_date=g["date"], lines=g["lines"], memo=g["memo"], reference=g["reference"], what=f"entry {key}")
            for key, g in groups.items()
        ]
        return entries, errors
