package repro

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/splat"
	"github.com/netl-dev/netl/internal/vm"
)

func writeCase(t *testing.T, dir, id, body string, withProgram bool) {
	t.Helper()
	d := filepath.Join(dir, id)
	require.NoError(t, os.MkdirAll(filepath.Join(d, "repro"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d, "case.json"), []byte(body), 0o644))
	if withProgram {
		require.NoError(t, os.WriteFile(filepath.Join(d, "repro", "main.go"), []byte("package main\nfunc main() {}\n"), 0o644))
	}
}

func TestLoadValidates(t *testing.T) {
	dir := t.TempDir()
	writeCase(t, dir, "B1", `{"id":"B1","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"report","pattern":"BUG: unable to handle"}}`, true)
	cases, err := Load(dir, "")
	require.NoError(t, err)
	require.Len(t, cases, 1)
	assert.Equal(t, "B1", cases[0].ID)

	for name, body := range map[string]string{
		"module":  `{"id":"X","module":"other","program":"repro","timeout":"60s","expect":{"kind":"hang","line":"x"}}`,
		"timeout": `{"id":"X","module":"seed","program":"repro","timeout":"soon","expect":{"kind":"hang","line":"x"}}`,
		"line":    `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"hang"}}`,
		"none":    `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"none"}}`,
		"field":   `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"absent"},"typo":1}`,
		"params":  `{"id":"X","module":"seed","program":"repro","timeout":"60s","fixed_modparams":"reply_count","expect":{"kind":"absent"}}`,
		"kind":    `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"crash"}}`,
		"pattern": `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"report"}}`,
		"regexp":  `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"report","pattern":"("}}`,
		"json":    `{"id":`,
	} {
		d := t.TempDir()
		writeCase(t, d, "X", body, true)
		_, err := Load(d, "")
		assert.Error(t, err, name)
	}
	d := t.TempDir()
	writeCase(t, d, "X", `{"id":"X","module":"seed","program":"repro","timeout":"60s","expect":{"kind":"hang","line":"x"}}`, false)
	_, err = Load(d, "")
	assert.ErrorContains(t, err, "program", "a case without its reproducer")

	_, err = Load(dir, "B99")
	assert.ErrorContains(t, err, `no repro case "B99"`)
}

func TestRepositoryCasesLoad(t *testing.T) {
	cases, err := Load(filepath.Join("..", "..", "vmtest", "repro"), "")
	require.NoError(t, err, "every vmtest/repro case is valid")
	assert.NotEmpty(t, cases)
}

// A run's result as the harness returns it, for the classification tests.
func done(exit int, lines []string, reports ...splat.Report) *harness.Result {
	return &harness.Result{Status: &contract.Status{Stage: contract.StageDone, ExitCode: exit},
		ProgramStarted: true, ProgramLines: lines, Reports: reports}
}

func rep(kind, title string, inProgram, armed bool, lines ...string) splat.Report {
	return splat.Report{Kind: kind, Title: title, InProgram: inProgram, Armed: armed, Lines: append([]string{title}, lines...)}
}

func hung(lines []string) *harness.Result {
	err := &vm.Error{What: "the guest did not exit within 40s", TimedOut: true, Result: &vm.Result{}}
	return &harness.Result{Err: err, TimedOut: true, ProgramStarted: true, ProgramLines: lines}
}

