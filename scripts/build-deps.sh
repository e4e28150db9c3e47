#!/usr/bin/env bash
# What building the workspace needs beyond a Rust toolchain: protoc, which etcd-client's build
# script runs on etcd's .proto files. Installed from the system's packages when missing.
set -euo pipefail
if ! command -v protoc >/dev/null; then
  echo "installing protobuf-compiler (protoc, for etcd-client's build)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends protobuf-compiler
fi
