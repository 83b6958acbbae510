"""Connections (IN2): the provider client of a connection, connecting (OAuth with PKCE, or a Web
Services user), tokens and their refresh, disconnecting, and the entities of a multi-entity
connection with their closed dates (BC9)."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import date
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ledger import roles
from ledger.models import Company
from ledger.permissions import require
from ledger.services import audit_record

from ..exceptions import IntegrationError
from ..models import Connection, ConnectionEntity, SyncRun
from ..providers import Provider, ProviderConfig, provider_class
from ..providers.base import ConnectionBroken, ProviderError, TenantChoiceNeeded, TokenExpired, Tokens
from ..signals import connection_needs_reconnect

log = logging.getLogger(__name__)


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
    require(actor, roles.ADMINISTER, company, what="connect an accounting system")
    config = provider_config(provider_code)
    provider = provider_class(provider_code)(config)
    try:
        provider.prepare_from_callback(params)  # NetSuite: the account's own hosts, from the redirect
        if provider.uses_pkce:
            provider.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
        else:
            provider.exchange_code(code=code, redirect_uri=redirect_uri)
    except ProviderError as exc:
        raise IntegrationError(f"Connecting to {provider.name} failed: {exc.message}") from None
    return _connection_finish(company=company, provider_code=provider_code, provider=provider, params=params, actor=actor)


def connection_connect_chosen(
    *, company: Company, provider_code: str, tokens: Tokens, tenant_id: str, actor: AbstractBaseUser | None
) -> Connection:
    """Finish a connection whose sign-in authorised several tenants, with the one the user chose
    (Xero): the tokens are those of that sign-in; the vendor is asked again that the choice is one of them."""
    provider = provider_class(provider_code)(provider_config(provider_code), tokens=tokens)
    return _connection_finish(
        company=company, provider_code=provider_code, provider=provider, params={"tenant": tenant_id}, actor=actor
    )


def _connection_finish(
    *, company: Company, provider_code: str, provider: Provider, params: dict[str, str], actor: AbstractBaseUser | None
) -> Connection:
    """Find the tenant, store the tokens (encrypted). Reconnecting the same tenant repairs the connection
    in place. Raises ``TenantChoiceNeeded`` (with the tokens) when the user must choose the tenant."""
    tokens = provider.tokens
    try:
        tenant_id, tenant_name = provider.tenant_from_callback(params)
        version = provider.remote_version()
    except TenantChoiceNeeded as exc:
        exc.tokens = tokens
        raise
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
        # The URLs the provider settled on for this tenant (NetSuite's are the account's own hosts).
        conn.authorize_url, conn.token_url = provider.config.authorize_url, provider.config.token_url
        conn.api_base_url, conn.connections_url = provider.config.api_base_url, provider.config.connections_url
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
    require(actor, roles.ADMINISTER, company, what="connect an accounting system")
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
    require(actor, roles.MANAGE, connection.company_id, what="list the entities again")
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
    require(actor, roles.MANAGE, connection.company_id, what="set an entity's closed date")
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
    require(actor, roles.ADMINISTER, connection.company_id, what="disconnect an accounting system")
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
        conn_id = conn.pk
        transaction.on_commit(
            lambda: connection_needs_reconnect.send(sender=Connection, connection_id=conn_id, message=message), robust=True
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
    except VENDOR_SHAPE_ERRORS as exc:
        # An answer whose shape the client did not expect (a field of another type, a list where an
        # object was documented): the run fails with a clear error instead of the task dying with it.
        log.exception("unreadable answer from %s", connection.get_provider_display())
        raise IntegrationError(unreadable_answer(connection, exc)) from None


# What reading an answer of an unexpected shape raises in a client: refused with a clear message.
VENDOR_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError)


def unreadable_answer(connection: Connection, exc: Exception) -> str:
    return (
        f"{connection.get_provider_display()} answered something closebooks could not read "
        f"({type(exc).__name__}: {str(exc)[:200]}); nothing was changed."
    )
