"""The only writers of integrations data: connections (IN2), the chart of accounts and mappings
(IN3), the push engine (IN4) and the closed-date pull (IN5). Keyword-only, one transaction per
write, an audit row for each change (PC6). Network calls happen outside database transactions."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from ledger.models import Account, Company, JournalEntry, JournalLine
from ledger.services import audit_record

from . import ratelimit
from .exceptions import IntegrationError, SyncRetryLater
from .models import (
    AccountMapping,
    Connection,
    ConnectionEntity,
    ExternalAccount,
    ExternalItem,
    InboundRecord,
    OutboxEntry,
    SyncIssue,
    SyncRun,
)
from .providers import Provider, ProviderConfig, provider_class
from .providers.base import (
    ClosedDate,
    ClosedPeriodRejected,
    ConnectionBroken,
    InboundLine,
    InboundTransaction,
    ProviderError,
    PushEntry,
    PushLine,
    PushOutcome,
    RateLimited,
    TokenExpired,
    Tokens,
    TransientError,
)

log = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 6  # per request, inside the task, before the task itself retries later
MAX_THROTTLED_WAITS = 200  # 429s answered for one request before giving the task back
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: 0..min(cap, base * 2^attempt) seconds."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


# ---------------------------------------------------------------- providers and connections


def provider_config(code: str) -> ProviderConfig:
    values = settings.INTEGRATIONS_PROVIDERS.get(code)
    if values is None:
        raise IntegrationError(f"Unknown accounting system “{code}”.", field="provider")
    return ProviderConfig(**values)


def provider_for(connection: Connection) -> Provider:
    config = provider_config(connection.provider)
    config = ProviderConfig(
        client_id=config.client_id,
        client_secret=config.client_secret,
        authorize_url=connection.authorize_url,
        token_url=connection.token_url,
        api_base_url=connection.api_base_url,
        connections_url=connection.connections_url,
    )
    tokens = None
    if connection.access_token or connection.refresh_token:
        tokens = Tokens(
            access_token=str(connection.access_token),
            refresh_token=str(connection.refresh_token),
            access_expires_at=connection.access_expires_at,
            refresh_expires_at=connection.refresh_expires_at,
        )
    return provider_class(connection.provider)(config, tenant_id=connection.tenant_id, tokens=tokens)


def pkce_pair() -> tuple[str, str]:
    """(code verifier, its S256 code challenge) for one authorization-code flow (RFC 7636 §4.1–4.2):
    a 86-character verifier of unreserved characters, the challenge BASE64URL(SHA256(verifier))."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    return verifier, challenge


def oauth_authorize_origins(provider_codes) -> list[str]:
    """The origins (scheme://host[:port]) of the vendors' authorize screens: the Connect form posts
    to closebooks, which redirects there, and a Content-Security-Policy ``form-action`` must allow
    every hop of that redirect."""
    origins = []
    for code in provider_codes:
        parts = urlsplit(provider_config(code).authorize_url)
        if parts.scheme in ("http", "https") and parts.netloc and f"{parts.scheme}://{parts.netloc}" not in origins:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


def oauth_authorize_url(*, provider_code: str, redirect_uri: str) -> tuple[str, str, str]:
    """(URL of the vendor's authorize screen, the ``state`` the callback must bring back, the PKCE
    code verifier to keep with the state for the code exchange; "" for a vendor without PKCE)."""
    state = secrets.token_urlsafe(32)
    provider = provider_class(provider_code)(provider_config(provider_code))
    if provider.uses_pkce:
        verifier, challenge = pkce_pair()
        return provider.authorize_url(state=state, redirect_uri=redirect_uri, code_challenge=challenge), state, verifier
    return provider.authorize_url(state=state, redirect_uri=redirect_uri), state, ""


