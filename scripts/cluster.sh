#!/usr/bin/env bash
# A dq cluster on this host: one `dq scheduler` and N `dq executor`s on 127.0.0.1.
#   scripts/cluster.sh start [EXECUTORS] [SCHEDULER_PORT]   (defaults: 2, 50050)
#   scripts/cluster.sh stop
# Then: dq validate --engine df://127.0.0.1:50050
# The binary is $DQ_BIN, else target/release/dq, else target/debug/dq (under
# $CARGO_TARGET_DIR when set). Logs and work folders go to .cluster/.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.cluster
TARGET="${CARGO_TARGET_DIR:-target}"
DQ="${DQ_BIN:-}"
if [ -z "$DQ" ]; then
  for candidate in "$TARGET/release/dq" "$TARGET/debug/dq"; do
    if [ -x "$candidate" ]; then DQ="$candidate"; break; fi
  done
fi
[ -n "$DQ" ] || { echo "cluster.sh: no dq binary; run cargo build --release (or set DQ_BIN)" >&2; exit 2; }

stop() {
  if [ -f "$STATE/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$STATE/pids"
    rm -f "$STATE/pids"
  fi
}

case "${1:-}" in
  start)
    executors="${2:-2}"
    port="${3:-50050}"
    stop
    mkdir -p "$STATE"
    "$DQ" scheduler --bind "127.0.0.1:$port" >"$STATE/scheduler.log" 2>&1 &
    echo $! >>"$STATE/pids"
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
    for i in $(seq "$executors"); do
      flight=$((port + 2 * i - 1))
      grpc=$((port + 2 * i))
      mkdir -p "$STATE/executor-$i"
      "$DQ" executor --scheduler "df://127.0.0.1:$port" --bind-host 127.0.0.1 \
        --bind-port "$flight" --bind-grpc-port "$grpc" --work-dir "$STATE/executor-$i" \
        >"$STATE/executor-$i.log" 2>&1 &
      echo $! >>"$STATE/pids"
    done
    sleep 2
    echo "cluster: scheduler df://127.0.0.1:$port, $executors executor(s); logs in $STATE/" >&2
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: scripts/cluster.sh start [EXECUTORS] [SCHEDULER_PORT] | stop" >&2
    exit 2
    ;;
esac
