package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/gobuild"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/splat"
)

// GuestTest is one top-level test of a guest Go test program.
type GuestTest struct {
	Name    string
	Action  string // pass, fail, skip; empty when it never finished
	Output  string // its output and its subtests', as go test -v prints it
	Elapsed time.Duration
	Reports []splat.Report // kernel reports that appeared while it ran
	// Skips are the test's own skip and its subtests' ("TestX/sub"), each
	// with its reason; a passing test may hold skipped subtests.
	Skips []Skip
}

// Skip is one skipped test or subtest.
type Skip struct {
	Name, Reason string
}

// Gate: the skip is a kernel-version gate (kmodtest/guest.SkipOnOldKernel), the one
// kind CI accepts.
func (s Skip) Gate() bool { return strings.Contains(s.Reason, contract.GateSkip) }

// decodeTests turns a test binary's -test.v=test2json output into its
// tests, through go's own test2json.
func decodeTests(raw []byte) ([]*GuestTest, error) {
	cmd := exec.Command("go", "tool", "test2json", "-t")
	cmd.Stdin = bytes.NewReader(raw)
	js, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool test2json: %w", err)
	}
	var order []*GuestTest
	byName := make(map[string]*GuestTest)
	outputs := make(map[string]*strings.Builder) // per test and subtest, for skip reasons
	sc := bufio.NewScanner(bytes.NewReader(js))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Action, Test, Output string
			Elapsed              float64
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("test2json: %w", err)
		}
		if e.Test == "" {
			continue
		}
		top, _, _ := strings.Cut(e.Test, "/")
		g := byName[top]
		if g == nil {
			g = &GuestTest{Name: top}
			byName[top] = g
			order = append(order, g)
		}
		if outputs[e.Test] == nil {
			outputs[e.Test] = &strings.Builder{}
		}
		switch e.Action {
		case "output":
			g.Output += e.Output
			outputs[e.Test].WriteString(e.Output)
		case "skip":
			g.Skips = append(g.Skips, Skip{Name: e.Test, Reason: skipReason(outputs[e.Test].String())})
		}
		switch e.Action {
		case "pass", "fail", "skip", "bench":
			if e.Test == top {
				g.Action = e.Action
				if e.Action == "bench" { // a finished benchmark
					g.Action = "pass"
				}
				g.Elapsed = time.Duration(e.Elapsed * float64(time.Second))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, g := range order {
		// test2json ends a benchmark with its result line, not an action.
		if g.Action == "" && strings.HasPrefix(g.Name, "Benchmark") && strings.Contains(g.Output, "ns/op") {
			g.Action = "pass"
		}
	}
	return order, nil
}

// skipReason is what a skipped test printed, without go test's own lines.
func skipReason(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, " ")
}

// GuestPackage holds the tests that run inside the VM. Its test files carry
// the netlguest build tag, so `go test ./...` on the host does not run them
// outside a guest.
const GuestPackage = "github.com/netl-dev/netl/vmtest/guest"

// ClientPackages are host packages whose tests also run in the guest, on
// every pinned kernel: their *AgainstModule tests skip on a host without
// netl.ko, and the guest suite (TestClientPackages) runs them where it is
// loaded, so that no test of the client only ever skips; in CI, with the
// rest, so that the client's kernel behaviour is checked on each kernel.
var ClientPackages = []string{"./userspace/netlink", "./userspace/cmd/netlctl"}

// BuildGuestTests compiles the guest suite and the client packages' tests
// as static test binaries in dir, and returns the suite that runs them.
func BuildGuestTests(root, dir string) (Suite, error) {
	s, build, err := GuestTests(root, dir)
	if err != nil {
		return Suite{}, err
	}
	return s, build()
}

// GuestTests is BuildGuestTests in two steps: the suite, whose files are
// not there yet, and the build that makes them (Run.Build), so that the
// guest boots while they build.
func GuestTests(root, dir string) (Suite, func() error, error) {
	s := Suite{Binary: filepath.Join(dir, "guest.test")}
	// One go command for every Go test binary: it loads the package graph
	// once (0.3 s of CPU when nothing changed, against 0.9 s for one
	// command each, taken from the guest's boot beside it), and writes
	// each as dir/<last path element>.test. The netlguest tag selects
	// files of the guest package only.
	var g errgroup.Group
	pkgs := append([]string{GuestPackage}, ClientPackages...)
	for _, pkg := range ClientPackages {
		s.Extra = append(s.Extra, filepath.Join(dir, path.Base(pkg)+".test"))
	}
	steps := []func() error{func() error {
		args := append([]string{"test", "-c", "-tags", GuestTag, "-o", dir + string(filepath.Separator)}, pkgs...)
		if err := gobuild.Static(root, args...); err != nil {
			return fmt.Errorf("building the guest tests: %w", err)
		}
		if err := readInputs(root, pkgs...); err != nil {
			return err
		}
		for _, bin := range append([]string{s.Binary}, s.Extra...) {
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("building the guest tests: go test -c wrote no %s", filepath.Base(bin))
			}
		}
		return nil
	}}
	// The seed article's C user programs, as printed (TestSeedUserPrograms).
	progs, err := filepath.Glob(filepath.Join(root, "vmtest", "guest", "testdata", "*.c"))
	if err != nil {
		return Suite{}, nil, err
	}
	for _, src := range progs {
		bin := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c"))
		s.Extra = append(s.Extra, bin)
		steps = append(steps, func() error {
			// -w: the article's code as printed has warnings; static: the
			// initramfs has no C library.
			if out, err := exec.Command("gcc", "-static", "-O2", "-w", "-o", bin, src).CombinedOutput(); err != nil {
				return fmt.Errorf("building %s for the guest: %w\n%s", filepath.Base(src), err, out)
			}
			return nil
		})
	}
	sort.Strings(s.Extra)
	build := sync.OnceValue(func() error {
		for _, step := range steps {
			g.Go(step)
		}
		return g.Wait()
	})
	return s, build, nil
}

