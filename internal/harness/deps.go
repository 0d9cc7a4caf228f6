package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/vm"
)

// hostPackages are the Debian packages a run needs: QEMU, the kernel
// build tools, what unpacks Debian's prebuilt kernels and makes their
// build roots, and genhtml (lcov) for coverage reports.
var hostPackages = append(append([]string{"qemu-system-x86", "debian-archive-keyring", "lcov"}, kernel.BuildPackages...), kernel.PrebuiltPackages...)

// ErrMissingDeps marks a host that lacks packages and cannot install them.
var ErrMissingDeps = errors.New("missing host packages")

// EnsureHostDeps checks for QEMU and the kernel build tools, and for the
// programs named in also (genhtml for a coverage run). When some are
// missing and the process runs as root with apt-get, it installs them;
// otherwise it returns an error carrying the exact install command.
func EnsureHostDeps(progress io.Writer, also ...string) error {
	missing := missingDeps(also)
	if missing == nil {
		return nil
	}
	install := "apt-get install -y --no-install-recommends " + strings.Join(hostPackages, " ")
	if os.Geteuid() != 0 || !hasProgram("apt-get") {
		return fmt.Errorf("%w: %s\ninstall them with:\n  sudo %s", ErrMissingDeps, strings.Join(missing, "; "), install)
	}
	fmt.Fprintf(progress, "netl: installing host packages (%s): %s\n", strings.Join(missing, "; "), install)
	for _, args := range [][]string{{"apt-get", "update", "-qq"}, strings.Fields(install)} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	if missing := missingDeps(also); missing != nil {
		return fmt.Errorf("%w after apt-get install: %s", ErrMissingDeps, strings.Join(missing, "; "))
	}
	return nil
}

func missingDeps(also []string) []string {
	var missing []string
	if _, err := vm.CheckQEMU(); err != nil {
		missing = append(missing, err.Error())
	}
	if err := kernel.CheckBuildTools(); err != nil {
		missing = append(missing, err.Error())
	}
	for _, p := range append([]string{"mmdebstrap", "zstd", "dpkg-deb"}, also...) {
		if !hasProgram(p) {
			missing = append(missing, p)
		}
	}
	if _, err := os.Stat(kernel.Keyring); err != nil {
		missing = append(missing, "Debian archive keyring "+kernel.Keyring)
	}
	return missing
}

func hasProgram(p string) bool {
	_, err := exec.LookPath(p)
	return err == nil
}