func mustCase(t *testing.T, c Case) Case {
	t.Helper()
	c.Dir, c.Program, c.Module, c.Timeout = t.TempDir(), "repro", "seed", "40s"
	require.NoError(t, os.MkdirAll(filepath.Join(c.Dir, "repro"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(c.Dir, "repro", "main.go"), []byte("package main\n"), 0o644))
	require.NoError(t, c.check())
	return c
}

func TestClassifyEveryOutcome(t *testing.T) {
	report := mustCase(t, Case{ID: "R", Expect: Expect{Kind: "report", Pattern: `^BUG: unable to handle page fault`}})
	armed := mustCase(t, Case{ID: "L", Expect: Expect{Kind: "report", Pattern: `kmemleak: \d+ new suspected`, After: "armed"}})
	framed := mustCase(t, Case{ID: "F", Expect: Expect{Kind: "report", Pattern: `^INFO: task B6:\d+ blocked`, Frame: `\[netl_seed\]`}})
	hang := mustCase(t, Case{ID: "H", Expect: Expect{Kind: "hang", Line: `B5 loop:`}})
	exit := mustCase(t, Case{ID: "E", Expect: Expect{Kind: "exit", Line: `SHOWN: `}})
	absent := mustCase(t, Case{ID: "A", Expect: Expect{Kind: "absent"}})
	build := mustCase(t, Case{ID: "B", Expect: Expect{Kind: "build-failure", Pattern: `has no member named .pid.`}})
	bug := rep("BUG", "BUG: unable to handle page fault for address: ffffffffc0000000", true, false)
	leak := rep("kmemleak", "kmemleak: 4 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", true, true)

	for _, tc := range []struct {
		name  string
		c     Case
		res   *harness.Result
		err   error
		class Class
		in    string
	}{
		{"report after start", report, done(0, nil, bug), nil, Shown, "BUG: unable"},
		{"report during boot only", report, done(0, nil, rep("BUG", bug.Title, false, false)), nil, Other, "not the case's"},
		{"another report", report, done(0, nil, rep("WARNING", "WARNING: CPU: 0 PID: 1 at x.c:1", true, false)), nil, Other, "WARNING"},
		{"clean", report, done(0, nil), nil, Clean, "no kernel report"},
		{"reproducer failed", report, done(1, []string{"FAIL: no reply"}), nil, Other, "exited 1: FAIL: no reply"},
		{"module did not load", report, &harness.Result{Status: &contract.Status{Stage: contract.StageModule, ExitCode: -1, Error: "loading netl.ko: EINVAL"}}, nil, Other, "stage module"},
		{"timed out", report, hung(nil), nil, Other, "timed out"},
		{"no result", report, nil, errors.New("writing the console log: disk full"), Other, "could not run it: writing the console log"},
		{"leak after arming", armed, done(0, nil, leak), nil, Shown, "kmemleak"},
		{"leak before arming is the baseline", armed, done(0, nil, rep("kmemleak", leak.Title, true, false)), nil, Clean, "no kernel report"},
		{"blocked in the module", framed, done(0, nil, rep("hung task", "INFO: task B6:31 blocked for more than 1 seconds.", true, false, " nl_data_ready+0x219/0x271 [netl_seed]")), nil, Shown, "B6:31"},
		{"blocked elsewhere", framed, done(0, nil, rep("hung task", "INFO: task B6:31 blocked for more than 1 seconds.", true, false, " msleep+0x1/0x2")), nil, Other, "hung task"},
		{"another task blocked", framed, done(0, nil, rep("hung task", "INFO: task kworker/0:1:9 blocked for more than 1 seconds.", true, false, " x [netl_seed]")), nil, Other, "hung task"},
		{"hang with its line", hang, hung([]string{"[ 4.0s] B5 loop: netl_seed entered its input callback 3 times"}), nil, Shown, "B5 loop"},
		{"hang without its line", hang, hung([]string{"[ 1.0s] step 1"}), nil, Other, "timed out"},
		{"hang answered", hang, done(0, nil), nil, Clean, "no kernel report"},
		{"exit with its line", exit, done(contract.ReproShownExit, []string{"SHOWN: 1006 bytes"}), nil, Shown, "SHOWN"},
		{"exit 40 without its line", exit, done(contract.ReproShownExit, []string{"panic: x"}), nil, Other, "exited 40"},
		{"exit with a report too", exit, done(contract.ReproShownExit, []string{"SHOWN: x"}, bug), nil, Other, "BUG"},
		{"absent: clean", absent, done(0, nil), nil, Clean, "no kernel report"},
		{"absent: a report shows it", absent, done(0, nil, leak), nil, Shown, "kmemleak"},
		{"absent: the check failed", absent, done(contract.ReproShownExit, []string{"[ 1.0s] SHOWN: socket(AF_NETLINK, SOCK_RAW, 25) succeeded after the unload"}), nil, Shown, "check failed"},
		{"absent: the reproducer broke", absent, done(1, []string{"[ 1.0s] FAIL: cannot dial"}), nil, Other, "exited 1"},
		{"absent: the reproducer panicked", absent, done(2, []string{"panic: runtime error"}), nil, Other, "exited 2"},
		{"hang with a boot report", hang, func() *harness.Result {
			r := hung([]string{"[ 4.0s] B5 loop: x"})
			r.Reports = []splat.Report{rep("WARNING", "WARNING: CPU: 0 PID: 1 at boot.c:1", false, false)}
			return r
		}(), nil, Other, "timed out"},
		{"build failure", build, nil, errors.New("building netl_seed.ko failed\nx.c:76: error: 'struct netlink_skb_parms' has no member named 'pid'"), Shown, "no member"},
		{"built", build, nil, nil, Clean, "built"},
		{"build failed otherwise", build, nil, errors.New("no space left on device"), Other, "setup failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Classify(tc.c, "m", tc.res, tc.err)
			assert.Equal(t, tc.class, o.Class, o.Evidence)
			assert.Contains(t, o.Evidence, tc.in)
		})
	}
}

func TestDecideEveryOutcome(t *testing.T) {
	c := Case{ID: "B7", NotABug: map[string]string{"6.12": "same code on this kernel"}}
	shown := Outcome{Module: "seed", Class: Shown, Evidence: "BUG: x"}
	clean := Outcome{Module: "netl", Class: Clean, Evidence: "completed"}
	other := Outcome{Module: "netl", Class: Other, Evidence: "timed out after 90s"}
	for _, tc := range []struct {
		name         string
		buggy, fixed Outcome
		series       string
		want, reason string
		ok           bool
	}{
		{"reproduced", shown, clean, "6.1", Reproduced, "BUG: x", true},
		{"fixed side timed out", shown, other, "6.1", Error, "netl.ko run: timed out", false},
		{"fixed side shows it too", shown, shown, "6.1", Error, "netl.ko shows the bug too", false},
		{"buggy side broke", other, clean, "6.1", Error, "timed out", false},
		{"both clean, a bug elsewhere", clean, clean, "6.1", NotReproduced, "ran clean", false},
		{"both clean, not a bug here", clean, clean, "6.12", NotABug, "same code", true},
		{"shown where the case says not a bug", shown, clean, "6.12", Reproduced, "BUG: x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, reason := Decide(c, tc.series, tc.buggy, tc.fixed)
			assert.Equal(t, tc.want, v)
			assert.Contains(t, reason, tc.reason)
			assert.Equal(t, tc.ok, Verdict{Case: c, Series: tc.series, Verdict: v}.OK())
		})
	}
}

// A debug-only case on Debian's prebuilt kernel (no debug flavour) says
// it did not run, and boots nothing.
func TestDebugCaseOnPrebuiltKernelIsNotRun(t *testing.T) {
	v := Run(context.Background(), t.TempDir(), Case{ID: "B9", Debug: true}, "debian-6.12", io.Discard)
	assert.Equal(t, NoDebugFlavour, v.Verdict)
	assert.Contains(t, v.Reason, "debian-6.12")
	assert.Equal(t, Outcome{}, v.Buggy, "nothing ran")
}
