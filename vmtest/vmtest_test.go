package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/splat"
	"github.com/netl-dev/netl/vmtest/guest"
)

// TestGuest boots the kernel named by $NETL_KERNEL (default 6.12) with
// netl.ko loaded and runs the guest suite in it; each guest test appears as
// a subtest here.
func TestGuest(t *testing.T) {
	s := prepare(t, harness.Options{})
	share := t.TempDir()
	bin := buildGuestTests(t, s.Root)

	flavour := s.Kernel.Series
	if s.Kernel.Debug {
		flavour += "-debug"
	}
	logPath := filepath.Join(s.Cache, "logs", fmt.Sprintf("vmtest-%s.console.log", flavour))
	require.NoError(t, os.MkdirAll(filepath.Dir(logPath), 0o755))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := []string{"-test.v=test2json", "-test.timeout=4m"}
	if r := os.Getenv("NETL_GUEST_RUN"); r != "" {
		args = append(args, "-test.run="+r)
	}
	if b := os.Getenv("NETL_BENCH"); b != "" {
		args = append(args, "-test.bench="+b, "-test.benchmem")
	}
	res, err := s.Run(ctx, harness.Run{
		Program:    bin,
		Args:       args,
		Env:        []string{"NETL_MODULE=/netl/netl.ko", guest.MaxSeriesEnv + "=" + newestSeries(t)},
		Stdout:     "guest.out",
		Share:      share,
		ConsoleLog: logPath,
	})
	if res != nil {
		t.Logf("kernel %s (%s), accelerator %s (%s), console log %s", s.Kernel.Series, s.Kernel.Release, res.Accel, res.AccelReason, logPath)
		defer fmt.Fprintf(progressWriter(), "netl: phases: %s\n", s.Phases)
	}
	reports := scanConsole(t, logPath)
	if err != nil {
		for _, r := range reports {
			t.Errorf("%s", r)
		}
	}
	require.NoError(t, err, "the guest did not report back")
	require.NotNil(t, res.Status)
	require.Empty(t, res.Status.Error, "guest init failed at stage %s; console tail:\n%s", res.Status.Stage, strings.Join(res.Tail, "\n"))

	out, err := os.ReadFile(filepath.Join(share, "guest.out"))
	require.NoError(t, err, "the guest test binary wrote no output")
	tests := replay(t, out, reports)
	if os.Getenv("NETL_BENCH") == "" {
		require.NotEmpty(t, tests, "the guest ran no tests; output:\n%s\nconsole tail:\n%s", out, strings.Join(res.Tail, "\n"))
	}
	if res.Status.ExitCode != 0 && !anyFailed(tests) {
		t.Errorf("guest test binary exited %d with no failed test (panic or timeout?); output tail:\n%s\nconsole tail:\n%s",
			res.Status.ExitCode, tailOf(string(out), 30), strings.Join(res.Tail, "\n"))
	}
	reportClaims(t, s, string(out), anyFailed(tests))
	reportBenchmarks(t, string(out))
	t.Logf("phases: %s", s.Phases)
}

// reportClaims writes the claims table for this kernel: to the test log, to
// the cache's logs/, and to $NETL_CLAIMS_OUT when set (make claims). Every
// claim must have a verdict when no guest test failed.
func reportClaims(t *testing.T, s *harness.Session, out string, failed bool) {
	got := parseClaims(out)
	if len(got) == 0 && os.Getenv("NETL_GUEST_RUN") != "" {
		// A run of other tests (make bench, one test) leaves the last
		// claims table in place rather than one of "not checked".
		return
	}
	table := claimsTable(fmt.Sprintf("%s (%s)", s.Kernel.Series, s.Kernel.Release), got)
	t.Logf("seed claims on %s:\n%s", s.Kernel.Release, table)
	path := filepath.Join(s.Cache, "logs", fmt.Sprintf("claims-%s.md", s.Kernel.Series))
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Errorf("writing %s: %v", path, err)
	}
	if p := os.Getenv("NETL_CLAIMS_OUT"); p != "" {
		if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
			t.Errorf("writing %s: %v", p, err)
		}
	}
	if failed || os.Getenv("NETL_GUEST_RUN") != "" {
		return
	}
	for _, c := range seedClaims {
		if _, ok := got[c.ID]; !ok {
			t.Errorf("claim %s has no verdict: its guest test did not record one", c.ID)
		}
	}
}

