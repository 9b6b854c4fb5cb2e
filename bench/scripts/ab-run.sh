#!/bin/bash
# A/B of two builds: one `lockstep serve` binary on a fresh database, one of
# the generator's scenarios against it (steady unless SCENARIO says otherwise),
# nothing else (no Node.js, no other server), then a one-line summary. `cargo xtask bench` always measures the
# tree it builds; this compares binaries of two commits, run alternately.
#
# Run from the repository root, after `cargo build --release -p lockstep-bench`:
#   bench/scripts/ab-run.sh BINARY sqlite|pg LABEL OUTDIR [SECONDS]
#   e.g. bench/scripts/ab-run.sh /tmp/old/lockstep pg base-pg1 target/bench/ab 60
# Writes OUTDIR/LABEL.json (the generator's result), OUTDIR/LABEL.server.log
# and OUTDIR/LABEL.bench.log. On PostgreSQL (127.0.0.1:5432, user postgres)
# it also prints the CPU ticks (100 a second) that all `postgres` processes
# used during the run: PostgreSQL shares the two cores with the server.
# PORT and LOCKSTEP_BENCH override the port (3999) and the generator's path;
# SCENARIO picks another scenario (e.g. SCENARIO=storm; SECONDS is then not
# passed) and BENCH_ARGS adds its options (e.g. BENCH_ARGS="--source-addresses 4").
set -euo pipefail
BIN=$1; DB=$2; LABEL=$3; OUT=$4; DUR=${5:-60}
SCENARIO=${SCENARIO:-steady}
# shellcheck disable=SC2206 # BENCH_ARGS is a list of options, split on spaces
ARGS=($SCENARIO ${BENCH_ARGS:-})
if [ "$SCENARIO" = steady ]; then ARGS+=(--duration "$DUR"); fi
PORT=${PORT:-3999}
LOCKSTEP_BENCH=${LOCKSTEP_BENCH:-target/release/lockstep-bench}
SECRET=benchsecretbenchsecretbenchsecret12
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"  # a storm holds a socket per user, as `cargo xtask bench` does

# Total utime+stime ticks of the live `postgres` processes.
postgres_ticks() {
  local total=0 ticks p
  for p in $(pgrep -x postgres); do
    ticks=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || true)
    total=$((total + ${ticks:-0}))
  done
  echo "$total"
}

if [ "$DB" = pg ]; then
  NAME=ab_$(date +%s)
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $NAME" >/dev/null
  URL=postgres://postgres@127.0.0.1:5432/$NAME
else
  SCRATCH=$(mktemp -d); URL="sqlite://$SCRATCH/ab.db"
fi
"$BIN" serve --bind "127.0.0.1:$PORT" --database-url "$URL" --jwt-secret "$SECRET" \
  --max-connections-per-minute 0 --max-connections-per-address 0 --max-connections 0 >"$OUT/$LABEL.server.log" 2>&1 &
PID=$!
BEFORE=$(postgres_ticks)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
"$LOCKSTEP_BENCH" --addr "127.0.0.1:$PORT" --secret "$SECRET" --server-pid "$PID" --label "$LABEL" \
  --out "$OUT/$LABEL.json" "${ARGS[@]}" >"$OUT/$LABEL.bench.log" 2>&1
AFTER=$(postgres_ticks)
if [ "$DB" = pg ]; then echo "postgres CPU ticks during the run: $((AFTER - BEFORE))"; fi
kill -INT "$PID"; wait "$PID" || true
if [ "$DB" = pg ]; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE $NAME WITH (FORCE)" >/dev/null
else
  rm -rf "$SCRATCH"
fi
python3 - "$OUT/$LABEL.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if 'result' not in r:  # storm
    print(sys.argv[1], 'connects/s %.0f' % r['connects_per_sec'], 'all authenticated %.2f s' % r['all_authenticated_seconds'],
          'to authenticated p50/p99 %.0f/%.0f ms' % (r['to_authenticated_ms']['p50'], r['to_authenticated_ms']['p99']),
          'failures', r['failures'], 'CPU s per 1000 connects %.3f' % r['server_cpu_s_per_1000_connects'])
    sys.exit()
r = r['result']
a, d, w = r['ack_latency_ms'], r['delivery_latency_ms'], r['window']
print(sys.argv[1], 'ack p50/p99/p999/max %.2f/%.2f/%.2f/%.1f' % (a['p50'], a['p99'], a['p999'], a['max']),
      'delivery p99 %.2f' % d['p99'], 'errors', r['errors'],
      'server CPU %.0f%%' % w['server']['cpu_percent'], 'generator %.0f%%' % w['generator']['cpu_percent'],
      'CPU s per 1000 msgs %.3f' % r['server_cpu_s_per_1000_msgs'], 'disk KB/msg %.1f' % r['disk_write_kb_per_msg'])
PY
