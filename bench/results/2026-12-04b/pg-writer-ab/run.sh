#!/bin/bash
# usage: run.sh BIN sqlite|pg LABEL OUTDIR DURATION
BIN=$1; DB=$2; LABEL=$3; OUT=$4; DUR=${5:-60}
mkdir -p $OUT
SECRET=benchsecretbenchsecretbenchsecret12
if [ "$DB" = pg ]; then
  NAME=ab_$(date +%s)
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $NAME" >/dev/null
  URL=postgres://postgres@127.0.0.1:5432/$NAME
else
  D=$(mktemp -d); URL="sqlite://$D/ab.db"
fi
$BIN serve --bind 127.0.0.1:3999 --database-url "$URL" --jwt-secret $SECRET --max-connections-per-minute 0 > $OUT/$LABEL.server.log 2>&1 &
PID=$!
PGA=$(/tmp/ab/pgcpu.sh)
for i in $(seq 50); do curl -sf http://127.0.0.1:3999/health >/dev/null && break; sleep 0.2; done
/work/main/target/release/lockstep-bench --addr 127.0.0.1:3999 --secret $SECRET --server-pid $PID --label $LABEL --out $OUT/$LABEL.json steady --duration $DUR > $OUT/$LABEL.bench.log 2>&1
PGB=$(/tmp/ab/pgcpu.sh); echo "postgres cpu ticks during run: $((PGB-PGA))"
kill -INT $PID; wait $PID
if [ "$DB" = pg ]; then psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE $NAME WITH (FORCE)" >/dev/null; else rm -rf $D; fi
python3 - $OUT/$LABEL.json <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))['result']
a=r['ack_latency_ms'];d=r['delivery_latency_ms'];w=r['window']
print(sys.argv[1], 'ack p50/p99/p999/max %.2f/%.2f/%.2f/%.1f'%(a['p50'],a['p99'],a['p999'],a['max']), 'deliv p99 %.2f'%d['p99'], 'err',r['errors'],'srv cpu %.0f%%'%w['server']['cpu_percent'],'gen %.0f%%'%w['generator']['cpu_percent'])
PY
