# otelaudit: `make demo` and `make test` are the whole set-up on a fresh
# machine with Go. Everything else they need is installed here, pinned, into
# a per-version directory of the user cache dir ($XDG_CACHE_HOME or
# ~/.cache, under otelaudit/tools), so a fresh checkout on the same machine
# reuses them instead of building them again. ./bin holds only what this
# checkout builds itself.
GO      ?= go
BIN     := $(CURDIR)/bin
PKGS    := ./...
TOOLS   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/otelaudit/tools

# Fuzz time per target for `make fuzz`.
FUZZTIME ?= 60s

.PHONY: demo test bench bench-caller lint fuzz clean versitygw s3-test s3-bench aws-test collector node-modules

# S3-compatible server for the storage/s3store tests and benchmarks: versitygw
# (posix backend), pinned, built with our Go into ./bin. scripts/with-versitygw.sh
# starts it on a free 127.0.0.1 port over a temporary root with test
# credentials, exports OTELAUDIT_S3_* (OTELAUDIT_S3_REQUIRED=1: a missing
# server fails the S3 tests instead of skipping them), runs the command and
# stops the server whatever the command's outcome.
VERSITYGW_VERSION := v1.8.0
VERSITYGW_DIR     := $(TOOLS)/versitygw-$(VERSITYGW_VERSION)
VERSITYGW         := $(VERSITYGW_DIR)/versitygw
VERSITYGW_STAMP   := $(VERSITYGW_DIR)/.installed
WITH_S3           := scripts/with-versitygw.sh $(VERSITYGW)

# AWS emulator for the otelaudit/awskeys and CLI key tests (Secrets Manager and
# KMS): moto_server, pinned. moto is a Python package and PyPI is not
# reachable from the project's machines, so it is not installed here: the
# machine image ships moto $(MOTO_VERSION), and scripts/with-moto.sh refuses any
# other version, starts it on a free 127.0.0.1 port, exports OTELAUDIT_AWS_*
# (OTELAUDIT_AWS_REQUIRED=1: a missing emulator fails those tests instead of
# skipping them), runs the command and stops the server whatever its outcome.
MOTO_VERSION := 5.2.1
WITH_AWS     := scripts/with-moto.sh $(MOTO_VERSION)

## demo: run the quickstart end to end on embedded defaults (local files, no keys, no cloud);
##       `make demo S3=1` stores the entries on a local S3 server (versitygw) instead
demo:
	@echo ">> go run ./examples/quickstart (the first run downloads and compiles the SDKs the demo uses, AWS and OpenAI among them: minutes on a cold cache, silent while compiling)"
ifeq ($(S3),1)
	$(MAKE) $(VERSITYGW_STAMP)
	$(WITH_S3) $(GO) run ./examples/quickstart -s3
else
	$(GO) run ./examples/quickstart
endif

# The Node service of the collector's TestNodeOpenAIInstrumentation (the
# official openai client with @opentelemetry/instrumentation-openai): its
# packages, pinned by package-lock.json, are installed with `npm ci` into the
# tools cache under the lock file's hash, so a checkout never holds
# node_modules and a changed lock file installs afresh. make test passes the
# directory as OTELAUDIT_NODE_MODULES with OTELAUDIT_NODE_REQUIRED=1: a
# missing node or npm, or a failed install, fails make test.
NODE_APP   := collector/otelauditexporter/testdata/node-openai
NODE_DIR   := $(TOOLS)/node-openai-$(shell sha256sum $(NODE_APP)/package-lock.json | cut -c1-16)
NODE_STAMP := $(NODE_DIR)/.installed

$(NODE_STAMP): # keyed by the lock file's hash (the directory name), not by mtimes, which a fresh clone resets
	@echo ">> npm ci for $(NODE_APP) into $(NODE_DIR) (once per lock file; needs the npm registry)"
	@mkdir -p $(NODE_DIR)
	cp $(NODE_APP)/package.json $(NODE_APP)/package-lock.json $(NODE_DIR)/
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

## node-modules: install the collector Node test's packages into the tools cache
node-modules: $(NODE_STAMP)

## test: the full suite with the race detector, S3 tests against a local versitygw,
##       AWS key tests against a local moto_server; then the nested collector
##       module's (./... stops at its go.mod), whose process tests run the
##       freshly built bin/otelcol-audit and the Node service
test: $(VERSITYGW_STAMP) collector $(NODE_STAMP)
	@echo ">> go test -race over the module, then the collector module (the first run compiles every dependency with -race: several minutes on a cold cache)"
	$(WITH_S3) $(WITH_AWS) sh -c '$(GO) test -race -count=1 -timeout 9m $(PKGS) && cd collector && OTELAUDIT_NODE_MODULES=$(NODE_DIR)/node_modules OTELAUDIT_NODE_REQUIRED=1 $(GO) test -race -count=1 -timeout 9m $(PKGS)'

