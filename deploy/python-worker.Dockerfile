# The Python worker: components/python-worker/worker.py on the tracewire package
# (lib/bindings/python, one abi3 wheel built here by maturin), with the OpenTelemetry SDK and its
# OTLP exporter for the engine's own spans (--engine-spans).
# Build from the repository root:  docker build -f deploy/python-worker.Dockerfile -t tracewire-python-worker:0.1.0 .
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# protoc: etcd-client's build compiles etcd's .proto files; python3 runs maturin.
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev python3 python3-venv && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /venv && /venv/bin/pip install --no-cache-dir maturin
COPY . .
# The native linux tag: the wheel is installed below on the same Debian release (glibc 2.36).
RUN cd lib/bindings/python && /venv/bin/maturin build --release --compatibility linux --out /wheels

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 tracewire
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc && rm -rf /wheels
COPY components/python-worker/worker.py /app/worker.py
COPY config/jsonl.toml /etc/tracewire/logging.toml
USER 10001
ENV DYN_LOGGING_JSONL=true
EXPOSE 9090
ENTRYPOINT ["python3", "/app/worker.py"]
CMD ["--listen", "0.0.0.0:9090"]