def connection_connect(
    *,
    company: Company,
    provider_code: str,
    code: str,
    params: dict[str, str],
    redirect_uri: str,
    actor: AbstractBaseUser | None,
    code_verifier: str = "",
) -> Connection:
    """Finish the authorization-code flow: exchange the code, find the tenant, store the tokens
    (encrypted). Reconnecting the same tenant repairs the connection in place."""
    config = provider_config(provider_code)
    provider = provider_class(provider_code)(config)
    try:
        if provider.uses_pkce:
            tokens = provider.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
        else:
            tokens = provider.exchange_code(code=code, redirect_uri=redirect_uri)
        tenant_id, tenant_name = provider.tenant_from_callback(params)
        version = provider.remote_version()
    except ProviderError as exc:
        raise IntegrationError(f"Connecting to {provider.name} failed: {exc.message}") from None
    with transaction.atomic():
        live = (
            Connection.objects.select_for_update().filter(company=company).exclude(status=Connection.Status.DISCONNECTED).first()
        )
        if live is not None and (live.provider != provider_code or live.tenant_id != tenant_id):
            raise IntegrationError(f"{company} is already connected to {live}. Disconnect it first.")
        conn = live or Connection(company=company, provider=provider_code, tenant_id=tenant_id, connected_by=actor)
        before = None if live is None else _connection_snapshot(live)
        conn.tenant_name = tenant_name
        conn.authorize_url, conn.token_url = config.authorize_url, config.token_url
        conn.api_base_url, conn.connections_url = config.api_base_url, config.connections_url
        conn.status, conn.last_error, conn.remote_version = Connection.Status.ACTIVE, "", version
        _store_tokens(conn, tokens)
        conn.save()
        audit_record(
            company=company,
            actor=actor,
            action="connection.connect",
            subject=conn,
            before=before,
            after=_connection_snapshot(conn),
        )
    return conn


def connection_connect_credentials(
    *,
    company: Company,
    provider_code: str,
    company_id: str,
    user_id: str,
    password: str,
    actor: AbstractBaseUser | None,
) -> Connection:
    """Connect a vendor that signs in with a Web Services user instead of OAuth (Sage Intacct):
    ``getAPISession`` with the user, then the entities of a multi-entity company (BC9). The user's
    password is kept encrypted (it makes new sessions), never shown again. Nothing is stored when
    the vendor refuses."""
    company_id, user_id = company_id.strip(), user_id.strip()
    if not company_id or not user_id or not password:
        raise IntegrationError("Company id, user id and password are all needed.", field="company_id")
    config = provider_config(provider_code)
    provider = provider_class(provider_code)(config)
    if provider.uses_oauth:
        raise IntegrationError(f"{provider.name} connects through its own sign-in screen.", field="provider")
    try:
        tokens = provider.sign_in(company_id=company_id, user_id=user_id, password=password)
        entities = provider.list_entities() if provider.multi_entity else []
        version = provider.remote_version()
    except ProviderError as exc:
        raise IntegrationError(f"Connecting to {provider.name} failed: {exc.message}", field="company_id") from None
    with transaction.atomic():
        live = (
            Connection.objects.select_for_update().filter(company=company).exclude(status=Connection.Status.DISCONNECTED).first()
        )
        if live is not None and (live.provider != provider_code or live.tenant_id != company_id):
            raise IntegrationError(f"{company} is already connected to {live}. Disconnect it first.")
        conn = live or Connection(company=company, provider=provider_code, tenant_id=company_id, connected_by=actor)
        before = None if live is None else _connection_snapshot(live)
        conn.tenant_name = company_id
        conn.authorize_url, conn.token_url, conn.connections_url = "", "", ""
        conn.api_base_url = config.api_base_url
        conn.status, conn.last_error, conn.remote_version = Connection.Status.ACTIVE, "", version
        _store_tokens(conn, tokens)
        conn.save()
        _entities_store(conn, entities)
        audit_record(
            company=company,
            actor=actor,
            action="connection.connect",
            subject=conn,
            before=before,
            after={**_connection_snapshot(conn), "entities": [e for e, _ in entities]},
        )
    return conn


def _entities_store(conn: Connection, entities: list[tuple[str, str]]) -> None:
    existing = {e.external_id: e for e in ConnectionEntity.objects.select_for_update().filter(connection=conn)}
    for external_id, name in entities:
        row = existing.pop(external_id, None) or ConnectionEntity(connection=conn, external_id=external_id)
        row.name, row.active = name[:200], True
        row.save()
    ConnectionEntity.objects.filter(pk__in=[e.pk for e in existing.values()]).update(active=False)


def entities_pull(*, connection: Connection, actor: AbstractBaseUser | None) -> int:
    """List the entities of a multi-entity connection again (new ones added, gone ones inactive)."""
    entities, connection = call_with_token(connection, lambda p: p.list_entities())
    with transaction.atomic():
        _entities_store(connection, entities)
        audit_record(
            company=connection.company_id,
            actor=actor,
            action="connection.entities_pull",
            subject=connection,
            after={"entities": [e for e, _ in entities]},
        )
    return len(entities)


