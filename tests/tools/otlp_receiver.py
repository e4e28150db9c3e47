#!/usr/bin/env python3
"""A real OTLP trace, log and metrics receiver for tracewire's tests, built on the official
opentelemetry-proto messages: OTLP/gRPC (grpcio) and OTLP/HTTP protobuf (POST /v1/traces, /v1/logs,
/v1/metrics) on free loopback ports.

usage: otlp_receiver.py --out FILE [--hang] [--grpc-port N] [--http-port N]
                        [--tls DIR [--mtls]] [--token TOKEN]
       otlp_receiver.py gen-certs DIR

Prints "READY grpc=<port> http=<port>" once both listen. Every span received is appended to FILE
as one JSON object with "signal": "span" (ids in lowercase hex, resource and span attributes as
dicts), every log record with "signal": "log", every metric of a push with "signal": "metric"
("push" numbers the pushes; "kind" is sum, gauge or histogram; "points" holds each data point's
attributes and value, or count, sum, bucket_counts and explicit_bounds). With --hang it
accepts requests and never answers, like a stuck collector. Stops on SIGTERM or SIGINT.

--tls DIR serves both ports over TLS with DIR/server.pem and DIR/server.key (as `gen-certs DIR`
writes them, with DIR/ca.pem, the CA that signed them, and DIR/client.pem / client.key, a client
certificate of the same CA); --mtls also requires a client certificate signed by DIR/ca.pem.
--token TOKEN requires "authorization: Bearer TOKEN" and answers 401 / UNAUTHENTICATED without it.
Ports default to free ones; given, they let a test restart the receiver on the same ports.
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
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

LOCK = threading.Lock()
PUSHES = [0]


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


def number(p):
    return p.as_int if p.WhichOneof("value") == "as_int" else p.as_double


def record_metrics(out, protocol, request):
    with LOCK:
        PUSHES[0] += 1
        push = PUSHES[0]
    lines = []
    for rm in request.resource_metrics:
        resource = attributes(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                entry = {"signal": "metric", "protocol": protocol, "push": push,
                         "resource": resource, "scope": sm.scope.name, "name": m.name,
                         "unit": m.unit, "description": m.description, "kind": kind}
                if kind == "sum":
                    entry["monotonic"] = m.sum.is_monotonic
                    entry["temporality"] = m.sum.aggregation_temporality
                    entry["points"] = [{"attributes": attributes(p.attributes), "value": number(p),
                                        "start_ns": p.start_time_unix_nano,
                                        "time_ns": p.time_unix_nano} for p in m.sum.data_points]
                elif kind == "gauge":
                    entry["points"] = [{"attributes": attributes(p.attributes), "value": number(p),
                                        "time_ns": p.time_unix_nano} for p in m.gauge.data_points]
                elif kind == "histogram":
                    entry["temporality"] = m.histogram.aggregation_temporality
                    entry["points"] = [{"attributes": attributes(p.attributes), "count": p.count,
                                        "sum": p.sum, "bucket_counts": list(p.bucket_counts),
                                        "explicit_bounds": list(p.explicit_bounds),
                                        "start_ns": p.start_time_unix_nano,
                                        "time_ns": p.time_unix_nano}
                                       for p in m.histogram.data_points]
                lines.append(json.dumps(entry))
    write(out, lines)


def write(out, lines):
    with LOCK, open(out, "a", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def gen_certs(d):
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate."""
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(d, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def save(stem, cert, key):
        with open(os.path.join(d, stem + ".pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(d, stem + ".key"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

    def build(cn, key, issuer, issuer_key, ca, usage=None, sans=None):
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        if usage:
            b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("tracewire test CA", ca_key, name("tracewire test CA"), ca_key, True)
    save("ca", ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    save("server", build("localhost", server_key, ca.subject, ca_key, False,
                         ExtendedKeyUsageOID.SERVER_AUTH, sans), server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    save("client", build("tracewire client", client_key, ca.subject, ca_key, False,
                         ExtendedKeyUsageOID.CLIENT_AUTH), client_key)
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "gen-certs":
        return gen_certs(sys.argv[2])
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--tls")
    parser.add_argument("--mtls", action="store_true")
    parser.add_argument("--token")
    args = parser.parse_args()
    stop = threading.Event()
    expected = f"Bearer {args.token}" if args.token else None

    def allowed(context):
        if expected is None:
            return True
        metadata = dict(context.invocation_metadata())
        if metadata.get("authorization") == expected:
            return True
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong authorization")
        return False

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            if not allowed(context):
                return None
            if args.hang:
                stop.wait()
            record(args.out, "grpc", request)
            return trace_service_pb2.ExportTraceServiceResponse()

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):
        def Export(self, request, context):
            if not allowed(context):
                return None
            if args.hang:
                stop.wait()
            record_logs(args.out, "grpc", request)
            return logs_service_pb2.ExportLogsServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request, context):
            if not allowed(context):
                return None
            if args.hang:
                stop.wait()
            record_metrics(args.out, "grpc", request)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    def read(stem, ext):
        with open(f"{args.tls}/{stem}.{ext}", "rb") as f:
            return f.read()

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), grpc_server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), grpc_server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), grpc_server)
    grpc_address = f"127.0.0.1:{args.grpc_port}"
    if args.tls:
        credentials = grpc.ssl_server_credentials(
            [(read("server", "key"), read("server", "pem"))],
            root_certificates=read("ca", "pem") if args.mtls else None,
            require_client_auth=args.mtls)
        grpc_port = grpc_server.add_secure_port(grpc_address, credentials)
    else:
        grpc_port = grpc_server.add_insecure_port(grpc_address)
    grpc_server.start()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if expected is not None and self.headers.get("authorization") != expected:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path not in ("/v1/traces", "/v1/logs", "/v1/metrics"):
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
            elif self.path == "/v1/metrics":
                request = metrics_service_pb2.ExportMetricsServiceRequest()
                request.ParseFromString(body)
                record_metrics(args.out, "http/protobuf", request)
                reply = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
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

    http_server = ThreadingHTTPServer(("127.0.0.1", args.http_port), Handler)
    http_server.daemon_threads = True
    if args.tls:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(f"{args.tls}/server.pem", f"{args.tls}/server.key")
        if args.mtls:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(f"{args.tls}/ca.pem")
        # The handshake runs in the request's thread, so a client that fails it blocks no one.
        http_server.socket = context.wrap_socket(http_server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
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
