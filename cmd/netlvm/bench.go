package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

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
	list, err := seriesList(*series)
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
	return nil
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
