package main

import (
	"fmt"
	"io"

	"github.com/netl-dev/netl/internal/harness"
)

// coverReport writes a run's coverage beside its other logs (PREFIX.lcov,
// PREFIX.uncovered.txt, PREFIX.html/) and prints the table with where they
// are. It fails when the module's line coverage is below min (percent; 0
// checks nothing).
func coverReport(w io.Writer, res *harness.Result, prefix string, min float64) error {
	p := res.Cover
	if err := p.WriteReport(w, prefix, fmt.Sprintf("%s.ko on %s (%s), debug flavour", p.Module, res.Series, res.Release)); err != nil {
		return err
	}
	if t := p.Totals(); min > 0 && t.LinePercent() < min {
		return fmt.Errorf("line coverage of %s on %s is %.1f%%, below -cover-min %.1f%%", p.Module, res.Series, t.LinePercent(), min)
	}
	return nil
}
