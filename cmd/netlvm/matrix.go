package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/netl-dev/netl/internal/claims"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
)

// testCmd runs the guest suite on one series or on every pinned one, VMs
// side by side as far as the cores allow, and prints one table: rows are
// tests, columns are series. Each series' run is one harness.Result; one
// kernel's failure does not stop the others.
func testCmd(args []string) (int, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	series := fs.String("kernel", "", "pinned series, a comma-separated list, or all (default: "+kernel.DefaultSeries+" once built, else "+kernel.DefaultPrebuilt+")")
	// The VMs mostly wait on the guest suite's sleeps: measured here on 2
	// cores, four at once took 1.8x one series, two at once 2.4x.
	jobs := fs.Int("j", max(4, runtime.NumCPU()), "series tested at once")
	run := fs.String("run", "", "only guest tests matching this regexp")
	debug := fs.Bool("debug", false, "the debug flavour of each kernel")
	logDir := fs.String("logs", "", "directory for each series' results and console (default: the cache's logs/)")
	coverFlag := fs.Bool("cover", false, "the module's line and branch coverage (gcov; implies -debug): a table per series, an lcov tracefile and HTML in the logs")
	coverMin := fs.Float64("cover-min", 0, "with -cover: fail when the module's line coverage is below this percentage")
	module := fs.String("module", "", "with -guest: the module, a directory with a Kbuild (default: none loaded)")
	guestPkg := fs.String("guest", "", "a package of guest tests (build tag netlguest) in the current directory's Go module, instead of netl's suite")
	junit := fs.String("junit", "", "also write the results as JUnit XML here (a test suite per series)")
	timeout := fs.Duration("timeout", 0, "the guest tests' own timeout (default: 4m, 16m on the debug flavour)")
	if err := fs.Parse(args); err != nil {
		return 2, usageError(err.Error())
	}
	switch {
	case *guestPkg == "" && *module != "" && *module != "netl":
		return 2, usageError("test: netl's suite tests netl.ko; name the guest tests of module " + *module + " with -guest PKG")
	case *guestPkg == "":
		*module = "netl"
	case *module == "":
		*module = "none"
	}
	if *coverFlag {
		*debug = true
	}
	if *series == "" {
		*series = harness.DefaultKernel(*debug)
	}
	list, err := seriesList(*series, *debug)
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
	if *logDir == "" {
		*logDir = filepath.Join(cache, "logs")
	}
	if err := os.MkdirAll(*logDir, 0o755); err != nil {
		return 1, err
	}
	// The guest tests first: a compile error is the answer before minutes
	// of kernel builds.
	tmp, err := os.MkdirTemp("", "netl-test-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	var suite harness.Suite
	if *guestPkg != "" {
		var build func() error
		suite, build = harness.GoTests(".", *guestPkg, tmp)
		err = build()
	} else {
		suite, err = harness.BuildGuestTests(root, tmp)
	}
	if err != nil {
		return 1, err
	}
	suite.Run = *run
	suite.Full = os.Getenv("CI") != ""
	suite.Timeout = *timeout
	// Kernels, modules and the initramfs, one series at a time: a build
	// uses every core, and two at once only thrash. Then the suites, side
	// by side.
	sessions := make(map[string]*harness.Session)
	results := make(map[string]*seriesResult)
	for _, s := range list {
		sess, err := harness.Prepare(harness.Options{Series: s, Debug: *debug, Cover: *coverFlag, Module: *module, Progress: os.Stderr})
		if err != nil {
			fmt.Fprintf(os.Stderr, "netlvm: %s: %v\n", s, err)
			results[s] = &seriesResult{err: firstLine(err.Error()), tests: map[string]cell{}}
			continue
		}
		sessions[s] = sess
	}

	var mu sync.Mutex
	sem := make(chan struct{}, max(1, *jobs))
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range list {
		sess := sessions[s]
		if sess == nil {
			continue
		}
		wg.Add(1)
		go func(s string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := s + map[bool]string{true: "-debug"}[*debug]
			r := runSeries(sess, suite, *guestPkg == "", filepath.Join(*logDir, "test-"+name), *coverMin)
			mu.Lock()
			results[s] = r
			mu.Unlock()
			fmt.Fprintf(os.Stderr, "netl: %s: %s in %s\n", s, r.summary(), r.took.Round(time.Second))
		}(s)
	}
	wg.Wait()
	fmt.Print(matrixTable(list, results))
	for _, s := range list {
		fmt.Print(results[s].walk, results[s].cover)
	}
	fmt.Printf("\n%d series in %s; results and console logs in %s\n", len(list), time.Since(start).Round(time.Second), *logDir)
	if *junit != "" {
		if err := writeJUnit(*junit, list, results); err != nil {
			return 1, err
		}
	}
	for _, s := range list {
		if !results[s].ok {
			return 1, nil
		}
	}
	return 0, nil
}

type cell struct {
	state  string // pass, fail, skip
	reason string
	took   time.Duration
}

type seriesResult struct {
	ok    bool
	took  time.Duration
	tests map[string]cell
	err   string // the run itself failed (no kernel, no VM): why
	cover string // the coverage table and where its reports are (-cover)
	walk  string // the fault walk's failure points per request (debug flavour)
}

func (r *seriesResult) summary() string {
	n := map[string]int{}
	for _, c := range r.tests {
		n[c.state]++
	}
	if r.err != "" {
		return "error: " + r.err
	}
	return fmt.Sprintf("%d passed, %d failed, %d skipped", n["pass"], n["fail"], n["skip"])
}

// runSeries runs the guest suite on one prepared series and reads its one
// result: a cell per guest test, and whatever failed outside the tests.
// It keeps the console (PREFIX.console.log), a summary of the result
// (PREFIX.json) and the claims table in the logs.
func runSeries(sess *harness.Session, suite harness.Suite, netlSuite bool, prefix string, coverMin float64) *seriesResult {
	start := time.Now()
	run := sess.RunTests
	if netlSuite {
		run = sess.RunSuite
	}
	res, err := run(context.Background(), suite, harness.Run{ConsoleLog: prefix + ".console.log"})
	r := &seriesResult{took: time.Since(start), tests: map[string]cell{}}
	if res == nil {
		r.err = firstLine(err.Error())
		return r
	}
	ci := os.Getenv("CI") != ""
	failures := res.Failures(ci)
	for _, t := range res.Tests {
		c := cell{state: t.Action, reason: firstReason(t.Output), took: t.Elapsed}
		if c.state == "" {
			c.state = "fail"
		}
		for _, f := range failures {
			if f.Test == t.Name {
				c.state = "fail"
				if c.reason == "" || len(t.Reports) > 0 {
					c.reason = f.Reason
				}
			}
		}
		r.tests[testPrefix(netlSuite)+t.Name] = c
	}
	for _, f := range failures {
		// A test whose output died with the guest: the console named it.
		if _, ok := r.tests[testPrefix(netlSuite)+f.Test]; f.Test != "" && !ok {
			r.tests[testPrefix(netlSuite)+f.Test] = cell{state: "fail", reason: f.Reason}
		}
	}
	var outside []string
	for _, f := range failures {
		if f.Test == "" {
			outside = append(outside, f.Reason)
		}
	}
	var walk []string
	for _, t := range res.Tests {
		if !res.Debug || !netlSuite {
			break // the plain flavour's walk only says it did not run
		}
		for _, l := range strings.Split(t.Output, "\n") {
			if _, after, ok := strings.Cut(l, "fault walk: "); ok {
				walk = append(walk, "  "+after)
			}
		}
	}
	if len(walk) > 0 {
		r.walk = fmt.Sprintf("\nfault walk on %s (debug flavour):\n%s\n", res.Series, strings.Join(walk, "\n"))
	}
	if res.Cover != nil {
		var b strings.Builder
		if err := coverReport(&b, res, prefix, coverMin); err != nil {
			outside = append(outside, err.Error())
		}
		r.cover = b.String()
	}
	if len(outside) > 0 {
		r.err = strings.Join(outside, "; ")
	}
	r.ok = len(failures) == 0 && r.err == ""
	if netlSuite && suite.Run == "" && res.Completed() {
		got := claims.FromTests(res.Tests)
		name := res.Series + map[bool]string{true: "-debug"}[res.Debug]
		_ = os.WriteFile(filepath.Join(filepath.Dir(prefix), "claims-"+name+".md"), []byte(claims.Table(name+" ("+res.Release+")", got)), 0o644)
	}
	writeSummary(prefix+".json", res, failures)
	return r
}

// testPrefix names netl's guest tests as go test ./vmtest/... does
// (TestGuest/TestSeedUnicast, what -run takes there); a module's own guest
// tests (-guest) by their own names.
func testPrefix(netlSuite bool) string {
	if netlSuite {
		return "TestGuest/"
	}
	return ""
}

// writeJUnit writes the results as JUnit XML, for CI's test reports: a
// suite per series, a case per guest test, and a case "run" for what
// failed outside every test (a kernel that did not boot, a report during
// the module's load).
func writeJUnit(path string, list []string, results map[string]*seriesResult) error {
	type failure struct {
		Message string `xml:"message,attr"`
	}
	type tcase struct {
		Class   string   `xml:"classname,attr"`
		Name    string   `xml:"name,attr"`
		Time    float64  `xml:"time,attr"`
		Failure *failure `xml:"failure,omitempty"`
		Skipped *failure `xml:"skipped,omitempty"`
	}
	type suite struct {
		Name     string  `xml:"name,attr"`
		Tests    int     `xml:"tests,attr"`
		Failures int     `xml:"failures,attr"`
		Skipped  int     `xml:"skipped,attr"`
		Time     float64 `xml:"time,attr"`
		Cases    []tcase `xml:"testcase"`
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []suite  `xml:"testsuite"`
	}
	for _, s := range list {
		r := results[s]
		st := suite{Name: s, Time: r.took.Seconds()}
		names := make([]string, 0, len(r.tests))
		for n := range r.tests {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := r.tests[n]
			tc := tcase{Class: s, Name: strings.TrimPrefix(n, testPrefix(true)), Time: c.took.Seconds()}
			switch c.state {
			case "pass":
			case "skip":
				tc.Skipped = &failure{Message: c.reason}
				st.Skipped++
			default:
				tc.Failure = &failure{Message: c.reason}
				st.Failures++
			}
			st.Cases = append(st.Cases, tc)
		}
		if r.err != "" {
			st.Cases = append(st.Cases, tcase{Class: s, Name: "run", Failure: &failure{Message: r.err}})
			st.Failures++
		}
		st.Tests = len(st.Cases)
		doc.Suites = append(doc.Suites, st)
	}
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(data, '\n')...), 0o644)
}

