# waqtor development tasks. `make help` lists them.
GO ?= go
PG ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z/_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: lint
lint: ## gofmt check and go vet (and staticcheck when installed)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; fi

.PHONY: test
test: ## the test suite (SQLite; PostgreSQL too when WAQTOR_TEST_DATABASE_URL is set)
	$(GO) test ./...

.PHONY: test/race
test/race: ## the race-enabled suite against the local PostgreSQL, as CI runs it
	WAQTOR_TEST_DATABASE_URL=$(PG) $(GO) test -race -count=1 ./...

.PHONY: bench
bench: ## benchmarks (ITERATIONS=1x for a smoke run)
	WAQTOR_TEST_DATABASE_URL=$(PG) $(GO) test -run '^$$' -bench . -benchtime $(or $(ITERATIONS),1s) ./...

.PHONY: fuzz
fuzz: ## run every fuzz target of the module for FUZZTIME each (default 30s; .ci/fuzz alone is the nightly 10m under -race)
	FUZZTIME=$(or $(FUZZTIME),30s) FUZZRACE=$(or $(FUZZRACE),0) .ci/fuzz

.PHONY: tidy
tidy: ## go mod tidy
	$(GO) mod tidy

.PHONY: generate
generate: ## regenerate generated code
	$(GO) generate ./...

.PHONY: verify
verify: generate tidy ## fail if generated files or go.mod are stale
	git diff --exit-code
