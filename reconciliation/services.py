"""The only writers of reconciliation state (LR1–LR7). Keyword-only, one transaction, an audit row.

Write-offs, automatic and manual, and their reversals are journal entries posted through the
posting service (``ledger.services.journal_entries_post``) with ``source=WRITE_OFF``: every rule
of a posting (the guard, accounts, balance, audit) applies to them, and nothing here writes the
journal's tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from ledger import roles
from ledger.exceptions import LedgerError
from ledger.locks import company_lock
from ledger.models import ZERO, Account, AuditEvent, Company, JournalEntry, JournalLine
from ledger.permissions import require
from ledger.services import EntryInput, LineInput, audit_record, journal_entries_post, journal_entry_create, to_money

from . import matcher
from .exceptions import OutsidePermittedDifferenceError, ReconciliationConflictError, ReconciliationError
from .models import Basis, Proposal, ProposalGroup, ReconciledLine, Reconciliation, ReconciliationSettings
from .selectors import account_set, open_lines, settings_for

Progress = Callable[[str, int], None]

CONFLICT_MESSAGE = (
    "Someone else reconciled some of these lines a moment ago. Nothing was saved: reload the open lines and try again."
)


# ---------------------------------------------------------------- settings (LR4)


@transaction.atomic
def reconciliation_settings_save(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    permitted_difference: Decimal | str,
    discrepancy_account: Account | None,
) -> ReconciliationSettings:
    require(actor, roles.MANAGE, company, what="change the reconciliation settings")
    permitted = to_money(permitted_difference, label="Permitted difference")
    if permitted < 0:
        raise ReconciliationError("The permitted difference cannot be negative.", field="permitted_difference")
    if discrepancy_account is not None:
        if discrepancy_account.company_id != company.pk:
            raise ReconciliationError(
                "The balancing-discrepancies account must belong to this company.", field="discrepancy_account"
            )
        if discrepancy_account.blocked:
            raise ReconciliationError(
                f"Account {discrepancy_account} is blocked: write-offs could not be posted to it (LR2).",
                field="discrepancy_account",
            )
    current = ReconciliationSettings.objects.select_for_update().filter(company=company).first()
    before = _settings_snapshot(current) if current else None
    current = current or ReconciliationSettings(company=company)
    current.permitted_difference, current.discrepancy_account = permitted, discrepancy_account
    current.save()
    audit_record(
        company=company,
        actor=actor,
        action="reconciliation_settings.save",
        subject=current,
        before=before,
        after=_settings_snapshot(current),
    )
    return current


def _settings_snapshot(value: ReconciliationSettings) -> dict:
    return {"permitted_difference": str(value.permitted_difference), "discrepancy_account": value.discrepancy_account_id}


# ---------------------------------------------------------------- plans (LR5)


@dataclass(frozen=True)
class PlannedGroup:
    """Lines of one future code, in the user's order; ``difference`` is what is left to write off."""

    line_ids: tuple[int, ...]
    difference: Decimal


def plan_top_down(lines: Sequence[tuple[int, Decimal]]) -> list[PlannedGroup]:
    """LR5: walk the lines top-down with a running balance; a code closes whenever the balance
    reaches 0. What is left at the bottom is the last code, with its difference."""
    groups: list[PlannedGroup] = []
    current: list[int] = []
    balance = ZERO
    for line_id, amount in lines:
        current.append(line_id)
        balance += amount
        if balance == 0:
            groups.append(PlannedGroup(tuple(current), ZERO))
            current, balance = [], ZERO
    if current:
        groups.append(PlannedGroup(tuple(current), balance))
    return groups


def running_balances(lines: Sequence[tuple[int, Decimal]]) -> list[Decimal]:
    """The Balance column of the manual view: the running balance, restarting after each closed code."""
    out, balance = [], ZERO
    for _, amount in lines:
        balance += amount
        out.append(balance)
        if balance == 0:
            balance = ZERO
    return out


# ---------------------------------------------------------------- manual (LR5, LR7)


@transaction.atomic
def reconciliation_create_manual(
    *,
    company: Company,
    account: Account,
    line_ids: Sequence[int],
    actor: AbstractBaseUser | None,
    write_off_discrepancy: bool = False,
) -> list[Reconciliation]:
    """Reconcile the lines in the user's order, top-down (LR5). A remaining difference within the
    permitted difference is written off on the last line; beyond it only with ``write_off_discrepancy``
    (the user confirmed the warning)."""
    require(actor, roles.RECONCILE, company, what="reconcile accounts")
    matcher.require_postgresql()  # codes keep their lines in a PostgreSQL array
    company_lock(company.pk)
    lines = _lines_for(company=company, account=account, line_ids=line_ids)
    ordered = [(line.pk, line.amount) for line in lines]
    groups = plan_top_down(ordered)
    tail = groups[-1]
    rules = settings_for(company)
    if tail.difference and abs(tail.difference) > rules.permitted_difference and not write_off_discrepancy:
        raise OutsidePermittedDifferenceError(
            f"The selected lines leave a difference of {tail.difference}, outside the permitted difference of "
            f"{rules.permitted_difference}. Sort the lines so they cancel out, or use “Write off discrepancy”.",
            difference=tail.difference,
            permitted=rules.permitted_difference,
        )
    today = company.today()
    ids = _reserve_ids(len(groups))
    reconciliations = [
        Reconciliation(
            id=rid,
            company=company,
            account=account,
            reconciled_on=today,
            reconciled_by=_user(actor),
            basis=Basis.MANUAL,
            line_ids=list(group.line_ids),
        )
        for rid, group in zip(ids, groups, strict=True)
    ]
    links = [ReconciledLine(line_id=line_id, reconciliation_id=rec.pk) for rec in reconciliations for line_id in rec.line_ids]
    _claim(reconciliations, links)
    if tail.difference:
        by_id = {line.pk: line for line in lines}
        last_line = by_id[tail.line_ids[-1]]
        _write_off(
            company=company,
            actor=actor,
            items=[(reconciliations[-1], last_line.account_id, tail.difference)],
            discrepancy_account=_discrepancy_account(rules),
            memo=f"Write-off of reconciliation {reconciliations[-1].code}",
        )
    for reconciliation, group in zip(reconciliations, groups, strict=True):
        audit_record(
            company=company,
            actor=actor,
            action="reconciliation.create",
            subject=reconciliation,
            after={
                "code": reconciliation.code,
                "account": account.code,
                "lines": list(group.line_ids),
                "write_off": str(reconciliation.write_off_amount),
                "beyond_permitted": bool(group.difference and abs(group.difference) > rules.permitted_difference),
            },
        )
    return reconciliations


def _lines_for(*, company: Company, account: Account, line_ids: Sequence[int]) -> list[JournalLine]:
    """The selected lines, in the given order, after checking each may be reconciled here."""
    if account.company_id != company.pk:
        raise ReconciliationError("That account belongs to another company.")
    if not account.reconcilable:
        raise ReconciliationError(f"Reconciliation is switched off for account {account} (LR1).")
    ordered_ids = list(dict.fromkeys(int(i) for i in line_ids))
    if len(ordered_ids) < 2:
        raise ReconciliationError("Select at least two lines to reconcile.", field="lines")
    found = JournalLine.objects.filter(pk__in=ordered_ids).in_bulk()
    allowed = set(account_set(account))
    for line_id in ordered_ids:
        line = found.get(line_id)
        if line is None or line.company_id != company.pk:
            raise ReconciliationError(f"Line {line_id} is not a journal line of {company}.", field="lines")
        if line.account_id not in allowed:
            raise ReconciliationError(
                f"Line {line_id} is on account {line.account_id}, which is not reconciled here (LR1).", field="lines"
            )
    currencies = {found[i].currency for i in ordered_ids}
    if len(currencies) > 1:
        raise ReconciliationError("Lines of different currencies cannot cancel each other out.", field="lines")
    taken = list(ReconciledLine.objects.filter(line_id__in=ordered_ids).values_list("line_id", flat=True)[:5])
    if taken:
        raise ReconciliationConflictError(
            f"Line{'s' if len(taken) > 1 else ''} {', '.join(map(str, taken))} {'are' if len(taken) > 1 else 'is'} "
            "already reconciled. Nothing was saved: reload the open lines.",
            field="lines",
        )
    return [found[i] for i in ordered_ids]


