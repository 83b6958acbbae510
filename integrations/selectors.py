"""Reads for pages, the close wizard and tasks. Company-scoped; fetch-and-authorize answers 404."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import Http404

from ledger.models import Account, Company, JournalEntry, JournalLine

from .models import AccountMapping, Connection, ExternalAccount, InboundRecord, OutboxEntry, SyncRun


def connection_active(company: Company) -> Connection | None:
    """The company's connection if it is connected and working (PC2: "an integration is connected")."""
    return Connection.objects.filter(company=company, status=Connection.Status.ACTIVE).first()


def connection_live(company: Company) -> Connection | None:
    """The company's connection unless disconnected (it may need reconnecting)."""
    return Connection.objects.filter(company=company).exclude(status=Connection.Status.DISCONNECTED).first()


def connection_history(company: Company) -> QuerySet[Connection]:
    return Connection.objects.filter(company=company).order_by("-connected_at")


def _unmapped_lines(connection: Connection | None):
    lines = JournalLine.objects.filter(entry=OuterRef("pk"))
    if connection is None:
        return lines
    mapped = AccountMapping.objects.filter(connection=connection, account=OuterRef("account"))
    return lines.filter(~Exists(mapped))


def unmapped_entries(
    company: Company, *, period_start: date | None = None, period_end: date | None = None
) -> QuerySet[JournalEntry]:
    """Entries with a line whose account has no mapping on the active connection (PC2). Without an
    active connection no account is mapped, so every entry with lines counts."""
    entries = JournalEntry.objects.filter(company=company)
    if period_start:
        entries = entries.filter(entry_date__gte=period_start)
    if period_end:
        entries = entries.filter(entry_date__lte=period_end)
    return entries.filter(Exists(_unmapped_lines(connection_active(company)))).order_by("entry_date", "id")


def entries_flagged_by_account(connection: Connection, account: Account) -> QuerySet[JournalEntry]:
    """The entries one missing mapping flags (shown on the mapping page, PC2)."""
    return JournalEntry.objects.filter(company=connection.company, lines__account=account).distinct().order_by("entry_date", "id")


def entries_needing_sync(
    company: Company, *, period_start: date | None = None, period_end: date | None = None
) -> QuerySet[JournalEntry]:
    """Entries not held by the vendor as they stand now (never synced, failed, or changed since):
    PC4 lets a period lock only when this is empty."""
    conn = connection_active(company)
    entries = JournalEntry.objects.filter(company=company).exclude(source=JournalEntry.Source.INBOUND_SYNC)
    if period_start:
        entries = entries.filter(entry_date__gte=period_start)
    if period_end:
        entries = entries.filter(entry_date__lte=period_end)
    if conn is None:
        return entries
    current = OutboxEntry.objects.filter(
        connection=conn, entry=OuterRef("pk"), state=OutboxEntry.State.SYNCED, synced_version=OuterRef("updated_at")
    )
    return entries.filter(~Exists(current)).order_by("entry_date", "id")


_WORDS = re.compile(r"[^a-z0-9]+")


def _norm(name: str) -> str:
    return _WORDS.sub(" ", name.lower()).strip()


@dataclass
class MappingRow:
    account: Account
    mapped_to: ExternalAccount | None
    suggestion: ExternalAccount | None
    reason: str
    flagged: int


def mapping_rows(connection: Connection) -> list[MappingRow]:
    """Every local account with its mapping, a suggestion (same number, else same name, among the
    vendor's active accounts) and how many entries its missing mapping flags."""
    externals = list(ExternalAccount.objects.filter(connection=connection))
    active = [e for e in externals if e.active]
    by_number = {e.number: e for e in active if e.number}
    by_name = {_norm(e.name): e for e in active}
    mapped = {
        m.account_id: m.external_account
        for m in AccountMapping.objects.filter(connection=connection).select_related("external_account")
    }
    flagged = dict(
        JournalLine.objects.filter(company=connection.company)
        .exclude(account_id__in=mapped.keys())
        .values("account")
        .annotate(n=Count("entry", distinct=True))
        .values_list("account", "n")
    )
    rows = []
    for account in Account.objects.filter(company=connection.company).order_by("code"):
        suggestion, reason = by_number.get(account.code), "same number"
        if suggestion is None:
            suggestion, reason = by_name.get(_norm(account.name)), "same name"
        if suggestion is None:
            reason = ""
        rows.append(MappingRow(account, mapped.get(account.pk), suggestion, reason, flagged.get(account.pk, 0)))
    return rows


def sync_run_list(company: Company) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(company=company).select_related("connection").order_by("-created_at", "-id")


def sync_run_get(company: Company, pk: int) -> SyncRun:
    run = SyncRun.objects.filter(company=company, pk=pk).select_related("connection").first()
    if run is None:
        raise Http404("No such sync run.")
    return run


def sync_run_progress(run: SyncRun) -> dict:
    """What a polling page (or the close wizard) shows of a run."""
    run.refresh_from_db()
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished": run.is_finished,
        "total": run.total,
        "done": run.done,
        "failed": run.failed,
        "percent": run.percent,
        "requests": run.requests,
        "error": run.error,
    }


def connection_get(company: Company, pk: int) -> Connection:
    conn = Connection.objects.filter(company=company, pk=pk).first()
    if conn is None:
        raise Http404("No such connection.")
    return conn


def inbound_waiting(connection: Connection) -> list[InboundRecord]:
    """Inbound transactions waiting for a mapping (IN6): shown until a mapping lets them in."""
    return list(
        InboundRecord.objects.filter(connection=connection, state=InboundRecord.State.WAITING).order_by("pulled_at", "id")[:100]
    )
