package vmtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/claims"
	"github.com/netl-dev/netl/internal/harness"
)

// TestGuest boots the kernel named by $NETL_KERNEL (default: 6.12 once
// built, else debian-6.12) with
// netl.ko loaded and runs the guest suite in it; each guest test appears as
// a subtest here, with the kernel reports that appeared while it ran.
//
// go test's flags reach the guest: -run and -skip past TestGuest/ select
// guest tests (go test -run TestGuest/TestSeedUnicast runs that one test
// in the guest), -bench its benchmarks, -short its short mode, and
// -timeout bounds the guest's own timeout, so that the guest says which
// test hung before go test gives up on the package.
func TestGuest(t *testing.T) {
	// The guest test binaries and the module build while the guest
	// boots (BootEarly): after an edit to netl.c the boot hides most of
	// the module's build.
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	suite, build, err := harness.GuestTests(root, dir)
	require.NoError(t, err)
	go build()
	t.Cleanup(func() { build() }) // before dir goes, however the test ends
	s := prepare(t, harness.Options{BootEarly: true})
	suite.Run, suite.Skip = GuestPattern(testFlag("test.run")), GuestPattern(testFlag("test.skip"))
	suite.Bench, suite.Short = testFlag("test.bench"), testing.Short()
	suite.Full = os.Getenv("CI") != ""
	left := time.Duration(0)
	if deadline, ok := t.Deadline(); ok {
		left = time.Until(deadline)
	}
	var vmTimeout time.Duration
	suite.Timeout, vmTimeout, err = harness.GuestTimeouts(left, s.Kernel.Debug)
	require.NoError(t, err)

	flavour := s.Kernel.Series
	if s.Kernel.Debug {
		flavour += "-debug"
	}
	logPath := filepath.Join(s.Cache, "logs", fmt.Sprintf("vmtest-%s.console.log", flavour))
	res, err := s.RunSuite(context.Background(), suite, harness.Run{ConsoleLog: logPath, Build: build, Timeout: vmTimeout})
	if res == nil {
		require.NoError(t, err, "the harness could not run the guest")
	}
	t.Logf("kernel %s (%s), accelerator %s (%s), console log %s", res.Series, res.Release, res.Accel, res.AccelReason, res.ConsoleLog)
	defer fmt.Fprintf(progressWriter(), "netl: kernel %s (%s) phases: %s\n", flavourName(res), res.Release, res.Phases)
	harness.Report(t, res)
	reportClaims(t, s, res)
	reportBenchmarks(t, res)
	t.Logf("phases: %s", res.Phases)
}

// reportClaims writes the claims table for this kernel to the test log and
// to the cache's logs/. Every claim the guest suite decides must have a
// verdict when the whole suite ran; C6 comes from repro case B5 (netlvm
// claims has both).
func reportClaims(t *testing.T, s *harness.Session, res *harness.Result) {
	got := claims.FromTests(res.Tests)
	partial := GuestPattern(testFlag("test.run")) != "" || GuestPattern(testFlag("test.skip")) != ""
	if len(got) == 0 && partial {
		// A run of other tests (make bench, one test) leaves the last
		// claims table in place rather than one of "not checked".
		return
	}
	table := claims.Table(fmt.Sprintf("%s (%s)", res.Series, res.Release), got)
	t.Logf("seed claims on %s:\n%s", res.Release, table)
	path := filepath.Join(s.Cache, "logs", fmt.Sprintf("claims-%s.md", flavourName(res)))
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Errorf("writing %s: %v", path, err)
	}
	if partial {
		return
	}
	for _, id := range claims.Missing(got) {
		t.Errorf("claim %s has no verdict: its guest test did not record one", id)
	}
}

// reportBenchmarks shows the guest's benchmark lines and the ratio of each
// netlink figure to its UDP loopback baseline from the same VM.
func reportBenchmarks(t *testing.T, res *harness.Result) {
	summary := harness.BenchSummary(res.Tests)
	if summary == "" {
		return
	}
	t.Logf("guest benchmarks:\n%s", summary)
	fmt.Fprintf(progressWriter(), "netl: guest benchmarks:\n%s\n", summary)
}

// flavourName is the series, with -debug on the debug flavour.
func flavourName(res *harness.Result) string {
	if res.Debug {
		return res.Series + "-debug"
	}
	return res.Series
}

// prepare builds or finds the kernel, module and initramfs
// (harness.PrepareForTest).
func prepare(t *testing.T, opts harness.Options) *harness.Session {
	t.Helper()
	return harness.PrepareForTest(t, opts)
}

func progressWriter() io.Writer { return harness.ProgressWriter() }
