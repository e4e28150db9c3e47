#!/usr/bin/env bash
# End-to-end load on frontend + embedded worker (token delay 0), JSONL and span events on,
# in several modes side by side in one run: requests/s, p50/p99 latency, and process CPU time
# per request. Needs wrk (apt-get install wrk) and, for the OTLP modes, python3 with
# opentelemetry-proto and grpcio.
#
# usage: scripts/bench-e2e.sh [SECONDS] [MODE...]
#   modes: jsonl (no export), off (DYN_LOG=off), otlp-live, otlp-down, otlp-hung
# Lines go to /dev/null: what is measured is the cost of producing them. With BENCH_LOG=file
# they go to a file, and the machine's disk writeback (hundreds of MB per run) enters the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; shift || true
modes=("$@"); [ ${#modes[@]} -gt 0 ] || modes=(jsonl off otlp-live otlp-down otlp-hung)
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build -q --release -p tracewire-frontend -p tracewire-worker
work=$(mktemp -d)
lua="$work/post.lua"
cat > "$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model": "Qwen/Qwen3-0.6B", "messages":[{"role":"user", "content": "What is the capital of South Africa?"}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
port=18590
printf "%-10s %10s %10s %10s %14s\n" mode "req/s" "p50" "p99" "cpu_us/req"
for mode in "${modes[@]}"; do
  env=(DYN_LOGGING_JSONL=true)
  receiver=""
  case $mode in
    jsonl) ;;
    off) env+=(DYN_LOG=off) ;;
    otlp-live|otlp-hung)
      flag=""; [ "$mode" = otlp-hung ] && flag=--hang
      python3 tests/tools/otlp_receiver.py --out "$work/$mode.spans" $flag > "$work/$mode.ready" &
      receiver=$!
      for _ in $(seq 50); do grep -q READY "$work/$mode.ready" && break; sleep 0.1; done
      grpc=$(sed -n 's/READY grpc=\([0-9]*\).*/\1/p' "$work/$mode.ready")
      env+=(OTEL_EXPORT_ENABLED=true "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$grpc") ;;
    otlp-down) env+=(OTEL_EXPORT_ENABLED=true OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1) ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  port=$((port + 1))
  log=/dev/null; [ "${BENCH_LOG:-}" = file ] && log="$work/$mode.log"
  env "${env[@]}" "$target/release/tracewire-frontend" --listen "127.0.0.1:$port" --token-delay-ms 0 2>"$log" &
  pid=$!
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  ticks_before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(wrk -t2 -c64 -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$port/v1/chat/completions")
  ticks_after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -TERM "$pid"; wait "$pid" || true
  [ -n "$receiver" ] && { kill -TERM "$receiver" 2>/dev/null; wait "$receiver" 2>/dev/null || true; }
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  hz=$(getconf CLK_TCK)
  cpu=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v n="$requests" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
  printf "%-10s %10s %10s %10s %14s %s\n" "$mode" "$rps" "$p50" "$p99" "$cpu" "$errors"
done
rm -rf "$work"