## bench: every benchmark of the project, the collector module's included (figures in README.md),
##        S3 ones against a local versitygw, key ones against moto
bench: $(VERSITYGW_STAMP)
	$(WITH_S3) $(WITH_AWS) sh -c '$(GO) test -run "^$$" -bench . -benchmem -count=1 -timeout 60m $(PKGS) && cd collector && $(GO) test -run "^$$" -bench . -benchmem -count=1 -timeout 30m $(PKGS)'

## bench-caller: the two caller-cost figures as the README reports them: BenchmarkCallerCost
##               (-benchtime 300000x) and BenchmarkTransportOverhead (-benchtime 2s), 3 runs each
BENCH_COUNT ?= 3
bench-caller:
	@echo ">> BenchmarkCallerCost, $(BENCH_COUNT) runs of 300000 calls each (both heaps, about 20 s a run on 2 cores; read x-attrs)"
	$(GO) test -run '^$$' -bench 'BenchmarkCallerCost' -benchtime 300000x -count=$(BENCH_COUNT) -timeout 30m ./exporter/
	@echo ">> BenchmarkTransportOverhead, $(BENCH_COUNT) runs (read ratio-p50)"
	$(GO) test -run '^$$' -bench 'BenchmarkTransportOverhead' -benchtime 2s -count=$(BENCH_COUNT) -timeout 30m ./middleware/

## versitygw: install the pinned S3 test server into the tools cache
versitygw: $(VERSITYGW_STAMP)

$(VERSITYGW_STAMP):
	@echo ">> building versitygw $(VERSITYGW_VERSION) into $(VERSITYGW_DIR) (once per machine; about 2 minutes, needs the Go module proxy)"
	GOBIN=$(VERSITYGW_DIR) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	@touch $@

## s3-test: only the S3 backend's tests, against a local versitygw
s3-test: $(VERSITYGW_STAMP)
	$(WITH_S3) $(GO) test -race -count=1 -timeout 9m -v ./storage/s3store/

## s3-bench: only the S3 backend's benchmarks, against a local versitygw
s3-bench: $(VERSITYGW_STAMP)
	$(WITH_S3) $(WITH_AWS) $(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./storage/s3store/

## aws-test: only the AWS key tests (Secrets Manager, KMS), against a local moto_server
aws-test:
	$(WITH_AWS) $(GO) test -race -count=1 -timeout 9m -v ./otelaudit/awskeys/ ./cmd/otelaudit/ -run 'SecretsManager|Envelope|KeySecret|KMS'

## lint: gofmt, go vet and staticcheck (pinned), for both modules
lint:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)
	cd collector && $(GO) vet $(PKGS)
	cd collector && $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# The otelcol-audit distribution (collector/builder-config.yaml), built by
# the Collector builder, pinned and installed into the tools cache like
# versitygw. The builder generates its sources in collector/_build.
BUILDER_VERSION := v0.165.0
BUILDER_DIR     := $(TOOLS)/builder-$(BUILDER_VERSION)
BUILDER         := $(BUILDER_DIR)/builder
BUILDER_STAMP   := $(BUILDER_DIR)/.installed

$(BUILDER_STAMP):
	@echo ">> installing the Collector builder $(BUILDER_VERSION) into $(BUILDER_DIR) (once per machine; needs the Go module proxy)"
	GOBIN=$(BUILDER_DIR) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(BUILDER_VERSION)
	@touch $@

## collector: build the otelcol-audit distribution into bin/otelcol-audit
collector: $(BUILDER_STAMP)
	@echo ">> building bin/otelcol-audit with the Collector builder (a few minutes on a cold cache)"
	$(BUILDER) --config collector/builder-config.yaml
	@# The builder's generated sources are not gofmt'd; format them so that
	@# `gofmt -l .` over the tree stays empty (they are git-ignored output).
	gofmt -w collector/_build/*.go
	@mkdir -p $(BIN)
	cp collector/_build/otelcol-audit $(BIN)/otelcol-audit

## fuzz: every fuzz target for $(FUZZTIME) each
fuzz:
	@set -e; for spec in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$spec/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$spec $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$spec; \
	  done; done

clean:
	rm -rf $(BIN) audit-data audit-data.key collector/_build
