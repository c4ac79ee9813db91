# Developer entry points. `make test` is the one command that runs the whole
# suite (and what CI runs); the other targets are conveniences for part of it.
# See docs/development.md.

.PHONY: test test-go test-e2e lint bench build run

# Everything: static checks, Go tests against a throwaway PostgreSQL, browser
# tests. Installs missing test dependencies first.
test:
	scripts/test.sh

# Go tests only (with the throwaway PostgreSQL).
test-go:
	scripts/test.sh go

# Browser tests only (builds the binary first).
test-e2e:
	scripts/test.sh e2e

# Static checks only: gofmt, go vet, staticcheck, gosec, govulncheck.
lint:
	scripts/test.sh lint

# Runs the benchmark scripts in bench/, if there are any.
bench:
	scripts/bench.sh

build:
	go build -o bin/qsmo ./cmd/qsmo

run:
	go run ./cmd/qsmo serve --demo
