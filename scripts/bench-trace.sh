#!/usr/bin/env bash
# tracewire-trace against jq on a large input, side by side in one run (issue 23).
#
# A real deployment (a frontend balancing over three workers, four processes, JSONL at DEBUG)
# answers a few
# hundred requests; scripts/trace_input.py then copies their traces with fresh ids and shifted
# times up to BENCH_TRACE_BYTES (default 1 GB) of JSONL in four files. Measured, each on the same
# files, the page cache warm (one untimed read first):
#   list        tracewire-trace list            vs  jq -c 'select(.trace_id != null) | [.trace_id, .x_request_id, .time, .level]'
#   show        tracewire-trace show TRACE_ID   vs  jq -c 'select(.trace_id == "TRACE_ID")'
#   show-xrid   tracewire-trace show X_REQUEST_ID  vs  jq -c 'select(.x_request_id == "X_REQUEST_ID")'
# with wall time, MB/s and peak RSS (GNU time), and the ratio jq / tracewire-trace.
#
# usage: [BENCH_TRACE_BYTES=N] [BENCH_TRACE_DIR=DIR] scripts/bench-trace.sh
#   BENCH_TRACE_DIR keeps the generated input there (reused when it is already present).
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=${BENCH_TRACE_BYTES:-1000000000}
target=${CARGO_TARGET_DIR:-target}
for tool in jq curl python3; do command -v $tool >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
bash scripts/build-deps.sh
cargo build -q --release -p tracewire-frontend -p tracewire-worker -p tracewire-trace
bin="$target/release"
data=${BENCH_TRACE_DIR:-$(mktemp -d)}
mkdir -p "$data"
names=(frontend worker-1 worker-2 worker-3)
files=(); for n in "${names[@]}"; do files+=("$data/$n.jsonl"); done

if [ ! -s "$data/ids" ]; then
  rec="$data/recorded"; mkdir -p "$rec"
  run() { # name args...: a process whose log goes to $rec/name.jsonl
    local name=$1; shift
    DYN_LOGGING_JSONL=true DYN_LOG=debug,h2=warn,hyper=warn "$@" 2>"$rec/$name.jsonl" &
  }
  wait_port() { # file
    for _ in $(seq 100); do
      local port; port=$(grep -m1 -oE '"addr":"127\.0\.0\.1:[0-9]+' "$1" | cut -d: -f3 || true)
      [ -n "$port" ] && { echo "$port"; return; }
      sleep 0.1
    done
    cat "$1" >&2; exit 1
  }
  trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
  workers=()
  for n in worker-1 worker-2 worker-3; do
    run $n "$bin/tracewire-worker" --listen 127.0.0.1:0 --token-delay-ms 1
    workers+=(--worker "http://127.0.0.1:$(wait_port "$rec/$n.jsonl")")
  done
  run frontend "$bin/tracewire-frontend" --listen 127.0.0.1:0 "${workers[@]}"
  f=$(wait_port "$rec/frontend.jsonl")
  for i in $(seq 200); do
    stream=false; [ $((i % 2)) = 0 ] && stream=true
    curl -sS -o /dev/null -H 'Content-Type: application/json' -H "x-request-id: bench-$i" \
      -d "{\"model\":\"Qwen/Qwen3-0.6B\",\"stream\":$stream,\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of South Africa? Tell me about it in a few words.\"}]}" \
      "http://127.0.0.1:$f/v1/chat/completions" &
    [ $((i % 8)) = 0 ] && wait $(jobs -p | tail -n 8) 2>/dev/null || true
  done
  sleep 1
  kill -TERM $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; trap - EXIT
  recorded=(); for n in "${names[@]}"; do recorded+=("$rec/$n.jsonl"); done
  python3 tests/tools/check-jsonl.py "${recorded[@]}"
  echo "== generating $bytes bytes of JSONL from $(cat "$rec"/*.jsonl | wc -l) recorded lines"
  python3 scripts/trace_input.py "$data" "$bytes" "${recorded[@]}" > "$data/ids"
fi
read -r trace_id request_id < "$data/ids"
total=$(cat "${files[@]}" | wc -c)
echo "== input: $(du -ch "${files[@]}" | tail -1 | cut -f1) in ${#files[@]} files, $(cat "${files[@]}" | wc -l) lines; asking for trace $trace_id / request $request_id"
lscpu | grep -E '^Model name' | sed 's/  */ /g'

measure() { # label command...: prints "seconds peak_kb lines_out"
  local out; out=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$out.time" "$@" > "$out" 2>/dev/null || true
  echo "$(cat "$out.time") $(wc -l < "$out")"
  rm -f "$out" "$out.time"
}
row() { # name ours... -- theirs...
  local name=$1; shift
  local ours=() theirs=()
  while [ "$1" != -- ]; do ours+=("$1"); shift; done; shift; theirs=("$@")
  read -r ts tk tl < <(measure "${ours[@]}")
  read -r js jk jl < <(measure "${theirs[@]}")
  awk -v n="$name" -v ts="$ts" -v tk="$tk" -v tl="$tl" -v js="$js" -v jk="$jk" -v jl="$jl" -v b="$total" 'BEGIN {
    printf "%-10s tracewire-trace %7.2f s %7.0f MB/s %6.0f MB RSS (%d lines) | jq %7.2f s %5.0f MB/s %5.0f MB RSS (%d lines) | jq/ours %.1fx\n",
      n, ts, b / ts / 1e6, tk / 1024, tl, js, b / js / 1e6, jk / 1024, jl, js / ts }'
}
cat "${files[@]}" > /dev/null
row list "$bin/tracewire-trace" list "${files[@]}" -- jq -c 'select(.trace_id != null) | [.trace_id, .x_request_id, .time, .level]' "${files[@]}"
row show "$bin/tracewire-trace" show --no-lines "$trace_id" "${files[@]}" -- jq -c "select(.trace_id == \"$trace_id\")" "${files[@]}"
row show-xrid "$bin/tracewire-trace" show --no-lines "$request_id" "${files[@]}" -- jq -c "select(.x_request_id == \"$request_id\")" "${files[@]}"
