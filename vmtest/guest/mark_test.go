//go:build netlguest

package guest

import (
	"os"
	"testing"

	"github.com/hugelgupf/vmtest/guest"

	"github.com/netl-dev/netl/internal/splat"
)

// begin starts every guest test: it skips outside a VM, and writes the
// test's start and end into the kernel log, so that the host can pin any
// kernel report on the console to the test that was running
// (internal/splat).
func begin(t testing.TB) {
	t.Helper()
	guest.SkipIfNotInVM(t)
	kmsg(t, splat.MarkStart(t.Name()))
	t.Cleanup(func() { kmsg(t, splat.MarkEnd(t.Name())) })
}

func kmsg(t testing.TB, line string) {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("marking the kernel log: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString("<6>" + line + "\n"); err != nil {
		t.Fatalf("marking the kernel log: %v", err)
	}
}