def _claim(reconciliations: list[Reconciliation], links: list[ReconciledLine]) -> None:
    """Insert the codes and claim their lines. The line id is the primary key of ReconciledLine, so a
    concurrent reconciliation of the same line waits on the index and then fails here: one wins."""
    try:
        with transaction.atomic():
            Reconciliation.objects.bulk_create(reconciliations)
            ReconciledLine.objects.bulk_create(links)
    except IntegrityError:
        raise ReconciliationConflictError(CONFLICT_MESSAGE, field="lines") from None


def _write_off(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    items: Sequence[tuple[Reconciliation, int, Decimal]],
    discrepancy_account: Account,
    memo: str,
) -> JournalEntry:
    """Post one write-off entry: per reconciliation a line on the account of its last line that
    cancels its difference (LR4), and the total against the balancing-discrepancies account. The
    new line joins the reconciliation as its last line, so every code balances to zero."""
    lines = [
        LineInput(account_id, credit=diff, description=f"Write-off {rec.code}")
        if diff > 0
        else LineInput(account_id, debit=-diff, description=f"Write-off {rec.code}")
        for rec, account_id, diff in items
    ]
    debit_total = sum((diff for _, _, diff in items if diff > 0), ZERO)
    credit_total = sum((-diff for _, _, diff in items if diff < 0), ZERO)
    if debit_total:
        lines.append(LineInput(discrepancy_account, debit=debit_total, description="Balancing discrepancies"))
    if credit_total:
        lines.append(LineInput(discrepancy_account, credit=credit_total, description="Balancing discrepancies"))
    result = journal_entries_post(
        company=company,
        entries=[EntryInput(entry_date=company.today(), lines=lines, memo=memo, what="write-off")],
        actor=actor,
        source=JournalEntry.Source.WRITE_OFF,
    )
    entry = result.journal_entry(0)
    line_ids = dict(enumerate(result.posted[0].line_ids, start=1))
    links, updated = [], []
    for number, (rec, _, diff) in enumerate(items, start=1):
        rec.write_off_amount, rec.write_off_entry, rec.write_off_line_id = -diff, entry, line_ids[number]
        rec.discrepancy_account = discrepancy_account
        rec.line_ids = [*rec.line_ids, line_ids[number]]
        updated.append(rec)
        links.append(ReconciledLine(line_id=line_ids[number], reconciliation_id=rec.pk))
    Reconciliation.objects.bulk_update(
        updated, ["write_off_amount", "write_off_entry", "write_off_line", "discrepancy_account", "line_ids"], batch_size=2000
    )
    ReconciledLine.objects.bulk_create(links, batch_size=2000)
    return entry


def _discrepancy_account(rules: ReconciliationSettings) -> Account:
    if rules.discrepancy_account_id is None:
        raise ReconciliationError(
            "Set the balancing-discrepancies account in the reconciliation settings before writing off a difference (LR4)."
        )
    return rules.discrepancy_account


# ---------------------------------------------------------------- delete (LR6)


