"""The posting service: the one way journal entries and their lines enter the books.

``journal_entries_post`` posts a batch of entries in one statement set: the permission check,
the company lock and the books-closed guard once for the batch (the guard's :class:`Gate` read
under the lock, each entry's date decided against it), the date range, account and amount
checks and the balance per entry and currency in Python over the whole batch, then the entries,
their lines and their audit rows written in bulk (COPY on PostgreSQL past a few hundred lines,
``bulk_create`` below that and on SQLite). ``journal_entry_create`` is a batch of one.

Manual, document and write-off entries must balance per currency; entries from outside (import,
inbound sync) are kept as they came and flagged when they do not (PC2).
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from .. import roles
from ..exceptions import AccountError, AmountError, BlockedAccountError, LedgerError, UnbalancedEntryError
from ..guard import Gate, Inbound, Operation, books_closed_check, books_closed_gate, date_range, date_range_check
from ..locks import company_lock
from ..models import ZERO, Account, AuditEvent, Company, JournalEntry, JournalLine, LedgerEntity
from ..money import CENT, MAX_AMOUNT, ZERO_DECIMAL_CURRENCIES, MoneyError, money_parse
from ..permissions import require
from .core import audit_record

# Past this many lines a batch is written with COPY (PostgreSQL): below it, the INSERTs' fewer
# round trips win (measured: one entry of two lines posts in 3 statements either way, but COPY
# needs two more for the ids).
COPY_FROM_LINES = 200
# An entry with more lines than this is audited by account and side, not line by line (a
# reconciliation's write-off entry can have thousands).
AUDIT_LINES = 100


@dataclass(frozen=True)
class LineInput:
    """One line to post. ``account`` is an Account or an account id; amounts are Decimal, int or
    plain decimal strings (never float), read by ``ledger.money``; exactly one of debit and
    credit is non-zero."""

    account: Account | int
    debit: Decimal | str | int = ZERO
    credit: Decimal | str | int = ZERO
    description: str = ""
    currency: str | None = None
    reconciliation_ref: str = ""


@dataclass(frozen=True)
class EntryInput:
    """One entry of a batch. ``entity`` is a LedgerEntity or its id (BC9). ``inbound`` marks an
    entry from the accounting system (BC6) with its provider, kind and policy; ``what`` names the
    entry in a refusal ("invoice 1007")."""

    entry_date: date
    lines: Sequence[LineInput]
    memo: str = ""
    reference: str = ""
    entity: LedgerEntity | int | None = None
    inbound: Inbound | None = None
    what: str = ""


@dataclass(frozen=True)
class PostedEntry:
    """An entry the batch wrote: its place in ``entries``, its id, its lines' ids in line order."""

    index: int
    entry_id: int
    line_ids: tuple[int, ...]
    is_balanced: bool


@dataclass(frozen=True)
class RefusedEntry:
    """An entry the batch refused (only with ``partial=True``): its place and the reason."""

    index: int
    error: LedgerError


@dataclass
class PostingResult:
    posted: list[PostedEntry] = field(default_factory=list)
    refused: list[RefusedEntry] = field(default_factory=list)
    _instances: dict[int, JournalEntry] = field(default_factory=dict, repr=False)

    def journal_entry(self, index: int = 0) -> JournalEntry:
        """The JournalEntry posted for ``entries[index]`` (a refused index raises KeyError)."""
        for posted in self.posted:
            if posted.index == index:
                return self._instances.get(index) or JournalEntry.objects.get(pk=posted.entry_id)
        raise KeyError(f"entry {index} was not posted")


def to_money(value: object, *, label: str = "Amount", currency: str | None = None) -> Decimal:
    """An amount read by the one money parser, refused as an :class:`AmountError` (a form shows it on the lines)."""
    try:
        return money_parse(value, currency=currency, label=label)
    except MoneyError as exc:
        raise AmountError(exc.message) from None


# ---------------------------------------------------------------- checks


@dataclass(slots=True)
class _Line:
    account: Account
    debit: Decimal
    credit: Decimal
    currency: str
    description: str
    reconciliation_ref: str


@dataclass(slots=True)
class _Entry:
    index: int
    entry_date: date
    memo: str
    reference: str
    entity_id: int | None
    policy: str
    balanced: bool
    lines: list[_Line]


