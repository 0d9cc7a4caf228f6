//go:build netlguest

package guest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/netl-dev/netl/internal/contract"
)

// TestMain runs the suite, then, on a kernel with kmemleak (the debug
// flavour), asks for a leak scan and prints what it found to the console,
// where the host's scanner turns any "unreferenced object" into a failure.
// On the debug flavour a kmemleak that is missing or off fails the run: a
// detector that cannot report would let a leak read as "no leaks".
func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(runHelper(spec)) // a test re-executed this binary (C10)
	}
	code := m.Run()
	if os.Getenv(contract.InGuestEnv) == "1" {
		if err := kmemleakSweep(os.Getenv(contract.DebugEnv) != ""); err != nil {
			fmt.Fprintf(os.Stderr, "netl: %v\n", err)
			if code == 0 {
				code = 3
			}
		}
	}
	os.Exit(code)
}

func kmemleakSweep(required bool) error {
	const dir = contract.DebugFS
	if err := contract.MountDebugFS(); err != nil && required {
		return fmt.Errorf("kmemleak: %v", err)
	}
	if _, err := os.Stat(dir + "/kmemleak"); err != nil {
		if required {
			return fmt.Errorf("the debug flavour has no kmemleak (%v): leaks would go unseen", err)
		}
		return nil // not a kmemleak kernel
	}
	// kmemleak reports only objects older than its minimum age (5 s).
	time.Sleep(6 * time.Second)
	for i := 0; i < 2; i++ {
		// A disabled kmemleak refuses the scan (EPERM or EBUSY): an
		// error here is a detector that stopped, not a clean kernel.
		if err := os.WriteFile(dir+"/kmemleak", []byte("scan"), 0o200); err != nil {
			return fmt.Errorf("kmemleak scan: %v (kmemleak disabled?)", err)
		}
	}
	out, err := os.ReadFile(dir + "/kmemleak")
	if err != nil {
		return fmt.Errorf("reading kmemleak: %v", err)
	}
	if len(out) > 0 {
		fmt.Fprintf(os.Stderr, "%s", out)
	}
	return nil
}
