#!/usr/bin/env bash
# What a caller asking for its lines costs it (SPEC §13): a 100-token stream through a release
# frontend and worker (token delay 0, lines to /dev/null), N times without and N times with
# `x-tracewire-logs: debug`, alternating; the median latency and the bytes of each answer.
#
# usage: scripts/bench-client-logs.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
target=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p tracewire-frontend -p tracewire-worker
env=(DYN_LOGGING_JSONL=true DYN_LOG_CLIENT_LEVEL=debug)
env "${env[@]}" "$target/release/tracewire-worker" --listen 127.0.0.1:18681 --token-delay-ms 0 2>/dev/null &
worker=$!
env "${env[@]}" "$target/release/tracewire-frontend" --listen 127.0.0.1:18680 --token-delay-ms 0 --worker http://127.0.0.1:18681 2>/dev/null &
frontend=$!
trap 'kill $frontend $worker 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/18680) 2>/dev/null && break; sleep 0.05; done
prompt=$(seq -s ' ' 1 100)
body="{\"model\":\"Qwen/Qwen3-0.6B\",\"stream\":true,\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"$prompt\"}]}"
call() { curl -sN -o /dev/null -w '%{time_total} %{size_download}\n' -H 'content-type: application/json' "$@" -d "$body" http://127.0.0.1:18680/v1/chat/completions; }
for _ in $(seq 5); do call >/dev/null; call -H 'x-tracewire-logs: debug' >/dev/null; done
: > /tmp/bench-client-plain; : > /tmp/bench-client-asking
for _ in $(seq "$n"); do
  call >> /tmp/bench-client-plain
  call -H 'x-tracewire-logs: debug' >> /tmp/bench-client-asking
done
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{v[NR]=$k} END {print v[int((NR+1)/2)]}'; }
printf "%-8s %14s %12s\n" mode "p50 latency" "bytes"
for mode in plain asking; do
  printf "%-8s %12.3fms %12s\n" "$mode" "$(awk -v t="$(median /tmp/bench-client-$mode 1)" 'BEGIN {print t * 1000}')" "$(median /tmp/bench-client-$mode 2)"
done
