#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine (python3 and the OTLP
# receiver's packages, curl), then runs every test of the workspace and prints one closing line
# summing them.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi
# The OTLP receiver the export tests run: official opentelemetry-proto messages over grpcio.
if ! python3 -c "import grpc, opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc" 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-pip; }
  # A Debian-managed Python refuses plain pip installs (PEP 668).
  python3 -m pip install -q --disable-pip-version-check opentelemetry-proto grpcio \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages opentelemetry-proto grpcio
fi

log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f; if (p == 0) exit 1 }' "$log"
