package splat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/contract"
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
		{"warn-5.10.log", "WARNING", `^WARNING: CPU: 0 PID: \d+ at .*splatgen\.c:\d+ splatgen_init`, true},
		{"warn-7.2.log", "WARNING", `^WARNING: splatgen\.c:\d+ at splatgen_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[splatgen\], CPU#0: `, true}, // 7.x moved the location first
		{"oops-5.10.log", "BUG", `^BUG: kernel NULL pointer dereference`, true},
		{"oops-7.2.log", "BUG", `^BUG: kernel NULL pointer dereference`, true},
		{"bug.log", "kernel BUG", `^kernel BUG at .*splatgen\.c:\d+!`, true},
		{"gpf.log", "general protection fault", `general protection fault`, true},
		{"oops.log", "BUG", `^BUG: kernel NULL pointer dereference`, true},
		{"panic.log", "panic", `^Kernel panic - not syncing: splatgen asked for a panic`, false},
		{"kasan.log", "KASAN", `^BUG: KASAN: slab-out-of-bounds in splatgen_init`, true},
		{"ubsan.log", "UBSAN", `^UBSAN: array-index-out-of-bounds in .*splatgen\.c:\d+`, true},
		{"leak.log", "kmemleak", `unreferenced object 0x|new suspected memory leaks`, false},
		{"lockdep.log", "lockdep", `^WARNING: possible circular locking dependency detected`, false},
		{"hung.log", "hung task", `^INFO: task splatgen_hung:\d+ blocked for more than \d+ seconds`, false},
		{"softlockup.log", "soft lockup", `soft lockup - CPU#0 stuck`, false},
	} {
		t.Run(tc.log, func(t *testing.T) {
			reports, err := Scan(readLog(t, tc.log), Patterns, nil, TaintOutOfTree|TaintUnsigned)
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
	reports, err := Scan(readLog(t, "clean-suite.log"), Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	assert.Empty(t, reports, "a passing suite run")
}

func TestAttribution(t *testing.T) {
	// A real report spliced between real marks, as a guest test would
	// leave them in the kernel log.
	warn := readLog(t, "warn.log")
	console := "[    1.000000] " + contract.MarkStart("TestFirst") + "\n[    1.100000] " + contract.MarkEnd("TestFirst") + "\n" +
		"[    2.000000] " + contract.MarkStart("TestSecond/sub") + "\n" + warn + "\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.NotEmpty(t, reports)
	assert.Equal(t, "TestSecond/sub", reports[0].Test, "the test whose window holds the report")
	by := ByTest(reports)
	assert.Empty(t, by["TestFirst"])
	assert.NotEmpty(t, by["TestSecond/sub"])
}

func TestParallelAttribution(t *testing.T) {
	// Tests that called t.Parallel overlap: a report while two of them
	// ran names both; one after the first ended names the other only.
	warn := readLog(t, "warn.log")
	console := "[    1.000000] " + contract.MarkStart("TestA") + "\n[    1.100000] " + contract.MarkStart("TestB") + "\n" +
		warn + "\n[    3.000000] " + contract.MarkEnd("TestA") + "\n" + warn + "\n[    4.000000] " + contract.MarkEnd("TestB") + "\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, reports, 2)
	assert.Equal(t, []string{"TestA", "TestB"}, reports[0].Running)
	assert.Contains(t, reports[0].String(), "while TestA, TestB ran in parallel")
	assert.Equal(t, "TestB", reports[1].Test)
	assert.Equal(t, []string{"TestB"}, reports[1].Running)

	// Another test's mark in the middle of a report does not cut it.
	lines := strings.Split(strings.TrimRight(warn, "\n"), "\n")
	spliced := strings.Join(lines[:2], "\n") + "\n[    1.500000] " + contract.MarkStart("TestC") + "\n" + strings.Join(lines[2:], "\n") + "\n"
	whole, err := Scan("[    1.000000] "+contract.MarkStart("TestA")+"\n"+warn+"\n", Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	cut, err := Scan("[    1.000000] "+contract.MarkStart("TestA")+"\n"+spliced, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, cut, len(whole))
	assert.Equal(t, whole[0].Lines, cut[0].Lines, "the excerpt with another test's mark inside it")
}

func TestAllowListNeedsReasonAndFailsClosed(t *testing.T) {
	warn := readLog(t, "warn.log")
	_, err := Scan(warn, nil, nil, TaintOutOfTree|TaintUnsigned)
	assert.ErrorIs(t, err, ErrNoPatterns, "no patterns: refuse to call the console clean")

	_, err = Scan(warn, Patterns, []Allow{{Title: regexp.MustCompile(`splatgen`)}}, TaintOutOfTree|TaintUnsigned)
	assert.ErrorContains(t, err, "no reason")

	reports, err := Scan(warn, Patterns, []Allow{{Title: regexp.MustCompile(`splatgen_init`), Reason: "splatgen warns on purpose"}}, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	assert.Empty(t, reports, "the allowed report is dropped")
}

func TestTaint(t *testing.T) {
	console := "[ 1.000000] CPU: 0 UID: 0 PID: 1 Comm: x Tainted: G           O       6.12.117 #1\n" +
		"[ 2.000000] CPU: 0 UID: 0 PID: 1 Comm: x Tainted: G     B     O       6.12.117 #1\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, reports, 1, "only the new flag B (bad page) is a report; O is netl.ko itself")
	assert.Equal(t, "taint", reports[0].Kind)
}

func TestHeaderInsideOpenReportStartsANewOne(t *testing.T) {
	// kmemleak's summary, then a BUG before the summary's excerpt ended:
	// two reports, not one titled by the summary.
	console := "[   10.000000] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n" +
		"[   10.100000] some line\n" +
		"[   10.200000] BUG: unable to handle page fault for address: ffffffffc0000000\n" +
		"[   10.300000] #PF: supervisor write access in kernel mode\n" +
		"[   10.400000] Oops: 0003 [#1] PREEMPT SMP\n" +
		"[   10.500000] RIP: 0010:sendnlmsg+0x1/0x2 [netl_seed]\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, reports, 2)
	assert.Equal(t, "kmemleak", reports[0].Kind)
	assert.Equal(t, "BUG", reports[1].Kind)
	assert.Contains(t, strings.Join(reports[1].Lines, "\n"), "Oops: 0003", "the Oops line belongs to its BUG")
	assert.NotEmpty(t, reports[1].Frames)
}

func TestLeadingMessageKeepsItsWarning(t *testing.T) {
	console := "[    5.000000] ------------[ cut here ]------------\n" +
		"[    5.000000] refcount_t: underflow; use-after-free.\n" +
		"[    5.000000] WARNING: CPU: 0 PID: 1 at lib/refcount.c:28 refcount_warn_saturate+0x1/0x2\n" +
		"[    5.100000] list_add corruption. prev->next should be next (ffff), but was 0000. (prev=ffff).\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, reports, 2)
	assert.Equal(t, "refcount", reports[0].Kind)
	assert.Contains(t, strings.Join(reports[0].Lines, "\n"), "WARNING: CPU: 0")
	assert.Equal(t, "list corruption", reports[1].Kind, "on its own, with no WARNING after it")
}

func TestMessageAfterItsWarning(t *testing.T) {
	// __warn() prints WARN()'s message after the WARNING line.
	console := "[    5.000000] WARNING: CPU: 0 PID: 1 at lib/refcount.c:28 refcount_warn_saturate+0x1/0x2\n" +
		"[    5.000000] refcount_t: underflow; use-after-free.\n" +
		"[    5.000001] Call Trace:\n" +
		"[    5.000002]  netl_rcv+0x1/0x2 [netl]\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, reports, 1)
	assert.Equal(t, "WARNING", reports[0].Kind)
	assert.NotEmpty(t, reports[0].Frames, "the frames stay with the WARNING")
}

func TestProgramOutputIsNotAKernelLine(t *testing.T) {
	for _, line := range []string{
		"measured latencies [0.5] WARNING: not a kernel line",
		"[  0.365s] sendmsg blocked for 282ms",
	} {
		reports, err := Scan(line+"\n", Patterns, nil, TaintOutOfTree|TaintUnsigned)
		require.NoError(t, err)
		assert.Empty(t, reports, "%q", line)
	}
	before, msg, ok := KernelLine("partial output[    2.123456] BUG: kernel NULL pointer dereference")
	assert.True(t, ok)
	assert.Equal(t, "partial output", before)
	assert.Equal(t, "BUG: kernel NULL pointer dereference", msg)
}

func TestConsoleJunkAndCallerID(t *testing.T) {
	for _, line := range []string{
		"[    1.234567][    T1] BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"[    1.234567][    C0] BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"half a line from user space[    1.234567] BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"\x1b[0m[    1.234567] BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"BUG: kernel NULL pointer dereference, address: 0000000000000000",
	} {
		reports, err := Scan(line+"\n", Patterns, nil, TaintOutOfTree|TaintUnsigned)
		require.NoError(t, err)
		require.Len(t, reports, 1, "%q", line)
		assert.Equal(t, "BUG: kernel NULL pointer dereference, address: 0000000000000000", reports[0].Title, "%q", line)
	}
	// A mark behind a caller id still places the report.
	console := "[    1.000000][    T9] " + contract.MarkStart("TestX") + "\n[    1.100000][    T9] WARNING: CPU: 0 PID: 9 at x.c:1 f+0x1/0x2\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, reports, 1)
	assert.Equal(t, "TestX", reports[0].Test)
}

func TestNewPatterns(t *testing.T) {
	for _, tc := range []struct{ line, kind string }{
		{"Out of memory: Killed process 123 (guest.test) total-vm:1kB, anon-rss:0kB", "OOM kill"},
		{"kmemleak: Kernel memory leak detector disabled", "kmemleak disabled"},
		{"kmemleak: Cannot allocate a kmemleak_object structure", ""},
		{"kmemleak: Memory pool empty, consider increasing CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE", ""},
		{"kmemleak: Automatic memory scanning thread ended", ""},
		{"kmemleak: Disabling kmemleak", "kmemleak disabled"},
		{"INFO: rcu_sched detected stalls on CPUs/tasks:", "RCU stall"},
		{"INFO: rcu_preempt self-detected stall on CPU", "RCU stall"},
		{"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "RCU stall"},
		{"refcount_t: saturated; leaking memory.", "refcount"},
		{"list_add corruption. next->prev should be prev (ffff), but was 0000. (next=ffff).", "list corruption"},
		{"list_del corruption, ffff->next is LIST_POISON1 (dead000000000100)", "list corruption"},
		{"UBSAN: array-index-out-of-bounds in net/netlink/x.c:1:2", "UBSAN"},
		{"kmemleak: 4 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", "kmemleak"},
		{"netl: a module line mentioning kmemleak: nothing disabled", ""},
	} {
		reports, err := Scan("[    3.000000] "+tc.line+"\n", Patterns, nil, TaintOutOfTree|TaintUnsigned)
		require.NoError(t, err)
		if tc.kind == "" {
			assert.Empty(t, reports, "%q is not a report", tc.line)
			continue
		}
		require.Len(t, reports, 1, "%q", tc.line)
		assert.Equal(t, tc.kind, reports[0].Kind, "%q", tc.line)
	}
}

func TestProgramAndArmedMarks(t *testing.T) {
	console := "[ 1.000000] WARNING: CPU: 0 PID: 1 at a.c:1 boot+0x1/0x2\n" +
		"[ 2.000000] " + contract.MarkProgram() + "\n" +
		"[ 2.100000] unreferenced object 0xffff888001 (size 8):\n" +
		"[ 3.000000] " + contract.MarkArmed("after baseline") + "\n" +
		"[ 3.100000] unreferenced object 0xffff888002 (size 8):\n"
	reports, err := Scan(console, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	require.Len(t, reports, 3)
	assert.False(t, reports[0].InProgram, "a report during boot")
	assert.True(t, reports[1].InProgram && !reports[1].Armed, "the reproducer's own baseline")
	assert.True(t, reports[2].InProgram && reports[2].Armed, "after the reproducer armed")
}

func TestTaintReport(t *testing.T) {
	_, ok := TaintReport(0, 1<<12|1<<13, TaintOutOfTree|TaintUnsigned)
	assert.False(t, ok, "O and E come from netl.ko itself")
	r, ok := TaintReport(0, 1<<12|1<<13, TaintOutOfTree)
	require.True(t, ok, "E on a kernel that does not check signatures is not netl.ko's")
	assert.Contains(t, r.Title, "gained E")
	_, ok = TaintReport(1<<9, 1<<9, TaintOutOfTree)
	assert.False(t, ok, "a flag the kernel had before the run is not the run's")
	r, ok = TaintReport(0, 1<<12|1<<9|1<<5, TaintOutOfTree)
	require.True(t, ok)
	assert.Equal(t, "taint", r.Kind)
	assert.Contains(t, r.Title, "gained BW", "bad page and warning, in the kernel's letters")
	assert.Equal(t, "PFSRMBUDAWCIOELKXTNJ", TaintLetters(1<<20-1))
}

// A "Tainted:" line with E is a report unless the kernel checks module
// signatures (the run's taint mask says so).
func TestTaintedLineAllowsEOnlyWhereAsked(t *testing.T) {
	line := "[    2.000000] CPU: 0 PID: 1 Comm: init Tainted: G           OE      6.12.117+deb13-amd64 #1"
	reports, err := Scan(line, Patterns, nil, TaintOutOfTree|TaintUnsigned)
	require.NoError(t, err)
	assert.Empty(t, reports)
	reports, err = Scan(line, Patterns, nil, TaintOutOfTree)
	require.NoError(t, err)
	require.Len(t, reports, 1)
	assert.Equal(t, "taint", reports[0].Kind)
}
