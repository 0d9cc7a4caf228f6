package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/repro"
)

// reproCmd runs reported-bug cases (vmtest/repro/<ID>/) and prints, per
// case and series, whether the bug shows on the buggy module and not on
// netl.ko, with the evidence and the time to verdict.
func reproCmd(args []string) (int, error) {
	fs := flag.NewFlagSet("repro", flag.ContinueOnError)
	series := fs.String("kernel", kernel.DefaultSeries, "pinned series, a comma-separated list, or all")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2, usageError(err.Error())
	}
	if len(pos) > 1 {
		return 2, usageError("repro takes at most one case ID")
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return 1, err
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	cases, err := repro.Load(filepath.Join(root, "vmtest", "repro"), id)
	if err != nil {
		return 1, err
	}
	list, err := seriesList(*series)
	if err != nil {
		return 2, err
	}
	code := 0
	fmt.Printf("%-4s %-6s %-14s %-8s %-9s %s\n", "CASE", "KERNEL", "VERDICT", "BUGGY", "FIXED", "EVIDENCE")
	for _, c := range cases {
		for _, s := range list {
			start := time.Now()
			v := repro.Run(context.Background(), root, c, s, os.Stderr)
			verdict := "reproduced"
			switch {
			case v.Buggy.Failed || v.Fixed.Failed:
				// Not a verdict on the bug: the harness could not run it.
				verdict, code = "error", 1
			case !v.Reproduced:
				verdict = "not reproduced"
				if c.Expect.Kind != "none" {
					code = 1
				}
			}
			fmt.Printf("%-4s %-6s %-14s %-8s %-9s %s: %s | netl.ko: %s (%s)\n", c.ID, s, verdict,
				shown(v.Buggy.Showed), shown(v.Fixed.Showed), c.Module, v.Buggy.Evidence, v.Fixed.Evidence,
				time.Since(start).Round(100*time.Millisecond))
		}
	}
	return code, nil
}

func shown(b bool) string {
	if b {
		return "shows"
	}
	return "absent"
}
