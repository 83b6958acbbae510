"""Writers of the AR/AP documents: invoices, bills, credit memos, vendor credits, payments, customer
credits, refunds and their applications. Each service runs in one transaction under the company
lock, asks the books-closed guard first (BC4, BC5, BC6), posts its journal entry through
``journal_entry_create`` and leaves an audit row (PC6).

What each posts (the month-end checks MR1–MR6 read these rows and entries):
- invoice: Dr receivable total / Cr each line's account / Cr tax.       bill: the mirror on payable.
- credit memo: Dr lines, Dr tax / Cr customer credits; applying it: Dr customer credits / Cr receivable.
- vendor credit: Dr vendor credits / Cr lines, Cr tax; applying it: Dr payable / Cr vendor credits.
- incoming payment recorded: Dr cash / Cr customer deposits (un-invoiced until applied);
  applying it: Dr customer deposits / Cr receivable. Outgoing: the mirror via vendor prepayments.
- customer credit: Dr credits expense (issued, manual, refund as credit) or customer deposits
  (overpayment) / Cr customer credits; refund: Dr customer credits / Cr cash.
Voids post the reversing entry on an open date (BC5, MR6); applications are never edited, a
reversing row with a negative amount undoes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import roles
from ..exceptions import ApplicationError, DocumentError, LedgerError, PaymentError
from ..guard import Inbound, Operation, books_closed_check, date_range_check
from ..locks import company_lock
from ..models import (
    ZERO,
    Account,
    Application,
    Company,
    Customer,
    CustomerCredit,
    Document,
    JournalEntry,
    LedgerEntity,
    Payment,
    PostingAccounts,
    Refund,
    TransactionType,
    Vendor,
)
from ..permissions import require
from .core import audit_record
from .posting import LineInput, _check_entity, journal_entry_create, journal_entry_delete, to_money

# ---------------------------------------------------------------- posting accounts

STANDARD_ACCOUNTS = {
    "cash": ("10100", "Bank", Account.Type.ASSET),
    "receivable": ("12000", "Accounts receivable", Account.Type.ASSET),
    "vendor_prepayments": ("13000", "Vendor prepayments", Account.Type.ASSET),
    "vendor_credits": ("13100", "Vendor credits receivable", Account.Type.ASSET),
    "payable": ("20100", "Accounts payable", Account.Type.LIABILITY),
    "tax": ("22000", "Sales tax payable", Account.Type.LIABILITY),
    "customer_deposits": ("23000", "Customer deposits (un-invoiced payments)", Account.Type.LIABILITY),
    "customer_credits": ("23100", "Customer credits", Account.Type.LIABILITY),
    "credits_expense": ("69000", "Customer credits and refunds given", Account.Type.EXPENSE),
}


def posting_accounts_get(*, company: Company) -> PostingAccounts:
    """The accounts ``company``'s documents post to, created with standard codes on first use
    (an existing account with the standard code is reused)."""
    existing = PostingAccounts.objects.filter(company=company).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        accounts = {}
        for role, (code, name, type_) in STANDARD_ACCOUNTS.items():
            accounts[role], _ = Account.objects.get_or_create(company=company, code=code, defaults={"name": name, "type": type_})
        posting, created = PostingAccounts.objects.get_or_create(company=company, defaults=accounts)
        if created:
            audit_record(
                company=company,
                actor=None,
                action="posting_accounts.create",
                subject=posting,
                after={role: account.code for role, account in accounts.items()},
            )
        return posting


@transaction.atomic
def posting_accounts_set(*, company: Company, actor: AbstractBaseUser | None, **accounts: Account) -> PostingAccounts:
    """Choose the accounts ``company``'s documents post to (every role of STANDARD_ACCOUNTS),
    instead of the standard ones created on first use."""
    require(actor, roles.MANAGE, company, what="choose the accounts documents post to")
    missing = set(STANDARD_ACCOUNTS) - set(accounts)
    if missing:
        raise LedgerError(f"Choose an account for: {', '.join(sorted(missing))}.")
    for role, account in accounts.items():
        if role not in STANDARD_ACCOUNTS:
            raise LedgerError(f"“{role}” is not a posting role.")
        if account.company_id != company.pk:
            raise LedgerError(f"Account {account} belongs to another company.", field=role)
    existing = PostingAccounts.objects.select_for_update().filter(company=company).first()
    before = {role: getattr(existing, role).code for role in STANDARD_ACCOUNTS} if existing else None
    posting, _ = PostingAccounts.objects.update_or_create(company=company, defaults=accounts)
    audit_record(
        company=company,
        actor=actor,
        action="posting_accounts.set",
        subject=posting,
        before=before,
        after={role: account.code for role, account in accounts.items()},
    )
    return posting


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class DocumentLineInput:
    """One line of a document: net ``amount`` to ``account`` (revenue on an invoice, expense on
    a bill) and the ``tax`` charged on it. Decimal or decimal strings, never float."""

    account: Account | int
    amount: Decimal | str | int
    tax: Decimal | str | int = ZERO
    description: str = ""


def _kind_label(kind: str) -> str:
    return Document.Kind(kind).label.lower()


def _prepare_document_lines(
    company: Company, kind: str, lines: Sequence[DocumentLineInput]
) -> tuple[list[dict], Decimal, Decimal]:
    if not lines:
        raise DocumentError(f"A {_kind_label(kind)} needs at least one line.", field="lines")
    ids = {line.account.pk if isinstance(line.account, Account) else line.account for line in lines}
    accounts = Account.objects.in_bulk([i for i in ids if isinstance(i, int)])
    prepared, subtotal, tax = [], ZERO, ZERO
    for number, line in enumerate(lines, start=1):
        account_id = line.account.pk if isinstance(line.account, Account) else line.account
        account = accounts.get(account_id) if isinstance(account_id, int) else None
        if account is None or account.company_id != company.pk:
            raise DocumentError(f"Line {number}: choose an account of {company}.", field="lines")
        amount = to_money(line.amount, label=f"Line {number} amount")
        line_tax = to_money(line.tax, label=f"Line {number} tax")
        if amount <= 0 or line_tax < 0:
            raise DocumentError(f"Line {number}: the amount must be positive and the tax not negative.", field="lines")
        prepared.append(
            {
                "account": account.pk,
                "account_code": account.code,
                "description": (line.description or "")[:500],
                "amount": str(amount),
                "tax": str(line_tax),
            }
        )
        subtotal += amount
        tax += line_tax
    to_money(subtotal + tax, label=f"The {_kind_label(kind)} total")  # each line fits; their sum must fit the books too
    return prepared, subtotal, tax


def _document_entry_lines(document: Document, posting: PostingAccounts) -> list[LineInput]:
    """The journal lines of a document, debit-side first."""
    kind, total = document.kind, document.total
    revenue_side = [(line["account"], Decimal(line["amount"]), line["description"]) for line in document.lines]
    tax = document.tax
    cur = document.currency
    if kind == Document.Kind.INVOICE:
        out = [LineInput(posting.receivable, debit=total, currency=cur, description=f"Invoice {document.number}")]
        out += [LineInput(acc, credit=amt, currency=cur, description=desc) for acc, amt, desc in revenue_side]
        if tax:
            out.append(LineInput(posting.tax, credit=tax, currency=cur, description="Tax charged"))
    elif kind == Document.Kind.BILL:
        out = [LineInput(acc, debit=amt, currency=cur, description=desc) for acc, amt, desc in revenue_side]
        if tax:
            out.append(LineInput(posting.tax, debit=tax, currency=cur, description="Tax on purchases"))
        out.append(LineInput(posting.payable, credit=total, currency=cur, description=f"Bill {document.number}"))
    elif kind == Document.Kind.CREDIT_MEMO:
        out = [LineInput(acc, debit=amt, currency=cur, description=desc) for acc, amt, desc in revenue_side]
        if tax:
            out.append(LineInput(posting.tax, debit=tax, currency=cur, description="Tax credited"))
        out.append(LineInput(posting.customer_credits, credit=total, currency=cur, description=f"Credit memo {document.number}"))
    else:
        out = [LineInput(posting.vendor_credits, debit=total, currency=cur, description=f"Vendor credit {document.number}")]
        out += [LineInput(acc, credit=amt, currency=cur, description=desc) for acc, amt, desc in revenue_side]
        if tax:
            out.append(LineInput(posting.tax, credit=tax, currency=cur, description="Tax credited"))
    return out


def _reversed(lines: Sequence[LineInput]) -> list[LineInput]:
    return [
        LineInput(line.account, debit=line.credit, credit=line.debit, currency=line.currency, description=line.description)
        for line in lines
    ]


def _snapshot_document(document: Document) -> dict:
    return {
        "kind": document.kind,
        "number": document.number,
        "party": str(document.party),
        "doc_date": document.doc_date.isoformat(),
        "subtotal": str(document.subtotal),
        "tax": str(document.tax),
        "total": str(document.total),
        "status": document.status,
        "lines": document.lines,
        "entity": document.entity_id,
    }


def _check_party(company: Company, kind: str, party) -> tuple[Customer | None, Vendor | None]:
    if kind not in Document.Kind.values:
        raise DocumentError(f"Unknown document kind “{kind}”.")
    wants_customer = kind in Document.CUSTOMER_KINDS
    expected = Customer if wants_customer else Vendor
    if not isinstance(party, expected) or party.company_id != company.pk:
        raise DocumentError(
            f"Choose a {expected.__name__.lower()} of {company}.", field="customer" if wants_customer else "vendor"
        )
    return (party, None) if wants_customer else (None, party)


def _doc_source(inbound: Inbound | None) -> str:
    return JournalEntry.Source.INBOUND_SYNC if inbound is not None else JournalEntry.Source.DOCUMENT


@transaction.atomic
def document_create(
    *,
    company: Company,
    kind: str,
    actor: AbstractBaseUser | None,
    number: str,
    party: Customer | Vendor,
    doc_date: date,
    lines: Sequence[DocumentLineInput],
    due_date: date | None = None,
    currency: str | None = None,
    memo: str = "",
    entity: LedgerEntity | None = None,
    inbound: Inbound | None = None,
    external_id: str = "",
) -> Document:
    """Create an invoice, bill, credit memo or vendor credit and post its entry. Refused when
    ``doc_date`` is in the closed period (BC4); an inbound one (``inbound`` set, from an
    accounting system) follows BC6 and the provider policy it carries."""
    require(actor, roles.POST, company, what="create or change documents and payments")
    customer, vendor = _check_party(company, kind, party)
    _check_entity(company, entity)
    number = (number or "").strip()
    if not number:
        raise DocumentError(f"A {_kind_label(kind)} needs a number.", field="number")
    company_lock(company.pk)
    if inbound is not None and not inbound.kind:
        inbound = Inbound(provider=inbound.provider, kind=kind, policy=inbound.policy)
    date_range_check(company=company, on_date=doc_date, field="doc_date", what=f"{_kind_label(kind)} {number}")
    decision = books_closed_check(
        company=company,
        operation=Operation.DOCUMENT_CREATE,
        on_date=doc_date,
        entity=entity,
        inbound=inbound,
        what=f"{_kind_label(kind)} {number}",
    )
    if Document.objects.filter(company=company, kind=kind, number=number).exists():
        raise DocumentError(f"{Document.Kind(kind).label} number {number} is already used.", field="number")
    prepared, subtotal, tax = _prepare_document_lines(company, kind, lines)
    document = Document(
        company=company,
        entity=entity,
        kind=kind,
        number=number[:60],
        customer=customer,
        vendor=vendor,
        doc_date=doc_date,
        due_date=due_date,
        currency=(currency or company.base_currency).upper(),
        lines=prepared,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        memo=(memo or "")[:500],
        origin=inbound.provider[:60] if inbound is not None else "",
        external_id=(external_id or "")[:100],
        closed_period_policy=decision.policy,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    document.journal_entry = journal_entry_create(
        company=company,
        entry_date=doc_date,
        lines=_document_entry_lines(document, posting_accounts_get(company=company)),
        actor=actor,
        memo=str(document),
        reference=document.number,
        source=_doc_source(inbound),
        entity=entity,
        inbound=inbound,
        what=str(document),
    )
    document.save()
    audit_record(company=company, actor=actor, action=f"{kind}.create", subject=document, after=_snapshot_document(document))
    return document


def _locked_document(document: Document) -> Document:
    company_lock(document.company_id)
    return Document.objects.select_for_update().select_related("company").get(pk=document.pk)


def document_applied(document: Document) -> Decimal:
    """What has been applied to (an invoice or bill) or from (a credit) ``document``."""
    related = document.applications_made if document.kind in Document.CREDIT_KINDS else document.applications_received
    return related.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]


def document_open_amount(document: Document) -> Decimal:
    if document.status == Document.Status.VOID:
        return ZERO
    return document.total - document_applied(document)


@transaction.atomic
def document_update(
    *,
    document: Document,
    actor: AbstractBaseUser | None,
    number: str,
    party: Customer | Vendor,
    doc_date: date,
    lines: Sequence[DocumentLineInput],
    due_date: date | None = None,
    memo: str = "",
) -> Document:
    """Edit a document: neither its old nor its new date may be in the closed period (BC4).
    Its entry is replaced. A void document, or one with applications, cannot be edited."""
    require(actor, roles.POST, document.company_id, what="create or change documents and payments")
    company = document.company
    document = _locked_document(document)
    date_range_check(company=company, on_date=doc_date, field="doc_date", what=str(document))
    for day in (document.doc_date, doc_date):
        books_closed_check(
            company=company, operation=Operation.DOCUMENT_EDIT, on_date=day, entity=document.entity_id, what=str(document)
        )
    if document.status == Document.Status.VOID:
        raise DocumentError(f"{document} is void and cannot be edited.")
    if document_applied(document):
        raise DocumentError(f"{document} has applications; remove them before editing it.")
    customer, vendor = _check_party(company, document.kind, party)
    number = (number or "").strip()
    if not number:
        raise DocumentError("A document needs a number.", field="number")
    if Document.objects.filter(company=company, kind=document.kind, number=number).exclude(pk=document.pk).exists():
        raise DocumentError(f"{document.get_kind_display()} number {number} is already used.", field="number")
    before = _snapshot_document(document)
    prepared, subtotal, tax = _prepare_document_lines(company, document.kind, lines)
    old_entry = document.journal_entry
    document.number, document.customer, document.vendor, document.doc_date, document.due_date = (
        number[:60],
        customer,
        vendor,
        doc_date,
        due_date,
    )
    document.lines, document.subtotal, document.tax, document.total = prepared, subtotal, tax, subtotal + tax
    document.memo = (memo or "")[:500]
    document.journal_entry = journal_entry_create(
        company=company,
        entry_date=doc_date,
        lines=_document_entry_lines(document, posting_accounts_get(company=company)),
        actor=actor,
        memo=str(document),
        reference=document.number,
        source=JournalEntry.Source.DOCUMENT,
        entity=document.entity,
        operation=Operation.ENTRY_EDIT,
        what=str(document),
    )
    document.save()
    if old_entry is not None:
        journal_entry_delete(entry=old_entry, actor=actor, reason=f"{document} edited")
    audit_record(
        company=company,
        actor=actor,
        action=f"{document.kind}.update",
        subject=document,
        before=before,
        after=_snapshot_document(document),
    )
    return document


@transaction.atomic
def document_delete(*, document: Document, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Delete a document and its entry; refused in the closed period (BC4) or with applications."""
    require(actor, roles.POST, document.company_id, what="create or change documents and payments")
    company = document.company
    document = _locked_document(document)
    books_closed_check(
        company=company,
        operation=Operation.DOCUMENT_DELETE,
        on_date=document.doc_date,
        entity=document.entity_id,
        what=str(document),
    )
    if document.applications_received.exists() or document.applications_made.exists():
        raise DocumentError(f"{document} has applications and cannot be deleted; void it instead.")
    entries = [e for e in (document.journal_entry, document.void_entry) if e is not None]
    audit_record(
        company=company,
        actor=actor,
        action=f"{document.kind}.delete",
        subject=document,
        before=_snapshot_document(document),
        reason=reason,
    )
    document.delete()
    for entry in entries:
        journal_entry_delete(entry=entry, actor=actor, reason=f"{document} deleted")


