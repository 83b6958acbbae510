"""Inbound transactions (IN6, BC6): invoices, bills, payments and journals made in the accounting
system, posted as inbound journal entries through the ledger's posting service, each once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ledger.models import Account, JournalEntry

from ..exceptions import IntegrationError
from ..models import (
    AccountMapping,
    Connection,
    ConnectionEntity,
    ExternalAccount,
    ExternalItem,
    InboundRecord,
    SyncIssue,
    SyncRun,
)
from ..providers import provider_class
from ..providers.base import InboundLine, InboundTransaction
from .connections import call_with_token
from .runs import run_finish


def inbound_pull_direct(*, connection: Connection, actor: AbstractBaseUser | None = None) -> SyncRun:
    """The direct transport's inbound pull: ask the vendor's API now for what changed since the last
    pull, and post it (``inbound_store``)."""
    run = SyncRun.objects.create(
        company_id=connection.company_id,
        connection=connection,
        kind=SyncRun.Kind.INBOUND,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        created_by=actor,
    )
    pulled_from = timezone.now() - timedelta(minutes=5)  # overlap: the records make a re-pull harmless
    try:
        txns, connection = call_with_token(connection, lambda p: p.pull_inbound(since=connection.inbound_pulled_at))
    except IntegrationError as exc:
        return run_finish(run, error=exc.message)
    inbound_store(connection=connection, run=run, txns=txns, actor=actor)
    Connection.objects.filter(pk=connection.pk).update(inbound_pulled_at=pulled_from)
    return run_finish(run)


class _InboundContext:
    """What posting an inbound transaction needs to know of its connection, read once per pull."""

    def __init__(self, connection: Connection):
        self.connection = connection
        mappings = AccountMapping.objects.filter(connection=connection).select_related("external_account", "account")
        self.local: dict[str, Account] = {}
        for m in sorted(mappings, key=lambda m: m.account.code, reverse=True):  # several: the lowest code wins
            self.local[m.external_account.external_id] = m.account
        externals = list(ExternalAccount.objects.filter(connection=connection))
        self.by_number = {e.number: e.external_id for e in externals if e.number}
        self.labels = {e.external_id: str(e) for e in externals}
        self.items = {i.external_id: i for i in ExternalItem.objects.filter(connection=connection)}
        # QuickBooks Desktop: sales tax items have no account in qbXML; what they collect posts to the
        # special Sales Tax Payable account, mapped once on the connection like any other account.
        self.sales_tax_payable = next((e.external_id for e in externals if e.type.endswith("(SalesTaxPayable)")), "")
        self.entities = {e.external_id: e for e in ConnectionEntity.objects.filter(connection=connection)}
        # The provider's exception to BC6, handed to the ledger's guard as data.
        self.policy = provider_class(connection.provider).inbound_policy


def inbound_store(*, connection: Connection, run: SyncRun, txns: list[InboundTransaction], actor) -> None:
    """Post pulled transactions not imported before (IN6): each once, whatever is pulled twice."""
    done = set(
        InboundRecord.objects.filter(connection=connection, state=InboundRecord.State.IMPORTED).values_list("kind", "external_id")
    )
    fresh = [t for t in txns if (t.kind, t.external_id) not in done]
    SyncRun.objects.filter(pk=run.pk).update(total=F("total") + len(fresh), requests=F("requests") + 1)
    context = _InboundContext(connection)
    for txn in fresh:
        _inbound_post(context, run, txn, actor)


def inbound_waiting_post(*, connection: Connection, actor: AbstractBaseUser | None = None) -> SyncRun | None:
    """Post the transactions waiting for a mapping (an invoice's item without a mapped income
    account) now that mappings or the item list changed; those still unmapped keep waiting.
    The attempt is a run of its own, so what came in and what still waits is shown."""
    waiting = list(InboundRecord.objects.filter(connection=connection, state=InboundRecord.State.WAITING, payload__isnull=False))
    if not waiting:
        return None
    run = SyncRun.objects.create(
        company_id=connection.company_id,
        connection=connection,
        kind=SyncRun.Kind.INBOUND,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        total=len(waiting),
        created_by=actor,
    )
    context = _InboundContext(connection)
    for record in waiting:
        _inbound_post(context, run, _txn_from_payload(record.payload), actor)
    return run_finish(run)


def _txn_payload(txn: InboundTransaction) -> dict:
    return {
        "kind": txn.kind,
        "external_id": txn.external_id,
        "number": txn.number,
        "txn_date": txn.txn_date.isoformat(),
        "memo": txn.memo,
        "entity": txn.entity,
        "lines": [
            [str(x.debit), str(x.credit), x.external_account_id, x.external_account_code, x.external_item_id, x.description]
            for x in txn.lines
        ],
    }


def _txn_from_payload(payload: dict) -> InboundTransaction:
    return InboundTransaction(
        kind=payload["kind"],
        external_id=payload["external_id"],
        number=payload["number"],
        txn_date=date.fromisoformat(payload["txn_date"]),
        memo=payload["memo"],
        entity=payload.get("entity", ""),
        lines=tuple(
            InboundLine(
                Decimal(d), Decimal(c), external_account_id=a, external_account_code=code, external_item_id=item, description=desc
            )
            for d, c, a, code, item, desc in payload["lines"]
        ),
    )


def _inbound_resolve(context: _InboundContext, txn: InboundTransaction) -> tuple[list, str, str]:
    """(lines for the ledger, why it must wait for a mapping, why it is refused): at most one reason."""
    from ledger.services import LineInput

    vendor = context.connection.get_provider_display()
    lines = []
    for line in txn.lines:
        if line.external_item_id:
            item = context.items.get(line.external_item_id)
            if item is None:
                return [], f"Item {line.external_item_id} is not in the item list pulled from {vendor}.", ""
            income = item.income_account_id
            if not income and item.type in ("SalesTax", "SalesTaxGroup"):
                income = context.sales_tax_payable
                if not income:
                    return [], f"{vendor}'s chart has no Sales Tax Payable account for {item} to post to; pull the chart.", ""
            if not income:
                return [], f"Item {item} has no income account in {vendor}.", ""
            account = context.local.get(income)
            if account is None:
                label = context.labels.get(income) or income
                return [], f"Item {item} posts to {vendor} account {label}, which no closebooks account is mapped to.", ""
        else:
            external_id = line.external_account_id or context.by_number.get(line.external_account_code, "")
            account = context.local.get(external_id)
            if account is None:
                label = context.labels.get(external_id) or line.external_account_code or line.external_account_id
                return [], "", f"No closebooks account is mapped to {vendor} account {label}."
        lines.append(LineInput(account, debit=line.debit, credit=line.credit, description=line.description))
    return lines, "", ""


def _inbound_post(context: _InboundContext, run: SyncRun, txn: InboundTransaction, actor) -> None:
    from ledger.exceptions import LedgerError
    from ledger.guard import Inbound
    from ledger.services import journal_entry_create, ledger_entity_ensure

    connection = context.connection
    if txn.problem:  # the vendor's answer for this one transaction could not be read: refused on its own
        lines, wait, problem = [], "", txn.problem
    else:
        lines, wait, problem = _inbound_resolve(context, txn)
    entity = None
    if txn.entity and not wait and not problem:
        known = context.entities.get(txn.entity)
        if "+" in txn.entity:
            problem = (
                f"Its lines belong to several entities ({txn.entity.replace('+', ', ')}); closebooks checks each "
                "document against one entity's closed date (BC9). Split it by entity in the accounting system."
            )
        elif known is None or not known.active:
            problem = (
                f"Entity “{txn.entity}” does not belong to this {connection.get_provider_display()} connection; "
                "list the entities again (Entities page) if it is new."
            )
    entry = None
    with transaction.atomic():
        if not wait and not problem:
            try:
                with transaction.atomic():
                    if txn.entity:
                        known = context.entities[txn.entity]
                        entity = ledger_entity_ensure(company=connection.company, key=known.external_id, name=known.name)
                    policy = context.policy
                    entry = journal_entry_create(
                        company=connection.company,
                        entry_date=txn.txn_date,
                        lines=lines,
                        actor=actor,
                        memo=txn.memo,
                        reference=f"{connection.provider}:{txn.kind}:{txn.number or txn.external_id}"[:100],
                        source=JournalEntry.Source.INBOUND_SYNC,
                        entity=entity,
                        inbound=Inbound(
                            provider=policy.provider if policy else connection.provider, kind=txn.kind, policy=policy
                        ),
                        what=f"{txn.kind} {txn.number or txn.external_id}",
                    )
            except LedgerError as exc:
                problem = exc.message
        state = InboundRecord.State.WAITING if wait else InboundRecord.State.REJECTED if problem else InboundRecord.State.IMPORTED
        InboundRecord.objects.update_or_create(
            connection=connection,
            kind=txn.kind,
            external_id=txn.external_id,
            defaults={
                "number": txn.number[:100],
                "state": state,
                "entry": entry,
                "reason": wait or problem,
                "run": run,
                "pulled_at": timezone.now(),
                "payload": _txn_payload(txn) if wait else None,
            },
        )
        if wait or problem:
            SyncIssue.objects.create(
                run=run,
                code="inbound_waiting" if wait else "inbound_rejected",
                message=f"{txn.kind} {txn.number or txn.external_id} dated {txn.txn_date or '(unreadable)'}: "
                + (f"waiting for a mapping. {wait}" if wait else problem),
            )
            SyncRun.objects.filter(pk=run.pk).update(failed=F("failed") + 1, heartbeat_at=timezone.now())
        else:
            SyncRun.objects.filter(pk=run.pk).update(done=F("done") + 1, heartbeat_at=timezone.now())
