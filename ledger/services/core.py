"""The only writers of the books. Every service is keyword-only, runs in one transaction and
leaves an audit row (PC6). Views, admin, commands and tasks call these and show their errors."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from guardian.shortcuts import assign_perm, remove_perm

from ..exceptions import (
    AccountError,
    AmountError,
    BlockedAccountError,
    LedgerError,
    MembershipError,
    UnbalancedEntryError,
)
from ..guard import Inbound, Operation, books_closed_check
from ..locks import company_lock
from ..models import ZERO, Account, AuditEvent, Company, JournalEntry, JournalLine, LedgerEntity, Membership, Role
from ..roles import ALL_PERMISSIONS, ROLE_PERMISSIONS

MAX_AMOUNT = Decimal("1e18")
CENT = Decimal("0.01")


# ---------------------------------------------------------------- audit


def audit_record(
    *,
    company: Company | int,
    actor: AbstractBaseUser | None,
    action: str,
    subject: object | None = None,
    subject_type: str = "",
    subject_id: str | int = "",
    before: object = None,
    after: object = None,
    reason: str = "",
) -> AuditEvent:
    if subject is not None:
        subject_type = subject_type or type(subject).__name__
        subject_id = subject_id or getattr(subject, "pk", "")
    return AuditEvent.objects.create(
        company_id=company if isinstance(company, int) else company.pk,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        before=before,
        after=after,
        reason=reason,
    )


# ---------------------------------------------------------------- companies and roles


@transaction.atomic
def company_create(
    *,
    name: str,
    slug: str,
    time_zone: str = "UTC",
    base_currency: str = "USD",
    administrator: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
) -> Company:
    company = Company(name=name, slug=slug, time_zone=time_zone, base_currency=base_currency)
    _full_clean(company)
    company.save()
    audit_record(company=company, actor=actor, action="company.create", subject=company, after=_company_snapshot(company))
    if administrator is not None:
        membership_set_role(company=company, user=administrator, role=Role.ADMINISTRATOR, actor=actor)
    return company


@transaction.atomic
def company_update(*, company: Company, actor: AbstractBaseUser | None, name: str, time_zone: str, base_currency: str) -> Company:
    before = _company_snapshot(company)
    company.name, company.time_zone, company.base_currency = name, time_zone, base_currency
    _full_clean(company, exclude=["slug"])
    company.save(update_fields=["name", "time_zone", "base_currency"])
    company.__dict__.pop("tz", None)
    audit_record(
        company=company, actor=actor, action="company.update", subject=company, before=before, after=_company_snapshot(company)
    )
    return company


def _company_snapshot(company: Company) -> dict:
    return {"name": company.name, "time_zone": company.time_zone, "base_currency": company.base_currency}


@transaction.atomic
def membership_set_role(*, company: Company, user: AbstractBaseUser, role: str, actor: AbstractBaseUser | None) -> Membership:
    """Grant ``role`` to ``user`` in ``company``: the membership row and exactly the role's
    object permissions, no more. Changing the role changes the permissions."""
    membership_validate(company=company, user=user, role=role)
    membership = Membership.objects.select_for_update().filter(company=company, user=user).first()
    before = membership.role if membership else None
    if membership is None:
        membership = Membership.objects.create(company=company, user=user, role=role)
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
    wanted = ROLE_PERMISSIONS[role]
    for perm in ALL_PERMISSIONS:
        if perm in wanted:
            assign_perm(perm, user, company)
        else:
            remove_perm(perm, user, company)
    if before != role:
        audit_record(
            company=company,
            actor=actor,
            action="membership.set_role",
            subject=membership,
            before={"user": user.get_username(), "role": before},
            after={"user": user.get_username(), "role": role},
        )
    return membership


def membership_validate(*, company: Company, user: AbstractBaseUser, role: str) -> None:
    """The membership rules a form can check before saving; ``membership_set_role`` checks them again."""
    if role not in ROLE_PERMISSIONS:
        raise MembershipError(f"Unknown role “{role}”. Choose one of: {', '.join(Role.values)}.", field="role")
    current = Membership.objects.filter(company=company, user=user).first()
    if current is not None and current.role != role:
        _ensure_an_administrator_remains(company, leaving=current)


@transaction.atomic
def membership_remove(*, membership: Membership, actor: AbstractBaseUser | None) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _ensure_an_administrator_remains(membership.company, leaving=membership)
    for perm in ALL_PERMISSIONS:
        remove_perm(perm, membership.user, membership.company)
    audit_record(
        company=membership.company,
        actor=actor,
        action="membership.remove",
        subject=membership,
        before={"user": membership.user.get_username(), "role": membership.role},
    )
    membership.delete()


def _ensure_an_administrator_remains(company: Company, *, leaving: Membership) -> None:
    if leaving.role != Role.ADMINISTRATOR:
        return
    others = Membership.objects.filter(company=company, role=Role.ADMINISTRATOR).exclude(pk=leaving.pk)
    if not others.exists():
        raise MembershipError(f"{company} must keep at least one administrator.", field="role")


# ---------------------------------------------------------------- chart of accounts


@transaction.atomic
def account_save(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    account: Account | None = None,
    code: str,
    name: str,
    type: str,  # noqa: A002 - the model's field name
    blocked: bool = False,
    reconcilable: bool = False,
    reconcile_with: Account | None = None,
) -> Account:
    """Create (``account=None``) or change an account of ``company``."""
    is_new = account is None
    account = account or Account(company=company)
    if account.company_id != company.pk:
        raise AccountError(f"Account {account} belongs to another company.", field="code")
    before = None if is_new else _account_snapshot(account)
    account_validate(company=company, account=account, code=code, reconcile_with=reconcile_with)
    account.code, account.name, account.type = code.strip(), name.strip(), type
    account.blocked, account.reconcilable, account.reconcile_with = blocked, reconcilable, reconcile_with
    _full_clean(account)
    account.save()
    audit_record(
        company=company,
        actor=actor,
        action="account.create" if is_new else "account.update",
        subject=account,
        before=before,
        after=_account_snapshot(account),
    )
    return account


def account_validate(*, company: Company, account: Account | None, code: str, reconcile_with: Account | None) -> None:
    """The account rules a form can check before saving; ``account_save`` checks them again."""
    code = (code or "").strip()
    if not code:
        raise AccountError("An account needs a code.", field="code")
    clash = Account.objects.filter(company=company, code=code)
    if account is not None and account.pk:
        clash = clash.exclude(pk=account.pk)
    if clash.exists():
        raise AccountError(f"Account code {code} is already used in {company}.", field="code")
    if reconcile_with is not None:
        if reconcile_with.company_id != company.pk:
            raise AccountError(
                "An account can only be reconciled against an account of the same company.", field="reconcile_with"
            )
        if account is not None and account.pk and reconcile_with.pk == account.pk:
            raise AccountError("An account cannot be reconciled against itself.", field="reconcile_with")


def _account_snapshot(account: Account) -> dict:
    return {
        "code": account.code,
        "name": account.name,
        "type": account.type,
        "blocked": account.blocked,
        "reconcilable": account.reconcilable,
        "reconcile_with": account.reconcile_with_id,
    }


# ---------------------------------------------------------------- posting


@dataclass(frozen=True)
class LineInput:
    """One line to post. ``account`` is an Account or an account id; amounts are Decimal or
    decimal strings (never float); exactly one of debit and credit is non-zero."""

    account: Account | int
    debit: Decimal | str | int = ZERO
    credit: Decimal | str | int = ZERO
    description: str = ""
    currency: str | None = None
    reconciliation_ref: str = ""


def to_money(value: object, *, label: str = "Amount") -> Decimal:
    """Parse a money amount strictly: a Decimal, an int or a decimal string with at most two places."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, float):
        raise AmountError(f"{label} must be given as a decimal, not a float ({value!r}).")
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise AmountError(f"{label} “{value}” is not a number.") from None
    if not amount.is_finite():
        raise AmountError(f"{label} “{value}” is not a number.")
    # The size is read from the exponent, not computed: abs() of "1e999999999" overflows the
    # decimal context and would raise instead of refusing.
    if amount and amount.adjusted() >= MAX_AMOUNT.adjusted():
        raise AmountError(f"{label} {value} is too large.")
    try:
        cents = amount.quantize(CENT)
    except ArithmeticError:
        raise AmountError(f"{label} “{value}” is not a number.") from None
    if amount != cents:
        raise AmountError(f"{label} {value} has more than two decimal places.")
    return cents