@transaction.atomic
def reconciliation_delete(*, reconciliation: Reconciliation, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Reopen the lines of a code. Its write-off is reversed by a new entry on an open date (today);
    the write-off line and its reversal are then reconciled with each other, so neither clutters the
    open lines."""
    company = Company.objects.get(pk=reconciliation.company_id)
    require(actor, roles.RECONCILE, company, what="delete reconciliations")
    company_lock(company.pk)
    current = Reconciliation.objects.select_for_update().filter(pk=reconciliation.pk).first()
    if current is None:
        raise ReconciliationError("This reconciliation was already deleted.")
    line_ids = list(current.line_ids)
    before = {
        "code": current.code,
        "lines": line_ids,
        "write_off": str(current.write_off_amount),
        "write_off_entry": current.write_off_entry_id,
    }
    reversal = None
    write_off_line = JournalLine.objects.filter(pk=current.write_off_line_id).first() if current.write_off_line_id else None
    ReconciledLine.objects.filter(line_id__in=line_ids, reconciliation_id=current.pk).delete()
    Reconciliation.objects.filter(pk=current.pk).delete()
    if write_off_line is not None:
        amount = write_off_line.amount  # the write-off line's own signed amount; the reversal is its opposite
        counter = current.discrepancy_account_id
        reversal = journal_entry_create(
            company=company,
            entry_date=company.today(),
            actor=actor,
            memo=f"Reversal of the write-off of reconciliation {current.code}",
            source=JournalEntry.Source.WRITE_OFF,
            lines=[
                LineInput(
                    write_off_line.account_id,
                    debit=-amount if amount < 0 else ZERO,
                    credit=amount if amount > 0 else ZERO,
                    description=f"Reversal of write-off {current.code}",
                ),
                LineInput(
                    counter,
                    debit=amount if amount > 0 else ZERO,
                    credit=-amount if amount < 0 else ZERO,
                    description="Balancing discrepancies",
                ),
            ],
        )
        reversal_line = reversal.lines.get(line_no=1)
        (rid,) = _reserve_ids(1)
        pair = Reconciliation(
            id=rid,
            company=company,
            account_id=current.account_id,
            reconciled_on=company.today(),
            reconciled_by=_user(actor),
            basis=Basis.REVERSAL,
            basis_key=current.code,
            line_ids=[write_off_line.pk, reversal_line.pk],
        )
        _claim([pair], [ReconciledLine(line_id=i, reconciliation_id=rid) for i in pair.line_ids])
    audit_record(
        company=company,
        actor=actor,
        action="reconciliation.delete",
        subject=current,
        subject_id=reconciliation.pk,
        before=before,
        after={"reversal_entry": reversal.pk if reversal else None},
        reason=reason,
    )


# ---------------------------------------------------------------- automatic (LR3)


@transaction.atomic
def proposal_create(
    *,
    company: Company,
    account: Account,
    actor: AbstractBaseUser | None,
    line_ids: Sequence[int] | None = None,
    selection: dict | None = None,
    task_id: str = "",
) -> Proposal:
    """A proposal row waiting to be built (by ``proposal_build``, here or in a Celery task)."""
    require(actor, roles.RECONCILE, company, what="reconcile accounts")
    if account.company_id != company.pk:
        raise ReconciliationError("That account belongs to another company.")
    if not account.reconcilable:
        raise ReconciliationError(f"Reconciliation is switched off for account {account} (LR1).")
    # A user's older proposals for this account are superseded by the new one.
    Proposal.objects.filter(company=company, account=account, created_by=_user(actor)).exclude(
        status__in=[Proposal.Status.BUILDING, Proposal.Status.APPLYING]
    ).delete()
    proposal = Proposal.objects.create(
        company=company,
        account=account,
        created_by=_user(actor),
        selection={**(selection or {}), **({"line_ids": list(map(int, line_ids))} if line_ids is not None else {})},
        task_id=task_id,
    )
    audit_record(company=company, actor=actor, action="proposal.create", subject=proposal, after=proposal.selection)
    return proposal


def proposal_build(*, proposal: Proposal, progress: Progress | None = None) -> Proposal:
    """Run the matcher (LR3 passes 1 and 2, then the bounded many-to-one search) and store its groups.
    One transaction: a failed run leaves no half proposal, only its error."""
    try:
        with transaction.atomic():
            current = Proposal.objects.select_for_update().get(pk=proposal.pk)
            if current.status != Proposal.Status.BUILDING:
                return current  # built already: a retried task is a no-op
            account = Account.objects.get(pk=current.account_id)
            rules = settings_for(current.company)
            started = time.monotonic()
            stats = matcher.propose(
                proposal_id=current.pk,
                company_id=current.company_id,
                account_ids=account_set(account),
                permitted=rules.permitted_difference,
                line_ids=current.selection.get("line_ids"),
                progress=progress,
            )
            stats["seconds"] = round(time.monotonic() - started, 3)
            current.status, current.stats, current.candidate_count = Proposal.Status.READY, stats, stats["candidates"]
            current.save(update_fields=["status", "stats", "candidate_count"])
            return current
    except LedgerError as exc:
        Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.FAILED, error=exc.message)
        raise


@transaction.atomic
def proposal_set_task(*, proposal: Proposal, actor: AbstractBaseUser | None, task_id: str) -> Proposal:
    """Record the Celery task that works on the proposal, so its page can show the task's progress."""
    require(actor, roles.RECONCILE, proposal.company_id, what="reconcile accounts")
    current = Proposal.objects.select_for_update().get(pk=proposal.pk)
    current.task_id, current.error = task_id, ""
    current.save(update_fields=["task_id", "error"])
    audit_record(company=current.company_id, actor=actor, action="proposal.queue", subject=current, after={"task": task_id})
    return current


@transaction.atomic
def proposal_set_included(
    *, proposal: Proposal, actor: AbstractBaseUser | None, included: bool, numbers: Sequence[int] | None = None
) -> int:
    """Tick or untick whole groups (LR3: unticking a line unticks its group); all groups when
    ``numbers`` is None (Select all / Deselect all)."""
    require(actor, roles.RECONCILE, proposal.company_id, what="reconcile accounts")
    current = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if current.status != Proposal.Status.READY:
        raise ReconciliationError("This proposal can no longer be changed.")
    groups = ProposalGroup.objects.filter(proposal=current)
    if numbers is not None:
        groups = groups.filter(number__in=list(numbers))
    return groups.exclude(included=included).update(included=included)


def proposal_finish(*, proposal: Proposal, actor: AbstractBaseUser | None, progress: Progress | None = None) -> Proposal:
    """Finish (LR3): stamp code, date and user on every ticked group, in bulk; post one write-off entry
    for the groups with a difference. All or nothing; a line reconciled meanwhile by someone else
    fails the whole finish with a clear message (kept on the proposal for the page to show)."""
    require(actor, roles.RECONCILE, proposal.company_id, what="reconcile accounts")
    try:
        return _proposal_finish(proposal=proposal, actor=actor, progress=progress)
    except LedgerError as exc:
        Proposal.objects.filter(pk=proposal.pk).update(error=exc.message)
        raise


def _proposal_finish(*, proposal: Proposal, actor: AbstractBaseUser | None, progress: Progress | None) -> Proposal:
    with transaction.atomic():
        company = Company.objects.get(pk=proposal.company_id)
        company_lock(company.pk)
        current = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if current.status == Proposal.Status.FINISHED:
            return current
        if current.status != Proposal.Status.READY:
            raise ReconciliationError("This proposal is not ready to finish.")
        account = Account.objects.get(pk=current.account_id)
        rules = settings_for(company)
        started = time.monotonic()
        if progress:
            progress("writing off differences", 10)
        write_off = None
        groups = list(
            ProposalGroup.objects.filter(proposal=current, included=True)
            .exclude(difference=ZERO)
            .order_by("number")
            .values_list("number", "last_account_id", "difference")
        )
        if groups:
            write_off = _write_off_proposal(
                company=company,
                actor=actor,
                groups=groups,
                discrepancy_account=_discrepancy_account(rules),
                memo=f"Write-offs of automatic reconciliation proposal {current.pk}",
            )
        if progress:
            progress("stamping codes", 40)
        try:
            with transaction.atomic():
                counts = matcher.apply(
                    proposal_id=current.pk,
                    company_id=company.pk,
                    account_id=account.pk,
                    account_ids=account_set(account),
                    reconciled_on=company.today(),
                    user_id=_user(actor).pk if _user(actor) else None,
                    write_off=write_off,
                    verify_lines=_entries_changed_since(company, current.created_at),
                )
        except IntegrityError:
            raise ReconciliationConflictError(
                "Someone else reconciled some lines of this proposal meanwhile. Nothing was saved: make a new proposal."
            ) from None
        current.status = Proposal.Status.FINISHED
        current.stats = {**current.stats, "finished": counts, "finish_seconds": round(time.monotonic() - started, 3)}
        current.save(update_fields=["status", "stats"])
        audit_record(
            company=company,
            actor=actor,
            action="proposal.finish",
            subject=current,
            after={**counts, "write_off_entry": write_off.entry_id if write_off else None},
        )
        if progress:
            progress("finished", 100)
        return current


def _write_off_proposal(*, company, actor, groups, discrepancy_account, memo) -> matcher.WriteOff:
    """Post the write-off entry of a proposal through the posting service, dated today: per group
    with a difference a line on the account of its last line that cancels the difference (LR4), then
    the totals against the balancing-discrepancies account. The posting service checks what it
    checks for every entry (the guard under the company lock, accounts, balance) and audits it."""
    lines = [
        LineInput(
            account_id,
            debit=-difference if difference < 0 else ZERO,
            credit=difference if difference > 0 else ZERO,
            description=f"Write-off, proposal group {number}",
        )
        for number, account_id, difference in groups
    ]
    written_by_credit = sum((d for _, _, d in groups if d > 0), ZERO)
    written_by_debit = sum((-d for _, _, d in groups if d < 0), ZERO)
    if written_by_credit:
        lines.append(LineInput(discrepancy_account, debit=written_by_credit, description="Balancing discrepancies"))
    if written_by_debit:
        lines.append(LineInput(discrepancy_account, credit=written_by_debit, description="Balancing discrepancies"))
    posted = journal_entries_post(
        company=company,
        entries=[EntryInput(entry_date=company.today(), lines=lines, memo=memo, what="write-off")],
        actor=actor,
        source=JournalEntry.Source.WRITE_OFF,
    ).posted[0]
    return matcher.WriteOff(
        entry_id=posted.entry_id,
        discrepancy_account_id=discrepancy_account.pk,
        lines=[
            (number, line_id, -difference)
            for (number, _, difference), line_id in zip(groups, posted.line_ids[: len(groups)], strict=True)
        ],
    )


# ---------------------------------------------------------------- helpers


def _entries_changed_since(company: Company, moment) -> bool:
    """Whether any journal entry of the company was edited or deleted after ``moment``: then a proposal's
    lines are checked one by one before finishing. Every such change leaves an audit row (PC6)."""
    return AuditEvent.objects.filter(
        company=company, action__in=["journal_entry.update", "journal_entry.delete"], at__gte=moment
    ).exists()


def _user(actor: AbstractBaseUser | None):
    return actor if actor is not None and actor.is_authenticated else None


def _reserve_ids(count: int) -> list[int]:
    """Ids for new reconciliations, taken from the table's own sequence so bulk SQL and the ORM agree."""
    first = matcher.reserve_ids(count)
    return list(range(first, first + count))


__all__ = [
    "PlannedGroup",
    "open_lines",
    "plan_top_down",
    "proposal_build",
    "proposal_create",
    "proposal_finish",
    "proposal_set_included",
    "proposal_set_task",
    "reconciliation_create_manual",
    "reconciliation_delete",
    "reconciliation_settings_save",
    "running_balances",
]
