"""Vendor quotas kept globally (IN4). Celery's ``rate_limit`` is per worker; a vendor counts all
our requests for a tenant together, so the count lives in Redis, shared by every worker.

A sliding-window log per (provider, tenant, bucket): a request may go when fewer than ``limit``
requests went in the last ``window`` seconds. The check-and-record is one Lua script using the
Redis server's clock, so workers on different machines agree. Without Redis (the embedded
default, tasks in-process) the same algorithm runs in memory."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict, deque

from django.conf import settings

from .providers.base import TransientError

WINDOW = 60.0
OUTAGE_ATTEMPTS = 8  # about a minute of backoff before the task retries later
# Our clock starts before the request leaves; the vendor's when it arrives. A little margin keeps
# the two windows from disagreeing at the edge.
MARGIN = 0.25

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2] .. ':' .. i)
  redis.call('EXPIRE', key, math.ceil(window) + 5)
end
return '0'
"""


class RedisLimiter:
    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.script = self.client.register_script(_SCRIPT)
        self.errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

    def try_acquire(self, keys: list[str], limits: list[int]) -> float:
        try:
            return float(self.script(keys=keys, args=[WINDOW + MARGIN, uuid.uuid4().hex, *limits]))
        except self.errors as exc:
            raise ConnectionError(str(exc)) from None


class MemoryLimiter:
    def __init__(self):
        self.lock = threading.Lock()
        self.windows: dict[str, deque] = defaultdict(deque)

    def try_acquire(self, keys: list[str], limits: list[int]) -> float:
        with self.lock:
            now = time.monotonic()
            wait = 0.0
            for key, limit in zip(keys, limits, strict=True):
                window = self.windows[key]
                while window and now - window[0] >= WINDOW + MARGIN:
                    window.popleft()
                if len(window) >= limit:
                    wait = max(wait, window[0] + WINDOW + MARGIN - now)
            if wait > 0:
                return wait
            for key in keys:
                self.windows[key].append(now)
            return 0.0


_limiter = None
_limiter_lock = threading.Lock()


def limiter():
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            _limiter = RedisLimiter(settings.REDIS_URL) if settings.REDIS_URL else MemoryLimiter()
        return _limiter


def acquire(provider_code: str, tenant_id: str, buckets: list[tuple[str, int]], *, sleep=time.sleep) -> float:
    """Block until one request may go to ``tenant_id`` under every bucket's quota. Returns the
    seconds waited. No-op when ``INTEGRATIONS_RATE_LIMITS`` is off."""
    if not settings.INTEGRATIONS_RATE_LIMITS or not buckets:
        return 0.0
    keys = [f"closebooks:quota:{provider_code}:{tenant_id}:{name}" for name, _ in buckets]
    limits = [limit for _, limit in buckets]
    waited = 0.0
    outage = 0
    while True:
        try:
            wait = limiter().try_acquire(keys, limits)
        except (ConnectionError, TimeoutError, OSError) as exc:
            # Redis restarting or unreachable: the quota cannot be checked, so nothing is sent;
            # wait and ask again, and give the run back to its task if it lasts.
            outage += 1
            if outage > OUTAGE_ATTEMPTS:
                raise TransientError(f"The quota store (Redis) is unreachable: {type(exc).__name__}.") from None
            pause = min(10.0, 0.25 * 2**outage) * random.uniform(0.5, 1.0)
            sleep(pause)
            waited += pause
            continue
        if wait <= 0:
            return waited
        pause = wait + random.uniform(0, 0.05)  # jitter: workers waiting on one window do not wake together
        sleep(pause)
        waited += pause
