package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/netl-dev/netl/internal/cover"
	"github.com/netl-dev/netl/internal/harness"
)

// coverReport writes a run's coverage beside its other logs: PREFIX.lcov
// (the tracefile), PREFIX.uncovered.txt (every line that never ran, with
// its function) and PREFIX.html/ (genhtml), and prints the table with
// where they are. It fails when the module's line coverage is below min
// (percent; 0 checks nothing).
func coverReport(w io.Writer, res *harness.Result, prefix string, min float64) error {
	p := res.Cover
	title := fmt.Sprintf("%s.ko on %s (%s), debug flavour", p.Module, res.Series, res.Release)
	fmt.Fprintf(w, "\ncoverage of %s:\n", title)
	if err := p.WriteTable(w); err != nil {
		return err
	}
	f, err := os.Create(prefix + ".lcov")
	if err != nil {
		return err
	}
	if err := p.WriteLcov(f, strings.NewReplacer(".", "_", "-", "_").Replace(res.Series)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	unc := p.Uncovered()
	if err := os.WriteFile(prefix+".uncovered.txt", []byte(strings.Join(unc, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	html := prefix + ".html"
	_ = os.RemoveAll(html)
	if err := cover.HTML(prefix+".lcov", html, title); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d uncovered blocks: %s\ntracefile %s\nHTML %s\n", len(unc), prefix+".uncovered.txt", prefix+".lcov", filepath.Join(html, "index.html"))
	if t := p.Totals(); min > 0 && t.LinePercent() < min {
		return fmt.Errorf("line coverage of %s on %s is %.1f%%, below -cover-min %.1f%%", p.Module, res.Series, t.LinePercent(), min)
	}
	return nil
}
