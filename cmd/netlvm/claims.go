package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/netl-dev/netl/internal/claims"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/repro"
)

// claimsCmd checks the seed's claims on each series, one series at a time:
// the guest suite (netl.ko loaded) for most, and the repro cases some
// claims name (C6: B5 on the seed's b1-fixed variant). It prints one table,
// a column per series; every cell comes from a test that could have failed,
// and a failed test reads "failed". It exits 1 when any claim has no
// verdict or failed.
func claimsCmd(args []string) (int, error) {
	fs := flag.NewFlagSet("claims", flag.ContinueOnError)
	series := fs.String("kernel", kernel.DefaultSeries, "pinned series, a comma-separated list, or all")
	md := fs.String("markdown", "", "write the table here (default: claims.md in the cache's logs/)")
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
	cache, err := kernel.CacheDir()
	if err != nil {
		return 1, err
	}
	all, err := repro.Load(filepath.Join(root, "vmtest", "repro"), "")
	if err != nil {
		return 1, err
	}
	var cases []repro.Case
	for _, c := range all {
		if slices.Contains(claims.Repros(), c.ID) {
			cases = append(cases, c)
		}
	}
	if len(cases) != len(claims.Repros()) {
		return 1, fmt.Errorf("the claims need repro cases %v; vmtest/repro has %d of them", claims.Repros(), len(cases))
	}
	tmp, err := os.MkdirTemp("", "netl-claims-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	suite, err := harness.BuildGuestTests(root, tmp)
	if err != nil {
		return 1, err
	}
	code := 0
	got := make(map[string]map[string]claims.Verdict)
	for _, s := range list {
		got[s] = make(map[string]claims.Verdict)
		sess, err := harness.Prepare(harness.Options{Series: s, Progress: os.Stderr})
		if err != nil {
			fmt.Fprintf(os.Stderr, "netlvm: %s: %v\n", s, err)
			code = 1
			continue
		}
		res, err := sess.RunSuite(context.Background(), suite,
			harness.Run{ConsoleLog: filepath.Join(cache, "logs", "claims-"+s+".console.log")})
		if res == nil {
			fmt.Fprintf(os.Stderr, "netlvm: %s: %v\n", s, err)
			code = 1
			continue
		}
		for _, f := range res.Failures(os.Getenv("CI") != "") {
			fmt.Fprintf(os.Stderr, "netlvm: %s: %s\n", s, f)
			code = 1
		}
		got[s] = claims.FromTests(res.Tests)
		for _, c := range cases {
			v := repro.Run(context.Background(), root, c, s, os.Stderr)
			claims.FromRepro(got[s], c.ID, v.Verdict, v.Reason)
			if !v.OK() {
				code = 1
			}
		}
		for id, v := range got[s] {
			if v.Verdict == "failed" {
				fmt.Fprintf(os.Stderr, "netlvm: %s: claim %s failed: %s\n", s, id, v.Evidence)
				code = 1
			}
		}
		for _, id := range claims.Missing(got[s]) {
			fmt.Fprintf(os.Stderr, "netlvm: %s: claim %s has no verdict\n", s, id)
			code = 1
		}
	}
	table := claims.MatrixTable(list, got)
	fmt.Print(table)
	if *md == "" {
		*md = filepath.Join(cache, "logs", "claims.md")
	}
	if err := os.WriteFile(*md, []byte(table), 0o644); err != nil {
		return 1, err
	}
	fmt.Printf("\nclaims table: %s\n", *md)
	return code, nil
}
