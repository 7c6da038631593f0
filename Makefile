# otelaudit: `make demo` and `make test` are the whole set-up on a fresh
# machine with Go. Everything else they need is installed here, pinned, into
# ./bin.
GO      ?= go
BIN     := $(CURDIR)/bin
PKGS    := ./...

# Fuzz time per target for `make fuzz`.
FUZZTIME ?= 60s

.PHONY: demo test bench lint fuzz clean

## demo: run the quickstart end to end on embedded defaults (local files, no keys, no cloud)
demo:
	$(GO) run ./examples/quickstart

## test: the full suite with the race detector
test:
	$(GO) test -race -count=1 -timeout 9m $(PKGS)

## bench: every benchmark of the project (figures in README.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 60m $(PKGS)

## lint: gofmt, go vet and staticcheck (pinned)
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## fuzz: every fuzz target for $(FUZZTIME) each
fuzz:
	@set -e; for spec in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$spec/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$spec $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$spec; \
	  done; done

clean:
	rm -rf $(BIN) audit-data
