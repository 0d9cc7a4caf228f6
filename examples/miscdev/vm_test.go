package miscdev

import (
	"testing"

	"github.com/netl-dev/netl/kmodtest"
)

// TestVM builds kmod/ against each kernel ($NETL_KERNEL: a series, a list
// or all; the default kernel without it), boots it with netl_misc.ko
// loaded, and runs ./guest's tests inside; each appears here as a subtest.
func TestVM(t *testing.T) {
	kmodtest.Run(t,
		kmodtest.WithModule("./kmod"),
		kmodtest.WithGuestTests("./guest"),
	)
}
