"""gunicorn settings for closebooks (docs/production.md). Every value can be overridden from the
environment, so one file serves a laptop smoke run and a production host."""

import multiprocessing
import os

wsgi_app = "closebooks.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers, one request per process at a time: a free process takes the next connection, so
# the load spreads over every process and core. Measured under `make load` (50 users, 2 cores): with
# gthread workers one process kept most of the users' keep-alive connections and ran GIL-bound at
# 70% of one core while the machine stood 24% idle. Put a buffering proxy (nginx, a load balancer)
# in front, as production does, so slow clients never hold a process. GUNICORN_WORKER_CLASS=gthread
# with GUNICORN_THREADS brings threads back where a process per request costs too much memory.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
# Requests spend part of their time waiting on PostgreSQL: a few more processes than cores keep the
# cores busy. Each process holds one database connection (CONN_MAX_AGE).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))  # the close package is the slowest page
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that a slow leak never grows without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# Behind a reverse proxy that sets X-Forwarded-Proto (settings.SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Query strings can carry OAuth codes on the vendor callback: the access log keeps the path only.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
