#!/usr/bin/env python3
"""tracewire's worker with its engine in Python: the mock engine of ``tracewire-worker`` (the
prompt's words streamed back as tokens, up to ``max_tokens``), served by the Rust runtime
through ``tracewire.serve_worker``, logging through the standard ``logging`` module.

Its lines join the request's trace: an INFO line per request and a DEBUG line per token, each
with the ``trace_id`` of the caller and the ``span_id`` of the ``handle_payload`` span. The
flags are those of ``tracewire-worker``; the environment (``DYN_LOG``, ``DYN_LOGGING_JSONL``,
``ETCD_ENDPOINTS`` and ``NATS_SERVER``…) is read as the Rust services read it.

    pip install lib/bindings/python
    DYN_LOGGING_JSONL=true python3 components/python-worker/worker.py --listen 127.0.0.1:9090

With ``--engine-spans`` the engine also records its own OpenTelemetry span per request,
``engine.generate``, as vLLM and SGLang do: through the OpenTelemetry Python SDK and its OTLP
exporter (configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables, like tracewire's own
export), started in ``tracewire.otel_context()``, so that it is a child of the request's
``handle_payload`` span in the caller's trace.
"""

import argparse
import asyncio
import logging
import sys

import tracewire

log = logging.getLogger("engine.mock")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Serves the generate endpoint of a mock engine in Python that streams the prompt's words back."
    )
    parser.add_argument("--listen", default="127.0.0.1:9090",
                        help="address to listen on (port 0 picks a free one; the bound address is logged)")
    parser.add_argument("--namespace", default="dynamo", help="namespace of the handle_payload span")
    parser.add_argument("--component", default="backend", help="component of the handle_payload span")
    parser.add_argument("--endpoint", default="generate", help="endpoint name, served at POST /<endpoint>")
    parser.add_argument("--model", default="Qwen/Qwen3-0.6B", help="the model name this worker serves")
    parser.add_argument("--token-delay-ms", type=int, default=10, help="pause between tokens, in milliseconds")
    parser.add_argument("--engine-spans", action="store_true",
                        help="the engine's own OpenTelemetry span per request, exported by the OpenTelemetry SDK over OTLP")
    return parser.parse_args(argv)


def engine_tracer():
    """The engine's own tracer, as an engine sets it up: the OpenTelemetry SDK with a batching
    OTLP/gRPC exporter; returns it and the provider to shut down (which sends the last spans)."""
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as e:
        raise ValueError(
            f"--engine-spans needs the OpenTelemetry SDK: pip install opentelemetry-sdk "
            f"opentelemetry-exporter-otlp-proto-grpc ({e})"
        ) from e
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer("engine.mock"), provider


def engine(token_delay_ms, tracer=None):
    delay = token_delay_ms / 1000

    async def generate(request):
        words = request["prompt"].split()
        limit = len(words) if request["max_tokens"] is None else min(request["max_tokens"], len(words))
        log.info("engine generating", extra={"prompt_tokens": len(words), "limit": limit})
        # Not made current: an async generator resumes in its caller's context, where an
        # attached OpenTelemetry context could not be detached.
        span = None
        if tracer is not None:
            span = tracer.start_span(
                "engine.generate",
                context=tracewire.otel_context(),
                attributes={"gen_ai.request.model": request["model"], "prompt_tokens": len(words)},
            )
        try:
            for i, word in enumerate(words[:limit]):
                if i > 0:
                    await asyncio.sleep(delay)
                text = word + " " if i + 1 < limit else word
                log.debug("token", extra={"index": i, "text": text})
                yield text
            if limit < len(words):
                yield tracewire.Finish("length")
        finally:
            if span is not None:
                span.set_attribute("completion_tokens", limit)
                span.end()

    return generate


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tracer, provider = None, None
    try:
        if args.engine_spans:
            tracer, provider = engine_tracer()
        tracewire.serve_worker(
            engine(args.token_delay_ms, tracer),
            model=args.model,
            namespace=args.namespace,
            component=args.component,
            endpoint=args.endpoint,
            listen=args.listen,
        )
    except ValueError as e:  # a configuration error: one line, exit 2, as the Rust binaries
        print(e, file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"tracewire-python-worker: {e}", file=sys.stderr)
        return 1
    finally:
        if provider is not None:
            provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