// Suite is a run of the guest suite.
type Suite struct {
	// Binary is the guest test binary (BuildGuestTests), and Extra other
	// programs it runs, copied beside it into the share's bin/.
	Binary string
	Extra  []string
	// Run, Skip, Bench: -test.run, -test.skip and -test.bench in the
	// guest.
	Run, Skip, Bench string
	// Short: -test.short in the guest.
	Short bool
	// Full asks the guest for the whole of its long tests (the lifecycle
	// torture's 200 cycles): CI runs them; the edit loop gets a quick
	// pass of each, which the test says.
	Full bool
	// Timeout is the guest's -test.timeout; by flavour when zero.
	Timeout time.Duration
}

// GuestParallel is how many parallel guest tests run at once.
const GuestParallel = 32

// Guest test timeouts: the debug flavour (KASAN, lockdep, kmemleak) runs
// the suite about 4 times slower under TCG.
const (
	SuiteTimeout      = 4 * time.Minute
	DebugSuiteTimeout = 16 * time.Minute
)

// RunSuite runs netl's guest suite (GuestTests) with the module loaded;
// r gives the share, console and log. Besides what RunTests gives every
// test binary, the guest learns the kernel's uapi constants and gets the
// seed's module.
func (s *Session) RunSuite(ctx context.Context, suite Suite, r Run) (*Result, error) {
	r.Env = slices.Clone(r.Env)
	// The seed's module, for the test that loads netl.ko while another
	// module holds protocol 25 (TestLoadWhenProtocolTaken).
	seed, err := kernel.BuildModule(s.Kernel, os.DirFS(filepath.Join(s.Root, "kmod", "seed")), ".", "netl_seed", s.Opts.Progress)
	if err != nil {
		return nil, err
	}
	r.Files = append(r.Files, seed)
	uapi, err := s.Kernel.NetlinkUAPI()
	if err != nil {
		return nil, err
	}
	r.Env = append(r.Env, contract.UAPIEnv+"="+kernel.FormatConstants(uapi))
	return s.RunTests(ctx, suite, r)
}

// RunTests runs a Go test binary (suite.Binary, built with GuestTag) in
// the guest with the module loaded, go test's flags from suite, and the
// guest's environment: the module's path (contract.ModuleEnv), the flavour
// (contract.DebugEnv), whether CI asks for the long tests
// (contract.FullEnv), and the newest pinned series (contract.MaxSeriesEnv,
// for kmodtest/guest.SkipOnOldKernel). Result.Tests has its tests.
func (s *Session) RunTests(ctx context.Context, suite Suite, r Run) (*Result, error) {
	timeout := suite.Timeout
	if timeout == 0 {
		timeout = SuiteTimeout
		if s.Kernel.Debug {
			timeout = DebugSuiteTimeout
		}
	}
	if r.Timeout == 0 {
		r.Timeout = max(s.Opts.Timeout, timeout+time.Minute) // the guest's own timeout reports first
	}
	r.Program, r.Guest, r.GoTest = suite.Binary, false, true
	r.Files = append(slices.Clone(r.Files), suite.Extra...)
	r.Args = append(slices.Clone(r.Args), fmt.Sprintf("-test.timeout=%s", timeout),
		// The guest has one CPU, and go test runs as many parallel
		// tests as CPUs: the guest's parallel tests mostly sleep or
		// wait on the module, so let them all run at once.
		fmt.Sprintf("-test.parallel=%d", GuestParallel))
	r.Env = slices.Clone(r.Env)
	if suite.Run != "" {
		r.Args = append(r.Args, "-test.run="+suite.Run)
	}
	if suite.Skip != "" {
		r.Args = append(r.Args, "-test.skip="+suite.Skip)
	}
	if suite.Bench != "" {
		r.Args = append(r.Args, "-test.bench="+suite.Bench, "-test.benchmem")
	}
	if suite.Short {
		r.Args = append(r.Args, "-test.short")
	}
	if suite.Full {
		r.Env = append(r.Env, contract.FullEnv+"=1")
	}
	if s.Kernel.Debug {
		r.Env = append(r.Env, contract.DebugEnv+"=1")
	}
	pins, err := kernel.Pins()
	if err != nil {
		return nil, err
	}
	r.Env = append(r.Env, contract.MaxSeriesEnv+"="+kernel.Newest(pins))
	return s.Run(ctx, r)
}

