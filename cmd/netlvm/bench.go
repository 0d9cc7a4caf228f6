package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netl-dev/netl/internal/cache"
	"github.com/netl-dev/netl/internal/floor"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
)

// benchCmd measures, per series, the floor (a bare QEMU boot of the same
// kernel with an init that resets at once) and each phase of a warm
// harness run of the guest suite, n times each, and prints min and median
// and the ratio of a run to floor + the tests' own time. Runs are
// sequential: side-by-side runs would measure each other.
func benchCmd(args []string) (int, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	series := fs.String("kernel", kernel.DefaultSeries, "pinned series, a comma-separated list, or all")
	n := fs.Int("n", 5, "runs of each")
	if err := fs.Parse(args); err != nil {
		return 2, usageError(err.Error())
	}
	list, err := seriesList(*series, false)
	if err != nil {
		return 2, err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return 1, err
	}
	tmp, err := os.MkdirTemp("", "netl-bench-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	floorCPIO, err := floor.Initramfs(root, tmp)
	if err != nil {
		return 1, err
	}
	suite, err := harness.BuildGuestTests(root, tmp)
	if err != nil {
		return 1, err
	}
	for _, s := range list {
		if err := benchSeries(s, *n, floorCPIO, suite); err != nil {
			return 1, fmt.Errorf("%s: %w", s, err)
		}
	}
	return 0, nil
}

func benchSeries(series string, n int, floorCPIO string, suite harness.Suite) error {
	sess, err := harness.Prepare(harness.Options{Series: series, Progress: os.Stderr})
	if err != nil {
		return err
	}
	var floorWall, prep, wall, boot, clock, prog []time.Duration
	for i := 0; i < n; i++ {
		fw, err := sess.BareBoot(context.Background(), floorCPIO)
		if err != nil {
			return fmt.Errorf("floor boot: %w", err)
		}
		floorWall = append(floorWall, fw)

		// A warm harness run as `go test ./vmtest/...` makes it: find
		// the kernel, module and initramfs in the cache, boot, test.
		start := time.Now()
		s, err := harness.Prepare(harness.Options{Series: series, Progress: os.Stderr})
		if err != nil {
			return err
		}
		prep = append(prep, time.Since(start))
		// The same suite run as go test ./vmtest/... makes (RunSuite).
		r, err := s.RunSuite(context.Background(), suite, harness.Run{})
		if err != nil {
			return fmt.Errorf("harness run: %w", err)
		}
		if f := r.Failures(false); len(f) > 0 {
			return fmt.Errorf("the guest suite failed (%s; console %s): a benchmark of a failing run measures nothing", f[0], r.ConsoleLog)
		}
		wall = append(wall, time.Since(start))
		boot = append(boot, r.Phases.Boot)
		clock = append(clock, r.Phases.Clock)
		prog = append(prog, r.Phases.Program)
	}
	fmt.Printf("kernel %s (%s), %d runs each, accelerator as printed by netlvm run\n", series, sess.Kernel.Release, n)
	row := func(name string, d []time.Duration) {
		fmt.Printf("  %-44s min %8s  median %8s\n", name, stat(d, 0), stat(d, 50))
	}
	row("floor: bare boot, init resets at once", floorWall)
	row("harness: cache look-ups (kernel, module, initramfs)", prep)
	row("harness: boot to netl's init (guest uptime)", boot)
	row("harness: waiting for high-res timers", clock)
	row("harness: the guest suite", prog)
	row("harness: total, lookup to exit", wall)
	over := make([]time.Duration, len(wall))
	for i := range wall {
		over[i] = wall[i] - prog[i] - clock[i] - boot[i] - prep[i]
	}
	row("harness: the rest (firmware, module load, reset)", over)
	ratio := float64(median(wall)) / float64(median(floorWall)+median(prog))
	fmt.Printf("  ratio: median total / (median floor + median suite) = %.2f\n", ratio)

	// The edit loop as a module developer lives it: change netl.c, run
	// the README's main command, read the verdict. Each run edits the
	// source (a comment), so the module is rebuilt as after a real edit.
	var loop, longest []time.Duration
	for i := 0; i < n; i++ {
		d, l, err := editLoop(series, i)
		if err != nil {
			return err
		}
		loop, longest = append(loop, d), append(longest, l)
	}
	row("edit loop: go test ./vmtest/... after an edit", loop)
	row("edit loop: the longest guest test", longest)
	fmt.Printf("  ratio: median edit loop / (median floor + median longest test) = %.2f\n",
		float64(median(loop))/float64(median(floorWall)+median(longest)))
	return nil
}

// guestElapsed matches a guest test's result line in go test -v output:
// the guest's own "--- PASS: TestX (1.07s)", indented under TestGuest's.
var guestElapsed = regexp.MustCompile(`(?m)^\s{8}--- (?:PASS|FAIL): (Test\w+) \(([0-9.]+)s\)$`)

// benchEdit is the comment editLoop appends to netl.c.
var benchEdit = regexp.MustCompile(`(?m)^/\* netlvm bench edit [0-9]+ [0-9]+ \*/\n\z`)

// editLoop appends a comment to kmod/netl.c, runs go test -count=1 -v
// ./vmtest/... on series as a developer would (the plain flavour, no CI
// mode), puts netl.c back, and returns the command's wall time and the
// longest guest test's. An interrupt (SIGINT, SIGTERM, SIGHUP) stops the
// run and still puts netl.c back; a comment an earlier, killed run left is
// removed first.
func editLoop(series string, i int) (time.Duration, time.Duration, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return 0, 0, err
	}
	src := filepath.Join(root, "kmod", "netl.c")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, 0, err
	}
	orig := benchEdit.ReplaceAll(data, nil)
	if len(orig) != len(data) {
		fmt.Fprintf(os.Stderr, "netlvm: removing the bench comment an interrupted run left in %s\n", src)
	}
	edit := fmt.Appendf(slices.Clone(orig), "/* netlvm bench edit %d %d */\n", time.Now().UnixNano(), i)
	if err := cache.WriteFile(src, edit, 0o644); err != nil {
		return 0, 0, err
	}
	defer func() {
		// Only our edit is undone: a change made meanwhile stays.
		if cur, err := os.ReadFile(src); err == nil && !bytes.Equal(cur, edit) {
			fmt.Fprintf(os.Stderr, "netlvm: %s changed during the bench: left as it is (remove the line \"/* netlvm bench edit ... */\" by hand)\n", src)
			return
		}
		if err := cache.WriteFile(src, orig, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "netlvm: restoring %s: %v\n", src, err)
		}
	}()

	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "./vmtest/...")
	cmd.Dir = root
	// The developer's loop: the plain flavour, not CI's long tests.
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "CI=") || strings.HasPrefix(kv, "NETL_DEBUG=")
	}), "NETL_KERNEL="+series)
	// go test, its test binary and QEMU go together on an interrupt.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if ctx.Err() != nil {
		return 0, 0, fmt.Errorf("interrupted; %s is put back", src)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("go test ./vmtest/... after an edit failed (%v): a benchmark of a failing run measures nothing:\n%s", err, out)
	}
	var longest time.Duration
	for _, m := range guestElapsed.FindAllStringSubmatch(string(out), -1) {
		if sec, err := strconv.ParseFloat(m[2], 64); err == nil {
			longest = max(longest, time.Duration(sec*float64(time.Second)))
		}
	}
	if longest == 0 {
		return 0, 0, fmt.Errorf("no guest test result in go test's output:\n%s", out)
	}
	return took, longest, nil
}

func stat(d []time.Duration, pct int) string {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*pct/100].Round(10 * time.Millisecond).String()
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