def connection_entity_get(*, connection: Connection, external_id: str) -> ConnectionEntity:
    """The entity ``external_id`` of ``connection``; a clear error for one it does not have."""
    entity = ConnectionEntity.objects.filter(connection=connection, external_id=str(external_id).strip()).first()
    if entity is None:
        raise IntegrationError(f"Entity “{external_id}” does not belong to this connection.", field="entity")
    return entity


@transaction.atomic
def entity_closed_date_set(
    *, connection: Connection, external_id: str, closed_through: date | None, actor: AbstractBaseUser | None
) -> ConnectionEntity:
    """Set the closed date of one entity as entered in closebooks (BC9). Clearing it leaves the
    date learned from the vendor's refusals in force."""
    entity = connection_entity_get(connection=connection, external_id=external_id)
    entity = ConnectionEntity.objects.select_for_update().get(pk=entity.pk)
    before = entity.manual_closed_date
    entity.manual_closed_date = closed_through
    entity.save(update_fields=["manual_closed_date", "updated_at"])
    entity_date_to_ledger(connection=connection, entity=entity, actor=actor)
    audit_record(
        company=connection.company_id,
        actor=actor,
        action="connection.entity_closed_date",
        subject=connection,
        before={"entity": entity.external_id, "manual_closed_date": before.isoformat() if before else None},
        after={"entity": entity.external_id, "manual_closed_date": closed_through.isoformat() if closed_through else None},
    )
    return entity


def entity_date_to_ledger(*, connection: Connection, entity: ConnectionEntity, actor: AbstractBaseUser | None = None) -> None:
    """Hand an entity's applied closed date to the ledger's per-entity books-closed date (BC9), so
    documents posted in closebooks for that entity are checked against it too. Pull semantics
    (BC8): a later date moves the entity's date forward; an earlier one never reopens days."""
    from ledger.services import books_closed_date_pull, ledger_entity_ensure

    if entity.closed_through is None:
        return
    ledger_entity = ledger_entity_ensure(company=connection.company, key=entity.external_id, name=entity.name, actor=actor)
    books_closed_date_pull(
        company=connection.company,
        pulled_date=entity.closed_through,
        source=f"{connection.get_provider_display()}: {entity.closed_source}"[:60],
        entity=ledger_entity,
        actor=actor,
    )


def entity_closed_refusal(*, entity: ConnectionEntity | None, entry_date: date) -> str:
    """The one check of a document against its own entity's closed date (BC9): "" when it may go."""
    closed = entity.closed_through if entity is not None else None
    if closed is not None and entry_date <= closed:
        return (
            f"Dated {entry_date.isoformat()}, in entity {entity}'s closed period (closed through "
            f"{closed.isoformat()}: {entity.closed_source.lower()})."
        )
    return ""


def _store_tokens(conn: Connection, tokens: Tokens) -> None:
    conn.access_token, conn.refresh_token = tokens.access_token, tokens.refresh_token
    conn.access_expires_at, conn.refresh_expires_at = tokens.access_expires_at, tokens.refresh_expires_at


def _connection_snapshot(conn: Connection) -> dict:
    """What the audit trail may know of a connection: never a token."""
    return {"provider": conn.provider, "tenant_id": conn.tenant_id, "tenant_name": conn.tenant_name, "status": conn.status}


@transaction.atomic
def connection_disconnect(*, connection: Connection, actor: AbstractBaseUser | None) -> Connection:
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    if conn.status == Connection.Status.DISCONNECTED:
        return conn
    before = _connection_snapshot(conn)
    conn.status = Connection.Status.DISCONNECTED
    conn.access_token = conn.refresh_token = ""
    conn.access_expires_at = conn.refresh_expires_at = None
    conn.disconnected_at = timezone.now()
    conn.save()
    SyncRun.objects.filter(connection=conn, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).update(
        status=SyncRun.Status.FAILED, error="The connection was disconnected.", finished_at=timezone.now()
    )
    audit_record(
        company=conn.company_id,
        actor=actor,
        action="connection.disconnect",
        subject=conn,
        before=before,
        after=_connection_snapshot(conn),
    )
    return conn


def connection_mark_broken(*, connection: Connection, message: str) -> None:
    with transaction.atomic():
        conn = Connection.objects.select_for_update().get(pk=connection.pk)
        if conn.status != Connection.Status.ACTIVE:
            return
        before = _connection_snapshot(conn)
        conn.status, conn.last_error = Connection.Status.BROKEN, message
        conn.save(update_fields=["status", "last_error"])
        audit_record(
            company=conn.company_id,
            actor=None,
            action="connection.broken",
            subject=conn,
            before=before,
            after=_connection_snapshot(conn),
            reason=message,
        )


