package harness

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/splat"
)

func TestCheckModParams(t *testing.T) {
	for _, ok := range []string{"", "reply_count=3", "reply_count=10 reply_interval_ms=3000", "s=\"a\""} {
		assert.NoError(t, CheckModParams(ok), "%q", ok)
	}
	for _, bad := range []string{"reply_count", "=3", "a/b=1", "reply_count=1 oops"} {
		err := CheckModParams(bad)
		if assert.Error(t, err, "%q", bad) {
			assert.Contains(t, err.Error(), "want key=value")
		}
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "kmod", "netl.c"))
	assert.NoError(t, err, "the root holds kmod/")

	_, err = findRepoRoot(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no go.mod here requires github.com/netl-dev/netl")

	// Another module that requires netl (here through a replace, as
	// examples/miscdev does) finds it with go list -m.
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "go.mod"),
		[]byte("module example.com/other\n\ngo 1.22\n\nrequire github.com/netl-dev/netl v0.0.0\n\nreplace github.com/netl-dev/netl => "+root+"\n"), 0o644))
	got, err := findRepoRoot(other)
	require.NoError(t, err)
	assert.Equal(t, root, got)
}

func TestPrepareRejectsBadInputEarly(t *testing.T) {
	t.Setenv("NETL_CACHE", t.TempDir())
	_, err := Prepare(Options{ModParams: "reply_count"})
	assert.ErrorContains(t, err, "want key=value")
	_, err = Prepare(Options{Series: "2.6"})
	assert.ErrorContains(t, err, `unknown kernel series "2.6"`)
	_, err = Prepare(Options{Module: "notamodule"})
	assert.ErrorContains(t, err, "want netl, seed, none, a .ko file or a directory with a Kbuild")
	_, err = Prepare(Options{Module: filepath.Join(t.TempDir(), "missing.ko")})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestKbuildModule(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"obj-m := splatgen.o\n":          "splatgen",
		"# c\nobj-m += netl_seed.o\n":    "netl_seed",
		"ccflags-y := -W\nobj-m = x.o\n": "x",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Kbuild"), []byte(text), 0o644))
		got, err := kbuildModule(dir)
		require.NoError(t, err, text)
		assert.Equal(t, want, got, text)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Kbuild"), []byte("obj-m := a.o b.o\n"), 0o644))
	_, err := kbuildModule(dir)
	assert.Error(t, err, "two modules")
}

func TestProgramLines(t *testing.T) {
	console := "[    0.500000] boot line\n" +
		"[    1.000000] " + contract.MarkProgram() + "\n" +
		"[  0.010s] reproducer says hello\n" +
		"half a line[    1.200000] netl: a kernel line cut into it\n" +
		"[    1.300000] kernel only\n" +
		"measured [0.5] not a timestamp\n"
	started, lines := programLines(console)
	assert.True(t, started)
	assert.Equal(t, []string{"[  0.010s] reproducer says hello", "half a line", "measured [0.5] not a timestamp"}, lines)
	started, lines = programLines("[    0.500000] boot line\n")
	assert.False(t, started)
	assert.Empty(t, lines)
}

func TestFailuresOfADeadGuest(t *testing.T) {
	// An oops ended QEMU during TestB: the result still names the test,
	// its report, and the tests that never finished.
	warn := splat.Report{Kind: "BUG", Title: "BUG: kernel NULL pointer dereference", Test: "TestB", InProgram: true}
	res := &Result{Err: errors.New("the guest kernel panicked\n--- last 40 console lines ---"), GoTest: true,
		Reports: []splat.Report{warn},
		Tests:   []*GuestTest{{Name: "TestA", Action: "pass"}, {Name: "TestB", Reports: []splat.Report{warn}}}}
	f := res.Failures(false)
	require.Len(t, f, 2)
	assert.Equal(t, "the guest kernel panicked", f[0].Reason)
	assert.Contains(t, f[0].Detail, "--- last 40 console lines ---", "the whole error, for whoever prints it")
	assert.Equal(t, "TestB", f[1].Test)
	assert.Contains(t, f[1].Reason, "NULL pointer")

	// The guest died before the test's output reached the host: the
	// console's marks still name the test.
	lost := &Result{Err: errors.New("the guest kernel panicked"), GoTest: true, Reports: []splat.Report{{Kind: "Oops", Title: "Oops: general protection fault", Test: "TestWalk/echo"}}}
	f = lost.Failures(false)
	require.Len(t, f, 2)
	assert.Equal(t, "TestWalk", f[1].Test)
	assert.Contains(t, f[1].Reason, "output was lost")

	assert.NotEmpty(t, (&Result{}).Failures(false), "no status and no error is still not a pass")
	noTests := &Result{GoTest: true, Status: &contract.Status{Stage: contract.StageDone}}
	assert.Equal(t, "the guest ran no tests", noTests.Failures(false)[0].Reason)
	skipped := &Result{GoTest: true, Status: &contract.Status{Stage: contract.StageDone}, Tests: []*GuestTest{{Name: "TestS", Action: "skip"}}}
	assert.Empty(t, skipped.Failures(false))
	assert.NotEmpty(t, skipped.Failures(true), "CI allows no skips")
}

func TestTaintExplained(t *testing.T) {
	assert.True(t, taintExplained([]splat.Report{{Kind: "WARNING"}}))
	assert.False(t, taintExplained([]splat.Report{{Kind: "kmemleak"}}), "kmemleak taints nothing: a silent taint still needs its report")
	assert.False(t, taintExplained(nil))
}

func TestDecodeTestsKeepsSkips(t *testing.T) {
	out := "=== RUN   TestA\n" +
		"=== RUN   TestA/sub\n" +
		"    x_test.go:1: " + contract.GateSkip + "needs kernel 6.2 for y; running 5.10.223\n" +
		"=== RUN   TestA/other\n" +
		"    x_test.go:3: not on this kernel, for no reason\n" +
		"--- PASS: TestA (0.00s)\n" +
		"    --- SKIP: TestA/sub (0.00s)\n" +
		"    --- SKIP: TestA/other (0.00s)\n" +
		"=== RUN   TestB\n" +
		"    x_test.go:2: " + contract.GateSkip + "needs kernel 7.0 for z; running 6.12.117\n" +
		"--- SKIP: TestB (0.00s)\n" +
		"PASS\n"
	tests, err := decodeTests([]byte(out))
	require.NoError(t, err)
	require.Len(t, tests, 2)
	assert.Equal(t, "pass", tests[0].Action, "a passing test with skipped subtests")
	require.Len(t, tests[0].Skips, 2)
	assert.True(t, tests[0].Skips[0].Gate())
	assert.Contains(t, tests[0].Skips[0].Reason, "needs kernel 6.2")
	assert.False(t, tests[0].Skips[1].Gate())
	assert.Equal(t, "skip", tests[1].Action)

	res := &Result{GoTest: true, Status: &contract.Status{Stage: contract.StageDone}, Tests: tests}
	assert.Empty(t, res.Failures(false), "skips pass outside CI")
	f := res.Failures(true)
	require.Len(t, f, 1, "in CI only the skip that is not a kernel-version gate fails: %v", f)
	assert.Equal(t, "TestA", f[0].Test)
	assert.Contains(t, f[0].Reason, "TestA/other skipped (x_test.go:3: not on this kernel, for no reason)")
}

// With no series named and 6.12 not in the cache, a run uses Debian's
// prebuilt 6.12 and says so; the debug flavour stays netl's 6.12. A build
// from source that go test's deadline would cut short is refused.
func TestDefaultKernelAndBuildDeadline(t *testing.T) {
	t.Setenv("NETL_CACHE", t.TempDir())
	var progress strings.Builder
	k, err := planKernel(Options{Progress: &progress})
	require.NoError(t, err)
	assert.Equal(t, kernel.DefaultPrebuilt, k.Series)
	assert.Contains(t, progress.String(), "make kernel SERIES="+kernel.DefaultSeries)

	k, err = planKernel(Options{Debug: true, Progress: io.Discard})
	require.NoError(t, err)
	assert.Equal(t, kernel.DefaultSeries, k.Series)

	_, err = planKernel(Options{Series: "6.1", BuildDeadline: time.Now().Add(10 * time.Minute), Progress: io.Discard})
	require.ErrorContains(t, err, "make kernel SERIES=6.1")
	_, err = planKernel(Options{Series: "debian-6.1", BuildDeadline: time.Now().Add(10 * time.Minute), Progress: io.Discard})
	require.NoError(t, err, "a prebuilt kernel is ready in a minute")
	_, err = planKernel(Options{Series: "6.1", BuildDeadline: time.Now().Add(time.Hour), Progress: io.Discard})
	require.NoError(t, err)
}

func TestGuestTimeouts(t *testing.T) {
	suite, vm, err := GuestTimeouts(0, false)
	require.NoError(t, err)
	assert.Equal(t, SuiteTimeout, suite, "no deadline: the flavour's")
	assert.Zero(t, vm)

	// go test's default 10 minutes: the guest's own bound first, the VM's
	// before go test's panic.
	suite, vm, err = GuestTimeouts(10*time.Minute, false)
	require.NoError(t, err)
	assert.Equal(t, SuiteTimeout, suite)
	assert.Less(t, suite, vm)
	assert.Less(t, vm, 10*time.Minute)

	suite, vm, err = GuestTimeouts(2*time.Minute, true)
	require.NoError(t, err)
	assert.Less(t, suite, vm)
	assert.LessOrEqual(t, vm, 2*time.Minute-15*time.Second)

	_, _, err = GuestTimeouts(30*time.Second, true)
	assert.ErrorContains(t, err, "too little")
}

func TestSeriesList(t *testing.T) {
	list, left, err := SeriesList("6.12, debian-6.12", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"6.12", "debian-6.12"}, list, "spaces after commas")
	assert.Empty(t, left)
	list, left, err = SeriesList("all", true)
	require.NoError(t, err)
	assert.NotContains(t, list, kernel.DefaultPrebuilt, "no debug flavour")
	assert.Contains(t, left, kernel.DefaultPrebuilt)
	_, _, err = SeriesList("6.12,2.6", false)
	assert.Error(t, err)
}
