#!/usr/bin/env bash
# Soak: release binaries, JSONL on, under four cases, each closed by SIGTERM and summed up in
# one line (requests, responses, lines, spans opened/closed, lines lost) plus what the case is
# about:
#   mixed     mixed load with wrk (JSON and SSE, with and without x-request-id and an upstream
#             traceparent) through a frontend and two workers for MINUTES
#   shutdown  32 streams longer than the 10 s drain, SIGTERM to the frontend mid-stream: each
#             ends with the SSE error event, every span closes, the worker's included
#   disk      the mixed load with the frontend's [file] output on a "disk" that fills up at
#             2 MiB (RLIMIT_FSIZE) and frees again (the limit lifted) half-way: no partial line
#   flood     20,000 connections that each send half a request head while a real client sends a
#             request every 100 ms: every real request answered, file descriptors bounded
# Needs wrk, python3 and prlimit (util-linux).
#
# usage: scripts/soak.sh [MINUTES] [CONNECTIONS] [CASES]   (CASES: comma-separated, default all)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-5}
connections=${2:-64}
cases=${3:-mixed,shutdown,disk,flood}
target=${CARGO_TARGET_DIR:-target}
bin="$target/release"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
command -v prlimit >/dev/null || { echo "needs prlimit (apt-get install util-linux)" >&2; exit 1; }
cargo build -q --release -p tracewire-frontend -p tracewire-worker
work=$(mktemp -d)
echo "logs in $work"
export DYN_LOGGING_JSONL=true
clients() { python3 scripts/soak_clients.py "$@"; }
seconds=$(awk -v m="$minutes" 'BEGIN {printf "%d", m * 60}')

