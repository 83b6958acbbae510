"""The push engine (IN4): a run's journal entries go out through an outbox, in chunks of the
vendor's batch size and within its quotas, each request under an idempotency key stored before it
is first sent, so a crash, a retry or a duplicate delivery never makes a second copy."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import date, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from ledger.models import Account, Company, JournalEntry, JournalLine
from ledger.money import money_parse
from ledger.services import audit_record

from .. import ratelimit
from ..exceptions import IntegrationError, SyncRetryLater
from ..models import AccountMapping, Connection, ConnectionEntity, OutboxEntry, SyncIssue, SyncRun
from ..providers import PROVIDERS
from ..providers.base import (
    QUEUED,
    ClosedPeriodRejected,
    ConnectionBroken,
    ProviderError,
    PushEntry,
    PushLine,
    PushOutcome,
    RateLimited,
    TokenExpired,
    TransientError,
)
from .connections import (
    VENDOR_SHAPE_ERRORS,
    connection_entity_get,
    connection_mark_broken,
    connection_tokens_refresh,
    entity_closed_refusal,
    entity_date_to_ledger,
    provider_for,
    unreadable_answer,
)
from .runs import announce_run_finished, run_finish

QUEUED_PROVIDERS = [code for code, provider in PROVIDERS.items() if provider.transport == QUEUED]
MAX_TRANSIENT_ATTEMPTS = 6  # per request, inside the task, before the task itself retries later
MAX_THROTTLED_WAITS = 200  # 429s answered for one request before giving the task back
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0

log = logging.getLogger(__name__)


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: 0..min(cap, base * 2^attempt) seconds."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


@transaction.atomic
def sync_run_create(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    period_start: date | None = None,
    period_end: date | None = None,
    entry_ids: Iterable[int] | None = None,
    entity: str = "",
) -> tuple[SyncRun, bool]:
    """(the push run, True if made now) of ``company``'s journal entries (all, a date range, or given
    ids) to its active connection: one outbox row per entry, new or changed since its last sync.
    While a push runs, that one is returned (False). Who carries it is the transport's business
    (``transports.sync_run_start``)."""
    conn = Connection.objects.select_for_update().filter(company=company, status=Connection.Status.ACTIVE).first()
    if conn is None:
        raise IntegrationError(f"{company} has no active accounting connection: connect one first.")
    running = SyncRun.objects.filter(
        connection=conn, kind=SyncRun.Kind.PUSH, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
    ).first()
    target = connection_entity_get(connection=conn, external_id=entity) if entity else None
    if running is not None:
        return running, False
    run = SyncRun.objects.create(
        company=company,
        connection=conn,
        kind=SyncRun.Kind.PUSH,
        created_by=actor,
        period_start=period_start,
        period_end=period_end,
        entity=target,
    )
    # Entries that came from the accounting system are already there: never pushed back.
    entries = JournalEntry.objects.filter(company=company).exclude(source=JournalEntry.Source.INBOUND_SYNC)
    if period_start:
        entries = entries.filter(entry_date__gte=period_start)
    if period_end:
        entries = entries.filter(entry_date__lte=period_end)
    if entry_ids is not None:
        entries = entries.filter(pk__in=list(entry_ids))
    have = OutboxEntry.objects.filter(connection=conn, entry__in=entries).values("entry_id")
    OutboxEntry.objects.bulk_create(
        [OutboxEntry(connection=conn, entry_id=pk, run=run) for pk in entries.exclude(pk__in=have).values_list("pk", flat=True)],
        batch_size=2000,
    )
    rows = OutboxEntry.objects.filter(connection=conn, entry__in=entries)
    # Changed since the last sync, or failed before: a fresh key and payload. Pending rows keep
    # theirs: a row with a key may already be at the vendor, and only its key can tell.
    rows.filter(
        Q(state=OutboxEntry.State.FAILED) | (Q(state=OutboxEntry.State.SYNCED) & ~Q(synced_version=F("entry__updated_at")))
    ).update(state=OutboxEntry.State.PENDING, request_key="", payload=None, run=run)
    rows.filter(state=OutboxEntry.State.PENDING).update(run=run)
    run.total = OutboxEntry.objects.filter(run=run, state=OutboxEntry.State.PENDING).count()
    if run.total == 0:
        run.status, run.finished_at = SyncRun.Status.SUCCEEDED, timezone.now()
        announce_run_finished(run.pk)
    run.save(update_fields=["total", "status", "finished_at"])
    audit_record(
        company=company,
        actor=actor,
        action="sync_run.start",
        subject=run,
        after={
            "connection": conn.pk,
            "entries": run.total,
            "period_start": str(period_start or ""),
            "period_end": str(period_end or ""),
        },
    )
    return run, True


@contextmanager
def _run_lock(run_id: int):
    """One executor per run, whatever duplicates Redis delivers: a PostgreSQL session advisory
    lock, released by the database itself if the worker dies (SIGKILL)."""
    if db_connection.vendor != "postgresql":
        yield True
        return
    key = 0x5C0000000 + run_id
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def sync_run_execute(*, run_id: int, sleep: Callable[[float], None] = time.sleep) -> SyncRun:
    """Push a run's pending outbox rows in chunks of the vendor's batch size, within its quotas.
    Safe to run again after a crash: rows already carrying a key are resent first, with it.
    Raises SyncRetryLater when the vendor keeps failing transiently (the task retries later)."""
    with _run_lock(run_id) as acquired:
        run = SyncRun.objects.select_related("connection", "company").get(pk=run_id)
        if not acquired or run.is_finished:
            return run
        if run.connection.status != Connection.Status.ACTIVE:
            return run_finish(run, error=run.connection.last_error or "The connection is not active.")
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.RUNNING, started_at=run.started_at or timezone.now(), heartbeat_at=timezone.now()
        )
        engine = PushEngine(run, sleep)
        try:
            while engine.next_chunk():
                pass
        except ConnectionBroken as exc:
            connection_mark_broken(connection=run.connection, message=exc.message)
            return run_finish(run, error=exc.message)
        except ProviderError as exc:
            return run_finish(run, error=exc.message)
        except VENDOR_SHAPE_ERRORS as exc:  # the rows keep their keys: a later run resends them, never twice
            log.exception("unreadable answer during sync run %s", run.pk)
            return run_finish(run, error=unreadable_answer(run.connection, exc))
        return run_finish(run)


class PushEngine:
    def __init__(self, run: SyncRun, sleep: Callable[[float], None]):
        self.run = run
        self.connection = run.connection
        self.sleep = sleep
        self.provider = provider_for(self.connection)
        self.batch = self.provider.batch_size
        self.mapping = {
            m.account_id: (m.external_account.external_id, m.external_account.number, m.external_account.active)
            for m in AccountMapping.objects.filter(connection=self.connection).select_related("external_account")
        }
        self.codes = dict(Account.objects.filter(company_id=run.company_id).values_list("pk", "code"))
        self.entity = run.entity
        self.base_currency = Company.objects.filter(pk=run.company_id).values_list("base_currency", flat=True).first() or ""

    # ---- choosing and freezing a chunk

    def next_chunk(self) -> bool:
        # Rows already carrying a key come first: they may be at the vendor, and must be resent
        # with that key before anything new is frozen. One query either way.
        rows = list(
            OutboxEntry.objects.filter(run=self.run, state=OutboxEntry.State.PENDING).order_by(
                Case(When(request_key="", then=Value(1)), default=Value(0)), "id"
            )[: self.batch]
        )
        if not rows:
            return False
        if rows[0].request_key:
            key = rows[0].request_key
            rows = [row for row in rows if row.request_key == key]
        else:
            rows = self.freeze(rows)
            if rows is None:
                return True  # the chunk held only entries that cannot be sent; they are failed now
            key = rows[0].request_key
        entries = [entry_from_payload(row.entry_id, row.payload) for row in rows]
        outcomes, attempts = self._send(entries, key)
        self.record(rows, outcomes, attempts)
        return True

    def freeze(self, rows: list[OutboxEntry]) -> list[OutboxEntry] | None:
        """Build each row's payload from the entry as it stands, give the sendable ones one new
        key, and commit that before anything is sent."""
        lines: dict[int, list[tuple]] = {}
        for line in (
            JournalLine.objects.filter(entry_id__in=[r.entry_id for r in rows if r.entry_id])
            .order_by("entry_id", "line_no")
            .values_list(
                "entry_id",
                "account_id",
                "debit",
                "credit",
                "description",
                "currency",
                "entry__entry_date",
                "entry__memo",
                "entry__reference",
                "entry__updated_at",
                "entry__is_balanced",
            )
        ):
            lines.setdefault(line[0], []).append(line)
        key = uuid.uuid4().hex  # 32 characters: within QBO's 36 for batch, 50 single; Xero's 128
        sendable, refused = [], []
        for row in rows:
            entry_lines = lines.get(row.entry_id)
            if entry_lines:
                payload, problem = self._payload(entry_lines, row)
            else:
                payload, problem = None, "The journal entry was deleted before it was synced."
            if problem:
                row.state, row.last_error, row.request_key, row.payload = OutboxEntry.State.FAILED, problem, "", None
                row._code = (
                    "closed_period"
                    if "closed period" in problem
                    else "unmapped"
                    if "mapping" in problem
                    else "unbalanced"
                    if "balance" in problem
                    else "not_sendable"
                )
                refused.append(row)
            else:
                row.request_key, row.payload, row.pending_version = key, payload, entry_lines[0][9]
                row.attempts += 1
                sendable.append(row)
        fields = ["state", "last_error", "request_key", "payload", "pending_version", "attempts"]
        if not refused:
            _outbox_update(sendable, fields)  # one statement: committed on its own
            return sendable
        with transaction.atomic():
            _outbox_update(sendable + refused, fields)
            for code in {row._code for row in refused}:
                self._issues([r for r in refused if r._code == code], code=code)
            SyncRun.objects.filter(pk=self.run.pk).update(failed=F("failed") + len(refused), heartbeat_at=timezone.now())
        return sendable or None

    def _payload(self, lines: list[tuple], row: OutboxEntry) -> tuple[dict | None, str]:
        accounts = [line[1] for line in lines]
        missing = sorted({self.codes.get(a, "?") for a in accounts if a not in self.mapping})
        if missing:
            return None, f"No mapping for account{'s' if len(missing) > 1 else ''} {', '.join(missing)} (PC2)."
        archived = sorted({self.codes[a] for a in accounts if not self.mapping[a][2]})
        if archived:
            return None, f"Account {', '.join(archived)} is mapped to an account archived in the accounting system."
        _, _, _, _, _, currency, entry_date, memo, reference, _, is_balanced = lines[0]
        if not is_balanced:
            return None, "The entry does not balance; fix it before it can be synced (PC2)."
        closed = entity_closed_refusal(entity=self.entity, entry_date=entry_date)
        if closed:
            return None, closed
        return {
            "entity": self.entity.external_id if self.entity else "",
            "base_currency": self.base_currency,
            "date": entry_date.isoformat(),
            "memo": memo,
            "reference": reference,
            "currency": currency,
            "external_id": row.external_id,
            "external_version": row.external_version,
            "lines": [
                [self.mapping[line[1]][0], self.mapping[line[1]][1], str(line[2]), str(line[3]), line[4]] for line in lines
            ],
        }, ""

    # ---- sending

    def _send(self, entries: list[PushEntry], key: str) -> tuple[list[PushOutcome], int]:
        transient = throttled = attempts = 0
        refreshed = False
        while True:
            try:
                ratelimit.acquire(self.provider.code, self.connection.tenant_id, self._buckets(len(entries)), sleep=self.sleep)
                attempts += 1
                return self.provider.push_entries(entries, key=key), attempts
            except TokenExpired:
                if refreshed:
                    raise ConnectionBroken("The vendor refused a freshly refreshed token; connect again.") from None
                self.connection = connection_tokens_refresh(
                    connection=self.connection, failed_access_token=self.provider.tokens.access_token
                )
                self.provider = provider_for(self.connection)
                refreshed = True
            except RateLimited as exc:
                throttled += 1
                if throttled > MAX_THROTTLED_WAITS:
                    raise SyncRetryLater(exc.message) from None
                self.sleep(exc.retry_after + random.uniform(0, 0.5))
            except TransientError as exc:
                transient += 1
                if transient >= MAX_TRANSIENT_ATTEMPTS:
                    raise SyncRetryLater(exc.message) from None
                self.sleep(backoff(transient))

    def _buckets(self, size: int) -> list[tuple[str, int]]:
        return [(name, limit) for name, limit in self.provider.quotas if name == "calls" or size > 1]

    # ---- recording

    def record(self, rows: list[OutboxEntry], outcomes: list[PushOutcome], attempts: int) -> None:
        by_id = {o.local_id: o for o in outcomes}
        now = timezone.now()
        ok, failed = [], []
        for row in rows:
            outcome = by_id.get(row.entry_id)
            if outcome is not None and outcome.error is None:
                row.state, row.external_id, row.external_version = (
                    OutboxEntry.State.SYNCED,
                    outcome.external_id,
                    outcome.external_version,
                )
                row.synced_version, row.synced_at, row.last_error = row.pending_version, now, ""
                ok.append(row)
            else:
                error = outcome.error if outcome is not None else None
                row.payload_date = (row.payload or {}).get("date", "")
                row.state = OutboxEntry.State.FAILED
                row.last_error = error.message if error else "The vendor's answer did not mention this entry."
                row.request_key, row.payload = "", None  # a later attempt is a new request
                row._code = "closed_period" if isinstance(error, ClosedPeriodRejected) else "rejected"
                failed.append(row)
        with transaction.atomic():
            _outbox_update(
                ok + failed,
                [
                    "state",
                    "external_id",
                    "external_version",
                    "synced_version",
                    "synced_at",
                    "last_error",
                    "request_key",
                    "payload",
                ],
            )
            for code in {row._code for row in failed}:
                self._issues([r for r in failed if r._code == code], code=code)
            warned = [(row, by_id[row.entry_id].warnings) for row in ok if by_id[row.entry_id].warnings]
            SyncIssue.objects.bulk_create(  # synced, with what the vendor warned about: shown on the run
                [
                    SyncIssue(run=self.run, entry_id=row.entry_id, code="vendor_warning", message="; ".join(w)[:2000])
                    for row, w in warned
                ]
            )
            refused = [date.fromisoformat(r.payload_date) for r in failed if r._code == "closed_period"]
            if refused and self.entity is not None:
                # The vendor says these dates are closed for this entity: it is closed at least through them.
                latest = max(refused)
                ConnectionEntity.objects.filter(pk=self.entity.pk).filter(
                    Q(rejected_through__isnull=True) | Q(rejected_through__lt=latest)
                ).update(rejected_through=latest, updated_at=now)
                self.entity.refresh_from_db()
                entity_date_to_ledger(connection=self.entity.connection, entity=self.entity)
            SyncRun.objects.filter(pk=self.run.pk).update(
                done=F("done") + len(ok), failed=F("failed") + len(failed), requests=F("requests") + attempts, heartbeat_at=now
            )

    def _issues(self, rows: list[OutboxEntry], *, code: str) -> None:
        SyncIssue.objects.bulk_create(
            [SyncIssue(run=self.run, entry_id=row.entry_id, code=code, message=row.last_error) for row in rows]
        )


_OUTBOX_TYPES = {
    "state": "text",
    "request_key": "text",
    "payload": "jsonb",
    "pending_version": "timestamptz",
    "attempts": "integer",
    "external_id": "text",
    "external_version": "text",
    "synced_version": "timestamptz",
    "synced_at": "timestamptz",
    "last_error": "text",
}


def _outbox_update(rows: list[OutboxEntry], fields: list[str]) -> None:
    """Write ``fields`` of many outbox rows in one UPDATE ... FROM (VALUES ...). Django's
    bulk_update builds a CASE per field and row, which cost more than the vendor call here."""
    if not rows:
        return
    if db_connection.vendor != "postgresql":  # the embedded SQLite default: row by row, in-process and cheap
        with transaction.atomic():
            for row in rows:
                OutboxEntry.objects.filter(pk=row.pk).update(**{f: getattr(row, f) for f in fields})
        return
    placeholder = "(%s::bigint, " + ", ".join(f"%s::{_OUTBOX_TYPES[f]}" for f in fields) + ")"
    params: list = []
    for row in rows:
        params.append(row.pk)
        for f in fields:
            value = getattr(row, f)
            params.append(json.dumps(value) if f == "payload" and value is not None else value)
    sets = ", ".join(f"{f} = v.{f}" for f in fields)
    sql = (
        f"UPDATE integrations_outboxentry AS o SET {sets} FROM (VALUES {', '.join([placeholder] * len(rows))}) "  # noqa: S608
        f"AS v(id, {', '.join(fields)}) WHERE o.id = v.id"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)


def entry_from_payload(entry_id: int, payload: dict) -> PushEntry:
    return PushEntry(
        local_id=entry_id,
        entry_date=date.fromisoformat(payload["date"]),
        memo=payload["memo"],
        reference=payload["reference"],
        currency=payload["currency"],
        external_id=payload.get("external_id", ""),
        external_version=payload.get("external_version", ""),
        entity=payload.get("entity", ""),
        base_currency=payload.get("base_currency", ""),
        lines=tuple(
            PushLine(
                external_account_id=ext_id,
                external_account_code=code,
                debit=money_parse(debit),
                credit=money_parse(credit),
                description=description,
            )
            for ext_id, code, debit, credit, description in payload["lines"]
        ),
    )


def sync_runs_stalled(*, older_than_seconds: int = 600) -> list[int]:
    """Runs queued or running whose heartbeat stopped (a worker died and Redis has not yet
    redelivered the task): the beat task enqueues them again; the run lock prevents doubles."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        SyncRun.objects.filter(kind=SyncRun.Kind.PUSH, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
        .exclude(connection__provider__in=QUEUED_PROVIDERS)  # waits for the connector's poll, not a worker
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", flat=True)
    )
