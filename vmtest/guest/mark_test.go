//go:build netlguest

package guest

import (
	"testing"

	kguest "github.com/netl-dev/netl/kmodtest/guest"
)

// begin starts every guest test: it skips outside a VM, and writes the
// test's start and end into the kernel log, so that the host can pin any
// kernel report on the console to the test that was running
// (internal/splat).
func begin(t testing.TB) {
	t.Helper()
	kguest.Begin(t)
}

// beginParallel starts a test that runs alongside the other parallel ones,
// after every sequential test (go test's t.Parallel). Such a test touches
// nothing global: no module reload or parameter, no exact count of the
// initial namespace's counters, no line of the rate-limited kernel log,
// and ports no other test binds. A kernel report while tests overlap
// names each of them.
func beginParallel(t *testing.T) {
	t.Helper()
	t.Parallel()
	begin(t)
}