@transaction.atomic
def document_void(*, document: Document, actor: AbstractBaseUser | None, reason: str = "") -> Document:
    """Void a document: its reversing entry is posted on an open date (today when the document is
    dated in the closed period), so the closed period's figures never change; MR6 counts the
    document in its own period until ``voided_at``. A document with applications is unapplied first."""
    require(actor, roles.POST, document.company_id, what="create or change documents and payments")
    company = document.company
    document = _locked_document(document)
    if document.status == Document.Status.VOID:
        return document
    decision = books_closed_check(
        company=company,
        operation=Operation.DOCUMENT_VOID,
        on_date=document.doc_date,
        entity=document.entity_id,
        what=str(document),
    )
    if document_applied(document):
        raise DocumentError(f"{document} has applications; reverse them before voiding it.")
    before = _snapshot_document(document)
    post_on = decision.post_on if decision.in_closed_period else max(document.doc_date, company.today())
    document.void_entry = journal_entry_create(
        company=company,
        entry_date=post_on,
        lines=_reversed(_document_entry_lines(document, posting_accounts_get(company=company))),
        actor=actor,
        memo=f"Void {document}",
        reference=document.number,
        source=JournalEntry.Source.DOCUMENT,
        entity=document.entity,
        what=f"void of {document}",
    )
    document.status, document.voided_at = Document.Status.VOID, timezone.now()
    document.save(update_fields=["status", "voided_at", "void_entry", "updated_at"])
    audit_record(
        company=company,
        actor=actor,
        action=f"{document.kind}.void",
        subject=document,
        before=before,
        after=_snapshot_document(document),
        reason=reason,
    )
    return document


