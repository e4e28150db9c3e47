#!/usr/bin/env python3
"""Clients and the summary line for scripts/soak.sh (standard library only).

  soak_clients.py streams HOST:PORT N TOKENS PID
      N streams of TOKENS tokens at once; once each has its first event, SIGTERM to PID; reads
      each to its end. Prints JSON: requests, responses (streams that ended with [DONE] or with
      the server's error event), ended_by_shutdown, cut (neither).
  soak_clients.py flood HOST:PORT N SECONDS
      N connections that each send half a request head (in two processes, for the file limit),
      and meanwhile a real request every 100 ms for SECONDS. Prints JSON: requests, responses
      (200 with the whole answer), slowest_ms, flood_attempted, flood_connected.
  soak_clients.py summary CASE REQUESTS RESPONSES LOG...
      One line: the case, requests, responses, lines (and malformed), spans opened/closed, and
      lines lost (the total of the processes' last "log lines dropped" reports).
"""

import json
import multiprocessing
import os
import resource
import signal
import socket
import sys
import threading
import time

CHAT = "/v1/chat/completions"
DROPPED = "log lines dropped: the log output could not keep up or failed"


def post(addr, body, timeout):
    """One request over a fresh connection; the raw response (until the server closes)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        data = body.encode()
        s.sendall(
            f"POST {CHAT} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def streams(addr, n, tokens, pid):
    words = " ".join(f"w{i}" for i in range(tokens))
    body = json.dumps({"model": "Qwen/Qwen3-0.6B", "stream": True,
                       "messages": [{"role": "user", "content": words}]}).encode()
    host, port = addr.rsplit(":", 1)
    started = threading.Barrier(n + 1)
    results = [None] * n

    def one(i):
        raw = b""
        try:
            with socket.create_connection((host, int(port)), timeout=60) as s:
                s.sendall(
                    f"POST {CHAT} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                while b"data: {" not in raw:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
                started.wait()
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
        except OSError:
            started.abort()
        results[i] = raw

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    started.wait()
    os.kill(pid, signal.SIGTERM)
    for t in threads:
        t.join()
    done = sum(b"data: [DONE]" in r for r in results)
    shutdown = sum(b"the server is shutting down" in r for r in results)
    print(json.dumps({"requests": n, "responses": done + shutdown,
                      "ended_by_shutdown": shutdown, "cut": n - done - shutdown}))


def half_heads(addr, n, out):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    host, port = addr.rsplit(":", 1)
    held, connected = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: {addr}\r\n".encode())
            held.append(s)
            connected += 1
        except OSError:
            pass
    out.put(connected)
    time.sleep(12)  # held past the server's head timeout
    for s in held:
        s.close()


def flood(addr, n, seconds):
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=half_heads, args=(addr, n // 2, out)) for _ in range(2)]
    for p in procs:
        p.start()
    body = json.dumps({"model": "Qwen/Qwen3-0.6B",
                       "messages": [{"role": "user", "content": "a real client"}]})
    requests = responses = 0
    slowest = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        requests += 1
        t = time.monotonic()
        try:
            raw = post(addr, body, timeout=30)
            if raw.startswith(b"HTTP/1.1 200") and b"a real client" in raw:
                responses += 1
        except OSError:
            pass
        slowest = max(slowest, time.monotonic() - t)
        time.sleep(0.1)
    connected = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    print(json.dumps({"requests": requests, "responses": responses,
                      "slowest_ms": round(slowest * 1000, 1),
                      "flood_attempted": n, "flood_connected": connected}))


def summary(case, requests, responses, logs):
    lines = malformed = opened = closed = 0
    lost = {}
    for path in logs:
        with open(path, encoding="utf-8", errors="replace") as f:
            for raw in f:
                lines += 1
                try:
                    o = json.loads(raw)
                except ValueError:
                    malformed += 1
                    continue
                message = o.get("message")
                opened += message == "SPAN_CREATED"
                closed += message == "SPAN_CLOSED"
                if message == DROPPED:
                    lost[(path, o.get("output"))] = o.get("total", 0)
    print(f"{case:15} requests {requests}, responses {responses}, lines {lines} "
          f"({malformed} malformed), spans opened {opened} / closed {closed}, "
          f"lost {sum(lost.values())}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "streams":
        streams(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif command == "flood":
        flood(args[0], int(args[1]), float(args[2]))
    elif command == "summary":
        summary(args[0], args[1], args[2], args[3:])
    else:
        sys.exit(__doc__)
