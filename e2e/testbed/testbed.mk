# Make fragment for the local test bed; the root Makefile includes it.
# Also usable alone: make -f e2e/testbed/testbed.mk testbed-up
# Paths are taken relative to this file so it works from any include site.

TESTBED_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: testbed-deps testbed-build testbed-up testbed-down testbed-status testbed-smoke

testbed-deps: ## install the Debian packages the test bed needs (redis, openssl, curl, git, prometheus)
	@$(TESTBED_SRC)/install-deps.sh

testbed-build: testbed-deps ## build the test bed's binaries into the cache (cold ~30 CPU-min, warm: seconds)
	@$(TESTBED_SRC)/build.sh >/dev/null

testbed-up: testbed-build ## start etcd, kube, kwok, Argo CD, redis, git daemon, Prometheus on 127.0.0.1 (idempotent)
	@$(TESTBED_SRC)/up.sh

testbed-down: ## stop the test bed's processes (logs stay)
	@$(TESTBED_SRC)/down.sh

testbed-status: ## show each test bed component: PID alive/dead, port
	@$(TESTBED_SRC)/status.sh

testbed-smoke: ## run the test bed smoke test against the running bed
	GITCANARY_E2E=1 go test ./$(TESTBED_SRC)/ -run Smoke -count=1 -v