// writeSummary keeps what CI uploads and a reader opens after a red run:
// each test's result and reports, and every failure, as JSON.
func writeSummary(path string, res *harness.Result, failures []harness.Failure) {
	type test struct {
		Name, Action string
		Seconds      float64
		Reports      []string `json:",omitempty"`
		Output       string
	}
	sum := struct {
		Series, Release, Accel, Stage, ConsoleLog string
		ExitCode                                  int
		TimedOut                                  bool
		Failures                                  []string
		Reports                                   []string `json:",omitempty"` // outside every test
		Tests                                     []test
		Phases                                    string
	}{Series: res.Series, Release: res.Release, Accel: res.Accel, Stage: res.Stage(), ConsoleLog: res.ConsoleLog,
		ExitCode: res.ExitCode(), TimedOut: res.TimedOut, Phases: res.Phases.String()}
	for _, f := range failures {
		sum.Failures = append(sum.Failures, f.String())
	}
	for _, r := range res.Unplaced() {
		sum.Reports = append(sum.Reports, r.String())
	}
	for _, t := range res.Tests {
		tt := test{Name: t.Name, Action: t.Action, Seconds: t.Elapsed.Seconds(), Output: t.Output}
		for _, r := range t.Reports {
			tt.Reports = append(tt.Reports, r.String())
		}
		sum.Tests = append(sum.Tests, tt)
	}
	data, _ := json.MarshalIndent(sum, "", "  ")
	_ = os.WriteFile(path, data, 0o644)
}