def _fast_money(value: object, label: str) -> Decimal:
    # The common case (a finite Decimal of cents from code) without the parser's text path; what
    # this does not settle (text, NaN, more places, too large) goes through the parser.
    if type(value) is Decimal:
        try:
            if value.quantize(CENT) == value and -MAX_AMOUNT < value < MAX_AMOUNT:
                return value
        except ArithmeticError:
            pass
    return to_money(value, label=label)


def _prepare_lines(company: Company, lines: Sequence[LineInput], accounts: dict[int, Account]) -> list[_Line]:
    if not lines:
        raise AmountError("A journal entry needs at least one line.")
    prepared = []
    base = company.base_currency
    for number, line in enumerate(lines, start=1):
        account_id = line.account.pk if isinstance(line.account, Account) else line.account
        account = accounts.get(account_id) if isinstance(account_id, int) and not isinstance(account_id, bool) else None
        if account is None:
            if account_id is None:
                raise AccountError(f"Line {number} needs an account.")
            raise AccountError(f"Line {number}: account {account_id!r} does not exist.")
        if account.company_id != company.pk:
            raise AccountError(f"Line {number}: account {account.code} belongs to another company.")
        if account.blocked:
            raise BlockedAccountError(f"Line {number}: account {account} is blocked and accepts no new postings (LR2).")
        currency = (line.currency or base).strip().upper()
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            raise AmountError(f"Line {number}: “{line.currency}” is not a currency code.")
        debit = _fast_money(line.debit, f"Line {number} debit")
        credit = _fast_money(line.credit, f"Line {number} credit")
        if debit < 0 or credit < 0:
            raise AmountError(f"Line {number}: amounts cannot be negative; put the amount on the other side instead.")
        if debit and credit:
            raise AmountError(f"Line {number}: a line is either a debit or a credit, not both.")
        if not debit and not credit:
            raise AmountError(f"Line {number}: enter a debit or a credit amount.")
        if currency in ZERO_DECIMAL_CURRENCIES:  # a JPY line has no decimals
            to_money(debit or credit, label=f"Line {number} {'debit' if debit else 'credit'}", currency=currency)
        prepared.append(
            _Line(
                account,
                debit,
                credit,
                currency,
                (line.description or "")[:500],
                (line.reconciliation_ref or "")[:100],
            )
        )
    return prepared


def imbalances(lines: Iterable) -> dict[str, Decimal]:
    """Debits minus credits per currency, for the currencies that do not balance."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        totals[line.currency] += line.debit - line.credit
    return {currency: total for currency, total in sorted(totals.items()) if total != ZERO}


def _balance_or_flag(source: str, lines: Sequence) -> bool:
    if len(lines) == 2 and lines[0].currency == lines[1].currency:  # the common entry, without the dict
        if lines[0].debit - lines[0].credit + lines[1].debit - lines[1].credit == 0:
            return True
    off = imbalances(lines)
    if not off:
        return True
    if source in JournalEntry.EXTERNAL_SOURCES:
        return False  # kept as it came, flagged for the close wizard (PC2)
    detail = ", ".join(
        f"{currency} debits exceed credits by {amount}" if amount > 0 else f"{currency} credits exceed debits by {-amount}"
        for currency, amount in off.items()
    )
    raise UnbalancedEntryError(f"The entry does not balance: {detail}.", field="lines")


def _entities(company: Company, entries: Sequence[EntryInput]) -> dict[int, LedgerEntity | None]:
    wanted = {e.entity.pk if isinstance(e.entity, LedgerEntity) else e.entity for e in entries} - {None}
    found = LedgerEntity.objects.in_bulk(list(wanted)) if wanted else {}
    for entity_id in wanted:
        entity = found.get(entity_id)
        if entity is None or entity.company_id != company.pk:
            shown = entity if entity is not None else entity_id
            raise LedgerError(f"Entity {shown} belongs to another company.", field="entity")
    return found


def _check_entity(company: Company, entity: LedgerEntity | None) -> None:
    if entity is not None and entity.company_id != company.pk:
        raise LedgerError(f"Entity {entity} belongs to another company.", field="entity")


def _accounts(entries: Sequence[EntryInput]) -> dict[int, Account]:
    wanted = set()
    for entry in entries:
        for line in entry.lines:
            account = line.account
            wanted.add(account.pk if isinstance(account, Account) else account)
    ids = [i for i in wanted if isinstance(i, int) and not isinstance(i, bool)]
    # Read afresh even when Account objects are given: a blocked flag set meanwhile counts (LR2).
    return Account.objects.in_bulk(ids) if ids else {}


def _gate(company: Company, entity_ids: set[int | None]) -> Gate:
    """The books-closed setting under the company lock (FOR SHARE), read once for the batch. One
    entity (or none): the lock and the read in one round trip; several: every entity's date."""
    if len(entity_ids) <= 1:
        (only,) = entity_ids or {None}
        return books_closed_gate(company=company, entity=only, lock=True)
    return books_closed_gate(company=company, lock=True, every_entity=True)


# ---------------------------------------------------------------- the service


@transaction.atomic
def journal_entries_post(
    *,
    company: Company,
    entries: Sequence[EntryInput],
    actor: AbstractBaseUser | None,
    source: str = JournalEntry.Source.MANUAL,
    operation: Operation | str = Operation.ENTRY_CREATE,
    partial: bool = False,
) -> PostingResult:
    """Post ``entries`` of ``company`` in one transaction and one statement set.

    Every entry is checked before anything is written: the date range (issue 18), the
    books-closed guard (BC4; BC6 for inbound entries, an inbound-sync batch is inbound
    throughout), its entity (BC9), its accounts (this company's, not blocked, LR2), its amounts
    (``ledger.money``) and its balance per currency. With ``partial=False`` the first refusal is
    raised and nothing is written; with ``partial=True`` refused entries are returned in
    ``refused`` and the others posted (inbound sync reports each on its run, BC6).
    ``operation`` only names the change in a refusal. ``actor`` needs the post permission;
    ``None`` is the system."""
    require(actor, roles.POST, company, what="post journal entries")
    if source not in JournalEntry.Source.values:
        raise LedgerError(f"Unknown entry source “{source}”.")
    operation = Operation(operation)
    result = PostingResult()
    if not entries:
        return result
    found_entities = _entities(company, entries)
    entity_ids = {e.entity.pk if isinstance(e.entity, LedgerEntity) else e.entity for e in entries}
    gate = _gate(company, entity_ids)  # takes the company lock: a date change waits for this batch
    accounts = _accounts(entries)
    inbound_default = Inbound() if source == JournalEntry.Source.INBOUND_SYNC else None
    dates = date_range(company)  # one "today" for the batch
    checked: list[_Entry] = []
    for index, entry in enumerate(entries):
        entity_id = entry.entity.pk if isinstance(entry.entity, LedgerEntity) else entry.entity
        try:
            dates.check(on_date=entry.entry_date, field="entry_date", what=entry.what)
            decision = gate.check(
                operation=operation,
                on_date=entry.entry_date,
                entity=entity_id,
                inbound=entry.inbound or inbound_default,
                what=entry.what,
                field="entry_date",
            )
            lines = _prepare_lines(company, entry.lines, accounts)
            balanced = _balance_or_flag(source, lines)
        except LedgerError as exc:
            if not partial:
                raise
            result.refused.append(RefusedEntry(index, exc))
            continue
        checked.append(
            _Entry(
                index,
                entry.entry_date,
                (entry.memo or "")[:500],
                (entry.reference or "")[:100],
                entity_id,
                decision.policy,
                balanced,
                lines,
            )
        )
    if not checked:
        return result
    user = actor if actor is not None and actor.is_authenticated else None
    line_count = sum(len(e.lines) for e in checked)
    if connection.vendor == "postgresql" and line_count >= COPY_FROM_LINES:
        _write_copy(company, checked, source, user, result)
    else:
        _write_orm(company, checked, source, user, found_entities, result)
    return result


@transaction.atomic
def journal_entry_create(
    *,
    company: Company,
    entry_date: date,
    lines: Sequence[LineInput],
    actor: AbstractBaseUser | None,
    memo: str = "",
    reference: str = "",
    source: str = JournalEntry.Source.MANUAL,
    entity: LedgerEntity | None = None,
    inbound: Inbound | None = None,
    operation: Operation = Operation.ENTRY_CREATE,
    what: str = "",
) -> JournalEntry:
    """Post one journal entry: ``journal_entries_post`` with a batch of one, every rule shared."""
    result = journal_entries_post(
        company=company,
        entries=[
            EntryInput(
                entry_date=entry_date, lines=lines, memo=memo, reference=reference, entity=entity, inbound=inbound, what=what
            )
        ],
        actor=actor,
        source=source,
        operation=operation,
    )
    return result.journal_entry(0)


# ---------------------------------------------------------------- writers


def _snapshot(entry_date: date, memo: str, reference: str, source: str, balanced: bool, lines: Sequence) -> dict:
    snapshot = {
        "entry_date": entry_date.isoformat(),
        "memo": memo,
        "reference": reference,
        "source": source,
        "is_balanced": balanced,
    }
    if len(lines) <= AUDIT_LINES:
        snapshot["lines"] = [
            {"account": line.account.code, "debit": str(line.debit), "credit": str(line.credit), "currency": line.currency}
            for line in lines
        ]
        return snapshot
    totals: dict[tuple[str, str], list] = {}
    for line in lines:
        row = totals.setdefault((line.account.code, line.currency), [ZERO, ZERO, 0])
        row[0] += line.debit
        row[1] += line.credit
        row[2] += 1
    snapshot["line_count"] = len(lines)
    snapshot["lines_by_account"] = [
        {"account": code, "currency": currency, "debit": str(debit), "credit": str(credit), "lines": n}
        for (code, currency), (debit, credit, n) in sorted(totals.items())
    ]
    return snapshot


def _write_orm(company, checked: list[_Entry], source: str, user, entities: dict, result: PostingResult) -> None:
    rows = [
        JournalEntry(
            company=company,
            entity=entities.get(e.entity_id) if e.entity_id else None,
            entry_date=e.entry_date,
            memo=e.memo,
            reference=e.reference,
            source=source,
            is_balanced=e.balanced,
            closed_period_policy=e.policy,
            created_by=user,
        )
        for e in checked
    ]
    JournalEntry.objects.bulk_create(rows)
    lines = []
    for entry, row in zip(checked, rows, strict=True):
        for number, line in enumerate(entry.lines, start=1):
            lines.append(
                JournalLine(
                    entry=row,
                    company=company,
                    entity_id=entry.entity_id,
                    entry_date=entry.entry_date,
                    line_no=number,
                    account=line.account,
                    description=line.description,
                    debit=line.debit,
                    credit=line.credit,
                    currency=line.currency,
                    reconciliation_ref=line.reconciliation_ref,
                )
            )
    JournalLine.objects.bulk_create(lines, batch_size=2000)
    at = timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                company=company,
                actor=user,
                at=at,
                action="journal_entry.create",
                subject_type="JournalEntry",
                subject_id=str(row.pk),
                after=_snapshot(e.entry_date, e.memo, e.reference, source, e.balanced, e.lines),
            )
            for e, row in zip(checked, rows, strict=True)
        ],
        batch_size=2000,
    )
    position = 0
    for entry, row in zip(checked, rows, strict=True):
        ids = tuple(line.pk for line in lines[position : position + len(entry.lines)])
        position += len(entry.lines)
        result.posted.append(PostedEntry(entry.index, row.pk, ids, entry.balanced))
        result._instances[entry.index] = row


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
    """(column, COPY text) for every concrete column a writer does not give, from the model's
    defaults: a column added to the model later cannot break the COPY."""
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
            raise ValueError(f"{model.__name__}.{f.name} has no default: give it to the writer.")
        out.append((f.column, _escape(value)))
    return out


def _reserve_ids(cursor, table: str, count: int) -> list[int]:
    """``count`` ids from the table's own sequence. Distinct whatever runs beside us (each is a
    nextval), though not necessarily consecutive."""
    cursor.execute(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",  # noqa: S608 - our own tables
        [count],
    )
    return [row[0] for row in cursor.fetchall()]


def _copy(cursor, table: str, columns: Sequence[str], data: str) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # noqa: S608 - our own tables
        chunk = 8 << 20
        for start in range(0, len(data), chunk):
            copy.write(data[start : start + chunk])


ENTRY_COLUMNS = (
    "id",
    "company_id",
    "entity_id",
    "entry_date",
    "memo",
    "reference",
    "source",
    "is_balanced",
    "closed_period_policy",
    "created_by_id",
)
LINE_COLUMNS = (
    "id",
    "entry_id",
    "company_id",
    "entity_id",
    "entry_date",
    "line_no",
    "account_id",
    "description",
    "debit",
    "credit",
    "currency",
    "reconciliation_ref",
)
AUDIT_COLUMNS = ("company_id", "actor_id", "at", "action", "subject_type", "subject_id", "after")


