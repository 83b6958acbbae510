"""The queued transport (QuickBooks Desktop): nothing can be sent to the vendor, so each job leaves
qbXML requests (``QbdRequest``) in a queue, and the Web Connector takes them on its next poll
(``integrations.qbd``, which also stores the answers as they come back). A job already waiting is
not queued twice."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..models import Connection, OutboxEntry, QbdRequest, SyncRun
from ..providers.base import EntryRejected, ProviderError, PushOutcome
from ..providers.qbd import (
    MIN_CONNECTOR,
    account_query,
    inbound_journal_query,
    invoice_query,
    item_query,
    journal_entry_add,
    preferences_query,
    ref_number,
    version_tuple,
)
from .push import PushEngine, entry_from_payload
from .runs import run_finish

PENDING = [QbdRequest.State.QUEUED, QbdRequest.State.SENT]
INBOUND_KINDS = [QbdRequest.Kind.ITEM_QUERY, QbdRequest.Kind.INBOUND_JOURNAL_QUERY, QbdRequest.Kind.INVOICE_QUERY]


def new_request_id() -> str:
    return uuid.uuid4().hex  # 32 characters, within qbXML's 50


def push_queue(*, run: SyncRun) -> int:
    """Freeze the run's outbox rows (mappings, balance and entity checks of the push engine) and
    queue one JournalEntryAddRq for each sendable one."""
    engine = PushEngine(run, sleep=lambda s: None)
    queued = 0
    while True:
        rows = list(OutboxEntry.objects.filter(run=run, state=OutboxEntry.State.PENDING, request_key="").order_by("id")[:500])
        if not rows:
            break
        sendable = engine.freeze(rows) or []
        refused: list[tuple[OutboxEntry, PushOutcome]] = []
        with transaction.atomic():
            requests = []
            for row in sendable:
                request_id = new_request_id()
                entry = entry_from_payload(row.entry_id, row.payload)
                try:
                    qbxml = journal_entry_add(entry, request_id)
                except ProviderError as exc:  # qbXML cannot carry it (an amount over 13 digits): never queued
                    refused.append((row, PushOutcome(row.entry_id, error=EntryRejected(exc.message))))
                    continue
                requests.append(
                    QbdRequest(
                        connection_id=run.connection_id,
                        run=run,
                        outbox=row,
                        kind=QbdRequest.Kind.JOURNAL_ENTRY_ADD,
                        request_id=request_id,
                        ref_number=ref_number(row.entry_id),
                        qbxml=qbxml,
                    )
                )
            QbdRequest.objects.bulk_create(requests, batch_size=1000)
        if refused:
            engine.record([r for r, _ in refused], [o for _, o in refused], attempts=0)
        queued += len(requests)
    push_finish_if_done(run.pk)
    return queued


def _single_request_run(connection: Connection, kind: str, run_kind: str, build, actor) -> SyncRun:
    with transaction.atomic():
        waiting = QbdRequest.objects.filter(connection=connection, kind=kind, state__in=PENDING).select_related("run").first()
        if waiting is not None and waiting.run is not None:
            return waiting.run  # one is already waiting for the next poll
        run = SyncRun.objects.create(
            company_id=connection.company_id, connection=connection, kind=run_kind, total=1, created_by=actor
        )
        request_id = new_request_id()
        QbdRequest.objects.create(connection=connection, run=run, kind=kind, request_id=request_id, qbxml=build(request_id))
    return run


def accounts_queue(*, connection: Connection, actor: AbstractBaseUser | None) -> SyncRun:
    return _single_request_run(connection, QbdRequest.Kind.ACCOUNT_QUERY, SyncRun.Kind.ACCOUNTS, account_query, actor)


def closed_date_queue(*, connection: Connection, actor: AbstractBaseUser | None) -> SyncRun:
    """Queue a PreferencesQueryRq for ClosingDate, or refuse when the Web Connector is older than
    the minimum closed-date sync needs (BC7): the refusal is the run's error, nothing is queued."""
    version = connection.remote_version
    if version_tuple(version) < version_tuple(MIN_CONNECTOR):
        return SyncRun.objects.create(
            company_id=connection.company_id,
            connection=connection,
            kind=SyncRun.Kind.CLOSED_DATE,
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            error=(
                f"Closed-date sync needs the sync connector (Web Connector) v_{MIN_CONNECTOR} or later; "
                f"{'this one reported ' + version if version else 'no version was reported yet'}. "
                "Update the Web Connector on the QuickBooks machine."
            ),
        )
    return _single_request_run(connection, QbdRequest.Kind.PREFERENCES_QUERY, SyncRun.Kind.CLOSED_DATE, preferences_query, actor)


def inbound_queue(*, connection: Connection, actor: AbstractBaseUser | None) -> SyncRun:
    """Queue the inbound pull (IN6) for the next poll: the item list first (item → income account),
    then the journal entries and the receivable invoices changed since the last pull. Answers are
    posted as they arrive; the run finishes when the last of the three is answered."""
    with transaction.atomic():
        waiting = (
            QbdRequest.objects.filter(connection=connection, kind__in=INBOUND_KINDS, state__in=PENDING)
            .select_related("run")
            .first()
        )
        if waiting is not None and waiting.run is not None:
            return waiting.run
        since = connection.inbound_pulled_at
        pulled_from = timezone.now() - timedelta(minutes=5)  # overlap: the records make a re-pull harmless
        run = SyncRun.objects.create(
            company_id=connection.company_id,
            connection=connection,
            kind=SyncRun.Kind.INBOUND,
            created_by=actor,
            result={"pulled_from": pulled_from.isoformat()},
        )
        for kind, build in (
            (QbdRequest.Kind.ITEM_QUERY, item_query),
            (QbdRequest.Kind.INBOUND_JOURNAL_QUERY, lambda rid: inbound_journal_query(rid, since)),
            (QbdRequest.Kind.INVOICE_QUERY, lambda rid: invoice_query(rid, since)),
        ):
            request_id = new_request_id()
            QbdRequest.objects.create(connection=connection, run=run, kind=kind, request_id=request_id, qbxml=build(request_id))
    return run


def push_finish_if_done(run_id: int) -> None:
    run = SyncRun.objects.get(pk=run_id)
    if run.kind == SyncRun.Kind.PUSH and not run.is_finished:
        if not OutboxEntry.objects.filter(run=run, state=OutboxEntry.State.PENDING).exists():
            run_finish(run)
