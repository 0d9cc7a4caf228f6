//go:build netlguest

package guest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain runs the suite, then, on a kernel with kmemleak (the debug
// flavour), asks for a leak scan and prints what it found to the console,
// where the host's scanner turns any "unreferenced object" into a failure.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv("VMTEST_IN_GUEST") == "1" {
		kmemleakSweep()
	}
	os.Exit(code)
}

func kmemleakSweep() {
	const dir = "/sys/kernel/debug"
	if _, err := os.Stat(dir + "/kmemleak"); os.IsNotExist(err) {
		if err := unix.Mount("none", dir, "debugfs", 0, ""); err != nil {
			return
		}
	}
	if _, err := os.Stat(dir + "/kmemleak"); err != nil {
		return // not a kmemleak kernel
	}
	// kmemleak reports only objects older than its minimum age (5 s).
	time.Sleep(6 * time.Second)
	for i := 0; i < 2; i++ {
		if err := os.WriteFile(dir+"/kmemleak", []byte("scan"), 0o200); err != nil {
			fmt.Fprintf(os.Stderr, "netl: kmemleak scan: %v\n", err)
			return
		}
	}
	if out, err := os.ReadFile(dir + "/kmemleak"); err == nil && len(out) > 0 {
		fmt.Fprintf(os.Stderr, "%s", out)
	}
}
