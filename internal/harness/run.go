package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/cover"
	"github.com/netl-dev/netl/internal/splat"
	"github.com/netl-dev/netl/internal/vm"
)

// Run describes one program run in the guest.
type Run struct {
	// Program is a host file (static binary or script) copied into the
	// guest, or an absolute guest path ("/bbin/gosh") when Guest is set.
	Program string
	Guest   bool
	Args    []string
	Env     []string
	// GoTest: Program is a Go test binary. It runs with
	// -test.v=test2json, its output is kept in the share, and its events
	// come back decoded in Result.Tests, each with the kernel reports
	// that appeared while it ran.
	GoTest bool
	// Files are other host files the program needs, copied beside it
	// into the share's bin/ (contract.GuestPath("bin/NAME") in the guest).
	Files []string
	// Build, when set, makes Program and Files. With Options.BootEarly it
	// runs beside the boot, as the module's build does; otherwise first.
	Build func() error
	// Share is the host directory shared with the guest; a temporary one
	// when empty.
	Share       string
	Console     io.Writer // live console lines
	ConsoleLog  string    // whole console; a new file under the cache's logs/ when empty
	Interactive bool
	// Timeout bounds the whole guest run; the session's when zero.
	Timeout time.Duration
}

// Phases are the wall times of a run's steps.
type Phases struct {
	Kernel, Module, Initramfs time.Duration
	Boot                      time.Duration // kernel start to netl's init (guest uptime)
	Wait                      time.Duration // init waiting for the host's builds (Options.BootEarly)
	Clock                     time.Duration // init waiting for high-resolution timers
	Program                   time.Duration // the program in the guest
	VM                        time.Duration // QEMU start to exit; the rest is firmware, module load and the final reset
}

func (p Phases) String() string {
	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	wait := ""
	if p.Wait > 0 {
		wait = fmt.Sprintf(" + waiting for the module %s", r(p.Wait))
	}
	return fmt.Sprintf("kernel %s, module %s, initramfs %s | vm %s = boot to init %s%s + clock settle %s + program %s + firmware/modload/reset %s",
		r(p.Kernel), r(p.Module), r(p.Initramfs), r(p.VM), r(p.Boot), wait, r(p.Clock), r(p.Program), r(p.VM-p.Boot-p.Wait-p.Clock-p.Program))
}

// Result is everything one run observed. Every caller (go test
// ./vmtest/..., netlvm run, test, repro, bench) reads it; none goes back to
// the console log or the program's output.
type Result struct {
	Series, Release string
	Debug           bool
	Accel           string
	AccelReason     string
	Cmdline         string // QEMU's, shell-quoted
	// Status is what the guest init reported; nil when it reported
	// nothing (Err says why).
	Status *contract.Status
	// Err is why the guest did not report: it did not boot, hung (TimedOut)
	// or panicked. Nil when it reported.
	Err      error
	TimedOut bool
	// Reports are the kernel's reports, each placed by the guest's marks
	// (the test running, whether the program had started), and the taint
	// flags the run added.
	Reports []splat.Report
	// GoTest: the program was a Go test binary (Run.GoTest), and Tests
	// are its tests in the order they started, also when the guest died
	// under them.
	GoTest bool
	Tests  []*GuestTest
	// Output is what the program wrote to standard output (Run.GoTest).
	Output []byte
	// ProgramStarted: init started the program (its mark is on the
	// console). ProgramLines are the console lines after that mark that
	// are not the kernel's: what the program and init printed.
	ProgramStarted bool
	ProgramLines   []string
	Phases         Phases
	ConsoleLog     string
	Tail           []string // the console's last lines
	// Cover is the module's coverage (Options.Cover), from the counters
	// the guest copied out after the program; CoverErr is why there is
	// none, and fails the run.
	Cover    *cover.Profile
	CoverErr error
}

// ExitCode is the program's exit status; -1 when it did not run or the
// guest did not report.
func (r *Result) ExitCode() int {
	if r.Status == nil {
		return -1
	}
	return r.Status.ExitCode
}

// Stage is where the guest run stopped (contract.Stage*); "none" when the
// guest did not report.
func (r *Result) Stage() string {
	if r.Status == nil {
		return "none"
	}
	return r.Status.Stage
}

// Completed: the guest reported, and its program ran to its end.
func (r *Result) Completed() bool {
	return r.Err == nil && r.Status != nil && r.Status.Stage == contract.StageDone
}

// Unplaced are the reports outside every guest test (boot, init, module
// load, between tests), or all of them when the program is not a Go test.
func (r *Result) Unplaced() []splat.Report {
	var out []splat.Report
	for _, rep := range r.Reports {
		if r.test(rep.Test) == nil {
			out = append(out, rep)
		}
	}
	return out
}