def connection_tokens_refresh(*, connection: Connection, failed_access_token: str) -> Connection:
    """Refresh after a 401, once across all workers: under the row lock, a worker that finds the
    token already replaced uses the new one. Both tokens are stored together, because Xero
    rotates the refresh token on every use."""
    with transaction.atomic():
        conn = Connection.objects.select_for_update().get(pk=connection.pk)
        if conn.status != Connection.Status.ACTIVE:
            raise ConnectionBroken(conn.last_error or "The connection is not active.")
        if str(conn.access_token) != failed_access_token:
            return conn
        provider = provider_for(conn)
        try:
            tokens = provider.refresh()
        except ConnectionBroken:
            transaction.set_rollback(True)
            raise
        _store_tokens(conn, tokens)
        conn.save(update_fields=["access_token", "refresh_token", "access_expires_at", "refresh_expires_at"])
        return conn


def call_with_token(connection: Connection, fn: Callable[[Provider], object]) -> tuple[object, Connection]:
    """Run ``fn(provider)``; on a 401 refresh the tokens once and run it again. A refused refresh
    marks the connection broken (reconnect) and raises IntegrationError."""
    provider = provider_for(connection)
    try:
        try:
            return fn(provider), connection
        except TokenExpired:
            connection = connection_tokens_refresh(connection=connection, failed_access_token=provider.tokens.access_token)
            provider = provider_for(connection)
            return fn(provider), connection
    except ConnectionBroken as exc:
        connection_mark_broken(connection=connection, message=exc.message)
        raise IntegrationError(exc.message) from None
    except TokenExpired as exc:
        connection_mark_broken(connection=connection, message=exc.message)
        raise IntegrationError(exc.message) from None
    except ProviderError as exc:
        raise IntegrationError(exc.message) from None


# ---------------------------------------------------------------- chart of accounts and mappings


def accounts_pull(*, connection: Connection, actor: AbstractBaseUser | None) -> int:
    """Pull the vendor's chart of accounts (IN3). Accounts no longer listed are kept, marked inactive."""
    if connection.provider == Connection.Provider.QBD:
        from .qbd import accounts_queue

        accounts_queue(connection=connection, actor=actor)
        return ExternalAccount.objects.filter(connection=connection).count()
    remote, connection = call_with_token(connection, lambda p: p.list_accounts())
    return accounts_store(connection=connection, remote=remote, actor=actor)


def accounts_store(*, connection: Connection, remote: list, actor: AbstractBaseUser | None) -> int:
    """Store a pulled chart (IN3), whoever pulled it (a provider call, or a Web Connector answer)."""
    now = timezone.now()
    with transaction.atomic():
        existing = {a.external_id: a for a in ExternalAccount.objects.select_for_update().filter(connection=connection)}
        seen = set()
        for account in remote:
            seen.add(account.external_id)
            row = existing.get(account.external_id) or ExternalAccount(connection=connection, external_id=account.external_id)
            row.number, row.name, row.type, row.active, row.pulled_at = (
                account.number[:50],
                account.name[:300],
                account.type[:100],
                account.active,
                now,
            )
            row.save()
        gone = [row.pk for key, row in existing.items() if key not in seen]
        ExternalAccount.objects.filter(pk__in=gone).update(active=False)
        Connection.objects.filter(pk=connection.pk).update(accounts_pulled_at=now)
        audit_record(
            company=connection.company_id,
            actor=actor,
            action="connection.accounts_pull",
            subject=connection,
            after={"accounts": len(remote), "no_longer_listed": len(gone)},
        )
    return len(remote)


def items_store(*, connection: Connection, remote: list) -> int:
    """Store a pulled item list (QuickBooks Desktop ``ItemQueryRq``): each item and its income account."""
    now = timezone.now()
    with transaction.atomic():
        existing = {i.external_id: i for i in ExternalItem.objects.select_for_update().filter(connection=connection)}
        for item in remote:
            row = existing.pop(item.external_id, None) or ExternalItem(connection=connection, external_id=item.external_id)
            row.name, row.type, row.income_account_id = item.name[:300], item.type[:60], item.income_account_id[:100]
            row.active, row.pulled_at = item.active, now
            row.save()
        ExternalItem.objects.filter(pk__in=[i.pk for i in existing.values()]).update(active=False)
    return len(remote)


