#!/usr/bin/env bash
# End-to-end load on a frontend and a worker process (token delay 0), JSONL and span events on,
# in several modes side by side in one run: requests/s, p50/p99 latency, and each process's CPU
# time per request. Needs wrk (apt-get install wrk) and, for the OTLP modes, python3 with
# opentelemetry-proto and grpcio. BENCH_EMBEDDED=1 runs the frontend with its embedded worker
# (one process) instead.
#
# usage: [BENCH_DELAY_MS=N] [BENCH_TOGETHER=1] [BENCH_EMBEDDED=1] scripts/bench-e2e.sh [SECONDS] [MODE...]
#   BENCH_TOGETHER=1 runs all the modes at once, each its own processes and load generator.
#   modes: jsonl (no export), off (DYN_LOG=off), scoped (jsonl with request-scoped logging
#   configured but not triggered: a request level, capture at DEBUG, a rate limit of 10^6/s),
#   otlp-live, otlp-down, otlp-hung; client and client-off: jsonl and off with client logs
#   allowed (DYN_LOG_CLIENT_LEVEL=debug) but not asked for; client-asking: every request asks
#   for its lines at DEBUG (x-tracewire-logs); nats and nats-off: jsonl and off on the NATS plane (the
#   worker found through etcd, called over NATS; needs nats-server and etcd, started here);
#   nats-tls: jsonl on the NATS plane with mutual TLS and a token (python3 with cryptography
#   makes the certificates); chain and chain-off: jsonl and off with three processes, the
#   frontend, a prefill worker (--next-worker) and its decode worker (worker_us/req is the two
#   workers' CPU together)
# Lines go to /dev/null: what is measured is the cost of producing them. With BENCH_LOG=file
# they go to a file, and the machine's disk writeback (hundreds of MB per run) enters the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; shift || true
modes=("$@"); [ ${#modes[@]} -gt 0 ] || modes=(jsonl off scoped otlp-live otlp-down otlp-hung)
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build -q --release -p tracewire-frontend -p tracewire-worker
work=$(mktemp -d)
# Whatever this script started (servers, workers, frontends, receivers) stops with it, even when
# a mode fails to start.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
lua="$work/post.lua"
cat > "$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model": "Qwen/Qwen3-0.6B", "messages":[{"role":"user", "content": "What is the capital of South Africa?"}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
# BENCH_DELAY_MS: each connection pauses this long between requests, so that every mode runs
# at about the same request rate below saturation and CPU per request compares like for like
# (at saturation it moves with the load level, through batching in the event loops).
if [ -n "${BENCH_DELAY_MS:-}" ]; then
  echo "function delay() return ${BENCH_DELAY_MS} end" >> "$lua"
fi
printf "%-10s %10s %10s %10s %16s %16s\n" mode "req/s" "p50" "p99" "frontend_us/req" "worker_us/req"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_request() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}'; }
declare -a pids wpids dpids receivers outs ticks wticks
# The NATS plane's servers, started once for every nats mode (each mode its own namespace).
cluster_env=()
if printf '%s\n' "${modes[@]}" | grep -q '^nats'; then
  for tool in nats-server etcd; do command -v $tool >/dev/null || { echo "needs $tool (apt-get install nats-server etcd-server)" >&2; exit 1; }; done
  nats-server -a 127.0.0.1 -p 18570 > "$work/nats.log" 2>&1 &
  etcd --data-dir "$work/etcd" --listen-client-urls http://127.0.0.1:18571 --advertise-client-urls http://127.0.0.1:18571 \
    --listen-peer-urls http://127.0.0.1:18572 --initial-advertise-peer-urls http://127.0.0.1:18572 \
    --initial-cluster default=http://127.0.0.1:18572 > "$work/etcd.log" 2>&1 &
  for port in 18570 18571; do
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  done
  sleep 1
  cluster_env=(ETCD_ENDPOINTS=http://127.0.0.1:18571 NATS_SERVER=nats://127.0.0.1:18570)
  # nats-tls: a second nats-server on the same etcd, with mutual TLS (certificates made by the
  # OTLP receiver's gen-certs) and a token, as a production fleet runs it.
  if printf '%s\n' "${modes[@]}" | grep -qx 'nats-tls'; then
    python3 tests/tools/otlp_receiver.py gen-certs "$work/certs" > /dev/null
    printf 'listen: 127.0.0.1:18573\ntls {\n  cert_file: "%s"\n  key_file: "%s"\n  ca_file: "%s"\n  verify: true\n}\nauthorization { token: "bench-token" }\n' \
      "$work/certs/server.pem" "$work/certs/server.key" "$work/certs/ca.pem" > "$work/nats-tls.conf"
    nats-server -c "$work/nats-tls.conf" > "$work/nats-tls.log" 2>&1 &
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/18573") 2>/dev/null && break; sleep 0.05; done
    tls_env=(ETCD_ENDPOINTS=http://127.0.0.1:18571 NATS_SERVER=tls://127.0.0.1:18573
      NATS_TLS_CA="$work/certs/ca.pem" NATS_TLS_CLIENT_CERT="$work/certs/client.pem"
      NATS_TLS_CLIENT_KEY="$work/certs/client.key" NATS_AUTH_TOKEN=bench-token)
  fi
fi
# Starts mode number $1 (its receiver, worker and frontend) on its own ports.
start() {
  local i=$1 mode=${modes[$1]} port=$((18590 + 3 * $1)) receiver="" wpid="" dpid=""
  local env=(DYN_LOGGING_JSONL=true) plane=()
  case $mode in
    jsonl) ;;
    off) env+=(DYN_LOG=off) ;;
    nats) env+=("${cluster_env[@]}"); plane=(--namespace "bench$i") ;;
    nats-off) env+=(DYN_LOG=off "${cluster_env[@]}"); plane=(--namespace "bench$i") ;;
    nats-tls) env+=("${tls_env[@]}"); plane=(--namespace "bench$i") ;;
    chain|chain-off)
      [ "$mode" = chain-off ] && env+=(DYN_LOG=off)
      env "${env[@]}" "$target/release/tracewire-worker" --listen "127.0.0.1:$((port + 2))" --token-delay-ms 0 2>/dev/null &
      dpid=$!
      for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$((port + 2))") 2>/dev/null && break; sleep 0.05; done
      plane=(--next-worker "http://127.0.0.1:$((port + 2))") ;;
    scoped) env+=(DYN_LOG_REQUEST_LEVEL=debug DYN_LOG_CAPTURE=debug DYN_LOG_RATE_LIMIT=1000000) ;;
    client) env+=(DYN_LOG_CLIENT_LEVEL=debug) ;;
    client-off) env+=(DYN_LOG=off DYN_LOG_CLIENT_LEVEL=debug) ;;
    client-asking) env+=(DYN_LOG_CLIENT_LEVEL=debug)
      { cat "$lua"; echo 'wrk.headers["x-tracewire-logs"] = "debug"'; } > "$work/$i.lua" ;;
    otlp-live|otlp-hung)
      local flag=""; [ "$mode" = otlp-hung ] && flag=--hang
      python3 tests/tools/otlp_receiver.py --out "$work/$i.spans" $flag > "$work/$i.ready" &
      receiver=$!
      for _ in $(seq 50); do grep -q READY "$work/$i.ready" && break; sleep 0.1; done
      local grpc; grpc=$(sed -n 's/READY grpc=\([0-9]*\).*/\1/p' "$work/$i.ready")
      env+=(OTEL_EXPORT_ENABLED=true "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$grpc") ;;
    otlp-down) env+=(OTEL_EXPORT_ENABLED=true OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1) ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  local log=/dev/null wlog=/dev/null worker_flags=()
  [ "${BENCH_LOG:-}" = file ] && { log="$work/$i.log"; wlog="$work/$i.worker.log"; }
  if [ -z "${BENCH_EMBEDDED:-}" ]; then
    env "${env[@]}" "$target/release/tracewire-worker" --listen "127.0.0.1:$((port + 1))" --token-delay-ms 0 "${plane[@]}" 2>"$wlog" &
    wpid=$!
    worker_flags=(--worker "http://127.0.0.1:$((port + 1))")
    [ ${#plane[@]} -gt 0 ] && [ -z "$dpid" ] && worker_flags=("${plane[@]}")
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null && break; sleep 0.05; done
  fi
  env "${env[@]}" "$target/release/tracewire-frontend" --listen "127.0.0.1:$port" --token-delay-ms 0 "${worker_flags[@]}" 2>"$log" &
  pids[i]=$!; wpids[i]=$wpid; dpids[i]=$dpid; receivers[i]=$receiver
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  # On the NATS plane, until the frontend has found the worker in etcd.
  for _ in $(seq 100); do
    curl -sf -o /dev/null -H 'Content-Type: application/json' -d '{"model": "Qwen/Qwen3-0.6B", "messages":[{"role":"user", "content": "hi"}]}' "http://127.0.0.1:$port/v1/chat/completions" && break
    sleep 0.1
  done
}
snapshot() {
  ticks[$1]=$(cpu_ticks "${pids[$1]}"); wticks[$1]=0
  [ -n "${wpids[$1]}" ] && wticks[$1]=$(cpu_ticks "${wpids[$1]}")
  [ -n "${dpids[$1]}" ] && wticks[$1]=$((wticks[$1] + $(cpu_ticks "${dpids[$1]}")))
  return 0
}
load() {
  local script=$lua; [ -f "$work/$1.lua" ] && script="$work/$1.lua"
  wrk -t2 -c64 -d"${secs}s" --latency -s "$script" "http://127.0.0.1:$((18590 + 3 * $1))/v1/chat/completions" > "$work/$1.wrk"
}
# Stops mode $1 and prints its row (ticks[] holds the CPU before the load).
finish() {
  local i=$1 before=${ticks[$1]} wbefore=${wticks[$1]}
  snapshot "$i"
  local t=$((ticks[i] - before)) wt=$((wticks[i] - wbefore)) out; out=$(cat "$work/$i.wrk")
  kill -TERM "${pids[i]}"; wait "${pids[i]}" || true
  [ -n "${wpids[i]}" ] && { kill -TERM "${wpids[i]}"; wait "${wpids[i]}" || true; }
  [ -n "${dpids[i]}" ] && { kill -TERM "${dpids[i]}"; wait "${dpids[i]}" || true; }
  [ -n "${receivers[i]}" ] && { kill -TERM "${receivers[i]}" 2>/dev/null; wait "${receivers[i]}" 2>/dev/null || true; }
  local requests rps p50 p99 cpu wcpu="-" errors
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  cpu=$(per_request "$t" "$requests")
  [ -n "${wpids[i]}" ] && wcpu=$(per_request "$wt" "$requests")
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
  printf "%-10s %10s %10s %10s %16s %16s %s\n" "${modes[i]}" "$rps" "$p50" "$p99" "$cpu" "$wcpu" "$errors"
}
if [ -n "${BENCH_TOGETHER:-}" ]; then
  # Every mode at once, each under its own load: the machine's noise hits all alike.
  for i in "${!modes[@]}"; do start "$i"; done
  for i in "${!modes[@]}"; do snapshot "$i"; done
  for i in "${!modes[@]}"; do load "$i" & done
  wait $(jobs -p | tail -n "${#modes[@]}") 2>/dev/null || true
  for i in "${!modes[@]}"; do finish "$i"; done
else
  for i in "${!modes[@]}"; do start "$i"; snapshot "$i"; load "$i"; finish "$i"; done
fi
[ -n "${BENCH_KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