def _write_copy(company, checked: list[_Entry], source: str, user, result: PostingResult) -> None:
    """Entries, lines and audit rows by COPY: three statements, so the statement-level triggers
    (books closed, summaries) run once each for the whole batch."""
    entry_defaults = _defaults(JournalEntry, {c for c in ENTRY_COLUMNS if c != "id"})
    line_defaults = _defaults(JournalLine, {c for c in LINE_COLUMNS if c != "id"})
    audit_defaults = _defaults(AuditEvent, set(AUDIT_COLUMNS))
    entry_tail = "".join("\t" + v for _, v in entry_defaults)
    line_tail = "".join("\t" + v for _, v in line_defaults)
    audit_tail = "".join("\t" + v for _, v in audit_defaults)
    company_id = company.pk
    user_id = _escape(user.pk if user is not None else None)
    at = timezone.now().isoformat()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    with connection.cursor() as cursor:
        entry_ids = _reserve_ids(cursor, JournalEntry._meta.db_table, len(checked))
        line_ids = iter(_reserve_ids(cursor, JournalLine._meta.db_table, sum(len(e.lines) for e in checked)))
        entries, lines, audits = io.StringIO(), io.StringIO(), io.StringIO()
        for entry, entry_id in zip(checked, entry_ids, strict=True):
            day = entry.entry_date.isoformat()
            entity = _escape(entry.entity_id)
            entries.write(
                f"{entry_id}\t{company_id}\t{entity}\t{day}\t{_escape(entry.memo)}\t{_escape(entry.reference)}\t{source}\t"
                f"{'t' if entry.balanced else 'f'}\t{_escape(entry.policy)}\t{user_id}{entry_tail}\n"
            )
            ids = []
            for number, line in enumerate(entry.lines, start=1):
                line_id = next(line_ids)
                ids.append(line_id)
                lines.write(
                    f"{line_id}\t{entry_id}\t{company_id}\t{entity}\t{day}\t{number}\t{line.account.pk}\t"
                    f"{_escape(line.description)}\t{line.debit}\t{line.credit}\t{line.currency}\t"
                    f"{_escape(line.reconciliation_ref)}{line_tail}\n"
                )
            snapshot = dumps(_snapshot(entry.entry_date, entry.memo, entry.reference, source, entry.balanced, entry.lines))
            audits.write(
                f"{company_id}\t{user_id}\t{at}\tjournal_entry.create\tJournalEntry\t{entry_id}\t{_escape(snapshot)}{audit_tail}\n"
            )
            result.posted.append(PostedEntry(entry.index, entry_id, tuple(ids), entry.balanced))
        _copy(cursor, JournalEntry._meta.db_table, [*ENTRY_COLUMNS, *(c for c, _ in entry_defaults)], entries.getvalue())
        _copy(cursor, JournalLine._meta.db_table, [*LINE_COLUMNS, *(c for c, _ in line_defaults)], lines.getvalue())
        _copy(cursor, AuditEvent._meta.db_table, [*AUDIT_COLUMNS, *(c for c, _ in audit_defaults)], audits.getvalue())


# ---------------------------------------------------------------- edit and delete


@transaction.atomic
def journal_entry_update(
    *,
    entry: JournalEntry,
    entry_date: date,
    lines: Sequence[LineInput],
    actor: AbstractBaseUser | None,
    memo: str = "",
    reference: str = "",
) -> JournalEntry:
    """Replace an entry's date, memo and lines. The entry keeps its source: an imported entry
    fixed by hand must now balance, because a person has touched it. The posting's rules apply:
    the date range and the guard for the new date, the guard for the old one, accounts, amounts."""
    company = entry.company
    require(actor, roles.POST, company, what="change journal entries")
    company_lock(company.pk)
    entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    what = f"JE-{entry.pk}"
    date_range_check(company=company, on_date=entry_date, field="entry_date", what=what)
    for day in (entry.entry_date, entry_date):  # neither the old nor the new date may be closed (BC4)
        books_closed_check(
            company=company, operation=Operation.ENTRY_EDIT, on_date=day, entity=entry.entity_id, what=what, field="entry_date"
        )
    old_lines = list(entry.lines.select_related("account"))
    before = _entry_snapshot(entry, old_lines)
    probe = EntryInput(entry_date=entry_date, lines=lines)
    prepared = _prepare_lines(company, lines, _accounts([probe]))
    _balance_or_flag(JournalEntry.Source.MANUAL, prepared)
    entry.entry_date, entry.memo, entry.reference, entry.is_balanced = (
        entry_date,
        (memo or "")[:500],
        (reference or "")[:100],
        True,
    )
    entry.save(update_fields=["entry_date", "memo", "reference", "is_balanced", "updated_at"])
    _delete_or_refuse(entry, entry.lines.all())
    new_lines = [
        JournalLine(
            entry=entry,
            company=company,
            entity_id=entry.entity_id,
            entry_date=entry_date,
            line_no=number,
            account=line.account,
            description=line.description,
            debit=line.debit,
            credit=line.credit,
            currency=line.currency,
            reconciliation_ref=line.reconciliation_ref,
        )
        for number, line in enumerate(prepared, start=1)
    ]
    JournalLine.objects.bulk_create(new_lines)
    audit_record(
        company=company,
        actor=actor,
        action="journal_entry.update",
        subject=entry,
        before=before,
        after=_entry_snapshot(entry, new_lines),
    )
    return entry


