#!/usr/bin/env bash
# What building the workspace needs beyond a Rust toolchain: protoc and the well-known .proto
# files (google/protobuf/descriptor.proto, struct.proto…) that etcd's .proto files import;
# etcd-client's build script runs protoc on them. Debian splits these in two packages
# (protobuf-compiler and libprotobuf-dev, only "recommended" by the first): both are installed
# from the system's packages when missing.
set -euo pipefail
need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/descriptor.proto ] || need+=(libprotobuf-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (protoc and its .proto files, for etcd-client's build)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
