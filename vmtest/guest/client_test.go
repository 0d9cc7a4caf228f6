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

// The client packages' tests that need netl.ko (TestConnAgainstModule in
// userspace/netlink, TestTypedCommandsAgainstModule in netlctl) skip on a
// host without the module. The harness ships their test binaries beside
// this one (harness.ClientPackages), and they run here, where the module is
// loaded: each must pass, none may skip. Each runs in a network namespace
// of its own, whose counters no other test moves.
func TestClientPackagesAgainstModule(t *testing.T) {
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
			cmd := exec.Command(bin, "-test.run", "AgainstModule$", "-test.v", "-test.count=1", "-test.timeout=2m")
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s:\n%s", bin, out)
			passed := regexp.MustCompile(`(?m)^--- PASS: \w+AgainstModule `).FindAllString(string(out), -1)
			require.NotEmpty(t, passed, "no AgainstModule test passed:\n%s", out)
			assert.NotContains(t, string(out), "--- SKIP", "a client test skipped with netl.ko loaded:\n%s", out)
			t.Logf("%s", strings.Join(passed, ", "))
		})
		ran = append(ran, filepath.Base(bin))
	}
	require.Len(t, ran, 2, "the harness ships netlink.test and netlctl.test (harness.ClientPackages); found %v", bins)
}
