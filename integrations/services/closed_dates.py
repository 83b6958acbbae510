"""The vendor's closed date (IN5, BC7–BC9): read one way, from the vendor into closebooks, recorded
on the connection, its entities and a run, and handed to the ledger's books-closed setting."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ledger.services import audit_record

from ..exceptions import IntegrationError
from ..models import Connection, ConnectionEntity, SyncRun
from ..providers.base import ClosedDate
from .connections import call_with_token, entity_date_to_ledger
from .runs import announce_run_finished


def closed_date_pull_direct(*, connection: Connection, actor: AbstractBaseUser | None = None) -> SyncRun:
    """The direct transport's closed-date pull: ask the vendor's API now, on a run of its own."""
    run = SyncRun.objects.create(
        company_id=connection.company_id,
        connection=connection,
        kind=SyncRun.Kind.CLOSED_DATE,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        created_by=actor,
    )
    try:
        dates, connection = call_with_token(connection, lambda p: p.read_closed_dates())
    except IntegrationError as exc:
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.FAILED, error=exc.message, finished_at=timezone.now())
        run.refresh_from_db()
        announce_run_finished(run.pk)
        return run
    return closed_date_store(connection=connection, run=run, dates=dates, actor=actor)


def closed_date_store(
    *, connection: Connection, run: SyncRun, dates: list[ClosedDate], actor: AbstractBaseUser | None
) -> SyncRun:
    """Record pulled closed date(s) on the connection, its entities and the run (BC7–BC9)."""
    closed = next((d for d in dates if not d.entity), dates[0] if dates else ClosedDate(None))
    with transaction.atomic():
        conn = Connection.objects.select_for_update().get(pk=connection.pk)
        before = conn.remote_closed_date
        conn.remote_closed_date, conn.closed_date_pulled_at = closed.closed_through, timezone.now()
        conn.save(update_fields=["remote_closed_date", "closed_date_pulled_at"])
        result = {"closed_through": closed.closed_through.isoformat() if closed.closed_through else None, **closed.detail}
        result.update(closed_date_apply(connection=conn, closed=closed, actor=actor))
        if any(d.entity for d in dates):
            result["entities"] = _entity_dates_store(conn, [d for d in dates if d.entity])
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.SUCCEEDED, result=result, finished_at=timezone.now(), done=1, total=1, requests=1
        )
        audit_record(
            company=conn.company_id,
            actor=actor,
            action="connection.closed_date_pull",
            subject=conn,
            before={"remote_closed_date": before.isoformat() if before else None},
            after=result,
        )
        announce_run_finished(run.pk)
    run.refresh_from_db()
    return run


def _entity_dates_store(conn: Connection, dates: list[ClosedDate]) -> dict:
    """Record the per-entity dates the API gave (BC9); the shown result says where each came from."""
    entities = {e.external_id: e for e in ConnectionEntity.objects.select_for_update().filter(connection=conn)}
    shown = {}
    for closed in dates:
        entity = entities.get(closed.entity)
        if entity is None:
            entity = ConnectionEntity.objects.create(connection=conn, external_id=closed.entity)
        if closed.closed_through is not None and closed.closed_through != entity.api_closed_date:
            entity.api_closed_date = closed.closed_through
            entity.save(update_fields=["api_closed_date", "updated_at"])
        entity_date_to_ledger(connection=conn, entity=entity)
        shown[entity.external_id] = {
            "closed_through": entity.closed_through.isoformat() if entity.closed_through else None,
            "source": entity.closed_source,
        }
    return shown


def closed_date_apply(*, connection: Connection, closed: ClosedDate, actor: AbstractBaseUser | None) -> dict:
    """Hand the pulled date to the ledger's books-closed setting, the company's or its entity's
    (BC8: a later date moves ours forward; an earlier one never reopens anything and is kept as a
    shown mismatch; BC9: an entity's date is its own)."""
    from ledger.services import books_closed_date_pull, ledger_entity_ensure

    if closed.closed_through is None:
        return {"applied_to_ledger": False, "reason": "the accounting system reports no closed date"}
    company = connection.company
    entity = ledger_entity_ensure(company=company, key=closed.entity, actor=actor) if closed.entity else None
    setting = books_closed_date_pull(
        company=company, pulled_date=closed.closed_through, source=connection.get_provider_display(), entity=entity, actor=actor
    )
    return {
        "applied_to_ledger": True,
        "closed_date": setting.closed_date.isoformat() if setting.closed_date else None,
        "mismatch": setting.mismatch,
    }
