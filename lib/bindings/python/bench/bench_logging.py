#!/usr/bin/env python3
"""A `logging.info` with two `extra` fields, through tracewire against the standard library's
`logging` with a JSON formatter writing to a file, in the same process, rounds interleaved.

Run it with `scripts/bench-python.sh` (a release build of the package, tracewire's lines to a
file through stdout). Per call it reports the wall time on the calling thread and the process's
CPU time (every thread: tracewire writes its lines on a thread of its own, the standard library
on the caller's), and their ratios, tracewire over the standard library.
"""

import json
import logging
import os
import statistics
import sys
import time

import tracewire

CALLS = int(os.environ.get("BENCH_CALLS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


class JsonFormatter(logging.Formatter):
    """The usual JSON formatter: time, level, logger, message, file, line and the extra fields
    (as python-json-logger writes them, without its configurability)."""

    STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}

    def format(self, record):
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "file": record.pathname,
            "line": record.lineno,
        }
        for key, value in record.__dict__.items():
            if key not in self.STANDARD:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class Discard(logging.Handler):
    def emit(self, record):
        pass


def main():
    tracewire.init_logging()
    through_tracewire = logging.getLogger("bench.tracewire")
    stdlib = logging.getLogger("bench.stdlib")
    stdlib.propagate = False
    handler = logging.FileHandler(os.environ.get("BENCH_STDLIB_FILE", "/tmp/bench-stdlib.jsonl"), mode="w")
    handler.setFormatter(JsonFormatter())
    stdlib.addHandler(handler)
    stdlib.setLevel(logging.INFO)

    def run(log):
        wall = time.perf_counter()
        cpu = time.process_time()
        for i in range(CALLS):
            log.info("request done", extra={"tokens": 128, "model": "Qwen/Qwen3-0.6B"})
        return (time.perf_counter() - wall) / CALLS * 1e9, (time.process_time() - cpu) / CALLS * 1e9

    # The floor every handler stands on: `logging` making the record and calling a handler that
    # does nothing.
    floor = logging.getLogger("bench.floor")
    floor.propagate = False
    floor.addHandler(Discard())
    floor.setLevel(logging.INFO)

    results = {"tracewire": [], "stdlib": [], "floor": []}
    for _ in range(ROUNDS):
        results["tracewire"].append(run(through_tracewire))
        results["stdlib"].append(run(stdlib))
        results["floor"].append(run(floor))
    median = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in results.items()}
    (tw_wall, tw_cpu), (std_wall, std_cpu) = median["tracewire"], median["stdlib"]
    floor_wall, _ = median["floor"]
    print(
        f"{CALLS} calls x {ROUNDS} rounds, medians per call:\n"
        f"  tracewire: {tw_wall:.0f} ns wall, {tw_cpu:.0f} ns CPU (all threads)\n"
        f"  stdlib logging + JSON formatter + FileHandler: {std_wall:.0f} ns wall, {std_cpu:.0f} ns CPU\n"
        f"  logging itself (a handler that does nothing): {floor_wall:.0f} ns wall\n"
        f"  ratio tracewire/stdlib: wall {tw_wall / std_wall:.3f}, CPU {tw_cpu / std_cpu:.3f}\n"
        f"  above logging itself: tracewire {tw_wall - floor_wall:.0f} ns, stdlib {std_wall - floor_wall:.0f} ns",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
