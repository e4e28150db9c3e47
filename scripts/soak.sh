#!/usr/bin/env bash
# Soak: mixed load (JSON and SSE, with and without x-request-id and an upstream traceparent)
# through a frontend and two workers for N minutes, JSONL on; then SIGTERM, and a summary:
# requests, lines, malformed lines, requests whose trace is incomplete, peak RSS per process.
# Needs wrk (apt-get install wrk) and python3.
#
# usage: scripts/soak.sh [MINUTES] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-5}
connections=${2:-64}
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build -q --release -p tracewire-frontend -p tracewire-worker
work=$(mktemp -d)
echo "logs in $work"
export DYN_LOGGING_JSONL=true
"$target/release/tracewire-worker" --listen 127.0.0.1:18901 --token-delay-ms 1 2>"$work/worker1.log" & w1=$!
"$target/release/tracewire-worker" --listen 127.0.0.1:18902 --token-delay-ms 1 2>"$work/worker2.log" & w2=$!
sleep 0.5
"$target/release/tracewire-frontend" --listen 127.0.0.1:18900 \
  --worker http://127.0.0.1:18901 --worker http://127.0.0.1:18902 2>"$work/frontend.log" & fe=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/18900) 2>/dev/null && break; sleep 0.05; done
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
seconds=$(awk -v m="$minutes" 'BEGIN {printf "%d", m * 60}')
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s "$work/mix.lua" http://127.0.0.1:18900/ > "$work/wrk.txt" || true
rss() { awk '/VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$1/status"; }
rss_fe=$(rss $fe); rss_w1=$(rss $w1); rss_w2=$(rss $w2)
kill -TERM $fe; wait $fe; fe_exit=$?
kill -TERM $w1 $w2; wait $w1; w1_exit=$?; wait $w2; w2_exit=$?
python3 - "$work" <<'PY'
import json, sys, collections
work = sys.argv[1]
lines = malformed = 0
spans = collections.Counter()
fe_requests, worker_parents = set(), set()
for name in ("frontend", "worker1", "worker2"):
    for raw in open(f"{work}/{name}.log", encoding="utf-8", errors="replace"):
        lines += 1
        try:
            o = json.loads(raw)
        except ValueError:
            malformed += 1
            continue
        msg, span = o.get("message"), o.get("span_name")
        if msg in ("SPAN_CREATED", "SPAN_CLOSED"):
            spans[(name, span, msg)] += 1
            if msg == "SPAN_CLOSED" and span == "http-request":
                fe_requests.add(o["span_id"])
            if msg == "SPAN_CLOSED" and span == "handle_payload":
                worker_parents.add(o.get("parent_id"))
print(f"lines {lines}, malformed {malformed}")
print(f"http-request spans closed {len(fe_requests)}, without a closed worker span {len(fe_requests - worker_parents)}")
for k, v in sorted(spans.items()):
    print(f"  {k[0]:9} {k[1]:15} {k[2]:13} {v}")
PY
python3 tests/tools/check-jsonl.py "$work/frontend.log" "$work/worker1.log" "$work/worker2.log" | head -3 || true
grep -E "requests in|Requests/sec|Socket errors|Non-2xx" "$work/wrk.txt" || true
echo "peak RSS: frontend $rss_fe, worker1 $rss_w1, worker2 $rss_w2"
echo "exit codes after SIGTERM: frontend $fe_exit, worker1 $w1_exit, worker2 $w2_exit"
