//go:build netlguest

package guest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/contract"
)

// The client packages' tests run here: those that need netl.ko
// (TestConnAgainstModule in userspace/netlink,
// TestTypedCommandsAgainstModule in netlctl), which skip on a host without
// the module, always; and in CI (contract.FullEnv) all the others too,
// those against NETLINK_ROUTE (extended acks, dump interruption, timeouts
// under signals), so that the kernel behaviour they pin is checked on
// every pinned kernel, not only on the host's. The edit loop leaves those
// out: they test the client and the kernel, not the module, and take some
// 4 s of a 1-CPU guest. The harness ships the test binaries beside this
// one (harness.ClientPackages): each must pass, none may skip, but for
// hostOnly, which need the source tree or a C compiler (the host runs
// them). Each runs in a network namespace of its own, whose counters no
// other test moves.
func TestClientPackages(t *testing.T) {
	beginParallel(t)
	bins, err := filepath.Glob(contract.GuestPath("bin/*.test"))
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)
	var ran []string
	for _, bin := range bins {
		if filepath.Base(bin) == filepath.Base(self) {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(bin), ".test"), func(t *testing.T) {
			t.Parallel()
			args := []string{"-test.skip", hostOnly, "-test.v", "-test.count=1", "-test.timeout=2m"}
			if os.Getenv(contract.FullEnv) == "" {
				args = append(args, "-test.run", "AgainstModule$")
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s:\n%s", bin, out)
			passed := regexp.MustCompile(`(?m)^--- PASS: \w+AgainstModule `).FindAllString(string(out), -1)
			require.NotEmpty(t, passed, "no AgainstModule test passed:\n%s", out)
			skipped := regexp.MustCompile(`(?m)^\s*--- SKIP: .*$`).FindAllString(string(out), -1)
			assert.Empty(t, skipped, "client tests skipped in the guest (run them here or add them to hostOnly)")
			t.Logf("%s", strings.Join(passed, ", "))
		})
		ran = append(ran, filepath.Base(bin))
	}
	require.Len(t, ran, 2, "the harness ships netlink.test and netlctl.test (harness.ClientPackages); found %v", bins)
	if os.Getenv(contract.FullEnv) == "" {
		t.Logf("the client's tests that need netl.ko only; CI (CI=1) runs them all")
	}
}

// hostOnly are the client tests that need what only the host has: the
// source tree (kmod/netl_proto.h) or a C compiler.
const hostOnly = "^(TestProtoHeaderAgrees|TestMacrosMatchC|TestPayloadLayoutMatchesC)$"
