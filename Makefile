# gitcanary — `make help` lists the targets.
SHELL := /usr/bin/env bash
GO    ?= go
BIN   := bin/gitcanary
# Heavy Go builds take this lock so that two never run at once on a small machine.
# -o: the command does not inherit the lock's descriptor, so a git daemon a killed
# test leaves behind cannot hold the lock (flock itself holds it until the command ends).
HEAVY := flock -o /tmp/gitcanary-heavy.lock

.DEFAULT_GOAL := help
.PHONY: help build test test-unit test-e2e fuzz lint fmt bench bench-go bench-scale bench-e2e bench-pause bench-repo bench-analysis demo demo-down clean

include e2e/testbed/testbed.mk

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/gitcanary (same compile flags as go test, so the build cache serves both)
	@$(HEAVY) $(GO) build -ldflags "-s -w" -o $(BIN) ./cmd/gitcanary

# How many tests of a package run at once. The end-to-end scenarios each
# have their own namespace, Application and git server and mostly wait on
# Argo CD, so more of them than cores overlap their waits.
TEST_PARALLEL ?= 6

test: testbed-up ## unit, integration and end-to-end tests (brings the test bed up first)
	@$(HEAVY) $(GO) vet ./...
	GITCANARY_E2E=1 $(HEAVY) $(GO) test -count=1 -parallel $(TEST_PARALLEL) -timeout 60m ./...

test-unit: ## unit and integration tests only (git on loopback, kustomize in-process; no test bed)
	$(GO) test -count=1 ./...

test-e2e: testbed-up ## only the end-to-end tests against the running test bed
	GITCANARY_E2E=1 $(GO) test -count=1 -parallel $(TEST_PARALLEL) -timeout 45m -v ./e2e/...

FUZZTIME ?= 60s
# package:target, one per fuzz target (go test -fuzz takes one target per run).
FUZZ_TARGETS := release:FuzzRelease config:FuzzConfig machine:FuzzPlan machine:FuzzRecord judge:FuzzJudge condition:FuzzAssess

fuzz: ## run every fuzz target for FUZZTIME (default 60s) each; new crashers land in pkg/*/testdata/fuzz (make test replays them)
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name (./pkg/$$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./pkg/$$pkg/ 2>&1 | tee /tmp/gitcanary-fuzz.$$name.log | grep -E '^(ok|FAIL|---|\s+fuzz|panic)|elapsed: [0-9.m]+s, execs' | tail -n 3; \
		grep -q '^ok' /tmp/gitcanary-fuzz.$$name.log || exit 1; \
	done

lint: ## go vet, gofmt, and golangci-lint when installed
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd pkg e2e fixtures releases templates deploy 2>/dev/null)" || { gofmt -l cmd pkg e2e fixtures releases templates deploy; exit 1; }
	@if command -v golangci-lint >/dev/null; then golangci-lint run ./...; fi

fmt: ## gofmt every Go file
	gofmt -w cmd pkg e2e fixtures releases deploy

bench: bench-go bench-scale ## the Go benchmarks, then the controller at scale

bench-go: ## Go benchmarks (git on loopback, rendering, a release step without Argo CD)
	$(HEAVY) $(GO) test -run '^$$' -bench . -skip 'BenchmarkControllerScale|BenchmarkPause' -benchmem ./pkg/...

bench-scale: ## one controller driving GITCANARY_SCALE_RELEASES (default 1000) releases: time, CPU, RSS, latencies, RSS for 10,000
	$(HEAVY) $(GO) test -count=1 -timeout 60m -run '^$$' -bench BenchmarkControllerScale -benchtime 1x ./pkg/controller/

bench-pause: ## a release in a GITCANARY_PAUSE (default 10m) pause: git fetches, ref checks, Argo CD calls per minute; how soon another process's abort is seen
	@mkdir -p bin && $(HEAVY) $(GO) test -c -o bin/machine.test ./pkg/machine/
	cd pkg/machine && ../../bin/machine.test -test.run '^$$' -test.bench BenchmarkPause -test.benchtime 1x -test.timeout 60m

bench-repo: build ## a monorepo of 10,000 files and 10,000 commits: CPU and RSS of plan and a weight step next to git clone, the cache after 1,000 steps
	@mkdir -p bin && $(HEAVY) $(GO) test -c -o bin/bench-repo.test ./e2e/bigrepo/
	cd e2e/bigrepo && GITCANARY_BIN=$(CURDIR)/$(BIN) ../../bin/bench-repo.test -test.run '^$$' -test.bench BenchmarkRepo -test.benchtime 1x -test.timeout 60m

bench-e2e: testbed-up build ## P1/P2 latencies on the test bed next to a bare Argo CD sync
	GITCANARY_E2E=1 $(GO) test -count=1 -timeout 30m -run '^$$' -bench BenchmarkE2E -benchtime 1x -v ./e2e/

bench-analysis: ## simulate 20,000 A/A and 5,000 A/B releases per cell of a 81-cell grid: the judge's false positives, power, time to detect; last line the headline
	@mkdir -p bin && $(HEAVY) $(GO) build -o bin/bench-analysis ./cmd/bench-analysis
	bin/bench-analysis $(BENCH_ANALYSIS_FLAGS)

demo: testbed-up build ## run a real release 10% → 50% → 100% → promote on the local test bed
	@$(GO) run ./e2e/demo

demo-down: testbed-down ## stop the test bed the demo started

clean: ## remove build outputs (the test bed cache stays)
	rm -rf bin
