"""How a sync job reaches the vendor: the connection's transport, a capability its provider names
(``Provider.transport``). The entry points at the bottom are what pages, tasks and commands call:
they ask the connection's transport to carry the job, and never ask which vendor it is.

- direct: closebooks calls the vendor's API. A pull is answered at once; a push is carried by a
  Celery worker (``integrations.tasks.push_run``) once the run is committed.
- queued (QuickBooks Desktop): nothing can be sent. Each job leaves its requests in a queue
  (``queued``), the Web Connector takes them on its next poll, and ``integrations.qbd`` stores
  the answers as they come back.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import date

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ledger import roles
from ledger.models import Company
from ledger.permissions import require

from ..models import Connection, ExternalAccount, SyncRun
from ..providers import provider_class
from ..providers.base import DIRECT, QUEUED
from . import queued
from .chart import accounts_pull_direct
from .closed_dates import closed_date_pull_direct
from .inbound import inbound_pull_direct
from .push import sync_run_create

# Enqueued by its registered name: integrations.tasks calls the services here, so importing it from
# them would make a loop. IntegrationsConfig.ready() imports the tasks, so every process knows it.
PUSH_TASK = "integrations.tasks.push_run"


class Transport(abc.ABC):
    queued: bool
    # Said after "... request queued" on a page when a job waits for the transport; "" if carried at once.
    waits: str = ""

    @abc.abstractmethod
    def accounts_pull(self, *, connection: Connection, actor: AbstractBaseUser | None) -> int: ...

    @abc.abstractmethod
    def closed_date_pull(self, *, connection: Connection, actor: AbstractBaseUser | None) -> SyncRun: ...

    @abc.abstractmethod
    def inbound_pull(self, *, connection: Connection, actor: AbstractBaseUser | None) -> SyncRun: ...

    @abc.abstractmethod
    def push_start(self, run: SyncRun, *, enqueue: bool) -> None:
        """Set a new push run with pending entries going; called inside the transaction that made it."""


class DirectTransport(Transport):
    queued = False

    def accounts_pull(self, *, connection, actor):
        return accounts_pull_direct(connection=connection, actor=actor)

    def closed_date_pull(self, *, connection, actor):
        return closed_date_pull_direct(connection=connection, actor=actor)

    def inbound_pull(self, *, connection, actor):
        return inbound_pull_direct(connection=connection, actor=actor)

    def push_start(self, run, *, enqueue):
        if enqueue:
            run_id = run.pk
            transaction.on_commit(lambda: current_app.tasks[PUSH_TASK].delay(run_id))


class QueuedTransport(Transport):
    queued = True
    waits = "; it is sent when the QuickBooks Web Connector next polls closebooks."

    def accounts_pull(self, *, connection, actor):
        queued.accounts_queue(connection=connection, actor=actor)
        return ExternalAccount.objects.filter(connection=connection).count()  # the answer comes on the next poll

    def closed_date_pull(self, *, connection, actor):
        return queued.closed_date_queue(connection=connection, actor=actor)

    def inbound_pull(self, *, connection, actor):
        return queued.inbound_queue(connection=connection, actor=actor)

    def push_start(self, run, *, enqueue):
        queued.push_queue(run=run)  # sent on the Web Connector's next polls; no worker involved


TRANSPORTS: dict[str, Transport] = {DIRECT: DirectTransport(), QUEUED: QueuedTransport()}


def transport_for(connection: Connection) -> Transport:
    return TRANSPORTS[provider_class(connection.provider).transport]


# ---------------------------------------------------------------- entry points


def accounts_pull(*, connection: Connection, actor: AbstractBaseUser | None) -> int:
    """Pull the vendor's chart of accounts (IN3). Accounts no longer listed are kept, marked inactive.
    Returns how many accounts the vendor listed (a queued transport: how many are held until it answers)."""
    require(actor, roles.MANAGE, connection.company_id, what="sync with the accounting system")
    return transport_for(connection).accounts_pull(connection=connection, actor=actor)


def closed_date_pull(*, connection: Connection, actor: AbstractBaseUser | None = None) -> SyncRun:
    """Read the vendor's closed date and record it on the connection and on a run (BC7: one way,
    from the vendor into closebooks; closebooks never writes it back)."""
    require(actor, roles.MANAGE, connection.company_id, what="sync with the accounting system")
    return transport_for(connection).closed_date_pull(connection=connection, actor=actor)


def inbound_pull(*, connection: Connection, actor: AbstractBaseUser | None = None) -> SyncRun:
    """Pull invoices, bills, payments and journals made in the accounting system since the last
    pull and post each as an inbound journal entry through the ledger's posting service (which
    keeps and flags an unbalanced one, and whose books-closed guard decides BC6, per entity for
    BC9). Every refusal, ours or the ledger's, is a row on the run and on the transaction's record;
    nothing is dropped. A queued transport's pull waits for the connector's next poll."""
    require(actor, roles.MANAGE, connection.company_id, what="sync with the accounting system")
    return transport_for(connection).inbound_pull(connection=connection, actor=actor)


def sync_run_start(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    period_start: date | None = None,
    period_end: date | None = None,
    entry_ids: Iterable[int] | None = None,
    enqueue: bool = True,
    entity: str = "",
) -> SyncRun:
    """Queue a push of ``company``'s journal entries (all, a date range, or given ids) to its active
    connection: one outbox row per entry, new or changed since its last sync. Starting while a
    push runs returns the running one. The transport carries the run: a worker's task after commit
    (direct; not with ``enqueue=False``), or the Web Connector's next polls (queued)."""
    require(actor, roles.MANAGE, company, what="sync with the accounting system")
    with transaction.atomic():
        run, made = sync_run_create(
            company=company,
            actor=actor,
            period_start=period_start,
            period_end=period_end,
            entry_ids=entry_ids,
            entity=entity,
        )
        if made and run.total:
            transport_for(run.connection).push_start(run, enqueue=enqueue)
    return run
