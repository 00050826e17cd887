#!/usr/bin/env bash
# The SMS intake figure: the project's /twilio/sms beside the floor, measured in one run.
#
#   bash bench/intake.sh              # the app on SQLite, the floor storing nothing
#   bash bench/intake.sh --postgres   # the app on PostgreSQL, the floor storing each message on the same server
#
# With --postgres, two scratch databases on 127.0.0.1:5432 (user postgres) are created and dropped: one
# for the app, one for the floor's table (FLOOR_DATABASE_URL), so both write to the same server.
#
# Starts the app on a fresh SQLite database with 2 gunicorn sync workers on
# 127.0.0.1:8002 (TWILIO_AUTH_TOKEN=bench-token, HOTLINE_PUBLIC_BASE_URL set to
# that address, as the floor expects), runs ../shared/bench/compare_intake.sh
# against it, and stops it. The last line is the figure:
#   intake/floor rps ratio R (project X rps p99 Y ms, floor Z rps)
# Target: R >= 0.5, p99 < 25 ms, no non-2xx answer.
# Env: COMPARE (path of compare_intake.sh), and ROUNDS, DUR, CONNS, N as compare_intake.sh takes them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=8002
COMPARE=${COMPARE:-$ROOT/../shared/bench/compare_intake.sh}
[ -x .venv/bin/gunicorn ] || { echo "no .venv with gunicorn: run make test (or make run) once" >&2; exit 2; }
! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/" || { echo "127.0.0.1:$PORT is already taken" >&2; exit 2; }

WORK=$(mktemp -d)
PG_ADMIN=postgresql://postgres@127.0.0.1:5432/postgres
SCRATCH=""
if [ "${1:-}" = "--postgres" ]; then
  SCRATCH="hotline_bench_intake_$$"
  psql -q "$PG_ADMIN" -c "CREATE DATABASE ${SCRATCH}" -c "CREATE DATABASE ${SCRATCH}_floor" >/dev/null
  export HOTLINE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$SCRATCH"
  export FLOOR_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/${SCRATCH}_floor"
else
  export HOTLINE_DATABASE_URL="sqlite:///$WORK/bench.sqlite3"
fi
drop_scratch() {
  [ -z "$SCRATCH" ] || psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS ${SCRATCH} WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS ${SCRATCH}_floor WITH (FORCE)" >/dev/null
}
trap 'rm -rf "$WORK"; drop_scratch' EXIT
export HOTLINE_PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
export TWILIO_AUTH_TOKEN=bench-token
export HOTLINE_LOG_LEVEL=WARNING
.venv/bin/flask --app app hotline init-db >/dev/null

.venv/bin/gunicorn -w 2 -b "127.0.0.1:$PORT" --log-level warning app:app &
APP_PID=$!
trap 'kill "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; rm -rf "$WORK"; drop_scratch' EXIT
for _ in $(seq 100); do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/login" && break; sleep 0.1; done

# The floor must not inherit the project's settings: compare_intake.sh sets its own.
env -u HOTLINE_DATABASE_URL VENV="$ROOT/.venv" bash "$COMPARE" "http://127.0.0.1:$PORT/twilio/sms"
