"""Celery tasks meet a database that went away (a PostgreSQL restart or failover): the task is
retried with backoff on a fresh connection instead of failing, and gives up with a clear error
after ``DB_MAX_RETRIES``."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connections

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
DB_MAX_RETRIES = 10


def database_backoff(retries: int) -> int:
    """1, 2, 4, ... 30 s: about five minutes over ten retries, enough for a restart or failover."""
    return min(2**retries, 30)


def retry_on_database_error(task, exc: Exception):
    """Drop the broken connections and retry ``task`` later; returns (rather than raising) once
    the retries are used up, so the caller can record the failure."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:  # one inside a transaction belongs to the caller (a test's, say)
            conn.close()
    retries = task.request.retries
    if retries >= DB_MAX_RETRIES:
        return None
    log.warning(
        "%s: database unavailable (%s); retry %d in %d s", task.name, type(exc).__name__, retries + 1, database_backoff(retries)
    )
    raise task.retry(countdown=database_backoff(retries), max_retries=DB_MAX_RETRIES, exc=exc)