@transaction.atomic
def journal_entry_delete(*, entry: JournalEntry, actor: AbstractBaseUser | None, reason: str = "") -> None:
    company = entry.company
    require(actor, roles.POST, company, what="delete journal entries")
    company_lock(company.pk)
    entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    books_closed_check(
        company=company,
        operation=Operation.ENTRY_DELETE,
        on_date=entry.entry_date,
        entity=entry.entity_id,
        what=f"JE-{entry.pk}",
        field="entry_date",
    )
    before = _entry_snapshot(entry, list(entry.lines.select_related("account")))
    audit_record(company=company, actor=actor, action="journal_entry.delete", subject=entry, before=before, reason=reason)
    _delete_or_refuse(entry, entry)


def _delete_or_refuse(entry: JournalEntry, target) -> None:
    """Delete ``target`` (the entry or its lines), or refuse clearly when something else holds
    on to them (a reconciliation, LR6): the ledger does not know who, the protected rows say."""
    try:
        target.delete()
    except ProtectedError as exc:
        held = ", ".join(sorted({str(obj) for obj in list(exc.protected_objects)[:3]}))
        raise LedgerError(
            f"JE-{entry.pk} cannot be changed or deleted: its lines are in use ({held}). Undo that first.", field=None
        ) from None


def _entry_snapshot(entry: JournalEntry, lines: Sequence[JournalLine]) -> dict:
    return _snapshot(entry.entry_date, entry.memo, entry.reference, entry.source, entry.is_balanced, lines)


@transaction.atomic
def journal_entries_reflag(*, company: Company, first: date | None = None, last: date | None = None) -> int:
    """Recompute ``is_balanced`` of the entries of ``company`` (dated ``first``..``last`` when
    given) from their lines' imbalances, set-based, touching only rows whose flag is wrong. The
    line triggers already keep the flag; this catches up a flag written directly (e.g. a
    QuerySet.update of ``is_balanced``). Returns how many are unbalanced."""
    from ..selectors import unbalanced_entry_ids

    unbalanced = unbalanced_entry_ids(company, first, last)
    entries = JournalEntry.objects.filter(company=company)
    if first is not None:
        entries = entries.filter(entry_date__gte=first)
    if last is not None:
        entries = entries.filter(entry_date__lte=last)
    entries.filter(pk__in=unbalanced, is_balanced=True).update(is_balanced=False)
    entries.filter(is_balanced=False).exclude(pk__in=unbalanced).update(is_balanced=True)
    return len(unbalanced)


@transaction.atomic
def journal_entries_purge(*, company: Company, reason: str) -> int:
    """Delete every journal entry of ``company`` with its lines, in two statements: for the
    benchmarks and load fixtures that rebuild a scratch company of their own. The system's
    (there is no actor: no page or admin action calls it); the books-closed trigger still refuses
    lines in a closed period. Returns how many entries went; one audit row says so."""
    company_lock(company.pk, exclusive=True)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_journalline WHERE company_id = %s", [company.pk])
        cursor.execute("DELETE FROM ledger_journalentry WHERE company_id = %s", [company.pk])
        count = cursor.rowcount
    audit_record(
        company=company, actor=None, action="journal_entries.purge", subject=company, after={"entries": count}, reason=reason
    )
    return count


__all__ = [
    "CENT",
    "MAX_AMOUNT",
    "EntryInput",
    "LineInput",
    "PostedEntry",
    "PostingResult",
    "RefusedEntry",
    "imbalances",
    "journal_entries_post",
    "journal_entries_purge",
    "journal_entries_reflag",
    "journal_entry_create",
    "journal_entry_delete",
    "journal_entry_update",
    "to_money",
]