@transaction.atomic
def mappings_save(*, connection: Connection, choices: dict[int, int | None], actor: AbstractBaseUser | None) -> dict[str, int]:
    """Set the mappings of several local accounts at once: ``{account id: external account id or
    None (unmap)}``. An archived external account is refused for the account that names it."""
    company_id = connection.company_id
    accounts = Account.objects.in_bulk([a for a in choices])
    externals = ExternalAccount.objects.filter(connection=connection).in_bulk([e for e in choices.values() if e])
    current = {m.account_id: m for m in AccountMapping.objects.select_for_update().filter(connection=connection)}
    changed, before, after = 0, {}, {}
    for account_id, external_id in choices.items():
        account = accounts.get(account_id)
        if account is None or account.company_id != company_id:
            raise IntegrationError(f"Account {account_id} is not an account of this company.", field="mappings")
        external = externals.get(external_id) if external_id else None
        if external_id and external is None:
            raise IntegrationError(f"{account}: that external account is not in this connection's chart.", field="mappings")
        if external is not None and not external.active:
            raise IntegrationError(
                f"{account}: {external.name} is archived in the accounting system; choose an active account.",
                field="mappings",
            )
        mapping = current.get(account_id)
        old = mapping.external_account_id if mapping else None
        if old == (external.pk if external else None):
            continue
        changed += 1
        before[account.code] = str(mapping.external_account) if mapping else None
        after[account.code] = str(external) if external else None
        if external is None:
            mapping.delete()
        elif mapping is None:
            AccountMapping.objects.create(connection=connection, account=account, external_account=external)
        else:
            mapping.external_account = external
            mapping.save(update_fields=["external_account", "updated_at"])
    if changed:
        audit_record(company=company_id, actor=actor, action="mapping.update", subject=connection, before=before, after=after)
        inbound_waiting_post(connection=connection, actor=actor)  # invoices waiting for one of these mappings
    return {"changed": changed}


# ---------------------------------------------------------------- closed date (IN5, BC7, BC8)


def closed_date_pull(*, connection: Connection, actor: AbstractBaseUser | None = None) -> SyncRun:
    """Read the vendor's closed date and record it on the connection and on a run (BC7: one way,
    from the vendor into closebooks; closebooks never writes it back)."""
    if connection.provider == Connection.Provider.QBD:
        from .qbd import closed_date_queue

        return closed_date_queue(connection=connection, actor=actor)
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


# ---------------------------------------------------------------- inbound transactions (IN6, BC6)


def inbound_pull(*, connection: Connection, actor: AbstractBaseUser | None = None) -> SyncRun:
    """Pull invoices, bills, payments and journals made in the accounting system since the last
    pull and post each as an inbound journal entry through the ledger's posting service (which
    keeps and flags an unbalanced one, and whose books-closed guard decides BC6, per entity for
    BC9). Every refusal, ours or the ledger's, is a row on the run and on the transaction's record;
    nothing is dropped. QuickBooks Desktop's pull is queued for the Web Connector's next poll."""
    if connection.provider == Connection.Provider.QBD:
        from .qbd import inbound_queue

        return inbound_queue(connection=connection, actor=actor)
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
        return _run_finish(run, error=exc.message)
    inbound_store(connection=connection, run=run, txns=txns, actor=actor)
    Connection.objects.filter(pk=connection.pk).update(inbound_pulled_at=pulled_from)
    return _run_finish(run)


class _InboundContext:
    """What posting an inbound transaction needs to know of its connection, read once per pull."""

    def __init__(self, connection: Connection):
        from ledger.guard import QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES

        self.connection = connection
        mappings = AccountMapping.objects.filter(connection=connection).select_related("external_account", "account")
        self.local: dict[str, Account] = {}
        for m in sorted(mappings, key=lambda m: m.account.code, reverse=True):  # several: the lowest code wins
            self.local[m.external_account.external_id] = m.account
        externals = list(ExternalAccount.objects.filter(connection=connection))
        self.by_number = {e.number: e.external_id for e in externals if e.number}
        self.labels = {e.external_id: str(e) for e in externals}
        self.items = {i.external_id: i for i in ExternalItem.objects.filter(connection=connection)}
        self.entities = {e.external_id: e for e in ConnectionEntity.objects.filter(connection=connection)}
        # The per-provider exception to BC6, handed to the ledger's guard as data.
        self.policy = QUICKBOOKS_DESKTOP_RECEIVABLE_INVOICES if connection.provider == Connection.Provider.QBD else None


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
    return _run_finish(run)


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
            if not item.income_account_id:
                return [], f"Item {item} has no income account in {vendor}.", ""
            account = context.local.get(item.income_account_id)
            if account is None:
                label = context.labels.get(item.income_account_id) or item.income_account_id
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
                message=f"{txn.kind} {txn.number or txn.external_id} dated {txn.txn_date}: "
                + (f"waiting for a mapping. {wait}" if wait else problem),
            )
            SyncRun.objects.filter(pk=run.pk).update(failed=F("failed") + 1, heartbeat_at=timezone.now())
        else:
            SyncRun.objects.filter(pk=run.pk).update(done=F("done") + 1, heartbeat_at=timezone.now())


