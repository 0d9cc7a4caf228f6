package splat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The logs in testdata/ are real consoles from netl's kernels: splatgen.ko
// (testdata/splatgen) caused each report (`make splat-testdata`), and
// clean-suite.log is a whole passing run of the guest suite on 6.12.

func readLog(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(data)
}

func TestRealReports(t *testing.T) {
	for _, tc := range []struct {
		log, kind, title string
		frames           bool
	}{
		{"warn.log", "WARNING", `^WARNING: CPU: 0 PID: \d+ at .*splatgen\.c:\d+ splatgen_init`, true},
		{"bug.log", "kernel BUG", `^kernel BUG at .*splatgen\.c:\d+!`, true},
		{"gpf.log", "general protection fault", `general protection fault`, true},
		{"oops.log", "BUG", `^BUG: kernel NULL pointer dereference`, true},
		{"panic.log", "panic", `^Kernel panic - not syncing: splatgen asked for a panic`, false},
		{"kasan.log", "KASAN", `^BUG: KASAN: slab-out-of-bounds in splatgen_init`, true},
		{"leak.log", "kmemleak", `unreferenced object 0x|new suspected memory leaks`, false},
		{"lockdep.log", "lockdep", `^WARNING: possible circular locking dependency detected`, false},
		{"hung.log", "hung task", `^INFO: task splatgen_hung:\d+ blocked for more than \d+ seconds`, false},
		{"softlockup.log", "soft lockup", `soft lockup - CPU#0 stuck`, false},
	} {
		t.Run(tc.log, func(t *testing.T) {
			reports, err := Scan(readLog(t, tc.log), Patterns, nil)
			require.NoError(t, err)
			require.NotEmpty(t, reports, "no report found")
			r := reports[0]
			assert.Equal(t, tc.kind, r.Kind)
			assert.Regexp(t, regexp.MustCompile(tc.title), r.Title)
			assert.Empty(t, r.Test, "splatgen reports happen outside any test")
			if tc.frames {
				require.NotEmpty(t, r.Frames, "module frames")
				assert.Contains(t, strings.Join(r.Frames, "\n"), "[splatgen]")
			}
			assert.Contains(t, r.String(), r.Title)
		})
	}
}

func TestCleanSuiteHasNoReports(t *testing.T) {
	reports, err := Scan(readLog(t, "clean-suite.log"), Patterns, nil)
	require.NoError(t, err)
	assert.Empty(t, reports, "a passing suite run")
}

func TestAttribution(t *testing.T) {
	// A real report spliced between real marks, as a guest test would
	// leave them in the kernel log.
	warn := readLog(t, "warn.log")
	console := "[    1.0] " + MarkStart("TestFirst") + "\n[    1.1] " + MarkEnd("TestFirst") + "\n" +
		"[    2.0] " + MarkStart("TestSecond/sub") + "\n" + warn + "\n"
	reports, err := Scan(console, Patterns, nil)
	require.NoError(t, err)
	require.NotEmpty(t, reports)
	assert.Equal(t, "TestSecond/sub", reports[0].Test, "the test whose window holds the report")
	by := ByTest(reports)
	assert.Empty(t, by["TestFirst"])
	assert.NotEmpty(t, by["TestSecond/sub"])
}

func TestAllowListNeedsReasonAndFailsClosed(t *testing.T) {
	warn := readLog(t, "warn.log")
	_, err := Scan(warn, nil, nil)
	assert.ErrorIs(t, err, ErrNoPatterns, "no patterns: refuse to call the console clean")

	_, err = Scan(warn, Patterns, []Allow{{Title: regexp.MustCompile(`splatgen`)}})
	assert.ErrorContains(t, err, "no reason")

	reports, err := Scan(warn, Patterns, []Allow{{Title: regexp.MustCompile(`splatgen_init`), Reason: "splatgen warns on purpose"}})
	require.NoError(t, err)
	assert.Empty(t, reports, "the allowed report is dropped")
}

func TestTaint(t *testing.T) {
	console := "[ 1.0] CPU: 0 UID: 0 PID: 1 Comm: x Tainted: G           O       6.12.117 #1\n" +
		"[ 2.0] CPU: 0 UID: 0 PID: 1 Comm: x Tainted: G     B     O       6.12.117 #1\n"
	reports, err := Scan(console, Patterns, nil)
	require.NoError(t, err)
	require.Len(t, reports, 1, "only the new flag B (bad page) is a report; O is netl.ko itself")
	assert.Equal(t, "taint", reports[0].Kind)
}
