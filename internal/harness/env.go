package harness

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvOptions fills what opts leave open from the environment, as go test
// users set it: $NETL_KERNEL (default: see Prepare), $NETL_KERNEL_SRC,
// $NETL_DEBUG, $NETL_APPEND; progress goes to the terminal
// (ProgressWriter).
func EnvOptions(opts Options) Options {
	if opts.KernelSrc == "" {
		opts.KernelSrc = os.Getenv("NETL_KERNEL_SRC")
	}
	opts.Debug = opts.Debug || os.Getenv("NETL_DEBUG") != ""
	opts.Append = append(opts.Append, strings.Fields(os.Getenv("NETL_APPEND"))...)
	if opts.Progress == nil {
		opts.Progress = ProgressWriter()
	}
	if opts.Series == "" {
		opts.Series = os.Getenv("NETL_KERNEL") // empty: Prepare picks the default
	}
	return opts
}

// ProgressWriter is the terminal when there is one: go test holds a
// package's output until it ends, and a first run builds a kernel for
// minutes. The terminal is opened once per process.
var ProgressWriter = sync.OnceValue(func() io.Writer {
	if f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		return f
	}
	return os.Stderr
})

// PrepareForTest is Prepare with EnvOptions for a Go test. Without QEMU or
// the build tools it skips on a laptop, saying why, and fails in CI ($CI
// set): a VM test never silently skips there.
func PrepareForTest(t testing.TB, opts Options) *Session {
	t.Helper()
	opts = EnvOptions(opts)
	// A kernel build from source that go test's -timeout (10 min by
	// default) would cut short is refused (Options.BuildDeadline): a
	// panic after ten minutes tells a newcomer nothing.
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		opts.BuildDeadline, _ = dt.Deadline()
	}
	s, err := Prepare(opts)
	if errors.Is(err, ErrMissingDeps) && os.Getenv("CI") == "" {
		t.Skipf("VM tests need host packages (set CI=1 to make this a failure): %v", err)
	}
	if err != nil {
		t.Fatalf("preparing the VM: %v", err)
	}
	return s
}
