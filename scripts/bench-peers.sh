#!/usr/bin/env bash
# tracewire side by side with the fast Rust loggers and tracers (benches/peers): the same four
# cases (event, event in 2 spans, span lifecycle, readable) through tracewire, fmt().json(),
# json-subscriber, logforth, fastrace, rasant and log-io, each writing to the same in-memory
# sink, rounds interleaved. Prints markdown tables (wall and process-CPU ns per operation with
# quartiles, ratios to tracewire, bytes per operation, the contract's keys each leaves out) and
# one sample line of each peer.
#
#   bash scripts/bench-peers.sh            # 15 rounds of 100,000 operations per peer and case
#   BENCH_QUICK=1 bash scripts/bench-peers.sh
#   BENCH_CASE=lifecycle bash scripts/bench-peers.sh
#
# The crate is outside the workspace (its peers are built only here, never by the workspace's
# build, tests or CI), in the workspace's target directory; its Cargo.lock starts from the
# workspace's, so the runtime is built with the same dependency versions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-deps.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
[ -f benches/peers/Cargo.lock ] || cp Cargo.lock benches/peers/Cargo.lock
(cd benches/peers && cargo build --release -q)
echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores"
"$CARGO_TARGET_DIR/release/tracewire-peers-bench"