def _prepare_lines(company: Company, lines: Sequence[LineInput], *, check_blocked: bool = True) -> list[JournalLine]:
    if not lines:
        raise AmountError("A journal entry needs at least one line.")
    wanted_ids = {line.account.pk if isinstance(line.account, Account) else line.account for line in lines}
    if None in wanted_ids:
        raise AccountError("Every line needs an account.")
    accounts = Account.objects.in_bulk([i for i in wanted_ids if isinstance(i, int)])
    prepared = []
    for number, line in enumerate(lines, start=1):
        account_id = line.account.pk if isinstance(line.account, Account) else line.account
        account = accounts.get(account_id) if isinstance(account_id, int) else None
        if account is None:
            raise AccountError(f"Line {number}: account {account_id!r} does not exist.")
        if account.company_id != company.pk:
            raise AccountError(f"Line {number}: account {account.code} belongs to another company.")
        if check_blocked and account.blocked:
            raise BlockedAccountError(f"Line {number}: account {account} is blocked and accepts no new postings (LR2).")
        debit = to_money(line.debit, label=f"Line {number} debit")
        credit = to_money(line.credit, label=f"Line {number} credit")
        if debit < 0 or credit < 0:
            raise AmountError(f"Line {number}: amounts cannot be negative; put the amount on the other side instead.")
        if debit and credit:
            raise AmountError(f"Line {number}: a line is either a debit or a credit, not both.")
        if not debit and not credit:
            raise AmountError(f"Line {number}: enter a debit or a credit amount.")
        currency = (line.currency or company.base_currency).strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise AmountError(f"Line {number}: “{line.currency}” is not a currency code.")
        prepared.append(
            JournalLine(
                company=company,
                line_no=number,
                account=account,
                description=(line.description or "")[:500],
                debit=debit,
                credit=credit,
                currency=currency,
                reconciliation_ref=(line.reconciliation_ref or "")[:100],
            )
        )
    return prepared


