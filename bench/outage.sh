#!/usr/bin/env bash
# Intake under a database outage: no text is lost, none waits more than 3 s for its answer.
#
#   bash bench/outage.sh [pg|sqlite|both]     (default: both)
#
# (a) PostgreSQL: a throwaway cluster "outage" on 127.0.0.1:5440 (pg_createcluster, trust auth),
#     init-db on it, the app with 2 gunicorn sync workers on a free 127.0.0.1 port; 300 distinct
#     signed SMS over 10 s while the cluster is stopped from second 3 to second 7
#     (pg_ctlcluster ... stop -m fast / start); then `flask hotline spool replay`.
# (b) SQLite: the same 300 SMS while another process holds the write lock (the write turn's
#     file lock and BEGIN IMMEDIATE) for 12 s from second 3; then the replay.
# Each prints: sent / answered 2xx / stored (interactions with those MessageSids) / duplicates /
# max latency, the replay's JSON, and the load average. Target on both: 300/300 2xx, 300 stored
# after the replay, 0 duplicates, no answer slower than 3 s.
# The cluster and the scratch folder are removed at the end, whatever happens (trap).
# Env: N (300), SECONDS_SENT (10), HOLD (12).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHICH=${1:-both}
N=${N:-300}
SECONDS_SENT=${SECONDS_SENT:-10}
HOLD=${HOLD:-12}
PG_PORT=5440
CLUSTER=outage
[ -x .venv/bin/gunicorn ] || { echo "no .venv with gunicorn: run make test (or make run) once" >&2; exit 2; }

WORK=$(mktemp -d)
APP_PID=
cleanup() {
  if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
  if pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "15 $CLUSTER"; then
    pg_dropcluster --stop 15 "$CLUSTER" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HOTLINE_PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
export TWILIO_AUTH_TOKEN=outage-token
export HOTLINE_LOG_LEVEL=ERROR
RUN=$(( $(date +%s) % 100000 ))

start_app() {
  .venv/bin/gunicorn -w 2 -b "127.0.0.1:$PORT" --log-level warning app:app 2>"$WORK/app.log" &
  APP_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/login" && return 0; sleep 0.1; done
  echo "the app did not start: $(tail -5 "$WORK/app.log")" >&2
  exit 1
}

stop_app() {
  kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true; APP_PID=
}

replay() {
  # The database may still be starting: a replay that finds it away stops; try again, 20 times at most.
  local out
  for _ in $(seq 20); do
    out=$(.venv/bin/flask --app app hotline spool replay)
    if ! grep -q '"stopped": "database unavailable' <<<"$out"; then break; fi
    sleep 0.5
  done
  echo "replay: $(tr -d '\n ' <<<"$out")"
}

report() {  # $1: label, $2: the sender's JSON, $3: the count's JSON
  .venv/bin/python - "$1" "$2" "$3" <<'EOF'
import json, sys
label, sent, stored = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{label}: sent {sent['sent']} / 2xx {sent['answered_2xx']} / stored {stored['stored']} / "
      f"duplicates {stored['duplicates']} / max latency {sent['max_latency_s']} s "
      f"(p99 {sent['p99_latency_s']} s, p50 {sent['p50_latency_s']} s, over 3 s: {sent['answers_over_3s']}, "
      f"non-2xx {sent['answered_other']}, errors {sent['errors']}; tickets {stored['tickets']}, "
      f"number SMS queued {stored['number_follow_up_sms']})")
EOF
}

run_pg() {
  if pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "15 $CLUSTER"; then pg_dropcluster --stop 15 "$CLUSTER"; fi
  pg_createcluster 15 "$CLUSTER" -p "$PG_PORT" -- --auth=trust >/dev/null
  pg_ctlcluster 15 "$CLUSTER" start
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE hotline_outage" >/dev/null
  export HOTLINE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/hotline_outage"
  export HOTLINE_SPOOL_DIR="$WORK/spool-pg"
  .venv/bin/flask --app app hotline init-db >/dev/null 2>&1
  start_app
  local sent stored
  sent=$(.venv/bin/python bench/outage.py send --url "$HOTLINE_PUBLIC_BASE_URL" --token "$TWILIO_AUTH_TOKEN" \
    --run "$RUN" -n "$N" --seconds "$SECONDS_SENT" \
    --down-at 3 --down-cmd "pg_ctlcluster 15 $CLUSTER stop -m fast" --up-at 7 --up-cmd "pg_ctlcluster 15 $CLUSTER start")
  echo "sender: $sent"
  echo "spooled before the replay: $(ls "$HOTLINE_SPOOL_DIR/pending" 2>/dev/null | wc -l)"
  replay
  stored=$(.venv/bin/python bench/outage.py count --database-url "$HOTLINE_DATABASE_URL" --run "$RUN" -n "$N")
  report "PostgreSQL, stopped from second 3 to 7" "$sent" "$stored"
  stop_app
  pg_dropcluster --stop 15 "$CLUSTER"
}

run_sqlite() {
  export HOTLINE_DATABASE_URL="sqlite:///$WORK/outage.sqlite3"
  export HOTLINE_SPOOL_DIR="$WORK/spool-sqlite"
  .venv/bin/flask --app app hotline init-db >/dev/null 2>&1
  start_app
  local sent stored
  sent=$(.venv/bin/python bench/outage.py send --url "$HOTLINE_PUBLIC_BASE_URL" --token "$TWILIO_AUTH_TOKEN" \
    --run "$((RUN + 1))" -n "$N" --seconds "$SECONDS_SENT" \
    --down-at 3 --down-cmd "$ROOT/.venv/bin/python $ROOT/bench/outage.py hold --db $WORK/outage.sqlite3 --seconds $HOLD")
  echo "sender: $sent"
  echo "spooled before the replay: $(ls "$HOTLINE_SPOOL_DIR/pending" 2>/dev/null | wc -l)"
  replay
  stored=$(.venv/bin/python bench/outage.py count --database-url "$HOTLINE_DATABASE_URL" --run "$((RUN + 1))" -n "$N")
  report "SQLite, write lock held ${HOLD} s from second 3" "$sent" "$stored"
  stop_app
}

echo "load before: $(uptime)"
case "$WHICH" in
  pg) run_pg ;;
  sqlite) run_sqlite ;;
  both) run_pg; run_sqlite ;;
  *) echo "usage: bash bench/outage.sh [pg|sqlite|both]" >&2; exit 2 ;;
esac
echo "load after: $(uptime)"
