#!/usr/bin/env bash
# The main job: the frontend (with one worker inside its process) in JSONL mode answers the
# reference doc's curl with and without x-request-id; its trace lines are printed, then checked
# against docs/SPEC.md §3-4 (docs/jsonl.md), and the request sent with an x-request-id is shown
# as a waterfall by tracewire-trace (docs/trace.md). PORT (default 8080) chooses the port.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
target=${CARGO_TARGET_DIR:-target}
command -v curl >/dev/null || { echo "demo.sh needs curl" >&2; exit 1; }
bash scripts/build-deps.sh
echo "== building the frontend, the worker and tracewire-trace (the first build on a new machine takes a few minutes)"
cargo build -q -p tracewire-frontend -p tracewire-worker -p tracewire-trace
log=$(mktemp -d)/frontend.jsonl
DYN_LOGGING_JSONL=true "$target/debug/tracewire-frontend" --listen "127.0.0.1:$port" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '"frontend listening"' "$log" && break; sleep 0.1; done
grep -q '"frontend listening"' "$log" || { cat "$log"; exit 1; }

body='{"model": "Qwen/Qwen3-0.6B", "max_completion_tokens": 2049, "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}'
echo "== curl (no x-request-id)"
curl -sS -d "$body" -H 'Content-Type: application/json' "http://localhost:$port/v1/chat/completions"; echo
echo "== curl -H 'x-request-id: 8372eac7-5f43-4d76-beca-0a94cfb311d0'"
curl -sS -i -d "$body" -H 'Content-Type: application/json' -H 'x-request-id: 8372eac7-5f43-4d76-beca-0a94cfb311d0' "http://localhost:$port/v1/chat/completions"; echo

kill -TERM "$pid"; wait "$pid"; trap - EXIT
echo "== JSONL lines of frontend and worker ($log)"
cat "$log"
echo "== check-jsonl"
python3 tests/tools/check-jsonl.py "$log"
echo "== tracewire-trace list $log"
"$target/debug/tracewire-trace" list "$log"
echo "== tracewire-trace show 8372eac7-5f43-4d76-beca-0a94cfb311d0 $log"
"$target/debug/tracewire-trace" show 8372eac7-5f43-4d76-beca-0a94cfb311d0 "$log"
