#!/usr/bin/env python3
"""Makes a large JSONL input for scripts/bench-trace.sh from the real output of a deployment.

usage: trace_input.py OUT_DIR TARGET_BYTES FILE...   (one recorded file per process)

The recorded files' traces are the templates: each copy gets fresh trace, span and request ids
(every occurrence in the line replaced, headers included) and its times shifted, so that the
copies overlap as concurrent requests do, and lines of no trace (startup, shutdown) stay once.
Writes OUT_DIR/<name of each input> and prints the trace_id and x_request_id of the copy in the
middle, as `trace_id x_request_id`.
"""
import datetime
import json
import os
import sys


def main(out_dir, target, paths):
    templates = {}  # trace_id -> [(process, offset_us, line)]
    plain = {p: [] for p in range(len(paths))}
    starts = {}
    for p, path in enumerate(paths):
        for raw in open(path, encoding="utf-8"):
            o = json.loads(raw)
            t = parse_time(o["time"])
            tid = o.get("trace_id")
            if tid is None:
                plain[p].append(raw)
                continue
            starts[tid] = min(starts.get(tid, t), t)
            templates.setdefault(tid, []).append((p, t, raw, o))
    traces = []
    for tid, lines in templates.items():
        ids = {tid}
        for _, _, _, o in lines:
            ids.update(v for k, v in o.items() if k in ("span_id", "parent_id", "x_request_id"))
        start = starts[tid]
        traces.append((sorted(ids, key=len, reverse=True), [(p, t - start, raw) for p, t, raw, _ in lines]))
    size = sum(len(raw) for _, lines in traces for _, _, raw in lines)
    copies = max(1, target // max(size, 1))
    outs = [open(os.path.join(out_dir, os.path.basename(path)), "w", encoding="utf-8") for path in paths]
    for p, lines in plain.items():
        outs[p].writelines(lines[: len(lines) // 2])
    base = 1_796_000_000_000_000
    middle = None
    n = 0
    for copy in range(copies):
        for ids, lines in traces:
            n += 1
            fresh = {}
            for old in ids:
                fresh[old] = os.urandom(len(old) // 2).hex() if is_hex(old) else f"req-{n}-{os.urandom(4).hex()}"
            offset = base + n * 700  # a request every 0.7 ms: copies overlap like concurrent ones
            for p, at, raw in lines:
                line = raw
                for old in ids:
                    line = line.replace(old, fresh[old])
                t = datetime.datetime.fromtimestamp((offset + at) / 1e6, datetime.timezone.utc)
                line = '{"time":"' + t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + line[line.index('","level"'):]
                outs[p].write(line)
            if copy == copies // 2 and middle is None:
                middle = (fresh[[i for i in ids if len(i) == 32 and is_hex(i)][0]],
                          next((fresh[i] for i in ids if not is_hex(i)), ""))
    for p, lines in plain.items():
        outs[p].writelines(lines[len(lines) // 2:])
    for f in outs:
        f.close()
    print(*middle)


def is_hex(s):
    return len(s) in (16, 32) and all(c in "0123456789abcdef" for c in s)


def parse_time(text):
    return round(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e6)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        print(__doc__.strip().splitlines()[2])
        sys.exit(2)
    main(sys.argv[1], int(float(sys.argv[2])), sys.argv[3:])