# ---------------------------------------------------------------- applications


def _application_entry(company: Company, posting: PostingAccounts, source, target: Document, amount: Decimal) -> list[LineInput]:
    cur = target.currency
    if isinstance(source, Payment):
        if source.direction == Payment.Direction.INCOMING:
            return [
                LineInput(posting.customer_deposits, debit=amount, currency=cur),
                LineInput(posting.receivable, credit=amount, currency=cur),
            ]
        return [
            LineInput(posting.payable, debit=amount, currency=cur),
            LineInput(posting.vendor_prepayments, credit=amount, currency=cur),
        ]
    if isinstance(source, CustomerCredit) or source.kind == Document.Kind.CREDIT_MEMO:
        return [
            LineInput(posting.customer_credits, debit=amount, currency=cur),
            LineInput(posting.receivable, credit=amount, currency=cur),
        ]
    return [
        LineInput(posting.payable, debit=amount, currency=cur),
        LineInput(posting.vendor_credits, credit=amount, currency=cur),
    ]


def _source_open_amount(source) -> Decimal:
    if isinstance(source, Document):
        return document_open_amount(source)
    if isinstance(source, Payment):
        return payment_unapplied(source)
    return customer_credit_open_amount(source)


def _apply(
    *, source, target: Document, amount, actor, applied_on: date | None, operation: Operation, on_date: date
) -> Application:
    company = target.company
    company_lock(company.pk)
    target = Document.objects.select_for_update().get(pk=target.pk)
    type(source).objects.select_for_update().filter(pk=source.pk).first()
    source.refresh_from_db()
    books_closed_check(company=company, operation=operation, on_date=on_date, entity=source.entity_id, what=str(source))
    amount = to_money(amount, label="Amount")
    if amount <= 0:
        raise ApplicationError("Apply a positive amount.")
    wanted_target = Document.Kind.INVOICE
    if isinstance(source, Document) and source.kind == Document.Kind.VENDOR_CREDIT:
        wanted_target = Document.Kind.BILL
    if isinstance(source, Payment) and source.direction == Payment.Direction.OUTGOING:
        wanted_target = Document.Kind.BILL
    if target.company_id != source.company_id or target.kind != wanted_target:
        raise ApplicationError(
            f"{source} can only be applied to a {_kind_label(wanted_target)} of the same company.", field="target"
        )
    same_party = target.customer_id == source.customer_id if isinstance(source, CustomerCredit) else target.party == source.party
    if not same_party:
        raise ApplicationError(f"{target} belongs to another {'customer' if target.customer_id else 'vendor'}.", field="target")
    if target.status == Document.Status.VOID:
        raise ApplicationError(f"{target} is void.", field="target")
    if target.currency != source.currency:
        raise ApplicationError(f"{target} is in {target.currency}, {source} in {source.currency}.", field="target")
    if amount > document_open_amount(target):
        raise ApplicationError(f"Only {document_open_amount(target)} is still open on {target}.")
    if amount > _source_open_amount(source):
        raise ApplicationError(f"Only {_source_open_amount(source)} of {source} is left to apply.")
    applied_on = applied_on or company.today()
    date_range_check(company=company, on_date=applied_on, field="applied_on", what=f"the application to {target}")
    entry = journal_entry_create(
        company=company,
        entry_date=applied_on,
        lines=_application_entry(company, posting_accounts_get(company=company), source, target, amount),
        actor=actor,
        memo=f"{source} applied to {target}",
        source=JournalEntry.Source.DOCUMENT,
        entity=target.entity,
        what=f"application to {target}",
    )
    application = Application.objects.create(
        company=company,
        entity=target.entity,
        target=target,
        credit_document=source if isinstance(source, Document) else None,
        payment=source if isinstance(source, Payment) else None,
        customer_credit=source if isinstance(source, CustomerCredit) else None,
        applied_on=applied_on,
        amount=amount,
        journal_entry=entry,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        company=company,
        actor=actor,
        action="application.create",
        subject=application,
        after={"source": str(source), "target": str(target), "amount": str(amount), "applied_on": applied_on.isoformat()},
    )
    return application


