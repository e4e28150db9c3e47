#!/usr/bin/env python3
"""A real OTLP trace and log receiver for tracewire's tests, built on the official opentelemetry-proto
messages: OTLP/gRPC (grpcio) and OTLP/HTTP protobuf (POST /v1/traces) on free loopback ports.

usage: otlp_receiver.py --out FILE [--hang]

Prints "READY grpc=<port> http=<port>" once both listen. Every span received is appended to FILE
as one JSON object with "signal": "span" (ids in lowercase hex, resource and span attributes as
dicts), every log record with "signal": "log". With --hang it
accepts requests and never answers, like a stuck collector. Stops on SIGTERM or SIGINT.
"""
import argparse
import gzip
import json
import signal
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

LOCK = threading.Lock()


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    return getattr(v, kind) if kind else None


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def record(out, protocol, request):
    lines = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                lines.append(json.dumps({
                    "signal": "span",
                    "protocol": protocol,
                    "resource": resource,
                    "scope": ss.scope.name,
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(),
                    "trace_state": s.trace_state,
                    "flags": s.flags,
                    "name": s.name,
                    "kind": s.kind,
                    "start_ns": s.start_time_unix_nano,
                    "end_ns": s.end_time_unix_nano,
                    "attributes": attributes(s.attributes),
                    "status": s.status.code,
                }))
    write(out, lines)


def record_logs(out, protocol, request):
    lines = []
    for rl in request.resource_logs:
        resource = attributes(rl.resource.attributes)
        for sl in rl.scope_logs:
            for r in sl.log_records:
                lines.append(json.dumps({
                    "signal": "log",
                    "protocol": protocol,
                    "resource": resource,
                    "trace_id": r.trace_id.hex(),
                    "span_id": r.span_id.hex(),
                    "flags": r.flags,
                    "severity_number": r.severity_number,
                    "severity_text": r.severity_text,
                    "body": value(r.body),
                    "time_ns": r.time_unix_nano,
                    "attributes": attributes(r.attributes),
                }))
    write(out, lines)


def write(out, lines):
    with LOCK, open(out, "a", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    stop = threading.Event()

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            if args.hang:
                stop.wait()
            record(args.out, "grpc", request)
            return trace_service_pb2.ExportTraceServiceResponse()

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):
        def Export(self, request, context):
            if args.hang:
                stop.wait()
            record_logs(args.out, "grpc", request)
            return logs_service_pb2.ExportLogsServiceResponse()

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), grpc_server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), grpc_server)
    grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path not in ("/v1/traces", "/v1/logs"):
                self.send_error(404)
                return
            if args.hang:
                stop.wait()
                return
            if self.path == "/v1/traces":
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                record(args.out, "http/protobuf", request)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            else:
                request = logs_service_pb2.ExportLogsServiceRequest()
                request.ParseFromString(body)
                record_logs(args.out, "http/protobuf", request)
                reply = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_):
            pass

    http_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http_server.daemon_threads = True
    threading.Thread(target=http_server.serve_forever, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"READY grpc={grpc_port} http={http_server.server_address[1]}", flush=True)
    while not stop.wait(0.2):
        pass
    grpc_server.stop(0)
    http_server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
