// Package proto holds the generated Go code of the waqtor plugin protocol
// (plugin.proto). It is internal: package plugins wraps it in Go-native types.
//
// Regenerate with `go generate ./plugins/...`; it needs protoc (Debian package
// protobuf-compiler) and the plugins of the versions below on PATH:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//
// (tools.sh installs all three.) TestGeneratedCodeIsFresh fails when the
// committed code is stale; it skips without the tools unless
// WAQTOR_REQUIRE_PROTOC is set.
package proto

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto
