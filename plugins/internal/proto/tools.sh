#!/usr/bin/env bash
# Installs what `go generate ./plugins/...` and TestGeneratedCodeIsFresh need:
# protoc from Debian and the two Go code generators at the versions the
# committed code was generated with. Run as root (apt-get); idempotent.
set -euo pipefail
if ! command -v protoc >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
