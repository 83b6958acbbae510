#!/usr/bin/env bash
# `make load`: 50 users for 60 s (LOAD_USERS, LOAD_SECONDS) against the production stack of
# `make prod` (gunicorn, worker, beat) on this machine, loopback only, on a company with a million
# journal lines (`manage.py load_prepare`, kept between runs), while a sync of LOAD_SYNC_ENTRIES
# entries runs through the worker. Prints p50/p95/p99 per page and the error count; the last
# line is one JSON object. Target: p95 <= 200 ms, no errors. Figures count from when all users
# are running (--reset-stats: the 2 s ramp and cold gunicorn workers are left out).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export RUN_DIR=${RUN_DIR:-$PWD/test-artifacts/prod}
export LOAD_USERS=${LOAD_USERS:-50} LOAD_SECONDS=${LOAD_SECONDS:-60} LOAD_LINES=${LOAD_LINES:-1000000}
export LOAD_SYNC_ENTRIES=${LOAD_SYNC_ENTRIES:-20000}
export LOAD_INFO=$RUN_DIR/load_info.json LOAD_RESULT=$RUN_DIR/load_result.json SYNC_RESULT=$RUN_DIR/load_sync.json
# The fake vendor has no quotas here and neither has our limiter: the sync runs as fast as the
# machine lets it, so it competes with the pages for the whole test.
export INTEGRATIONS_RATE_LIMITS=0
# The API's per-key limit is a guard against a runaway client; the scenario's one key stands for
# many callers, so it is lifted here (the limit itself is tested in tests/closebooks/api).
export API_RATE_LIMIT=${API_RATE_LIMIT:-1000000}
mkdir -p "$RUN_DIR"

if [ "${1:-}" = "--inside" ]; then  # run by scripts/prod.sh once the stack answers
  base="http://$GUNICORN_BIND"
  rm -f "$LOAD_RESULT" "$SYNC_RESULT"
  # load_sync hosts the fake vendor, which stands in for the vendor's own servers (never on this
  # machine in production): niced, it gets the CPU the stack leaves. The stack's own worker does
  # the sync, niced as `make prod` runs it (scripts/prod.sh, WORKER_NICE).
  nice -n 10 "$PY" manage.py load_sync --entries "$LOAD_SYNC_ENTRIES" > "$SYNC_RESULT.out" 2> "$RUN_DIR/load_sync.log" &
  sync_pid=$!
  for _ in $(seq 1 600); do grep -q "pushes them now" "$RUN_DIR/load_sync.log" 2>/dev/null && break; sleep 0.5; done
  echo "load: sync started; $LOAD_USERS users for $LOAD_SECONDS s against $base"
  "$PY" -m locust -f loadtest/locustfile.py --headless --host "$base" -u "$LOAD_USERS" -r 25 --reset-stats \
    -t "${LOAD_SECONDS}s" --stop-timeout 10 --only-summary --loglevel WARNING > "$RUN_DIR/locust.log" 2>&1 || true
  echo "load: waiting for the sync to finish..."
  wait "$sync_pid" || true
  tail -n 1 "$SYNC_RESULT.out" > "$SYNC_RESULT" 2>/dev/null || true
  "$PY" - <<'PYEOF'
import json, os
result = json.load(open(os.environ["LOAD_RESULT"]))
try:
    sync = json.load(open(os.environ["SYNC_RESULT"]))
except (OSError, ValueError):
    sync = {"status": "no result: see load_sync.log"}
print(f"{'page':22} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
for name, p in result["pages"].items():
    print(f"{name:22} {p['requests']:8} {p['errors']:6} {p['p50_ms']:7.0f} {p['p95_ms']:7.0f} {p['p99_ms']:7.0f}")
print(f"{'all':22} {result['requests']:8} {result['errors']:6} {result['p50_ms']:7.0f} {result['p95_ms']:7.0f} {result['p99_ms']:7.0f}")
result["sync"] = sync
result["seconds"] = int(os.environ["LOAD_SECONDS"])
result["load_average"] = [round(x, 2) for x in os.getloadavg()]
result["p95_target_met"] = all(p["p95_ms"] <= 200 for p in result["pages"].values())
print(json.dumps(result))
PYEOF
  exit 0
fi

# Outside: the same environment as `make prod`, the company, then the stack with this scenario inside.
export CLOSEBOOKS_ENV=production
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/closebooks}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost} SECURE_SSL_REDIRECT=0 SECURE_COOKIES=0
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s "$RUN_DIR/secret_key" ] || { umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$RUN_DIR/secret_key"; }
  SECRET_KEY=$(cat "$RUN_DIR/secret_key"); export SECRET_KEY
fi
bash scripts/services.sh
"$PY" manage.py migrate --noinput
echo "load: preparing the company ($LOAD_LINES journal lines; kept between runs)..."
"$PY" manage.py load_prepare --lines "$LOAD_LINES" --sessions "$LOAD_USERS" | tail -n 1 > "$LOAD_INFO"
# The close checklist of last month and an API key for the date check, merged into LOAD_INFO.
"$PY" manage.py load_prepare_close | tail -n 1 > "$RUN_DIR/load_close.json"
"$PY" -c 'import json, os, sys; info = json.load(open(sys.argv[1])); info.update(json.load(open(sys.argv[2]))); json.dump(info, open(sys.argv[1], "w"))' \
  "$LOAD_INFO" "$RUN_DIR/load_close.json"
echo "load: uptime before: $(uptime)"
PROD_COMMAND="bash scripts/load.sh --inside" PY="$PY" bash scripts/prod.sh
