# netl: thin entry points; the logic lives in Go (cmd/netlvm, internal/) and
# in the module (kmod/). `make help` lists them.
#
# SERIES picks the kernel(s) for the VM targets: one pinned series (6.12),
# a list (6.1,7.2) or all. .ci/run and every GitHub Actions job call the
# same `make test`, so what is green here is what runs there.

SHELL   := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO      ?= go
SERIES  ?= 6.12
# DEBUG=1: the debug flavour of each kernel (KASAN, lockdep, kmemleak, ...).
DEBUG   ?=
DEBUGFLAG = $(if $(DEBUG),-debug)
NETLVM   = $(GO) run ./cmd/netlvm
HOSTPKGS = $(shell $(GO) list ./... | grep -v '/vmtest$$')
# Extra go test flags for unit, e.g. UNITFLAGS="-skip ^TestVM" where there is
# no QEMU (the harness's own VM tests are named TestVM*).
UNITFLAGS ?=

.PHONY: help test unit lint vm example cover kernel matrix claims bench repro checkpatch splat-testdata clean-cache

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

test: lint unit vm example ## every test: lint, host unit tests, the VM suite and the example consumer on SERIES

unit: ## host tests: every package but vmtest (internal/harness boots VMs to test the harness itself)
	$(GO) test -timeout 30m $(UNITFLAGS) $(HOSTPKGS)

lint: ## gofmt, go vet (host and guest builds), staticcheck, actionlint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags netlguest ./vmtest/...
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags netlguest ./vmtest/...
	$(GO) tool actionlint
	cd examples/miscdev && $(GO) vet ./... && $(GO) vet -tags netlguest ./...

cover: ## netl.c's line and branch coverage from the guest suite on SERIES' debug flavour: a table per series, lcov and HTML in the cache's logs
	$(NETLVM) test -cover $(if $(COVERMIN),-cover-min $(COVERMIN)) -kernel $(SERIES)

kernel: ## build (or find in the cache) the kernel(s) for SERIES
	$(NETLVM) kernel build $(DEBUGFLAG) $(SERIES)

vm: ## the guest suite on SERIES through the harness, one table; results and consoles in the cache's logs
	$(NETLVM) test $(DEBUGFLAG) -kernel $(SERIES)

example: ## examples/miscdev, a module of its own tested through kmodtest as another repository would, on SERIES
	cd examples/miscdev && NETL_KERNEL=$(SERIES) $(if $(DEBUG),NETL_DEBUG=1) $(GO) test -count=1 -timeout 30m ./...

matrix: ## the VM suite on every pinned series
	$(NETLVM) test -kernel all

claims: ## the seed's claims C1-C15 on SERIES (all: every series), one Markdown table
	$(NETLVM) claims -kernel $(SERIES)

bench: ## in-guest benchmarks on SERIES (one series), with their UDP baselines
	$(NETLVM) kernel build $(SERIES)
	NETL_KERNEL=$(SERIES) $(GO) test -count=1 -v -run 'TestGuest/^$$' -bench . ./vmtest/ | grep -E 'Benchmark|ns/op|ops/s'

repro: ## reported bugs B1-B9 (vmtest/repro) on SERIES: reproduced, not a bug on that kernel, or error
	$(NETLVM) repro -kernel $(SERIES)

checkpatch: ## checkpatch.pl from each SERIES tree over the module (Debian's prebuilt kernels have no tree: skipped)
	@for dir in $$($(NETLVM) kernel path $(SERIES)); do \
		case $$dir in */kernels/debian-*) continue;; esac; \
		test -x $$dir/scripts/checkpatch.pl || { echo "no kernel tree at $$dir: make kernel SERIES=$(SERIES)"; exit 1; }; \
		perl $$dir/scripts/checkpatch.pl --no-tree --strict -f kmod/netl.c kmod/netl_proto.h kmod/netl_compat.h \
			examples/miscdev/kmod/netl_misc.c examples/miscdev/kmod/netl_misc.h || exit 1; \
	done

splat-testdata: ## regenerate the scanner's real console logs (internal/splat/testdata)
	internal/splat/testdata/splatgen/gen.sh

clean-cache: ## remove built kernels, modules and initramfs images
	rm -rf "$${NETL_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/netl}"