def imbalances(lines: Iterable[JournalLine]) -> dict[str, Decimal]:
    """Debits minus credits per currency, for the currencies that do not balance."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        totals[line.currency] += line.debit - line.credit
    return {currency: total for currency, total in sorted(totals.items()) if total != ZERO}


def _balance_or_flag(source: str, lines: list[JournalLine]) -> bool:
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
    """Post a journal entry. Manual and document entries must balance per currency; entries
    from outside (import, inbound sync) are kept as they came and flagged when they do not.

    The books-closed guard decides under the company lock whether ``entry_date`` may be posted
    (BC4); an inbound-sync entry is checked as inbound (BC6), with ``inbound`` carrying the
    provider and its policy. ``operation``/``what`` only name the change in a refusal."""
    if source not in JournalEntry.Source.values:
        raise LedgerError(f"Unknown entry source “{source}”.")
    _check_entity(company, entity)
    if source == JournalEntry.Source.INBOUND_SYNC and inbound is None:
        inbound = Inbound()
    # The company lock (FOR SHARE) and the closed date in one round trip: a date change waits for
    # this posting to commit, or this posting sees the moved date (issue 3 item 5).
    decision = books_closed_check(
        company=company,
        operation=operation,
        on_date=entry_date,
        entity=entity,
        inbound=inbound,
        what=what,
        field="entry_date",
        lock=True,
    )
    prepared = _prepare_lines(company, lines)
    balanced = _balance_or_flag(source, prepared)
    entry = JournalEntry.objects.create(
        company=company,
        entity=entity,
        entry_date=entry_date,
        memo=(memo or "")[:500],
        reference=(reference or "")[:100],
        source=source,
        is_balanced=balanced,
        closed_period_policy=decision.policy,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    for line in prepared:
        line.entry = entry
        line.entry_date = entry_date
        line.entity = entity
    JournalLine.objects.bulk_create(prepared)
    audit_record(
        company=company, actor=actor, action="journal_entry.create", subject=entry, after=_entry_snapshot(entry, prepared)
    )
    return entry


def _check_entity(company: Company, entity: LedgerEntity | None) -> None:
    if entity is not None and entity.company_id != company.pk:
        raise LedgerError(f"Entity {entity} belongs to another company.", field="entity")


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
    fixed by hand must now balance, because a person has touched it."""
    company = entry.company
    company_lock(company.pk)
    entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    what = f"JE-{entry.pk}"
    for day in (entry.entry_date, entry_date):  # neither the old nor the new date may be closed (BC4)
        books_closed_check(
            company=company, operation=Operation.ENTRY_EDIT, on_date=day, entity=entry.entity_id, what=what, field="entry_date"
        )
    old_lines = list(entry.lines.select_related("account"))
    before = _entry_snapshot(entry, old_lines)
    prepared = _prepare_lines(company, lines)
    _balance_or_flag(JournalEntry.Source.MANUAL, prepared)
    entry.entry_date, entry.memo, entry.reference, entry.is_balanced = (
        entry_date,
        (memo or "")[:500],
        (reference or "")[:100],
        True,
    )
    entry.save(update_fields=["entry_date", "memo", "reference", "is_balanced", "updated_at"])
    _delete_or_refuse(entry, entry.lines.all())
    for line in prepared:
        line.entry = entry
        line.entry_date = entry_date
        line.entity_id = entry.entity_id
    JournalLine.objects.bulk_create(prepared)
    audit_record(
        company=company,
        actor=actor,
        action="journal_entry.update",
        subject=entry,
        before=before,
        after=_entry_snapshot(entry, prepared),
    )
    return entry


@transaction.atomic
def journal_entry_delete(*, entry: JournalEntry, actor: AbstractBaseUser | None, reason: str = "") -> None:
    company = entry.company
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


def _entry_snapshot(entry: JournalEntry, lines: Iterable[JournalLine]) -> dict:
    return {
        "entry_date": entry.entry_date.isoformat(),
        "memo": entry.memo,
        "reference": entry.reference,
        "source": entry.source,
        "is_balanced": entry.is_balanced,
        "lines": [
            {"account": line.account.code, "debit": str(line.debit), "credit": str(line.credit), "currency": line.currency}
            for line in lines
        ],
    }


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


def _full_clean(instance, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise LedgerError(" ".join(messages), field=None if field == "__all__" else field) from None


__all__ = [
    "LineInput",
    "account_save",
    "account_validate",
    "audit_record",
    "company_create",
    "company_update",
    "imbalances",
    "journal_entries_reflag",
    "journal_entry_create",
    "journal_entry_delete",
    "journal_entry_update",
    "membership_remove",
    "membership_set_role",
    "membership_validate",
    "to_money",
]
