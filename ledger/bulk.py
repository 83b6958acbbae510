"""COPY-speed loading of journal entries and lines into PostgreSQL, for imports and benchmarks.

It bypasses the posting service on purpose, so the database's own rules still apply: the
books-closed trigger refuses lines in a closed period and the check constraints refuse bad
amounts. ``is_balanced`` is computed here per entry and currency exactly as the posting service
would, so flagged entries (PC2) come out right. Every column of the two tables is written;
those a caller leaves out get the model field's default, so a new column cannot break COPY.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from .models import Company, JournalEntry, JournalLine

CHUNK = 8 << 20  # characters per COPY write


@dataclass(frozen=True)
class BulkLine:
    account_id: int
    debit: Decimal = Decimal("0.00")
    credit: Decimal = Decimal("0.00")
    currency: str = "USD"
    description: str = ""
    reconciliation_ref: str = ""


@dataclass(frozen=True)
class BulkEntry:
    entry_date: date
    lines: Sequence[BulkLine]
    memo: str = ""
    reference: str = ""
    source: str = JournalEntry.Source.IMPORT
    extra: dict = field(default_factory=dict)


def _escape(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _defaults(model: type[models.Model], given: Iterable[str]) -> list[tuple[str, str]]:
    """(column, COPY text) for every concrete column the caller does not give."""
    now = timezone.now().isoformat()
    out = []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.attname in given:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        elif f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        elif f.blank and isinstance(f, models.CharField | models.TextField):
            value = ""
        else:
            raise ValueError(f"{model.__name__}.{f.name} has no default: give it to the bulk loader.")
        out.append((f.column, _escape(value)))
    return out


def _reserve_ids(cursor, table: str, count: int) -> int:
    """Take ``count`` ids from the table's identity sequence at once; returns the first."""
    cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")  # noqa: S608 - our own table names
    (first,) = cursor.fetchone()
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [first + max(count, 1) - 1])  # noqa: S608
    return first


def journal_copy(*, company: Company, entries: Sequence[BulkEntry]) -> tuple[int, int]:
    """Load ``entries`` with their lines by COPY, in one transaction. Returns (first entry id,
    first line id); ids are consecutive in the order given. PostgreSQL only."""
    if connection.vendor != "postgresql":
        raise RuntimeError("journal_copy needs PostgreSQL (COPY).")
    entry_cols = ["id", "company_id", "entry_date", "memo", "reference", "source", "is_balanced"]
    extra_cols = sorted({key for entry in entries for key in entry.extra})
    entry_defaults = _defaults(
        JournalEntry, {"company_id", "entry_date", "memo", "reference", "source", "is_balanced", *extra_cols}
    )
    line_cols = [
        "id",
        "entry_id",
        "company_id",
        "entry_date",
        "line_no",
        "account_id",
        "description",
        "debit",
        "credit",
        "currency",
        "reconciliation_ref",
    ]
    line_defaults = _defaults(JournalLine, set(line_cols))
    entry_tail = "".join("\t" + v for _, v in entry_defaults)
    line_tail = "".join("\t" + v for _, v in line_defaults)
    line_count = sum(len(e.lines) for e in entries)
    with transaction.atomic(), connection.cursor() as cursor:
        first_entry = _reserve_ids(cursor, JournalEntry._meta.db_table, len(entries))
        first_line = _reserve_ids(cursor, JournalLine._meta.db_table, line_count)
        entry_buf, line_buf = io.StringIO(), io.StringIO()
        line_id = first_line
        company_id = company.pk
        for n, entry in enumerate(entries):
            entry_id = first_entry + n
            day = entry.entry_date.isoformat()
            nets: dict[str, Decimal] = {}
            for line_no, line in enumerate(entry.lines, start=1):
                nets[line.currency] = nets.get(line.currency, Decimal(0)) + Decimal(line.debit) - Decimal(line.credit)
                line_buf.write(
                    f"{line_id}\t{entry_id}\t{company_id}\t{day}\t{line_no}\t{line.account_id}\t{_escape(line.description)}\t"
                    f"{line.debit}\t{line.credit}\t{line.currency}\t{_escape(line.reconciliation_ref)}{line_tail}\n"
                )
                line_id += 1
            balanced = not any(nets.values())
            extras = "".join("\t" + _escape(entry.extra.get(col)) for col in extra_cols)
            entry_buf.write(
                f"{entry_id}\t{company_id}\t{day}\t{_escape(entry.memo)}\t{_escape(entry.reference)}\t{entry.source}\t"
                f"{'t' if balanced else 'f'}{extras}{entry_tail}\n"
            )
        raw = cursor.cursor
        for table, cols, defaults, buf in (
            (JournalEntry._meta.db_table, entry_cols + extra_cols, entry_defaults, entry_buf),
            (JournalLine._meta.db_table, line_cols, line_defaults, line_buf),
        ):
            columns = ", ".join(cols + [c for c, _ in defaults])
            data = buf.getvalue()
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # noqa: S608 - our own tables
                for start in range(0, len(data), CHUNK):
                    copy.write(data[start : start + CHUNK])
    return first_entry, first_line
