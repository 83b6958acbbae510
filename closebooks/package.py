"""The close package of a locked or closed period (PC3): trial balance, journal, the flags that
were fixed and by whom, and the period's audit trail, as one XLSX workbook or as CSV files in a
ZIP. Rows are streamed from the database in chunks and written in constant memory."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import BinaryIO

import xlsxwriter
from django.db.models import Q

from ledger.models import AuditEvent, JournalLine

from . import selectors
from .models import Period

XLSX_MAX_ROWS = 1_048_575  # a sheet's rows below the header


@dataclass(frozen=True)
class Sheet:
    name: str
    header: list[str]
    rows: Callable[[], Iterator[tuple]]
    money_columns: frozenset[int] = frozenset()


def _trial_balance(period: Period) -> Iterator[tuple]:
    for row in selectors.trial_balance(period):
        yield (row.account.code, row.account.name, row.account.get_type_display(), row.debit, row.credit, row.balance)


def _journal(period: Period) -> Iterator[tuple]:
    lines = (
        JournalLine.objects.filter(company=period.company, entry_date__gte=period.first_day, entry_date__lte=period.last_day)
        .order_by("entry_date", "entry_id", "line_no")
        .values_list(
            "entry_id",
            "entry_date",
            "entry__reference",
            "entry__memo",
            "entry__source",
            "line_no",
            "account__code",
            "account__name",
            "description",
            "debit",
            "credit",
            "currency",
        )
    )
    for entry_id, day, reference, memo, source, line_no, code, name, description, debit, credit, currency in lines.iterator(
        chunk_size=10_000
    ):
        yield (
            f"JE-{entry_id}",
            day.isoformat(),
            reference,
            memo,
            source,
            line_no,
            code,
            name,
            description,
            debit,
            credit,
            currency,
        )


def _entry_events(period: Period):
    first, last = period.first_day.isoformat(), period.last_day.isoformat()
    dated = Q(after__entry_date__gte=first, after__entry_date__lte=last) | Q(
        before__entry_date__gte=first, before__entry_date__lte=last
    )
    return AuditEvent.objects.filter(company=period.company, subject_type="JournalEntry").filter(dated)


def _flags_fixed(period: Period) -> Iterator[tuple]:
    """Entries that were flagged unbalanced (PC2) and then fixed, edited or deleted: who and when."""
    fixed = _entry_events(period).filter(before__is_balanced=False).select_related("actor").order_by("at", "id")
    for event in fixed.iterator(chunk_size=2000):
        how = "deleted" if event.action.endswith("delete") else "edited to balance"
        yield (
            event.at.isoformat(timespec="seconds"),
            event.actor.get_username() if event.actor else "system",
            f"JE-{event.subject_id}",
            how,
            event.reason,
        )


def _audit_trail(period: Period) -> Iterator[tuple]:
    about_period = Q(subject_type="Period", after__period=period.key) | Q(subject_type="Period", before__period=period.key)
    books_closed = Q(subject_type="BooksClosedSetting", at__gte=_period_start(period))
    events = AuditEvent.objects.filter(company=period.company).filter(
        about_period | books_closed | Q(pk__in=_entry_events(period).values("pk"))
    )
    for event in events.select_related("actor").order_by("at", "id").iterator(chunk_size=2000):
        yield (
            event.at.isoformat(timespec="seconds"),
            event.actor.get_username() if event.actor else "system",
            event.action,
            event.subject_type,
            event.subject_id,
            _short(event.before),
            _short(event.after),
            event.reason,
        )


def _period_start(period: Period) -> datetime:
    return datetime.combine(period.first_day, time.min, tzinfo=period.company.tz)


def _short(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def package_sheets(period: Period) -> list[Sheet]:
    return [
        Sheet(
            "Trial balance",
            ["Account", "Name", "Type", "Debit", "Credit", "Balance"],
            lambda: _trial_balance(period),
            frozenset({3, 4, 5}),
        ),
        Sheet(
            "Journal",
            [
                "Entry",
                "Date",
                "Reference",
                "Memo",
                "Source",
                "Line",
                "Account",
                "Account name",
                "Description",
                "Debit",
                "Credit",
                "Currency",
            ],
            lambda: _journal(period),
            frozenset({9, 10}),
        ),
        Sheet("Flags fixed", ["When", "Who", "Entry", "How", "Reason"], lambda: _flags_fixed(period)),
        Sheet(
            "Audit trail", ["When", "Who", "Action", "Subject", "Id", "Before", "After", "Reason"], lambda: _audit_trail(period)
        ),
    ]


def write_xlsx(period: Period, out: BinaryIO) -> None:
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "in_memory": False,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0.00"})
    cover = workbook.add_worksheet("Period")
    for r, (label, value) in enumerate(
        [
            ("Company", period.company.name),
            ("Period", period.name),
            ("State", period.get_state_display()),
            ("From", period.first_day.isoformat()),
            ("To", period.last_day.isoformat()),
            ("Locked", period.locked_at.isoformat(timespec="seconds") if period.locked_at else ""),
            ("Closed", period.closed_at.isoformat(timespec="seconds") if period.closed_at else ""),
        ]
    ):
        cover.write_string(r, 0, label, bold)
        cover.write_string(r, 1, value)
    for sheet in package_sheets(period):
        part, row_no, ws = 1, 0, None
        for row in sheet.rows():
            if ws is None or row_no > XLSX_MAX_ROWS:
                name = sheet.name if part == 1 else f"{sheet.name} ({part})"
                ws, row_no, part = workbook.add_worksheet(name[:31]), 0, part + 1
                ws.write_row(0, 0, sheet.header, bold)
                row_no = 1
            for col, value in enumerate(row):
                if col in sheet.money_columns and isinstance(value, Decimal):
                    ws.write_number(row_no, col, value, money)
                elif isinstance(value, int):
                    ws.write_number(row_no, col, value)
                else:
                    ws.write_string(row_no, col, "" if value is None else str(value))
            row_no += 1
        if ws is None:
            ws = workbook.add_worksheet(sheet.name[:31])
            ws.write_row(0, 0, sheet.header, bold)
    workbook.close()


def _csv_safe(value):
    """A text cell a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_zip(period: Period, out: BinaryIO) -> None:
    """One CSV per sheet; amounts exactly as stored (no float)."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for sheet in package_sheets(period):
            filename = f"{period.key} {sheet.name.lower()}.csv".replace(" ", "-")
            with (
                archive.open(filename, "w", force_zip64=True) as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
            ):
                writer = csv.writer(text)
                writer.writerow(sheet.header)
                for row in sheet.rows():
                    writer.writerow([_csv_safe(value) for value in row])