func (r *Result) test(name string) *GuestTest {
	top, _, _ := strings.Cut(name, "/")
	for _, t := range r.Tests {
		if t.Name == top && name != "" {
			return t
		}
	}
	return nil
}

// Failure is one reason a run is not a pass: in a guest test, or (Test
// empty) outside every test. Reason is one line; Detail, when set, is the
// whole story (the VM error with its console tail and QEMU command line,
// a kernel report's excerpt).
type Failure struct {
	Test, Reason string
	Detail       string
}

func (f Failure) String() string {
	if f.Test == "" {
		return f.Reason
	}
	return f.Test + ": " + f.Reason
}

// Failures lists every reason the run is not a pass, most basic first; an
// empty list is a pass. With ci, a skipped guest test or subtest is a
// failure too, unless the skip is a kernel-version gate.
// A guest that did not report still has its reports and tests listed: the
// test that was running when the kernel died is the one to look at.
func (r *Result) Failures(ci bool) []Failure {
	var f []Failure
	switch {
	case r.Err != nil:
		f = append(f, Failure{Reason: firstLine(r.Err.Error()), Detail: r.Err.Error()})
	case r.Status == nil:
		f = append(f, Failure{Reason: "the guest reported no status"})
	case r.Status.Stage != contract.StageDone:
		f = append(f, Failure{Reason: fmt.Sprintf("guest init stopped at stage %s: %s", r.Status.Stage, r.Status.Error)})
	case r.Status.Error != "":
		f = append(f, Failure{Reason: "guest: " + r.Status.Error})
	}
	for _, rep := range r.Unplaced() {
		if top, _, _ := strings.Cut(rep.Test, "/"); top != "" {
			// The console's marks name the test, but its output died
			// with the guest (an oops before 9p wrote it back).
			f = append(f, Failure{Test: top, Reason: fmt.Sprintf("kernel %s: %s (the test's output was lost with the guest)", rep.Kind, rep.Title), Detail: rep.String()})
			continue
		}
		f = append(f, Failure{Reason: fmt.Sprintf("kernel %s outside any test: %s", rep.Kind, rep.Title), Detail: rep.String()})
	}
	if r.CoverErr != nil {
		f = append(f, Failure{Reason: firstLine(r.CoverErr.Error()), Detail: r.CoverErr.Error()})
	}
	failed := false
	for _, t := range r.Tests {
		switch {
		case len(t.Reports) > 0:
			f = append(f, Failure{Test: t.Name, Reason: fmt.Sprintf("kernel %s: %s", t.Reports[0].Kind, t.Reports[0].Title)})
			failed = true
		case t.Action == "fail":
			f = append(f, Failure{Test: t.Name, Reason: "failed"})
			failed = true
		case t.Action == "":
			f = append(f, Failure{Test: t.Name, Reason: "never finished in the guest (timeout or crash)"})
			failed = true
		}
		skips := t.Skips
		if t.Action == "skip" && len(skips) == 0 {
			skips = []Skip{{Name: t.Name, Reason: "no reason given"}}
		}
		for _, s := range skips {
			if ci && !s.Gate() {
				f = append(f, Failure{Test: t.Name, Reason: fmt.Sprintf("%s skipped (%s), and CI allows no skip but a kernel-version gate", s.Name, s.Reason)})
			}
		}
	}
	if r.Completed() && r.Status.ExitCode != 0 && !failed {
		f = append(f, Failure{Reason: fmt.Sprintf("the program exited %d with no failed test (a panic, a timeout, a failed TestMain?)", r.Status.ExitCode)})
	}
	if r.GoTest && r.Completed() && len(r.Tests) == 0 {
		f = append(f, Failure{Reason: "the guest ran no tests"})
	}
	return f
}

