#!/usr/bin/env python3
"""Reads an OTLP/JSON file with the official opentelemetry-proto messages and prints its spans.

usage: otlp_json_spans.py FILE

The file is parsed into an ExportTraceServiceRequest by google.protobuf.json_format.Parse, with
unknown fields refused. OTLP/JSON writes trace and span ids as hex where the generic protobuf
JSON mapping has base64 (the OTLP specification says so, and that receivers convert): they are
converted before parsing, as an OTLP/JSON receiver does, and nothing else is touched. Prints one
JSON object per span: service, trace_id, span_id, parent_id (hex, "" for none), name,
start_ns, end_ns, events, status.
"""
import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

IDS = ("traceId", "spanId", "parentSpanId")


def hex_to_base64(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in IDS and isinstance(v, str):
                node[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                hex_to_base64(v)
    elif isinstance(node, list):
        for v in node:
            hex_to_base64(v)


def main(path):
    doc = json.load(open(path, encoding="utf-8"))
    hex_to_base64(doc)
    request = json_format.Parse(json.dumps(doc), ExportTraceServiceRequest(), ignore_unknown_fields=False)
    for rs in request.resource_spans:
        service = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
        for ss in rs.scope_spans:
            for s in ss.spans:
                print(json.dumps({
                    "service": service,
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_id": s.parent_span_id.hex(),
                    "name": s.name,
                    "start_ns": s.start_time_unix_nano,
                    "end_ns": s.end_time_unix_nano,
                    "events": len(s.events),
                    "status": s.status.code,
                }))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2])
        sys.exit(2)
    main(sys.argv[1])
