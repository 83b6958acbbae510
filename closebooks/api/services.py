"""Writers of API keys and webhooks, and the key check the API runs on every call (AP1, AP2)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from ledger import roles
from ledger.models import Company
from ledger.services import audit_record

from .exceptions import ApiKeyError, WebhookUrlError
from .models import ApiKey, WebhookDelivery, WebhookEndpoint

KEY_START = "cbk_"


def _require(actor: AbstractBaseUser | None, company: Company, what: str) -> None:
    if actor is not None and not actor.has_perm(roles.ADMINISTER, company):
        raise ApiKeyError(f"Only an administrator can {what}.")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    plaintext: str  # shown once, never stored


@transaction.atomic
def api_key_create(
    *, company: Company, actor: AbstractBaseUser | None, name: str, scope: str, expires_at: datetime | None = None
) -> NewKey:
    """Make a key for ``company``: ``cbk_<prefix>_<secret>``. Only its hash is stored."""
    _require(actor, company, "make API keys")
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("Name the key after the system that uses it.", field="name")
    if scope not in ApiKey.Scope.values:
        raise ApiKeyError(f"Unknown scope “{scope}”: choose read or post.", field="scope")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyError("The expiry must be in the future.", field="expires_at")
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        company=company,
        name=name[:100],
        prefix=prefix,
        key_hash=_hash(plaintext),
        scope=scope,
        expires_at=expires_at,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        company=company,
        actor=actor,
        action="api_key.create",
        subject=key,
        after={"name": key.name, "prefix": prefix, "scope": scope, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return NewKey(key, plaintext)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: AbstractBaseUser | None) -> ApiKey:
    _require(actor, key.company, "revoke API keys")
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(company=key.company_id, actor=actor, action="api_key.revoke", subject=key, before={"prefix": key.prefix})
    return key


class KeyRefused(Exception):
    def __init__(self, code: str, message: str, status: int = 401):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def api_key_check(presented: str) -> ApiKey:
    """The key a request presents, if it is known, not revoked and not expired (else KeyRefused).
    Compared in constant time; the lookup is by its public prefix."""
    presented = (presented or "").strip()
    if not presented.startswith(KEY_START) or presented.count("_") < 2:
        raise KeyRefused("invalid_key", "The API key is missing or malformed: send it as “Authorization: Bearer cbk_…”.")
    prefix = presented[len(KEY_START) :].split("_", 1)[0]
    key = ApiKey.objects.select_related("company").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(presented)):
        raise KeyRefused("invalid_key", "The API key is not valid.")
    if key.revoked_at is not None:
        raise KeyRefused("key_revoked", "The API key was revoked.")
    now = timezone.now()
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRefused("key_expired", f"The API key expired at {key.expires_at.isoformat()}.")
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most once a minute: not a write per call
    return key


def rate_limit_hit(bucket: str, limit: int, window: int) -> int | None:
    """Count one call in ``bucket``'s fixed window; the seconds to wait when over ``limit``, else None.
    Atomic in the shared cache (Redis in production): add() starts a window, incr() counts."""
    window_start = int(time.time()) // window
    key = f"api-rate:{bucket}:{window_start}"
    if cache.add(key, 1, timeout=window + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 5)
            count = 1
    if count > limit:
        return window - int(time.time()) % window or 1
    return None


def _bad_key_bucket(ip: str) -> str:
    return f"api-bad-key:{ip}:{int(time.time()) // 60}"


def bad_keys_seen(ip: str) -> int:
    """Bad keys presented from ``ip`` this minute."""
    return cache.get(_bad_key_bucket(ip)) or 0


def bad_key_record(ip: str) -> None:
    bucket = _bad_key_bucket(ip)
    if not cache.add(bucket, 1, timeout=65):
        try:
            cache.incr(bucket)
        except ValueError:
            cache.add(bucket, 1, timeout=65)


# ---------------------------------------------------------------- webhooks (AP2)


def _address_refused(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


def webhook_url_check(url: str) -> str:
    """An http(s) URL; in production never one at a loopback, private, link-local or otherwise
    non-public address (checked again at each delivery: a name may point elsewhere later)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise WebhookUrlError(f"“{url}” is not a URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlError("A webhook URL starts with https:// (or http://) and names a host.")
    if parts.username or parts.password:
        raise WebhookUrlError("A webhook URL carries no user name or password: the signature proves the sender.")
    if len(url) > 500:
        raise WebhookUrlError("The URL is longer than 500 characters.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        host = parts.hostname
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            raise WebhookUrlError(f"The host “{host}” cannot be found.") from None
        for info in infos:
            if _address_refused(info[4][0]):
                raise WebhookUrlError(f"“{host}” is at a loopback or private address: webhooks go to public addresses only.")
    return url


@dataclass(frozen=True)
class NewWebhook:
    endpoint: WebhookEndpoint
    secret: str  # shown once


@transaction.atomic
def webhook_create(*, company: Company, actor: AbstractBaseUser | None, url: str, events: list[str]) -> NewWebhook:
    _require(actor, company, "add webhooks")
    url = webhook_url_check(url)
    events = sorted(set(events or []))
    if not events:
        raise ApiKeyError("Choose at least one event.", field="events")
    unknown = [e for e in events if e not in WebhookEndpoint.Event.values]
    if unknown:
        raise ApiKeyError(f"Unknown event “{unknown[0]}”.", field="events")
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint.objects.create(
        company=company, url=url, secret=secret, events=events, created_by=actor if actor and actor.is_authenticated else None
    )
    audit_record(company=company, actor=actor, action="webhook.create", subject=endpoint, after={"url": url, "events": events})
    return NewWebhook(endpoint, secret)


@transaction.atomic
def webhook_delete(*, endpoint: WebhookEndpoint, actor: AbstractBaseUser | None) -> None:
    _require(actor, endpoint.company, "remove webhooks")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.active:
        return
    endpoint.active = False
    endpoint.save(update_fields=["active"])
    audit_record(
        company=endpoint.company_id, actor=actor, action="webhook.delete", subject=endpoint, before={"url": endpoint.url}
    )


def webhook_emit(*, company_id: int, event: str, data: dict) -> list[WebhookDelivery]:
    """Record one delivery per active endpoint of the company that wants ``event``, and queue
    them after commit. Call it inside the transaction of what happened (or after it committed)."""
    if event not in WebhookEndpoint.Event.values:
        raise ValueError(f"unknown webhook event {event!r}")
    endpoints = [e for e in WebhookEndpoint.objects.filter(company_id=company_id, active=True) if event in e.events]
    made = []
    for endpoint in endpoints:
        delivery = WebhookDelivery(endpoint=endpoint, company_id=company_id, event=event, payload={})
        delivery.payload = {
            "id": str(delivery.event_id),
            "event": event,
            "created_at": timezone.now().isoformat(),
            "company": endpoint.company.slug,
            "data": data,
        }
        delivery.save()
        made.append(delivery)
    ids = [d.pk for d in made]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return made


DELIVER_TASK = "closebooks.api.tasks.deliver_webhook"  # looked up by name: the tasks import this module


def _enqueue(ids: list[int]) -> None:
    deliver = current_app.tasks[DELIVER_TASK]
    for pk in ids:
        deliver.delay(pk)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``, as the receiver recomputes it."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class DeliveryFailed(Exception):
    pass


def webhook_deliver(*, delivery_id: int, final: bool = False) -> WebhookDelivery:
    """POST one delivery, signed. A 2xx answer delivers it; anything else is logged on the
    delivery and raised as DeliveryFailed for the task to retry (``final``: the last try, the
    delivery is marked failed). Redirects are not followed. Safe to run twice: a delivered one is left alone."""
    import httpx

    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return delivery
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    timestamp = int(time.time())
    entry = {"at": timezone.now().isoformat(), "attempt": delivery.attempts + 1}
    status_code, error = None, ""
    try:
        if not endpoint.active:
            raise DeliveryFailed("the webhook was removed")
        webhook_url_check(endpoint.url)
        response = httpx.post(
            endpoint.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "closebooks-webhooks/1",
                "X-Closebooks-Event": delivery.event,
                "X-Closebooks-Delivery": str(delivery.event_id),
                "X-Closebooks-Signature": signature(str(endpoint.secret), timestamp, body),
            },
            timeout=settings.WEBHOOKS_TIMEOUT,
            follow_redirects=False,
        )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except (httpx.HTTPError, WebhookUrlError, DeliveryFailed) as exc:
        error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    entry.update({"status": status_code, "error": error})
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        row.attempts += 1
        row.last_status_code, row.last_error = status_code, error[:1000]
        row.log = [*row.log, entry][-20:]
        if not error:
            row.status, row.delivered_at = WebhookDelivery.Status.DELIVERED, timezone.now()
        elif final or not endpoint.active:
            row.status = WebhookDelivery.Status.FAILED
        row.save(update_fields=["attempts", "last_status_code", "last_error", "log", "status", "delivered_at"])
    if error and row.status == WebhookDelivery.Status.PENDING:
        raise DeliveryFailed(error)
    return row


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery, actor: AbstractBaseUser | None) -> WebhookDelivery:
    """Send a failed delivery again (administrators), as a fresh series of tries."""
    _require(actor, delivery.company, "send webhooks again")
    row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if row.status == WebhookDelivery.Status.PENDING:
        return row
    row.status = WebhookDelivery.Status.PENDING
    row.save(update_fields=["status"])
    audit_record(company=row.company_id, actor=actor, action="webhook.redeliver", subject=row, after={"event": row.event})
    pk = row.pk
    transaction.on_commit(lambda: _enqueue([pk]), robust=True)
    return row
