package contract

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// MountDebugFS mounts debugfs on DebugFS unless it is mounted there
// already: the guest's init (gcov's counters), the kmemleak sweep, the
// fault walk and the reproducers all reach the kernel's detectors there. A
// kernel without CONFIG_DEBUG_FS gives an error (ENODEV).
func MountDebugFS() error {
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == DebugFS && f[2] == "debugfs" {
			return nil
		}
	}
	if err := os.MkdirAll(DebugFS, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("debugfs", DebugFS, "debugfs", 0, ""); err != nil {
		return fmt.Errorf("mounting debugfs on %s: %w", DebugFS, err)
	}
	return nil
}
