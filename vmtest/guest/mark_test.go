//go:build netlguest

package guest

import (
	"testing"

	"github.com/hugelgupf/vmtest/guest"

	"github.com/netl-dev/netl/internal/contract"
)

// begin starts every guest test: it skips outside a VM, and writes the
// test's start and end into the kernel log, so that the host can pin any
// kernel report on the console to the test that was running
// (internal/splat).
func begin(t testing.TB) {
	t.Helper()
	guest.SkipIfNotInVM(t)
	kmsg(t, contract.MarkStart(t.Name()))
	t.Cleanup(func() { kmsg(t, contract.MarkEnd(t.Name())) })
}

func kmsg(t testing.TB, line string) {
	if err := contract.Kmsg(line); err != nil {
		t.Fatalf("marking the kernel log: %v", err)
	}
}
