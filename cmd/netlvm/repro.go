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
	md := fs.String("markdown", "", "write the verdict table as Markdown here (default: repro.md in the cache's logs/)")
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
	list, err := seriesList(*series, false)
	if err != nil {
		return 2, err
	}
	code := 0
	var rows []repro.Verdict
	fmt.Printf("%-7s %-11s %-26s %-7s %-7s %s\n", "CASE", "KERNEL", "VERDICT", "BUGGY", "FIXED", "EVIDENCE")
	for _, c := range cases {
		for _, s := range list {
			start := time.Now()
			v := repro.Run(context.Background(), root, c, s, os.Stderr)
			if !v.OK() {
				code = 1
			}
			rows = append(rows, v)
			fmt.Printf("%-7s %-11s %-26s %-7s %-7s %s | netl.ko: %s (%s)\n", c.ID, s, v.Verdict,
				v.Buggy.Class, v.Fixed.Class, v.Reason, v.Fixed.Evidence, time.Since(start).Round(100*time.Millisecond))
		}
	}
	if *md == "" {
		dir, err := kernel.CacheDir()
		if err != nil {
			return 1, err
		}
		*md = filepath.Join(dir, "logs", "repro.md")
	}
	if err := os.WriteFile(*md, []byte(repro.Markdown(rows)), 0o644); err != nil {
		return 1, err
	}
	fmt.Printf("\nverdict table: %s\n", *md)
	return code, nil
}
