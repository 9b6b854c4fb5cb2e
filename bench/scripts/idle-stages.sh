#!/usr/bin/env bash
# What an idle socket's memory is made of: the server's RSS per socket when
# every socket stops at one stage of the connect (lockstep-bench idle
# --stage): accepted TCP only (nothing sent), the engine.io session open
# over WebSocket (no Socket.IO connect), and authenticated (the scenario).
# The second is engine.io's and the transport's share; the difference to the
# third is socketioxide's socket and Lockstep's session, rooms and handlers.
#
#   bench/scripts/idle-stages.sh [SOCKETS] [SOURCE_ADDRESSES]
#
# Run from the repository root after `cargo build --release -p lockstep -p
# lockstep-bench`. The server runs with its CONNECT deadline and header
# timeout raised (sockets that stop early would otherwise be closed) and
# every connection cap off; one server per stage, on a scratch database.
# LOCKSTEP_BIN names another server binary (an A/B against an older build).
set -euo pipefail
server=${LOCKSTEP_BIN:-target/release/lockstep}
sockets=${1:-10000}
sources=${2:-4}
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for stage in tcp engineio authenticated; do
  port=$((20000 + RANDOM % 20000))
  bash -c 'ulimit -n "$(ulimit -Hn)"; exec "$@"' bash "$server" serve \
    --bind "127.0.0.1:$port" --database-url "sqlite://$scratch/$stage.db" --jwt-secret "$secret" \
    --max-connections-per-minute 0 --max-connections-per-address 0 --max-connections 0 \
    --connect-timeout 120 --header-read-timeout 0 >"$scratch/$stage.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  target/release/lockstep-bench --addr "127.0.0.1:$port" --secret "$secret" --server-pid "$pid" \
    --source-addresses "$sources" idle --sockets "$sockets" --hold 3 --stage "$stage" 2>&1 >/dev/null |
    grep 'KB per socket' || true
  if ! kill "$pid" 2>/dev/null; then
    echo "  $stage: the server had exited; its log ends:" >&2
    tail -n 20 "$scratch/$stage.log" >&2
  fi
  wait "$pid" 2>/dev/null || true
done
