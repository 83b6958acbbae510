"""Inbound transactions (IN6, BC6): invoices, bills, payments and journals made in the accounting
system, posted as inbound journal entries through the ledger's posting service, each once."""

from __future__ import annotations

import json
from datetime import date, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ledger.models import Account, JournalEntry
from ledger.money import money_parse

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


# Transactions per posting batch and per transaction: one guard read, one COPY, bulk records.
INBOUND_CHUNK = 5_000


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
    """Post pulled transactions not imported before (IN6): each once, whatever is pulled twice.
    Set-based: each chunk is one posting batch through the ledger's posting service (the guard
    read once under the company lock, lines and audit rows written in bulk), its records, issues
    and run counters written in bulk, in one transaction."""
    done = set(
        InboundRecord.objects.filter(connection=connection, state=InboundRecord.State.IMPORTED).values_list("kind", "external_id")
    )
    fresh = [t for t in txns if (t.kind, t.external_id) not in done]
    SyncRun.objects.filter(pk=run.pk).update(total=F("total") + len(fresh), requests=F("requests") + 1)
    context = _InboundContext(connection)
    for start in range(0, len(fresh), INBOUND_CHUNK):
        _inbound_post_many(context, run, fresh[start : start + INBOUND_CHUNK], actor)


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
    txns = [_txn_from_payload(record.payload) for record in waiting]
    for start in range(0, len(txns), INBOUND_CHUNK):
        _inbound_post_many(context, run, txns[start : start + INBOUND_CHUNK], actor)
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
                money_parse(d),
                money_parse(c),
                external_account_id=a,
                external_account_code=code,
                external_item_id=item,
                description=desc,
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


def _inbound_entity_problem(context: _InboundContext, txn: InboundTransaction) -> str:
    if not txn.entity:
        return ""
    if "+" in txn.entity:
        return (
            f"Its lines belong to several entities ({txn.entity.replace('+', ', ')}); closebooks checks each "
            "document against one entity's closed date (BC9). Split it by entity in the accounting system."
        )
    known = context.entities.get(txn.entity)
    if known is None or not known.active:
        return (
            f"Entity “{txn.entity}” does not belong to this {context.connection.get_provider_display()} connection; "
            "list the entities again (Entities page) if it is new."
        )
    return ""


def _inbound_post_many(context: _InboundContext, run: SyncRun, txns: list[InboundTransaction], actor) -> None:
    """Post ``txns`` as one batch of the posting service (``partial``: each refusal is the
    transaction's own, reported on the run, BC6) and record every one of them, in one transaction."""
    from ledger.guard import Inbound
    from ledger.services import EntryInput, journal_entries_post, ledger_entity_ensure

    connection = context.connection
    company = connection.company
    policy = context.policy
    provider = policy.provider if policy else connection.provider
    outcome: dict[int, tuple[str, str]] = {}  # index -> (wait, problem)
    with transaction.atomic():
        postable: list[int] = []
        entries: list[EntryInput] = []
        entities: dict[str, object] = {}
        for index, txn in enumerate(txns):
            if txn.problem:  # the vendor's answer for this one transaction could not be read: refused on its own
                lines, wait, problem = [], "", txn.problem
            else:
                lines, wait, problem = _inbound_resolve(context, txn)
            if not wait and not problem:
                problem = _inbound_entity_problem(context, txn)
            if wait or problem:
                outcome[index] = (wait, problem)
                continue
            entity = None
            if txn.entity:
                if txn.entity not in entities:
                    known = context.entities[txn.entity]
                    entities[txn.entity] = ledger_entity_ensure(company=company, key=known.external_id, name=known.name)
                entity = entities[txn.entity]
            postable.append(index)
            entries.append(
                EntryInput(
                    entry_date=txn.txn_date,
                    lines=lines,
                    memo=txn.memo,
                    reference=f"{connection.provider}:{txn.kind}:{txn.number or txn.external_id}"[:100],
                    entity=entity,
                    inbound=Inbound(provider=provider, kind=txn.kind, policy=policy),
                    what=f"{txn.kind} {txn.number or txn.external_id}",
                )
            )
        posted_ids: dict[int, int] = {}
        if entries:
            result = journal_entries_post(
                company=company, entries=entries, actor=actor, source=JournalEntry.Source.INBOUND_SYNC, partial=True
            )
            posted_ids = {postable[p.index]: p.entry_id for p in result.posted}
            for refused in result.refused:
                outcome[postable[refused.index]] = ("", refused.error.message)
        now = timezone.now()
        records, issues = [], []
        for index, txn in enumerate(txns):
            wait, problem = outcome.get(index, ("", ""))
            state = (
                InboundRecord.State.WAITING if wait else InboundRecord.State.REJECTED if problem else InboundRecord.State.IMPORTED
            )
            records.append(
                InboundRecord(
                    connection=connection,
                    kind=txn.kind,
                    external_id=txn.external_id,
                    number=txn.number[:100],
                    state=state,
                    entry_id=posted_ids.get(index),
                    reason=wait or problem,
                    run=run,
                    pulled_at=now,
                    payload=_txn_payload(txn) if wait else None,
                )
            )
            if wait or problem:
                issues.append(
                    SyncIssue(
                        run=run,
                        code="inbound_waiting" if wait else "inbound_rejected",
                        message=f"{txn.kind} {txn.number or txn.external_id} dated {txn.txn_date or '(unreadable)'}: "
                        + (f"waiting for a mapping. {wait}" if wait else problem),
                    )
                )
        _records_upsert(records)
        SyncIssue.objects.bulk_create(issues, batch_size=2000)
        failed = len(issues)
        SyncRun.objects.filter(pk=run.pk).update(
            done=F("done") + len(txns) - failed, failed=F("failed") + failed, heartbeat_at=timezone.now()
        )


def _records_upsert(records: list[InboundRecord]) -> None:
    """Write a chunk's records, replacing an earlier record of the same transaction (a refused or
    waiting one pulled again). On PostgreSQL one INSERT ... SELECT FROM unnest(...) ON CONFLICT: the
    ORM's bulk upsert compiled every row and cost more than posting the entries (measured on 20,000)."""
    if db_connection.vendor != "postgresql":
        InboundRecord.objects.bulk_create(
            records,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["connection", "kind", "external_id"],
            update_fields=["number", "state", "entry", "reason", "run", "pulled_at", "payload"],
        )
        return
    columns = {
        "connection_id": ("bigint", [r.connection_id for r in records]),
        "kind": ("text", [r.kind for r in records]),
        "external_id": ("text", [r.external_id for r in records]),
        "number": ("text", [r.number for r in records]),
        "state": ("text", [r.state for r in records]),
        "entry_id": ("bigint", [r.entry_id for r in records]),
        "reason": ("text", [r.reason for r in records]),
        "run_id": ("bigint", [r.run_id for r in records]),
        "pulled_at": ("timestamptz", [r.pulled_at for r in records]),
        "payload": ("jsonb", [json.dumps(r.payload) if r.payload is not None else None for r in records]),
    }
    names = ", ".join(columns)
    arrays = ", ".join(f"%s::{kind}[]" for kind, _ in columns.values())
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name not in ("connection_id", "kind", "external_id"))
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {InboundRecord._meta.db_table} ({names}) SELECT * FROM unnest({arrays}) "  # noqa: S608 - our own columns
            f"ON CONFLICT (connection_id, kind, external_id) DO UPDATE SET {updates}",
            [values for _, values in columns.values()],
        )