@transaction.atomic
def credit_apply(
    *, credit: Document, target: Document, amount, actor: AbstractBaseUser | None, applied_on: date | None = None
) -> Application:
    """Apply a credit memo to an invoice or a vendor credit to a bill. Allowed even when the
    credit is dated in the closed period (BC5): the application and its entry carry
    ``applied_on`` (today by default), which must be open."""
    require(actor, roles.POST, credit.company_id, what="create or change documents and payments")
    if credit.kind not in Document.CREDIT_KINDS:
        raise ApplicationError(f"{credit} is not a credit memo or vendor credit.")
    if credit.status == Document.Status.VOID:
        raise ApplicationError(f"{credit} is void.")
    return _apply(
        source=credit,
        target=target,
        amount=amount,
        actor=actor,
        applied_on=applied_on,
        operation=Operation.CREDIT_APPLY,
        on_date=credit.doc_date,
    )


@transaction.atomic
def application_reverse(*, application: Application, actor: AbstractBaseUser | None, reason: str = "") -> Application:
    """Undo an application with a reversing row and entry on an open date (today)."""
    require(actor, roles.POST, application.company_id, what="create or change documents and payments")
    company = application.company
    company_lock(company.pk)
    application = Application.objects.select_for_update().get(pk=application.pk)
    if application.amount < 0 or application.reversed_by.exists():
        raise ApplicationError("This application is already reversed.")
    today = company.today()
    source = application.source
    books_closed_check(
        company=company,
        operation=Operation.CREDIT_APPLY if not isinstance(source, Payment) else Operation.PAYMENT_APPLY,
        on_date=application.applied_on,
        entity=application.entity_id,
        what=str(application),
    )
    entry = journal_entry_create(
        company=company,
        entry_date=today,
        lines=_reversed(
            _application_entry(company, posting_accounts_get(company=company), source, application.target, application.amount)
        ),
        actor=actor,
        memo=f"Reverse: {application}",
        source=JournalEntry.Source.DOCUMENT,
        entity=application.entity,
        what=f"reversal of {application}",
    )
    reversal = Application.objects.create(
        company=company,
        entity=application.entity,
        target=application.target,
        credit_document=application.credit_document,
        payment=application.payment,
        customer_credit=application.customer_credit,
        applied_on=today,
        amount=-application.amount,
        reverses=application,
        journal_entry=entry,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        company=company,
        actor=actor,
        action="application.reverse",
        subject=reversal,
        before={"application": application.pk},
        reason=reason,
    )
    return reversal


# ---------------------------------------------------------------- payments


def payment_unapplied(payment: Payment) -> Decimal:
    """The part of a posted payment not applied to invoices or bills (nor turned into an
    overpayment credit): for an incoming payment, the un-invoiced payment of MR3."""
    if payment.status not in Payment.POSTED:
        return ZERO
    applied = payment.applications.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
    credited = payment.credits.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
    return payment.amount - applied - credited