# ---------------------------------------------------------------- push engine (IN4)


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
    push runs returns the running one. The run's task starts after commit."""
    with transaction.atomic():
        conn = Connection.objects.select_for_update().filter(company=company, status=Connection.Status.ACTIVE).first()
        if conn is None:
            raise IntegrationError(f"{company} has no active accounting connection: connect one first.")
        running = SyncRun.objects.filter(
            connection=conn, kind=SyncRun.Kind.PUSH, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).first()
        target = connection_entity_get(connection=conn, external_id=entity) if entity else None
        if running is not None:
            return running
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
            [
                OutboxEntry(connection=conn, entry_id=pk, run=run)
                for pk in entries.exclude(pk__in=have).values_list("pk", flat=True)
            ],
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
        if run.total and conn.provider == Connection.Provider.QBD:
            from .qbd import push_queue

            push_queue(run=run)  # sent on the Web Connector's next poll; no worker involved
        elif enqueue and run.total:
            from .tasks import push_run

            run_id = run.pk
            transaction.on_commit(lambda: push_run.delay(run_id))
    return run


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
            return _run_finish(run, error=run.connection.last_error or "The connection is not active.")
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.RUNNING, started_at=run.started_at or timezone.now(), heartbeat_at=timezone.now()
        )
        engine = _PushEngine(run, sleep)
        try:
            while engine.next_chunk():
                pass
        except ConnectionBroken as exc:
            connection_mark_broken(connection=run.connection, message=exc.message)
            return _run_finish(run, error=exc.message)
        except ProviderError as exc:
            return _run_finish(run, error=exc.message)
        return _run_finish(run)


def _run_finish(run: SyncRun, *, error: str = "") -> SyncRun:
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            return run
        if error:
            run.status, run.error = SyncRun.Status.FAILED, error
        else:
            run.status = SyncRun.Status.PARTIAL if run.failed else SyncRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        audit_record(
            company=run.company_id,
            actor=None,
            action="sync_run.finish",
            subject=run,
            after={"status": run.status, "done": run.done, "failed": run.failed, "requests": run.requests, "error": error},
        )
    return run


def sync_run_fail(*, run_id: int, error: str) -> SyncRun:
    return _run_finish(SyncRun.objects.get(pk=run_id), error=error)


class _PushEngine:
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
            rows = self._freeze(rows)
            if rows is None:
                return True  # the chunk held only entries that cannot be sent; they are failed now
            key = rows[0].request_key
        entries = [_entry_from_payload(row.entry_id, row.payload) for row in rows]
        outcomes, attempts = self._send(entries, key)
        self._record(rows, outcomes, attempts)
        return True

    def _freeze(self, rows: list[OutboxEntry]) -> list[OutboxEntry] | None:
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

    def _record(self, rows: list[OutboxEntry], outcomes: list[PushOutcome], attempts: int) -> None:
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


def _entry_from_payload(entry_id: int, payload: dict) -> PushEntry:
    return PushEntry(
        local_id=entry_id,
        entry_date=date.fromisoformat(payload["date"]),
        memo=payload["memo"],
        reference=payload["reference"],
        currency=payload["currency"],
        external_id=payload.get("external_id", ""),
        external_version=payload.get("external_version", ""),
        entity=payload.get("entity", ""),
        lines=tuple(
            PushLine(
                external_account_id=ext_id,
                external_account_code=code,
                debit=Decimal(debit),
                credit=Decimal(credit),
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
        .exclude(connection__provider=Connection.Provider.QBD)  # waits for the Web Connector, not a worker
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", flat=True)
    )
