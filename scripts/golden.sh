#!/usr/bin/env bash
# A fixed run of a worker and a frontend over the HTTP plane, in JSONL and in readable mode,
# written with its times, ids, durations and ports replaced by placeholders: the output of two
# builds can then be compared byte for byte (a restructuring must not change a line).
#
#   bash scripts/golden.sh BIN_DIR OUT_FILE
#
# BIN_DIR holds tracewire-frontend and tracewire-worker (default target/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/debug}
out=${2:-/dev/stdout}
command -v curl >/dev/null || { echo "golden.sh needs curl" >&2; exit 1; }
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

wait_for() { # file pattern
  for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  cat "$1" >&2; return 1
}
port_of() { # file: the port of the first "listening" line
  grep -m1 -oE '127\.0\.0\.1:[0-9]+' "$1" | head -1 | cut -d: -f2
}

run() { # mode (jsonl|readable)
  local mode=$1 jsonl=false
  [ "$mode" = jsonl ] && jsonl=true
  DYN_LOGGING_JSONL=$jsonl DYN_LOG=debug,h2=warn,hyper=warn NO_COLOR=1 \
    "$bin/tracewire-worker" --listen 127.0.0.1:0 --token-delay-ms 1 2>"$dir/worker.$mode" &
  local worker=$!
  wait_for "$dir/worker.$mode" 'listening'
  local wport; wport=$(port_of "$dir/worker.$mode")
  DYN_LOGGING_JSONL=$jsonl DYN_LOG=debug,h2=warn,hyper=warn NO_COLOR=1 \
    "$bin/tracewire-frontend" --listen 127.0.0.1:0 --worker "http://127.0.0.1:$wport" 2>"$dir/frontend.$mode" &
  local frontend=$!
  wait_for "$dir/frontend.$mode" 'frontend listening'
  local fport; fport=$(port_of "$dir/frontend.$mode")
  local url="http://127.0.0.1:$fport/v1/chat/completions"
  local body='{"model":"Qwen/Qwen3-0.6B","max_completion_tokens":4,"messages":[{"role":"user","content":"What is the capital of South Africa?"}]}'
  local stream='{"model":"Qwen/Qwen3-0.6B","stream":true,"messages":[{"role":"user","content":"one two three"}]}'
  curl -sS -o /dev/null -d "$body" -H 'Content-Type: application/json' -H 'x-request-id: golden-1' "$url"
  curl -sS -o /dev/null -d "$stream" -H 'Content-Type: application/json' -H 'x-request-id: golden-2' \
    -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' -H 'tracestate: a=b' "$url"
  curl -sS -o /dev/null -d '{"model":"nope","messages":[]}' -H 'Content-Type: application/json' -H 'x-request-id: golden-3' "$url"
  curl -sS -o /dev/null -d 'not json' -H 'Content-Type: application/json' -H 'x-request-id: golden-4' "$url"
  curl -sS -o /dev/null "http://127.0.0.1:$fport/v1/models"
  kill -TERM "$frontend"; wait "$frontend" || true
  kill -TERM "$worker"; wait "$worker" || true
  for p in worker frontend; do
    echo "== $p $mode"
    python3 - "$dir/$p.$mode" "$wport" "$fport" <<'PY'
import re, sys
path, wport, fport = sys.argv[1:]
text = open(path, encoding="utf-8").read()
text = text.replace(wport, "WPORT").replace(fport, "FPORT")
text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)", "TIME", text)
text = re.sub(r'("(?:time\.\w+|latency_us|ttft_us|itl_us|elapsed_us|tokens_per_s)":)[0-9.]+', r"\1N", text)
text = re.sub(r"((?:time\.\w+|latency_us|ttft_us|itl_us)=)[0-9.]+", r"\1N", text)
ids = {}
def ident(m):
    return ids.setdefault(m.group(0), f"ID{len(ids)}")
text = re.sub(r"\b(?:[0-9a-f]{32}|[0-9a-f]{16})\b", ident, text)
text = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b", "UUID", text)
text = re.sub(r"\b(pid|instance_id)([=\":]+)\d+", r"\1\2N", text)
# HTTP headers that carry the time, or the length of a body holding an instance id.
text = re.sub(r"date: (\\?\")[^\"\\]+GMT", r"date: \1DATE", text)
text = re.sub(r"content-length: (\\?\")\d+", r"content-length: \1N", text)
sys.stdout.write(text)
PY
  done
}

{ run jsonl; run readable; } > "$out"
