#!/usr/bin/env bash
# The Python logging benchmark (lib/bindings/python/bench/bench_logging.py): a release build of
# the tracewire package into target/bench-venv, then `logging.info` with two extra fields through
# tracewire (JSONL to a file, through stdout) against the standard library's logging with a JSON
# formatter and a FileHandler, in one process. Prints the medians and the ratios on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${CARGO_TARGET_DIR:-target}/bench-venv
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
[ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
"$venv/bin/python3" -c "import maturin" 2>/dev/null || "$venv/bin/python3" -m pip install -q --disable-pip-version-check maturin
(cd lib/bindings/python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release -q)
out=$(mktemp -d)
DYN_LOGGING_JSONL=true DYN_LOG_STREAM=stdout DYN_LOG=info BENCH_STDLIB_FILE="$out/stdlib.jsonl" \
  "$venv/bin/python3" lib/bindings/python/bench/bench_logging.py > "$out/tracewire.jsonl"
echo "lines: tracewire $(wc -l < "$out/tracewire.jsonl"), stdlib $(wc -l < "$out/stdlib.jsonl") (in $out)" >&2