// readInputs opens every file of pkgs and of the packages of the main
// module they depend on (tests and the guest tag included), in this
// process. go test caches a host test's result by the files the test
// process opened; the guest tests are compiled by a child go command, so
// without this an edit to a guest test would leave the cached pass of the
// host test that runs it.
func readInputs(dir string, pkgs ...string) error {
	args := append([]string{"list", "-deps", "-test", "-tags", GuestTag, "-f", "{{with .Module}}{{if .Main}}{{$.Dir}}{{end}}{{end}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("listing the guest tests' packages: go %s: %w", strings.Join(args, " "), err)
	}
	seen := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		if seen[d] {
			continue
		}
		seen[d] = true
		for _, sub := range []string{d, filepath.Join(d, "testdata")} {
			entries, _ := os.ReadDir(sub)
			for _, e := range entries {
				if e.Type().IsRegular() {
					if f, err := os.Open(filepath.Join(sub, e.Name())); err == nil {
						f.Close()
					}
				}
			}
		}
	}
	return nil
}

// GuestTimeouts splits what go test's deadline leaves (left; 0: there is
// none) between the guest's own -test.timeout (suite) and the bound on the
// whole VM run (vm; 0: RunTests' default). The guest times out first, and
// names the test that hung; the VM's bound comes before go test's panic, so
// that a hang the guest cannot report (a deadlocked kernel) still ends in a
// Result with the console's tail.
func GuestTimeouts(left time.Duration, debug bool) (suite, vm time.Duration, err error) {
	// Before the guest's clock starts: the boot (about 2 s plain, 30 s
	// debug under TCG) and the module's load; after it stops: the kmemleak
	// sweep (debug, 6 s and more) and the reset.
	around, full := 45*time.Second, SuiteTimeout
	if debug {
		around, full = 90*time.Second, DebugSuiteTimeout
	}
	if left <= 0 {
		return full, 0, nil
	}
	vm = left - 15*time.Second
	suite = min(full, vm-around)
	vm = min(vm, suite+around+time.Minute) // no longer than the guest's own bound needs
	if suite < 10*time.Second {
		return 0, 0, fmt.Errorf("go test -timeout leaves %s: too little to boot the guest and run a test (at least %s; a first run that builds a kernel needs -timeout 30m)",
			left.Round(time.Second), around+25*time.Second)
	}
	return suite, vm, nil
}

// GuestTag is the build tag of guest test files: go test on the host
// leaves them out, and the harness builds the guest's test binary with it.
const GuestTag = "netlguest"

// GoTests is a Go package's tests for the guest (pkg, a pattern go
// resolves in dir: the caller's module), as GuestTests is netl's suite:
// the suite, and the build that makes its binary in out (Run.Build).
func GoTests(dir, pkg, out string) (Suite, func() error) {
	s := Suite{Binary: filepath.Join(out, "guest.test")}
	return s, sync.OnceValue(func() error {
		if err := gobuild.Static(dir, "test", "-c", "-tags", GuestTag, "-o", s.Binary, pkg); err != nil {
			return fmt.Errorf("building the guest tests %s: %w", pkg, err)
		}
		if err := readInputs(dir, pkg); err != nil {
			return err
		}
		if _, err := os.Stat(s.Binary); err != nil {
			return fmt.Errorf("building the guest tests: %s has no test files (with the %s build tag)", pkg, GuestTag)
		}
		return nil
	})
}

// BenchSummary is the guest benchmarks' result lines and the ratio of each
// netlink figure to its UDP loopback baseline from the same VM; empty when
// no benchmark ran.
func BenchSummary(tests []*GuestTest) string {
	ns := make(map[string]float64)
	var lines []string
	for _, t := range tests {
		if !strings.HasPrefix(t.Name, "Benchmark") {
			continue
		}
		for _, l := range strings.Split(t.Output, "\n") {
			f := strings.Fields(l)
			if len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark") && f[3] == "ns/op" {
				var v float64
				if _, err := fmt.Sscanf(f[2], "%g", &v); err == nil {
					name := strings.SplitN(strings.TrimPrefix(f[0], "Benchmark"), "-", 2)[0]
					ns[name] = v
					lines = append(lines, strings.TrimSpace(l))
				}
			}
		}
	}
	if len(lines) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(strings.Join(lines, "\n"))
	for _, pair := range [][2]string{{"EchoRoundTrip", "UDPLoopbackRoundTrip"}, {"BroadcastFanout8", "UDPFanout8"}} {
		if a, ok := ns[pair[0]]; ok && ns[pair[1]] > 0 {
			fmt.Fprintf(&b, "\n%s: %.0f ns/op = %.2fx %s (%.0f ns/op); %.0f ops/s", pair[0], a, a/ns[pair[1]], pair[1], ns[pair[1]], 1e9/a)
		}
	}
	return b.String()
}