// Run boots the guest, loads the module, runs the program and returns what
// the run observed. The error is non-nil when the harness could not run
// it (a missing program, a console log it could not write) and when the
// guest did not report back (then it is also Result.Err, and the Result
// holds the console tail and the QEMU command line).
func (s *Session) Run(ctx context.Context, r Run) (*Result, error) {
	share := r.Share
	if share == "" {
		d, err := os.MkdirTemp("", "netl-run-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		share = d
	}
	spec := contract.RunSpec{ModParams: s.Opts.ModParams, Args: slices.Clone(r.Args), Env: slices.Clone(r.Env)}
	if r.GoTest {
		spec.Args = append([]string{"-test.v=test2json"}, spec.Args...)
		spec.Stdout = "program.out"
	}
	if s.Opts.Cover {
		spec.Coverage = "gcov"
	}
	if s.moduleName != "" {
		spec.Module = s.moduleName
		// Programs that unload and load the module again find it here.
		spec.Env = append(spec.Env, contract.ModuleEnv+"="+contract.GuestPath(spec.Module))
	}
	spec.Program = r.Program
	if !r.Guest {
		spec.Program = "bin/" + filepath.Base(r.Program)
	}
	// What the builds make goes into the share before the guest loads
	// it: before the boot, or (BootEarly) while the guest waits.
	stage := func() error {
		if err := s.WaitModule(); err != nil {
			return err
		}
		if r.Build != nil {
			if err := r.Build(); err != nil {
				return err
			}
		}
		return stageFiles(share, s.Module, spec, r)
	}
	var ready chan error
	staged := make(chan error, 1)
	stagedErr := sync.OnceValue(func() error { return <-staged })
	if s.moduleBuilt != nil && !r.Interactive {
		spec.WaitForHost = true
		ready = make(chan error, 1)
		go func() {
			err := stage()
			staged <- err
			ready <- err
		}()
		defer stagedErr() // the share outlives the copies
	} else if err := stage(); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(share, contract.StatusFile))
	if err := contract.WriteSpec(share, spec); err != nil {
		return nil, err
	}
	logPath, err := s.consoleLog(r.ConsoleLog)
	if err != nil {
		return nil, err
	}
	vres, vmErr := vm.Run(ctx, vm.Config{
		Kernel:      s.Kernel.BzImage(),
		Initramfs:   s.Initramfs,
		Share:       share,
		Timeout:     cmp.Or(r.Timeout, s.Opts.Timeout),
		Cache:       s.Cache,
		ConsoleLog:  logPath,
		Console:     r.Console,
		Interactive: r.Interactive,
		Append:      s.appendArgs(),
		Ready:       ready,
	})
	if ready != nil {
		// A build that failed is the answer, whatever the guest did
		// meanwhile: it never got the module or the program.
		if err := stagedErr(); err != nil {
			return nil, err
		}
	}
	if vres == nil {
		return nil, vmErr // QEMU did not start
	}
	var ve *vm.Error
	if vmErr != nil && !errors.As(vmErr, &ve) {
		return nil, vmErr // the harness failed, not the guest (the console log)
	}
	res := &Result{Series: s.Kernel.Series, Release: s.Kernel.Release, Debug: s.Kernel.Debug,
		Accel: vres.Accel, AccelReason: vres.AccelReason, Cmdline: vres.Cmdline,
		Status: vres.Status, Err: vmErr, TimedOut: ve != nil && ve.TimedOut, GoTest: r.GoTest,
		ConsoleLog: logPath, Tail: vres.Tail, Phases: s.Prepared}
	res.Phases.VM = vres.Wall
	if st := res.Status; st != nil {
		res.Phases.Program = seconds(st.ProgramSeconds)
		res.Phases.Boot = seconds(st.BootSeconds)
		res.Phases.Wait = seconds(st.WaitSeconds)
		res.Phases.Clock = seconds(st.ClockSeconds)
	}
	if s.Opts.Cover && res.Status != nil {
		res.Cover, res.CoverErr = s.collectCover(share, spec, res.Status)
	}
	res.ProgramStarted, res.ProgramLines = programLines(vres.Console)
	taints := s.allowedTaints()
	if res.Reports, err = splat.Scan(vres.Console, splat.Patterns, s.Opts.Allow, taints); err != nil {
		return nil, err
	}
	if st := res.Status; st != nil {
		if rep, ok := splat.TaintReport(st.TaintedBefore, st.TaintedAfter, taints); ok && !taintExplained(res.Reports) {
			res.Reports = append(res.Reports, rep)
		}
	}
	if r.GoTest {
		// Whatever the program wrote, also when the guest died under it
		// (an oops ends QEMU at once): the test that was running is the
		// one the report belongs to. No output (the module did not
		// load, the program never started) is no tests.
		if out, err := os.ReadFile(filepath.Join(share, spec.Stdout)); err == nil {
			res.Output = out
			if res.Tests, err = decodeTests(out); err != nil {
				return nil, err
			}
		}
		// A report while tests ran in parallel belongs to each of them:
		// any one may have caused it, and the report says which ran.
		for _, rep := range res.Reports {
			names := rep.Running
			if len(names) == 0 {
				names = []string{rep.Test}
			}
			seen := map[*GuestTest]bool{}
			for _, name := range names {
				if t := res.test(name); t != nil && !seen[t] {
					seen[t] = true
					t.Reports = append(t.Reports, rep)
				}
			}
		}
	}
	return res, vmErr
}

// collectCover reads the module's coverage from the counters the guest
// copied into the share (contract.RunSpec.Coverage).
func (s *Session) collectCover(share string, spec contract.RunSpec, st *contract.Status) (*cover.Profile, error) {
	if st.CoverageError != "" {
		return nil, fmt.Errorf("coverage: the guest could not copy gcov's counters: %s", st.CoverageError)
	}
	if st.CoverageFiles == 0 {
		if st.Stage != contract.StageDone {
			return nil, fmt.Errorf("coverage: none, the guest stopped at stage %s before the program ended", st.Stage)
		}
		return nil, fmt.Errorf("coverage: the guest found no gcov counters under %s (was %s loaded?)", contract.GcovDir, s.moduleName)
	}
	name := strings.TrimSuffix(s.moduleName, ".ko")
	return cover.Collect(name, filepath.Join(share, spec.Coverage), filepath.Dir(s.Module), s.gcov)
}

