// Package gobuild builds the Go programs that run in a netl guest: static
// (no cgo, so they need nothing from the initramfs's libc), for the guest's
// architecture, whatever the host's environment says.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Env is the environment of a guest build.
func Env() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
}

// Static runs `go ARGS...` (build or test -c) in dir for the guest and
// returns go's output in the error when it fails.
func Static(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
