package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netl-dev/netl/internal/kernel"
)

// EnvOptions fills what opts leave open from the environment, as go test
// users set it: $NETL_KERNEL (default: DefaultSeries), $NETL_KERNEL_SRC,
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
		opts.Series = os.Getenv("NETL_KERNEL")
	}
	if opts.Series == "" && opts.KernelSrc == "" {
		opts.Series = DefaultSeries(opts.Debug, opts.Progress)
	}
	return opts
}

// DefaultSeries is the kernel a run names none uses: kernel.DefaultSeries
// (6.12, netl's own build: a guest boots it in about a second, which is
// what the edit loop is made of) once it is in the cache; until then
// Debian's prebuilt kernel of the same series (kernel.DefaultPrebuilt:
// ready in under a minute, where the build takes about nine, but booting
// in about ten seconds). It says so on progress when it falls back. The
// debug flavour exists only as netl's build.
func DefaultSeries(debug bool, progress io.Writer) string {
	if debug {
		return kernel.DefaultSeries
	}
	if k, err := kernel.Plan(kernel.Options{Series: kernel.DefaultSeries}); err == nil && k.Built() {
		return kernel.DefaultSeries
	}
	fmt.Fprintf(progress, "netl: kernel %s is not built yet, so this run uses Debian's prebuilt %s "+
		"(its guest boots in ~10 s instead of ~1 s). Build %s once (about 9 min) for the fast edit loop: make kernel SERIES=%s; "+
		"or name a kernel: NETL_KERNEL=%s\n",
		kernel.DefaultSeries, kernel.DefaultPrebuilt, kernel.DefaultSeries, kernel.DefaultSeries, kernel.DefaultSeries)
	return kernel.DefaultPrebuilt
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
	if err := checkBuildFitsDeadline(t, opts); err != nil {
		t.Fatal(err)
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

// KernelBuildTime is what a kernel build from source takes here, with
// margin (7-9 min measured on 2 cores under load).
const KernelBuildTime = 20 * time.Minute

// checkBuildFitsDeadline refuses to start a kernel build from source that
// go test's -timeout (10 min by default) would cut short: a panic after
// ten minutes tells a newcomer nothing. The error says how to build it
// outside go test.
func checkBuildFitsDeadline(t testing.TB, opts Options) error {
	dt, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return nil
	}
	deadline, ok := dt.Deadline()
	if !ok {
		return nil
	}
	k, err := kernel.Plan(kernel.Options{Series: opts.Series, Source: opts.KernelSrc, Debug: opts.Debug})
	if err != nil || k.Prebuilt() || k.Built() {
		return nil // Prepare reports a bad series; a prebuilt kernel is ready in a minute
	}
	if left := time.Until(deadline); left < KernelBuildTime {
		name := k.Series
		if k.Debug {
			name += " (debug flavour)"
		}
		return fmt.Errorf("kernel %s is not built, and a build takes up to %s here, more than go test -timeout leaves (%s).\n"+
			"Build it first, with progress: make kernel SERIES=%s%s\n(or run with -timeout 60m; without NETL_KERNEL the default uses Debian's prebuilt kernel until 6.12 is built)",
			name, KernelBuildTime, left.Round(time.Second), k.Series, map[bool]string{true: " DEBUG=1"}[k.Debug])
	}
	return nil
}
