// Package netl embeds the kernel pins and config fragments, so that a
// change to any of them is part of the Go build's cache key.
//
// The module's sources (kmod/) are read from the checkout when a run
// starts, not embedded: an edit to netl.c then relinks no test binary, and
// go test still sees it (the test opened the file, so its cached result no
// longer holds).
//
// The harness itself lives in cmd/netlvm and internal/, and its public face
// for other modules' tests in kmodtest/ (examples/ uses it as another
// repository would, action.yml is its GitHub Action); the Go netlink client
// in userspace/; netl's own VM tests in vmtest/.
package netl

import "embed"

// KernelConfig holds kernel-config/: pins.txt, base.config and the
// per-series overrides (series-<SERIES>.config).
//
//go:embed kernel-config/pins.txt kernel-config/*.config
var KernelConfig embed.FS