def _payment_entry(payment: Payment, posting: PostingAccounts) -> list[LineInput]:
    cur = payment.currency
    if payment.direction == Payment.Direction.INCOMING:
        return [
            LineInput(posting.cash, debit=payment.amount, currency=cur, description=f"Payment from {payment.customer}"),
            LineInput(posting.customer_deposits, credit=payment.amount, currency=cur),
        ]
    return [
        LineInput(posting.vendor_prepayments, debit=payment.amount, currency=cur),
        LineInput(posting.cash, credit=payment.amount, currency=cur, description=f"Payment to {payment.vendor}"),
    ]


def _snapshot_payment(payment: Payment) -> dict:
    return {
        "direction": payment.direction,
        "party": str(payment.party),
        "process_date": payment.process_date.isoformat(),
        "amount": str(payment.amount),
        "status": payment.status,
        "method": payment.method,
        "reference": payment.reference,
    }


def _post_payment(payment: Payment, actor, inbound: Inbound | None = None) -> JournalEntry:
    return journal_entry_create(
        company=payment.company,
        entry_date=payment.process_date,
        lines=_payment_entry(payment, posting_accounts_get(company=payment.company)),
        actor=actor,
        memo=str(payment),
        reference=payment.reference,
        source=_doc_source(inbound),
        entity=payment.entity,
        inbound=inbound,
        operation=Operation.PAYMENT_RECORD,
        what=str(payment),
    )


