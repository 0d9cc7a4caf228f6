// Package netl embeds the project's non-Go sources, the module and the kernel
// pins and config fragments, so that the harness builds them from any working
// directory and a change to any of them is part of the Go build's cache key.
//
// The harness itself lives in cmd/netlvm and internal/; the Go netlink client
// in userspace/; the VM tests in vmtest/.
package netl

import "embed"

// Module holds kmod/: netl.c, the protocol header, Kbuild and the Makefile.
//
//go:embed kmod/*.c kmod/*.h kmod/Kbuild kmod/Makefile
var Module embed.FS

// KernelConfig holds kernel-config/: pins.txt, base.config and the
// per-series overrides (series-<SERIES>.config).
//
//go:embed kernel-config/pins.txt kernel-config/*.config
var KernelConfig embed.FS
