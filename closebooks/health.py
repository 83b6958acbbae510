"""``/healthz/``: for load balancers and process supervisors. No login, no secrets: it says only
whether this process reaches PostgreSQL and Redis (200 when both answer, 503 otherwise)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is "down"; the class name only, never the DSN
        log.warning("healthz: database check failed (%s)", type(exc).__name__)
        return "down"
    return "ok"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"  # the embedded default: Celery runs in-process
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        log.warning("healthz: redis check failed (%s)", type(exc).__name__)
        return "down"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database(), "redis": _redis()}
    healthy = all(value != "down" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "down", **checks}, status=200 if healthy else 503)