// reportBenchmarks shows the guest's benchmark lines and the ratio of each
// netlink figure to its UDP loopback baseline from the same VM.
func reportBenchmarks(t *testing.T, out string) {
	ns := make(map[string]float64)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark") && f[3] == "ns/op" {
			var v float64
			if _, err := fmt.Sscanf(f[2], "%g", &v); err == nil {
				name := strings.SplitN(strings.TrimPrefix(f[0], "Benchmark"), "-", 2)[0]
				ns[name] = v
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString(strings.Join(lines, "\n"))
	for _, pair := range [][2]string{{"EchoRoundTrip", "UDPLoopbackRoundTrip"}, {"BroadcastFanout8", "UDPFanout8"}} {
		if a, ok := ns[pair[0]]; ok && ns[pair[1]] > 0 {
			fmt.Fprintf(&b, "\n%s: %.0f ns/op = %.2fx %s (%.0f ns/op); %.0f ops/s", pair[0], a, a/ns[pair[1]], pair[1], ns[pair[1]], 1e9/a)
		}
	}
	t.Logf("guest benchmarks:\n%s", b.String())
	fmt.Fprintf(progressWriter(), "netl: guest benchmarks:\n%s\n", b.String())
}

// newestSeries is the newest pinned series: a guest test gated above it
// fails (guest.SkipOnOldKernel).
func newestSeries(t *testing.T) string {
	pins, err := kernel.Pins()
	require.NoError(t, err)
	s := kernel.Series(pins)
	return s[len(s)-1]
}

// prepare builds or finds the kernel, module and initramfs. Without QEMU
// or the build tools it skips on a laptop, saying why, and fails in CI: a
// VM test never silently skips there.
func prepare(t *testing.T, opts harness.Options) *harness.Session {
	t.Helper()
	if opts.Series == "" {
		opts.Series = os.Getenv("NETL_KERNEL")
	}
	if opts.Series == "" {
		opts.Series = kernel.DefaultSeries
	}
	if opts.KernelSrc == "" {
		opts.KernelSrc = os.Getenv("NETL_KERNEL_SRC")
	}
	opts.Debug = opts.Debug || os.Getenv("NETL_DEBUG") != ""
	opts.Progress = progressWriter()
	s, err := harness.Prepare(opts)
	if errors.Is(err, harness.ErrMissingDeps) && os.Getenv("CI") == "" {
		t.Skipf("VM tests need host packages (set CI=1 to make this a failure): %v", err)
	}
	require.NoError(t, err)
	return s
}

// progressWriter is the terminal when there is one: `go test` holds a
// package's output until it ends, and a first run builds a kernel for
// minutes.
func progressWriter() io.Writer {
	if f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		return f
	}
	return os.Stderr
}

// buildGuestTests compiles the guest suite as a static test binary.
func buildGuestTests(t *testing.T, root string) string {
	t.Helper()
	bin, err := harness.BuildGuestTests(root, t.TempDir())
	require.NoError(t, err)
	return bin
}

type testEvent struct {
	Action  string
	Test    string
	Output  string
	Elapsed float64
}

type guestTest struct {
	name   string
	action string // pass, fail, skip
	output strings.Builder
}

// knownReports are kernel reports that do not fail a run, each with its
// reason. Empty: every report fails the test it happened in.
var knownReports []splat.Allow

// scanConsole finds the kernel's reports in the console log.
func scanConsole(t *testing.T, logPath string) []splat.Report {
	t.Helper()
	console, err := os.ReadFile(logPath)
	require.NoError(t, err, "the console log")
	reports, err := splat.Scan(string(console), splat.Patterns, knownReports)
	require.NoError(t, err)
	return reports
}

// replay turns the guest's test2json stream into host subtests, each with
// the guest test's output, result and reason, and fails a test during which
// the kernel reported a bug, with the report. Reports outside any test fail
// the parent.
func replay(t *testing.T, raw []byte, reports []splat.Report) []*guestTest {
	t.Helper()
	cmd := exec.Command("go", "tool", "test2json", "-t")
	cmd.Stdin = bytes.NewReader(raw)
	js, err := cmd.Output()
	require.NoError(t, err, "go tool test2json")

	var order []*guestTest
	byName := make(map[string]*guestTest)
	sc := bufio.NewScanner(bytes.NewReader(js))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e testEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Test == "" {
			continue
		}
		top, _, _ := strings.Cut(e.Test, "/")
		g := byName[top]
		if g == nil {
			g = &guestTest{name: top}
			byName[top] = g
			order = append(order, g)
		}
		switch e.Action {
		case "output":
			g.output.WriteString(e.Output)
		case "pass", "fail", "skip", "bench":
			if e.Test == top {
				g.action = e.Action
				if e.Action == "bench" { // a finished benchmark
					g.action = "pass"
				}
			}
		}
	}
	for _, g := range order {
		// test2json ends a benchmark with its result line, not an action.
		if g.action == "" && strings.HasPrefix(g.name, "Benchmark") && strings.Contains(g.output.String(), "ns/op") {
			g.action = "pass"
		}
	}
	byTest := make(map[string][]splat.Report)
	for _, r := range reports {
		top, _, _ := strings.Cut(r.Test, "/")
		if byName[top] == nil {
			t.Errorf("%s", r) // outside any test, or in one that never reported
			continue
		}
		byTest[top] = append(byTest[top], r)
	}
	for _, g := range order {
		t.Run(g.name, func(t *testing.T) {
			for _, r := range byTest[g.name] {
				t.Errorf("%s", r)
			}
			out := strings.TrimRight(g.output.String(), "\n")
			switch g.action {
			case "pass":
				t.Log("\n" + out)
			case "skip":
				if os.Getenv("CI") != "" {
					t.Errorf("skipped in the guest, and CI allows no skips:\n%s", out)
					return
				}
				t.Skip("\n" + out)
			case "fail":
				t.Error("\n" + out)
			default:
				t.Errorf("never finished in the guest (timeout or crash):\n%s", out)
			}
		})
	}
	return order
}

func anyFailed(tests []*guestTest) bool {
	for _, g := range tests {
		if g.action != "pass" && g.action != "skip" {
			return true
		}
	}
	return false
}

func tailOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