// stageFiles copies the module, the program and its files into the share.
func stageFiles(share, module string, spec contract.RunSpec, r Run) error {
	if module != "" {
		if err := copyFile(module, filepath.Join(share, spec.Module), 0o644); err != nil {
			return err
		}
	}
	if !r.Guest {
		st, err := os.Stat(r.Program)
		if err != nil {
			return fmt.Errorf("program: %w", err)
		}
		if st.IsDir() {
			return fmt.Errorf("program %s is a directory", r.Program)
		}
		if err := os.MkdirAll(filepath.Join(share, "bin"), 0o755); err != nil {
			return err
		}
		if err := copyFile(r.Program, filepath.Join(share, spec.Program), 0o755); err != nil {
			return err
		}
	}
	for _, f := range r.Files {
		if err := os.MkdirAll(filepath.Join(share, "bin"), 0o755); err != nil {
			return err
		}
		if err := copyFile(f, filepath.Join(share, "bin", filepath.Base(f)), 0o755); err != nil {
			return fmt.Errorf("file for the guest: %w", err)
		}
	}
	return nil
}

// programLines finds the program's start mark and the console lines after
// it that the kernel did not print (the part before the kernel's timestamp
// when a kernel message interrupted a line).
func programLines(console string) (bool, []string) {
	i := strings.Index(console, contract.MarkProgram())
	if i < 0 {
		return false, nil
	}
	var lines []string
	_, rest, _ := strings.Cut(console[i:], "\n")
	for _, l := range strings.Split(rest, "\n") {
		before, msg, kernel := splat.KernelLine(l)
		if kernel {
			msg = before
		}
		if msg = strings.TrimSpace(msg); msg != "" {
			lines = append(lines, msg)
		}
	}
	return true, lines
}

// taintExplained: a report of a kind that taints the kernel itself is
// there (a WARNING sets W, an oops D), so the mask adds nothing a reader
// needs.
func taintExplained(reports []splat.Report) bool {
	for _, r := range reports {
		if splat.Taints(r.Kind) {
			return true
		}
	}
	return false
}

// allowedTaints are the taint flags the module under test brings by
// itself: O, out of tree; and E, unsigned, where the kernel checks
// signatures (Debian's: CONFIG_MODULE_SIG=y, MODULE_SIG_FORCE unset).
func (s *Session) allowedTaints() uint64 {
	mask := uint64(splat.TaintOutOfTree)
	if s.Kernel.ConfigValue("CONFIG_MODULE_SIG") == "y" {
		mask |= splat.TaintUnsigned
	}
	return mask
}

// appendArgs are the session's kernel command-line words, and on the
// debug flavour a hung-task threshold the suite can meet: the kernel's
// default (120 s) outlasts most runs, so a hang would never be reported.
func (s *Session) appendArgs() []string {
	args := append([]string(nil), s.Opts.Append...)
	if s.Kernel.Debug && !hasArg(args, "sysctl.kernel.hung_task_timeout_secs=") {
		args = append(args, "sysctl.kernel.hung_task_timeout_secs="+fmt.Sprint(DebugHungTaskSeconds))
	}
	return args
}

// DebugHungTaskSeconds is the hung-task threshold of debug-flavour runs.
const DebugHungTaskSeconds = 10

func hasArg(args []string, prefix string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

// consoleLog is where a run keeps its console: the path asked for, or a
// new file under the cache's logs/, so that a failure can always be read
// after the run.
func (s *Session) consoleLog(path string) (string, error) {
	dir := filepath.Join(s.Cache, "logs")
	if path != "" {
		dir = filepath.Dir(path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("console log: %w", err)
	}
	if path != "" {
		return path, nil
	}
	f, err := os.CreateTemp(dir, "run-"+time.Now().Format("20060102-150405")+"-*.console.log")
	if err != nil {
		return "", fmt.Errorf("console log: %w", err)
	}
	return f.Name(), f.Close()
}

// BareBoot boots the session's kernel with another initramfs and no share
// (the floor: an init that resets at once) and returns its wall time.
func (s *Session) BareBoot(ctx context.Context, initramfs string) (time.Duration, error) {
	res, err := vm.Run(ctx, vm.Config{Kernel: s.Kernel.BzImage(), Initramfs: initramfs, Cache: s.Cache, Timeout: time.Minute})
	if err != nil {
		return 0, err
	}
	return res.Wall, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