// firstReason picks the lines that say why a test failed or skipped:
// testify's "Error:" line and, when that only says an error came, the next.
func firstReason(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "===") {
			continue
		}
		for _, key := range []string{"Error:", "skipped", "SKIP", "panic:"} {
			if !strings.Contains(l, key) {
				continue
			}
			if strings.HasSuffix(l, ":") && i+1 < len(lines) {
				l += " " + strings.TrimSpace(lines[i+1])
			}
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func matrixTable(series []string, results map[string]*seriesResult) string {
	names := map[string]bool{}
	for _, r := range results {
		for n := range r.tests {
			names[n] = true
		}
	}
	var rows []string
	for n := range names {
		rows = append(rows, n)
	}
	sort.Strings(rows)
	var b strings.Builder
	fmt.Fprintf(&b, "%-60s", "TEST")
	for _, s := range series {
		fmt.Fprintf(&b, " %-8s", s)
	}
	b.WriteString("\n")
	var notes []string
	for _, n := range rows {
		fmt.Fprintf(&b, "%-60s", n)
		for _, s := range series {
			c, ok := results[s].tests[n]
			state := "-"
			if ok {
				state = c.state
				if c.state != "pass" && c.reason != "" {
					notes = append(notes, fmt.Sprintf("%s on %s: %s", n, s, c.reason))
				}
			}
			fmt.Fprintf(&b, " %-8s", state)
		}
		b.WriteString("\n")
	}
	for _, s := range series {
		if results[s].err != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", s, results[s].err))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}