@transaction.atomic
def payment_create(
    *,
    company: Company,
    direction: str,
    party: Customer | Vendor,
    process_date: date,
    amount,
    actor: AbstractBaseUser | None,
    status: str = Payment.Status.SCHEDULED,
    currency: str | None = None,
    method: str = "",
    reference: str = "",
    entity: LedgerEntity | None = None,
    inbound: Inbound | None = None,
    external_id: str = "",
) -> Payment:
    """Schedule (``status="scheduled"``) or record (``"recorded"``) a payment. Its process date
    may not be in the closed period (BC4). Recording posts its entry on the process date."""
    require(actor, roles.POST, company, what="create or change documents and payments")
    if direction not in Payment.Direction.values:
        raise PaymentError(f"Unknown direction “{direction}”.", field="direction")
    if status not in (Payment.Status.SCHEDULED, Payment.Status.RECORDED):
        raise PaymentError("A new payment is scheduled or recorded.", field="status")
    incoming = direction == Payment.Direction.INCOMING
    expected = Customer if incoming else Vendor
    if not isinstance(party, expected) or party.company_id != company.pk:
        raise PaymentError(f"Choose a {expected.__name__.lower()} of {company}.", field="customer" if incoming else "vendor")
    _check_entity(company, entity)
    company_lock(company.pk)
    operation = Operation.PAYMENT_RECORD if status == Payment.Status.RECORDED else Operation.PAYMENT_SCHEDULE
    date_range_check(company=company, on_date=process_date, field="process_date", what="a payment")
    books_closed_check(
        company=company,
        operation=operation,
        on_date=process_date,
        entity=entity,
        inbound=inbound,
        what="a payment",
        field="process_date",
    )
    amount = to_money(amount, label="Amount")
    if amount <= 0:
        raise PaymentError("A payment amount must be positive.", field="amount")
    payment = Payment(
        company=company,
        entity=entity,
        direction=direction,
        customer=party if incoming else None,
        vendor=None if incoming else party,
        process_date=process_date,
        amount=amount,
        currency=(currency or company.base_currency).upper(),
        method=(method or "")[:30],
        reference=(reference or "")[:100],
        status=status,
        origin=inbound.provider[:60] if inbound is not None else "",
        external_id=(external_id or "")[:100],
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if status == Payment.Status.RECORDED:
        payment.journal_entry = _post_payment(payment, actor, inbound)
    payment.save()
    audit_record(company=company, actor=actor, action="payment.create", subject=payment, after=_snapshot_payment(payment))
    return payment


def _locked_payment(payment: Payment) -> Payment:
    company_lock(payment.company_id)
    return Payment.objects.select_for_update(of=("self",)).select_related("company", "customer", "vendor").get(pk=payment.pk)


@transaction.atomic
def payment_update(
    *, payment: Payment, actor: AbstractBaseUser | None, process_date: date, amount, method: str = "", reference: str = ""
) -> Payment:
    """Change a scheduled or recorded payment without applications; neither the old nor the new
    process date may be in the closed period (BC4). A recorded payment's entry is replaced."""
    require(actor, roles.POST, payment.company_id, what="create or change documents and payments")
    company = payment.company
    payment = _locked_payment(payment)
    date_range_check(company=company, on_date=process_date, field="process_date", what=str(payment))
    for day in (payment.process_date, process_date):
        books_closed_check(
            company=company,
            operation=Operation.PAYMENT_EDIT,
            on_date=day,
            entity=payment.entity_id,
            what=str(payment),
            field="process_date",
        )
    if payment.status not in (Payment.Status.SCHEDULED, Payment.Status.RECORDED):
        raise PaymentError(f"A {payment.get_status_display().lower()} payment cannot be edited.")
    if payment.applications.exists() or payment.credits.exists():
        raise PaymentError("This payment has applications; reverse them before editing it.")
    amount = to_money(amount, label="Amount")
    if amount <= 0:
        raise PaymentError("A payment amount must be positive.", field="amount")
    before = _snapshot_payment(payment)
    old_entry = payment.journal_entry
    payment.process_date, payment.amount = process_date, amount
    payment.method, payment.reference = (method or "")[:30], (reference or "")[:100]
    if payment.status == Payment.Status.RECORDED:
        payment.journal_entry = _post_payment(payment, actor)
    payment.save()
    if old_entry is not None:
        journal_entry_delete(entry=old_entry, actor=actor, reason=f"{payment} edited")
    audit_record(
        company=company, actor=actor, action="payment.update", subject=payment, before=before, after=_snapshot_payment(payment)
    )
    return payment


@transaction.atomic
def payment_delete(*, payment: Payment, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Delete a scheduled or recorded payment without applications, outside the closed period (BC4)."""
    require(actor, roles.POST, payment.company_id, what="create or change documents and payments")
    company = payment.company
    payment = _locked_payment(payment)
    books_closed_check(
        company=company,
        operation=Operation.PAYMENT_DELETE,
        on_date=payment.process_date,
        entity=payment.entity_id,
        what=str(payment),
        field="process_date",
    )
    if payment.status not in (Payment.Status.SCHEDULED, Payment.Status.RECORDED):
        raise PaymentError(f"A {payment.get_status_display().lower()} payment cannot be deleted.")
    if payment.applications.exists() or payment.credits.exists():
        raise PaymentError("This payment has applications; reverse them before deleting it.")
    entry = payment.journal_entry
    audit_record(
        company=company, actor=actor, action="payment.delete", subject=payment, before=_snapshot_payment(payment), reason=reason
    )
    payment.delete()
    if entry is not None:
        journal_entry_delete(entry=entry, actor=actor, reason="payment deleted")


_MOVE_OPERATION = {
    Payment.Status.RECORDED: Operation.PAYMENT_RECORD,
    Payment.Status.CANCELLED: Operation.PAYMENT_CANCEL,
    Payment.Status.VOIDED: Operation.PAYMENT_VOID,
    Payment.Status.DEPOSITED: Operation.PAYMENT_DEPOSIT,
    Payment.Status.CLEARED: Operation.PAYMENT_CLEAR,
}


@transaction.atomic
def payment_move(*, payment: Payment, to: str, actor: AbstractBaseUser | None, reason: str = "") -> Payment:
    """Move a payment along ``Payment.MOVES``: record (posts on the process date, BC4), cancel a
    scheduled one, void a recorded one (its reversing entry and the reversal of its
    applications post on an open date, BC5), deposit, clear. A retry of the same move is a no-op."""
    require(actor, roles.POST, payment.company_id, what="create or change documents and payments")
    company = payment.company
    payment = _locked_payment(payment)
    if payment.status == to:
        return payment
    if to not in Payment.MOVES.get(payment.status, set()):
        target = Payment.Status(to).label.lower() if to in Payment.Status.values else to
        raise PaymentError(f"A {payment.get_status_display().lower()} payment cannot be moved to {target}.", field="status")
    decision = books_closed_check(
        company=company,
        operation=_MOVE_OPERATION[to],
        on_date=payment.process_date,
        entity=payment.entity_id,
        payment_status=payment.status,
        what=str(payment),
        field="process_date",
    )
    before = _snapshot_payment(payment)
    fields = ["status", "updated_at"]
    if to == Payment.Status.RECORDED:
        payment.journal_entry = _post_payment(payment, actor)
        fields.append("journal_entry")
    elif to == Payment.Status.VOIDED:
        post_on = decision.post_on if decision.in_closed_period else max(payment.process_date, company.today())
        for application in payment.applications.filter(amount__gt=0, reversed_by__isnull=True):
            application_reverse(application=application, actor=actor, reason=f"{payment} voided")
        payment.void_entry = journal_entry_create(
            company=company,
            entry_date=post_on,
            lines=_reversed(_payment_entry(payment, posting_accounts_get(company=company))),
            actor=actor,
            memo=f"Void {payment}",
            reference=payment.reference,
            source=JournalEntry.Source.DOCUMENT,
            entity=payment.entity,
            what=f"void of {payment}",
        )
        payment.voided_at = timezone.now()
        fields += ["void_entry", "voided_at"]
    elif to == Payment.Status.CANCELLED:
        payment.cancelled_at = timezone.now()
        fields.append("cancelled_at")
    payment.status = to
    payment.save(update_fields=fields)
    audit_record(
        company=company,
        actor=actor,
        action=f"payment.{to}",
        subject=payment,
        before=before,
        after=_snapshot_payment(payment),
        reason=reason,
    )
    return payment


@transaction.atomic
def payment_apply(
    *, payment: Payment, target: Document, amount, actor: AbstractBaseUser | None, applied_on: date | None = None
) -> Application:
    """Apply a recorded incoming payment to an invoice (an outgoing one to a bill). Allowed when
    the payment is dated in the closed period (BC5); the application is dated ``applied_on``."""
    require(actor, roles.POST, payment.company_id, what="create or change documents and payments")
    if payment.status not in Payment.POSTED:
        raise ApplicationError("Only a recorded payment can be applied.")
    return _apply(
        source=payment,
        target=target,
        amount=amount,
        actor=actor,
        applied_on=applied_on,
        operation=Operation.PAYMENT_APPLY,
        on_date=payment.process_date,
    )


# ---------------------------------------------------------------- customer credits and refunds


def customer_credit_open_amount(credit: CustomerCredit) -> Decimal:
    applied = credit.applications.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
    return credit.amount - applied


def customer_credit_balance(customer: Customer) -> Decimal:
    """The customer's credit balance: credits not applied nor refunded (MR2, MR3)."""
    credits = CustomerCredit.objects.filter(customer=customer).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
    applied = Application.objects.filter(customer_credit__customer=customer).aggregate(total=Coalesce(Sum("amount"), ZERO))[
        "total"
    ]
    refunded = Refund.objects.filter(customer=customer).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
    return credits - applied - refunded


@transaction.atomic
def customer_credit_create(
    *,
    company: Company,
    customer: Customer,
    kind: str,
    credit_date: date,
    amount,
    actor: AbstractBaseUser | None,
    payment: Payment | None = None,
    memo: str = "",
    entity: LedgerEntity | None = None,
    transaction_type: str | None = None,
) -> CustomerCredit:
    """Give a customer credit (issued, manual, from an overpayment of ``payment``, or a refund
    given as credit). Its date may not be in the closed period (BC4). ``transaction_type`` is
    the type the transaction report shows (MR4); by default the one that goes with ``kind``."""
    require(actor, roles.POST, company, what="create or change documents and payments")
    if kind not in CustomerCredit.Kind.values:
        raise LedgerError(f"Unknown credit kind “{kind}”.", field="kind")
    if transaction_type is None:
        transaction_type = CustomerCredit.KIND_TRANSACTION_TYPE[kind]
    if transaction_type and transaction_type not in TransactionType.values:
        raise LedgerError(f"Unknown transaction type “{transaction_type}”.", field="transaction_type")
    if customer.company_id != company.pk:
        raise LedgerError(f"Choose a customer of {company}.", field="customer")
    _check_entity(company, entity)
    company_lock(company.pk)
    date_range_check(company=company, on_date=credit_date, field="credit_date", what="a customer credit")
    books_closed_check(
        company=company,
        operation=Operation.CUSTOMER_CREDIT_CREATE,
        on_date=credit_date,
        entity=entity,
        what=f"credit for {customer}",
        field="credit_date",
    )
    amount = to_money(amount, label="Amount")
    if amount <= 0:
        raise LedgerError("A credit must be positive.", field="amount")
    if kind == CustomerCredit.Kind.OVERPAYMENT:
        if payment is None or payment.customer_id != customer.pk:
            raise LedgerError("An overpayment credit needs the customer's overpaying payment.", field="payment")
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if amount > payment_unapplied(payment):
            raise LedgerError(f"Only {payment_unapplied(payment)} of {payment} is unapplied.", field="amount")
    else:
        payment = None
    cur = company.base_currency
    entry = journal_entry_create(
        company=company,
        entry_date=credit_date,
        lines=_customer_credit_lines(company, kind, amount, cur),
        actor=actor,
        memo=f"{CustomerCredit.Kind(kind).label} for {customer}",
        source=JournalEntry.Source.DOCUMENT,
        entity=entity,
    )
    credit = CustomerCredit.objects.create(
        company=company,
        entity=entity,
        customer=customer,
        kind=kind,
        credit_date=credit_date,
        amount=amount,
        currency=cur,
        payment=payment,
        transaction_type=transaction_type,
        memo=(memo or "")[:500],
        journal_entry=entry,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        company=company,
        actor=actor,
        action="customer_credit.create",
        subject=credit,
        after={"kind": kind, "customer": str(customer), "amount": str(amount), "credit_date": credit_date.isoformat()},
    )
    return credit


def _customer_credit_lines(company: Company, kind: str, amount: Decimal, cur: str) -> list[LineInput]:
    posting = posting_accounts_get(company=company)
    debit = posting.customer_deposits if kind == CustomerCredit.Kind.OVERPAYMENT else posting.credits_expense
    return [LineInput(debit, debit=amount, currency=cur), LineInput(posting.customer_credits, credit=amount, currency=cur)]


def _snapshot_credit(credit: CustomerCredit) -> dict:
    return {
        "kind": credit.kind,
        "customer": str(credit.customer),
        "amount": str(credit.amount),
        "credit_date": credit.credit_date.isoformat(),
        "memo": credit.memo,
    }


def _locked_credit(credit: CustomerCredit) -> CustomerCredit:
    company_lock(credit.company_id)
    return CustomerCredit.objects.select_for_update(of=("self",)).select_related("company", "customer").get(pk=credit.pk)


def _ensure_balance_covers_refunds(customer: Customer, less: Decimal, what: str) -> None:
    """Refunds are paid out of the credit balance (MR2): a credit cannot shrink or go below what was refunded."""
    balance = customer_credit_balance(customer)
    if less > balance:
        raise LedgerError(
            f"{customer} has a credit balance of {balance}; {what} would take it below zero "
            "(refunds were paid out of it). Delete or edit the refund first.",
            field="amount",
        )


@transaction.atomic
def customer_credit_update(
    *, credit: CustomerCredit, actor: AbstractBaseUser | None, credit_date: date, amount, memo: str = ""
) -> CustomerCredit:
    """Change a credit's date, amount and memo. Neither the old nor the new date may be in the
    closed period (BC4); a credit with applications cannot change (reverse them first), nor
    shrink below what its customer has had refunded. Its entry is replaced. To give the credit to
    another customer or as another kind, delete it and give a new one."""
    require(actor, roles.POST, credit.company_id, what="create or change documents and payments")
    company = credit.company
    credit = _locked_credit(credit)
    date_range_check(company=company, on_date=credit_date, field="credit_date", what=str(credit))
    for day in (credit.credit_date, credit_date):
        books_closed_check(
            company=company,
            operation=Operation.CUSTOMER_CREDIT_EDIT,
            on_date=day,
            entity=credit.entity_id,
            what=str(credit),
            field="credit_date",
        )
    if credit.applications.exists():
        raise LedgerError(f"{credit} has applications; reverse them before editing it.")
    amount = to_money(amount, label="Amount")
    if amount <= 0:
        raise LedgerError("A credit must be positive.", field="amount")
    if amount < credit.amount:
        _ensure_balance_covers_refunds(credit.customer, credit.amount - amount, "lowering this credit")
    if credit.kind == CustomerCredit.Kind.OVERPAYMENT and credit.payment_id:
        payment = Payment.objects.select_for_update().get(pk=credit.payment_id)
        room = payment_unapplied(payment) + credit.amount
        if amount > room:
            raise LedgerError(f"Only {room} of {payment} is unapplied.", field="amount")
    before = _snapshot_credit(credit)
    old_entry = credit.journal_entry
    credit.credit_date, credit.amount, credit.memo = credit_date, amount, (memo or "")[:500]
    credit.journal_entry = journal_entry_create(
        company=company,
        entry_date=credit_date,
        lines=_customer_credit_lines(company, credit.kind, amount, credit.currency),
        actor=actor,
        memo=f"{credit.get_kind_display()} for {credit.customer}",
        source=JournalEntry.Source.DOCUMENT,
        entity=credit.entity,
        operation=Operation.ENTRY_EDIT,
        what=str(credit),
    )
    credit.save()
    if old_entry is not None:
        journal_entry_delete(entry=old_entry, actor=actor, reason=f"{credit} edited")
    audit_record(
        company=company,
        actor=actor,
        action="customer_credit.update",
        subject=credit,
        before=before,
        after=_snapshot_credit(credit),
    )
    return credit


@transaction.atomic
def customer_credit_delete(*, credit: CustomerCredit, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Delete a credit and its entry: refused in the closed period (BC4), with applications
    (they stay in the history; reverse them and keep the credit), or when refunds were paid out of it."""
    require(actor, roles.POST, credit.company_id, what="create or change documents and payments")
    company = credit.company
    credit = _locked_credit(credit)
    books_closed_check(
        company=company,
        operation=Operation.CUSTOMER_CREDIT_DELETE,
        on_date=credit.credit_date,
        entity=credit.entity_id,
        what=str(credit),
        field="credit_date",
    )
    if credit.applications.exists():
        raise LedgerError(f"{credit} has applications and cannot be deleted.")
    _ensure_balance_covers_refunds(credit.customer, credit.amount, "deleting this credit")
    entry = credit.journal_entry
    audit_record(
        company=company,
        actor=actor,
        action="customer_credit.delete",
        subject=credit,
        before=_snapshot_credit(credit),
        reason=reason,
    )
    credit.delete()
    if entry is not None:
        journal_entry_delete(entry=entry, actor=actor, reason="customer credit deleted")


@transaction.atomic
def customer_credit_apply(
    *, credit: CustomerCredit, target: Document, amount, actor: AbstractBaseUser | None, applied_on: date | None = None
) -> Application:
    """Apply a customer credit to an invoice; allowed for a credit dated in the closed period (BC5)."""
    require(actor, roles.POST, credit.company_id, what="create or change documents and payments")
    return _apply(
        source=credit,
        target=target,
        amount=amount,
        actor=actor,
        applied_on=applied_on,
        operation=Operation.CREDIT_APPLY,
        on_date=credit.credit_date,
    )


@transaction.atomic
def refund_create(
    *,
    company: Company,
    customer: Customer,
    refund_date: date,
    amount,
    actor: AbstractBaseUser | None,
    memo: str = "",
    entity: LedgerEntity | None = None,
) -> Refund:
    """Pay a customer back out of their credit balance. Its date may not be in the closed period (BC4)."""
    require(actor, roles.POST, company, what="create or change documents and payments")
    if customer.company_id != company.pk:
        raise LedgerError(f"Choose a customer of {company}.", field="customer")
    _check_entity(company, entity)
    company_lock(company.pk)
    date_range_check(company=company, on_date=refund_date, field="refund_date", what="a refund")
    books_closed_check(
        company=company,
        operation=Operation.REFUND_CREATE,
        on_date=refund_date,
        entity=entity,
        what=f"refund to {customer}",
        field="refund_date",
    )
    amount = to_money(amount, label="Amount")
    if amount <= 0:
        raise LedgerError("A refund must be positive.", field="amount")
    balance = customer_credit_balance(customer)
    if amount > balance:
        raise LedgerError(f"{customer} has a credit balance of {balance}; a refund cannot exceed it.", field="amount")
    cur = company.base_currency
    entry = journal_entry_create(
        company=company,
        entry_date=refund_date,
        lines=_refund_lines(company, amount, cur),
        actor=actor,
        memo=f"Refund to {customer}",
        source=JournalEntry.Source.DOCUMENT,
        entity=entity,
    )
    refund = Refund.objects.create(
        company=company,
        entity=entity,
        customer=customer,
        refund_date=refund_date,
        amount=amount,
        currency=cur,
        memo=(memo or "")[:500],
        journal_entry=entry,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        company=company,
        actor=actor,
        action="refund.create",
        subject=refund,
        after={"customer": str(customer), "amount": str(amount), "refund_date": refund_date.isoformat()},
    )
    return refund


def _refund_lines(company: Company, amount: Decimal, cur: str) -> list[LineInput]:
    posting = posting_accounts_get(company=company)
    return [LineInput(posting.customer_credits, debit=amount, currency=cur), LineInput(posting.cash, credit=amount, currency=cur)]


def _snapshot_refund(refund: Refund) -> dict:
    return {
        "customer": str(refund.customer),
        "amount": str(refund.amount),
        "refund_date": refund.refund_date.isoformat(),
        "memo": refund.memo,
    }


def _locked_refund(refund: Refund) -> Refund:
    company_lock(refund.company_id)
    return Refund.objects.select_for_update(of=("self",)).select_related("company", "customer").get(pk=refund.pk)


@transaction.atomic
def refund_update(*, refund: Refund, actor: AbstractBaseUser | None, refund_date: date, amount, memo: str = "") -> Refund:
    """Change a refund's date, amount and memo: neither the old nor the new date may be in the
    closed period (BC4), and the new amount may not exceed the customer's credit balance. Its
    entry is replaced."""
    require(actor, roles.POST, refund.company_id, what="create or change documents and payments")
    company = refund.company
    refund = _locked_refund(refund)
    date_range_check(company=company, on_date=refund_date, field="refund_date", what=str(refund))
    for day in (refund.refund_date, refund_date):
        books_closed_check(
            company=company,
            operation=Operation.REFUND_EDIT,
            on_date=day,
            entity=refund.entity_id,
            what=str(refund),
            field="refund_date",
        )
    amount = to_money(amount, label="Amount")
    if amount <= 0:
        raise LedgerError("A refund must be positive.", field="amount")
    available = customer_credit_balance(refund.customer) + refund.amount
    if amount > available:
        raise LedgerError(
            f"{refund.customer} has a credit balance of {available} for this refund; a refund cannot exceed it.", field="amount"
        )
    before = _snapshot_refund(refund)
    old_entry = refund.journal_entry
    refund.refund_date, refund.amount, refund.memo = refund_date, amount, (memo or "")[:500]
    refund.journal_entry = journal_entry_create(
        company=company,
        entry_date=refund_date,
        lines=_refund_lines(company, amount, refund.currency),
        actor=actor,
        memo=f"Refund to {refund.customer}",
        source=JournalEntry.Source.DOCUMENT,
        entity=refund.entity,
        operation=Operation.ENTRY_EDIT,
        what=str(refund),
    )
    refund.save()
    if old_entry is not None:
        journal_entry_delete(entry=old_entry, actor=actor, reason=f"{refund} edited")
    audit_record(
        company=company, actor=actor, action="refund.update", subject=refund, before=before, after=_snapshot_refund(refund)
    )
    return refund


@transaction.atomic
def refund_delete(*, refund: Refund, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Delete a refund and its entry; refused in the closed period (BC4). The amount returns to
    the customer's credit balance."""
    require(actor, roles.POST, refund.company_id, what="create or change documents and payments")
    company = refund.company
    refund = _locked_refund(refund)
    books_closed_check(
        company=company,
        operation=Operation.REFUND_DELETE,
        on_date=refund.refund_date,
        entity=refund.entity_id,
        what=str(refund),
        field="refund_date",
    )
    entry = refund.journal_entry
    audit_record(
        company=company, actor=actor, action="refund.delete", subject=refund, before=_snapshot_refund(refund), reason=reason
    )
    refund.delete()
    if entry is not None:
        journal_entry_delete(entry=entry, actor=actor, reason="refund deleted")
