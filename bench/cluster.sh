#!/usr/bin/env bash
# Several nodes on one PostgreSQL: no text lost or stored twice, no escalation step or outbox SMS done twice,
# while one web node and one scheduler are killed with kill -9 mid-run and restarted.
#
#   bash bench/cluster.sh [RUNS]      (default: 1 run)
#
# Each run: a scratch database on 127.0.0.1:5432 (user postgres, created, migrated and dropped);
# bench/cluster.py run starts a fake Twilio REST API on loopback (HOTLINE_TWILIO_API_BASE), two
# gunicorn instances (deploy/gunicorn.conf.py, HOTLINE_WEB_WORKERS=2, each with its own spool folder)
# behind nginx as the load balancer (a generated config in a temporary prefix, not a daemon), and two
# schedulers (both on node A; node B has gunicorn only); seeds 400 tickets whose escalation steps
# (500) fall due during the run and 300 outbox messages due during it; sends 2,000 distinct signed
# SMS through nginx over 40 s; at second 12 kills gunicorn A (master and workers) and scheduler 1
# with kill -9 (Twilio answering slowly from second 9, so the scheduler dies between Twilio taking a
# message and hearing so), restarts both at second 17; from second 24 to 28 node B loses the database (its
# connections pass through a proxy on loopback that drops them), so it spools and replays alone.
# Then prints: messages sent / stored / duplicates / lost, answers and p50/p99 latency, escalation
# steps due / written / duplicates, outbox rows / fake-Twilio POSTs / each once, the timeline of the
# kills, the load average; exits 1 if an invariant fails.
# Everything it started is stopped, its folder removed and the database dropped, whatever happens (trap).
# Env: N (2000), SECONDS_SENT (40).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-1}
[ -x .venv/bin/gunicorn ] || { echo "no .venv with gunicorn: run make test (or make run) once" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx" >&2; exit 2; }
PG_ADMIN=postgresql://postgres@127.0.0.1:5432/postgres

WORK=
SCRATCH=
cleanup() {
  if [ -n "$WORK" ] && [ -f "$WORK/pgids" ]; then
    while read -r pgid; do kill -KILL -- "-$pgid" 2>/dev/null || true; done <"$WORK/pgids"
  fi
  [ -z "$SCRATCH" ] || psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS ${SCRATCH} WITH (FORCE)" >/dev/null || true
  if [ -n "$WORK" ] && [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK"; elif [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  WORK= SCRATCH=
}
trap cleanup EXIT

status=0
for run in $(seq "$RUNS"); do
  WORK=$(mktemp -d)
  SCRATCH="hotline_bench_cluster_$$_$run"
  psql -q "$PG_ADMIN" -c "CREATE DATABASE ${SCRATCH}" >/dev/null
  URL="postgresql+psycopg://postgres@127.0.0.1:5432/$SCRATCH"
  HOTLINE_DATABASE_URL=$URL HOTLINE_LOG_LEVEL=WARNING .venv/bin/flask --app app hotline init-db >/dev/null
  echo "run $run/$RUNS: load $(uptime | sed 's/.*load average: //')"
  .venv/bin/python bench/cluster.py run --work "$WORK" --database-url "$URL" \
    -n "${N:-2000}" --seconds "${SECONDS_SENT:-40}" || status=1
  cleanup
done
exit $status
