# netl: thin entry points; the logic lives in Go (cmd/netlvm, internal/) and
# in the module (kmod/). `make help` lists them.

GO      ?= go
SERIES  ?= 6.12
HOSTPKGS = $(shell $(GO) list ./... | grep -v /vmtest)

.PHONY: help test unit lint vm kernel matrix claims bench checkpatch clean-cache

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

test: lint unit vm ## every test: lint, host unit tests, the VM suite

unit: ## host unit tests (no VM)
	$(GO) test $(HOSTPKGS)

lint: ## gofmt, go vet (host and guest builds), staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags netlguest ./vmtest/...
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags netlguest ./vmtest/...

kernel: ## build (or find in the cache) the kernel for SERIES
	$(GO) run ./cmd/netlvm kernel build $(SERIES)

vm: kernel ## the VM suite on SERIES (the README's main command)
	NETL_KERNEL=$(SERIES) $(GO) test -v -count=1 -timeout 30m ./vmtest/...

matrix: ## the VM suite on every pinned series, one table
	$(GO) run ./cmd/netlvm test -kernel all

claims: kernel ## the seed's claims, holds/differs on SERIES, as a Markdown table
	NETL_KERNEL=$(SERIES) NETL_CLAIMS_OUT=$(CURDIR)/claims-$(SERIES).md $(GO) test -count=1 -run 'TestGuest$$' ./vmtest/
	@cat claims-$(SERIES).md && rm -f claims-$(SERIES).md

bench: kernel ## in-guest benchmarks on SERIES, with their UDP baselines
	NETL_KERNEL=$(SERIES) NETL_BENCH=. NETL_GUEST_RUN='^$$' $(GO) test -count=1 -v -run 'TestGuest$$' ./vmtest/ | grep -E 'Benchmark|ns/op|ops/s'

checkpatch: kernel ## checkpatch.pl from the pinned tree over the module
	perl $$(dirname $$($(GO) run ./cmd/netlvm kernel build $(SERIES) | awk '{print $$3}'))/../../../scripts/checkpatch.pl --no-tree -f kmod/netl.c kmod/netl_proto.h

clean-cache: ## remove built kernels, modules and initramfs images
	rm -rf "$${NETL_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/netl}"