# Waits until something listens on the port.
wait_port() { for _ in $(seq 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }
# Peak resident memory of a process.
rss() { awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
# wrk's request count and complete responses (all but socket errors and non-2xx).
wrk_counts() {
  awk '/requests in/ {r = $1} /Non-2xx/ {bad += $NF} /Socket errors/ {gsub(",", ""); bad += $4 + $6 + $8 + $10}
       END {printf "%d %d\n", r, r - bad}' "$1"
}

cat > "$work/mix.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local stream = (n % 2 == 0) and "true" or "false"
  local headers = { ["Content-Type"] = "application/json" }
  if n % 3 ~= 0 then headers["x-request-id"] = string.format("soak-%d-%d", math.random(1, 1e9), n) end
  if n % 5 == 0 then
    headers["traceparent"] = string.format("00-%016x%016x-%016x-01", math.random(1, 2^31), n, n)
  end
  local body = '{"model":"Qwen/Qwen3-0.6B","stream":' .. stream ..
    ',"messages":[{"role":"user","content":"soak request ' .. n .. ' with a few words"}]}'
  return wrk.format("POST", "/v1/chat/completions", headers, body)
end
LUA

case_mixed() {
  local d="$work/mixed"; mkdir -p "$d"
  "$bin/tracewire-worker" --listen 127.0.0.1:18901 --token-delay-ms 1 2>"$d/worker1.log" & local w1=$!
  "$bin/tracewire-worker" --listen 127.0.0.1:18902 --token-delay-ms 1 2>"$d/worker2.log" & local w2=$!
  wait_port 18901; wait_port 18902
  "$bin/tracewire-frontend" --listen 127.0.0.1:18900 \
    --worker http://127.0.0.1:18901 --worker http://127.0.0.1:18902 2>"$d/frontend.log" & local fe=$!
  wait_port 18900
  wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s "$work/mix.lua" http://127.0.0.1:18900/ > "$d/wrk.txt" || true
  local rss_fe rss_w1 rss_w2 fe_exit w1_exit w2_exit
  rss_fe=$(rss $fe); rss_w1=$(rss $w1); rss_w2=$(rss $w2)
  kill -TERM $fe; wait $fe && fe_exit=0 || fe_exit=$?
  kill -TERM $w1 $w2; wait $w1 && w1_exit=0 || w1_exit=$?; wait $w2 && w2_exit=0 || w2_exit=$?
  read -r requests responses < <(wrk_counts "$d/wrk.txt")
  clients summary mixed "$requests" "$responses" "$d"/*.log
  python3 tests/tools/check-jsonl.py "$d/frontend.log" "$d/worker1.log" "$d/worker2.log" | head -1 | sed 's/^/  /' || true
  echo "  $(grep -E 'Requests/sec' "$d/wrk.txt" | xargs), $connections connections; peak RSS frontend $rss_fe, workers $rss_w1 / $rss_w2; exit codes $fe_exit $w1_exit $w2_exit"
}

case_shutdown() {
  local d="$work/shutdown"; mkdir -p "$d"
  "$bin/tracewire-worker" --listen 127.0.0.1:18911 --token-delay-ms 500 2>"$d/worker.log" & local w=$!
  wait_port 18911
  "$bin/tracewire-frontend" --listen 127.0.0.1:18910 --worker http://127.0.0.1:18911 2>"$d/frontend.log" & local fe=$!
  wait_port 18910
  # 60 tokens 500 ms apart: 30 s, past the 10 s drain.
  clients streams 127.0.0.1:18910 32 60 $fe > "$d/clients.json"
  local fe_exit w_exit
  wait $fe && fe_exit=0 || fe_exit=$?
  # The worker sees each caller leave before it is stopped.
  for _ in $(seq 100); do
    [ "$(grep -c 'caller went away' "$d/worker.log" || true)" -ge 32 ] && break; sleep 0.1
  done
  kill -TERM $w; wait $w && w_exit=0 || w_exit=$?
  read -r requests responses shutdown cut < <(python3 -c 'import json,sys; c = json.load(open(sys.argv[1])); print(c["requests"], c["responses"], c["ended_by_shutdown"], c["cut"])' "$d/clients.json")
  clients summary shutdown "$requests" "$responses" "$d"/*.log
  python3 tests/tools/check-jsonl.py "$d/frontend.log" "$d/worker.log" | head -1 | sed 's/^/  /' || true
  echo "  streams ended by the SSE error event $shutdown, cut without one $cut; request completed outcome cancelled $(grep -c '"outcome":"cancelled"' "$d/frontend.log" || true); exit codes $fe_exit $w_exit"
}

case_disk() {
  local d="$work/disk"; mkdir -p "$d"
  printf '[file]\npath = "%s"\nmax_bytes = 104857600\n' "$d/frontend.jsonl" > "$d/file.toml"
  # 2048 blocks of 1 KiB: writes past 2 MiB fail (EFBIG), as on a full disk; SIGXFSZ ignored.
  DYN_LOG_STREAM=stdout DYN_LOGGING_CONFIG_PATH="$d/file.toml" \
    bash -c 'trap "" XFSZ; ulimit -S -f 2048; exec "$0" --listen 127.0.0.1:18920 --token-delay-ms 1' \
    "$bin/tracewire-frontend" > /dev/null 2>"$d/stderr.txt" & local fe=$!
  wait_port 18920
  local half=$(( seconds / 2 > 5 ? seconds / 2 : 5 ))
  wrk -t2 -c"$connections" -d"${half}s" --timeout 10s -s "$work/mix.lua" http://127.0.0.1:18920/ > "$d/wrk1.txt" || true
  local full; full=$(stat -c %s "$d/frontend.jsonl")
  prlimit --pid $fe --fsize=unlimited:unlimited
  wrk -t2 -c"$connections" -d"${half}s" --timeout 10s -s "$work/mix.lua" http://127.0.0.1:18920/ > "$d/wrk2.txt" || true
  local fe_exit; kill -TERM $fe; wait $fe && fe_exit=0 || fe_exit=$?
  local r1 s1 r2 s2
  read -r r1 s1 < <(wrk_counts "$d/wrk1.txt"); read -r r2 s2 < <(wrk_counts "$d/wrk2.txt")
  # The file rotates at 100 MiB: the lines are in frontend.jsonl and frontend.jsonl.N.
  clients summary disk $((r1 + r2)) $((s1 + s2)) "$d"/frontend.jsonl*
  echo "  file full at $full bytes; after: $(cat "$d"/frontend.jsonl* | wc -c) bytes in $(ls "$d"/frontend.jsonl* | wc -l) files; $(cat "$d"/frontend.jsonl* | grep -c 'log lines dropped' || true) drop report(s), $(cat "$d"/frontend.jsonl* | grep -o '"error":"[^"]*"' | sort -u | head -1); last line: $(tail -1 "$d/frontend.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["message"])'); exit code $fe_exit"
}

case_flood() {
  local d="$work/flood"; mkdir -p "$d"
  "$bin/tracewire-frontend" --listen 127.0.0.1:18930 --token-delay-ms 0 2>"$d/frontend.log" & local fe=$!
  wait_port 18930
  ( peak=0; while kill -0 $fe 2>/dev/null; do
      n=$(ls /proc/$fe/fd 2>/dev/null | wc -l); [ "$n" -gt "$peak" ] && peak=$n && echo $peak > "$d/fds"; sleep 0.2
    done ) & local sampler=$!
  clients flood 127.0.0.1:18930 20000 20 > "$d/clients.json"
  local rss_fe; rss_fe=$(rss $fe)
  local fe_exit; kill -TERM $fe; wait $fe && fe_exit=0 || fe_exit=$?
  wait $sampler || true
  read -r requests responses slowest connected < <(python3 -c 'import json,sys; c = json.load(open(sys.argv[1])); print(c["requests"], c["responses"], c["slowest_ms"], c["flood_connected"])' "$d/clients.json")
  clients summary flood "$requests" "$responses" "$d/frontend.log"
  echo "  half-head connections attempted 20000, connected $connected; slowest real request ${slowest} ms; peak open files $(cat "$d/fds"); peak RSS $rss_fe; exit code $fe_exit"
}

IFS=, read -ra wanted <<< "$cases"
for c in "${wanted[@]}"; do "case_$c"; done
