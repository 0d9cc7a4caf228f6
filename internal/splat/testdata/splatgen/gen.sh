#!/bin/sh
# Regenerates internal/splat/testdata/KIND.log: one real report of each kind
# from netl's own kernels, made by splatgen.ko. `make splat-testdata`.
#
# SERIES=5.10 (or any pinned series) writes KIND-5.10.log instead, from that
# series' kernels, for the kinds given as arguments (default: all).
set -u
cd "$(dirname "$0")/../../../.."
out=internal/splat/testdata
series=${SERIES:-}
only=" $* "
gen() { # kind flavour program extra-cmdline
	kind=$1; shift
	case "$only" in "  "|*" $kind "*) ;; *) return ;; esac
	flags=""
	[ "$1" = debug ] && flags="-debug"; shift
	prog=$1; shift
	log="$out/$kind.log"
	if [ -n "$series" ]; then
		flags="$flags -kernel $series"
		log="$out/$kind-$series.log"
	fi
	echo "== $kind ${series:-6.12}"
	go run ./cmd/netlvm run $flags -timeout 90s -module internal/splat/testdata/splatgen \
		-modparams "kind=$kind" -append "$*" -console "$log" \
		-- "internal/splat/testdata/splatgen/$prog" >/dev/null 2>&1
	grep -c . "$log"
}
gen warn plain true.sh
gen bug plain true.sh
gen gpf plain true.sh
gen oops plain true.sh
gen panic plain true.sh
gen kasan debug true.sh
gen ubsan debug true.sh
gen leak debug leak.sh
gen lockdep debug true.sh
gen hung debug wait.sh sysctl.kernel.hung_task_timeout_secs=3
gen softlockup debug true.sh watchdog_thresh=2
