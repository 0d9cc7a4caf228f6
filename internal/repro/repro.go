// Package repro runs reported module bugs: each case in vmtest/repro/<ID>/
// names a buggy module, a reproducer and what the bug shows (a kernel
// report, a hang, a build failure, or the reproducer's own finding). A case
// runs twice on a kernel, on the buggy module and on the fixed netl.ko,
// with the same reproducer, and Decide turns the two outcomes into a
// verdict by one rule:
//
//   - reproduced: the bug showed on the buggy module, after the reproducer
//     started (or armed), and the fixed run completed, the reproducer
//     exited 0, and the kernel reported nothing at all;
//   - not a bug on this kernel: neither run showed anything, and the case
//     says why the bug cannot exist there (a check that could have failed
//     ran and passed);
//   - not reproduced: the buggy run was clean where the bug should show;
//   - error: anything else on either side (a timeout or a report of
//     another kind, a module that did not load, a reproducer that failed, a
//     harness that could not run it), with the reason. Never a verdict.
package repro

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/gobuild"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/splat"
)

// Expect is what a case should show on the buggy module.
type Expect struct {
	// Kind:
	//   report   a kernel report whose title matches Pattern (and, when
	//            set, one of whose lines matches Frame);
	//   hang     the guest stops answering after the reproducer started,
	//            and is killed at the timeout;
	//   exit     the reproducer itself sees the bug and exits
	//            contract.ReproShownExit (a finding no kernel report
	//            carries: bytes that should not reach user space);
	//   build-failure  the compiler's output matches Pattern;
	//   absent   a bug that these kernels may not have: a kernel report
	//            after the reproducer started, or a failed check (the
	//            reproducer exits contract.ReproShownExit with its SHOWN:
	//            line), shows it; "not a bug on this kernel" when both
	//            modules run clean.
	Kind    string `json:"kind"`
	Pattern string `json:"pattern,omitempty"`
	Frame   string `json:"frame,omitempty"`
	// Line, for hang and exit: a line the reproducer printed that says
	// what it saw, so that another hang or exit is not taken for the bug.
	Line string `json:"line,omitempty"`
	// After "armed": only reports after the reproducer's
	// contract.MarkArmed count (it provokes and clears a baseline first,
	// as B4 does with kmemleak). Default: after the program started.
	After string `json:"after,omitempty"`
}

// Case is one reported bug, read from vmtest/repro/<ID>/case.json.
type Case struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Module    string `json:"module"` // a key of Modules
	ModParams string `json:"modparams"`
	// FixedModParams are netl.ko's parameters: the same load as the
	// buggy module's, so that "absent" means fixed, not switched off.
	FixedModParams string   `json:"fixed_modparams"`
	Program        string   `json:"program"` // a Go main package in the case directory
	Args           []string `json:"args"`
	Debug          bool     `json:"debug"`
	Cmdline        []string `json:"cmdline"`
	Timeout        string   `json:"timeout"`
	Expect         Expect   `json:"expect"`
	// NotABug names the series where the buggy code is harmless, with the
	// reason (B7: the kernel does the same thing either way); a clean run
	// of both there reads "not a bug on this kernel".
	NotABug map[string]string `json:"not_a_bug,omitempty"`

	Dir     string `json:"-"`
	timeout time.Duration
	pattern *regexp.Regexp
	frame   *regexp.Regexp
	line    *regexp.Regexp
}

// Modules are the buggy modules a case may name, by their directory.
var Modules = map[string]string{
	"seed":          "kmod/seed",
	"seed-original": "kmod/seed/original",
	"seed-b1-fixed": "kmod/seed/b1-fixed",
}

// Load reads every case under dir (vmtest/repro), or only id.
func Load(dir, id string) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "case.json"))
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var c Case
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		c.Dir = filepath.Dir(p)
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if id == "" || strings.EqualFold(c.ID, id) {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("no repro case %q under %s", id, dir)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].ID < cases[j].ID })
	return cases, nil
}

func (c *Case) check() error {
	if _, ok := Modules[c.Module]; !ok {
		return fmt.Errorf("module %q: want one of seed, seed-original, seed-b1-fixed", c.Module)
	}
	var err error
	if c.timeout, err = time.ParseDuration(c.Timeout); err != nil {
		return fmt.Errorf("timeout: %w", err)
	}
	if err := harness.CheckModParams(c.ModParams); err != nil {
		return err
	}
	if err := harness.CheckModParams(c.FixedModParams); err != nil {
		return err
	}
	switch c.Expect.Kind {
	case "report", "build-failure":
		if c.pattern, err = regexp.Compile(c.Expect.Pattern); err != nil || c.Expect.Pattern == "" {
			return fmt.Errorf("expect %s needs a pattern (%v)", c.Expect.Kind, err)
		}
	case "hang", "exit":
		if c.line, err = regexp.Compile(c.Expect.Line); err != nil || c.Expect.Line == "" {
			return fmt.Errorf("expect %s needs the line the reproducer prints when it sees the bug (%v)", c.Expect.Kind, err)
		}
	case "absent":
		if c.Expect.Pattern != "" || c.Expect.Line != "" {
			return fmt.Errorf("expect absent takes no pattern or line")
		}
	default:
		return fmt.Errorf("expect kind %q: want report, hang, exit, build-failure or absent", c.Expect.Kind)
	}
	if c.Expect.Frame != "" {
		if c.frame, err = regexp.Compile(c.Expect.Frame); err != nil {
			return fmt.Errorf("expect frame: %w", err)
		}
	}
	switch c.Expect.After {
	case "", "program", "armed":
	default:
		return fmt.Errorf("expect after %q: want program or armed", c.Expect.After)
	}
	if c.Expect.Kind != "build-failure" {
		if _, err := os.Stat(filepath.Join(c.Dir, c.Program, "main.go")); err != nil {
			return fmt.Errorf("program: %w", err)
		}
	}
	return nil
}

// Class sorts what one run showed.
type Class string

const (
	Shown Class = "shown" // the expected report, hang, finding or build failure
	Clean Class = "clean" // completed, exit 0, no kernel report of any kind
	Other Class = "other" // anything else: no verdict can rest on it
)

// Outcome is what one module showed under the reproducer.
type Outcome struct {
	Module   string
	Class    Class
	Evidence string // what was seen, or why the run is neither shown nor clean
	Log      string // the console log
	Took     time.Duration
}

// Verdicts.
const (
	Reproduced    = "reproduced"
	NotABug       = "not a bug on this kernel"
	NotReproduced = "not reproduced"
	Error         = "error"
	// NoDebugFlavour: the case needs the debug flavour (KASAN,
	// kmemleak, ...), and the series is Debian's prebuilt kernel, which
	// has none. Nothing ran; the table says so.
	NoDebugFlavour = "not run: no debug flavour"
)

// Verdict is a case on one kernel: the buggy module and the fixed one.
type Verdict struct {
	Case    Case
	Series  string
	Buggy   Outcome
	Fixed   Outcome
	Verdict string
	Reason  string
}

// OK: the verdict is one the case allows (reproduced where the case
// expects the bug, not a bug where it says so); anything else makes
// netlvm repro exit 1: a bug shown where the case calls it harmless means
// the case is wrong, and someone must look.
func (v Verdict) OK() bool {
	_, harmless := v.Case.NotABug[v.Series]
	return (v.Verdict == Reproduced && !harmless) || v.Verdict == NotABug || v.Verdict == NoDebugFlavour
}

// Decide applies the rule in the package comment.
func Decide(c Case, series string, buggy, fixed Outcome) (verdict, reason string) {
	switch {
	case buggy.Class == Other:
		return Error, fmt.Sprintf("%s run: %s", buggy.Module, buggy.Evidence)
	case fixed.Class == Other:
		return Error, fmt.Sprintf("netl.ko run: %s", fixed.Evidence)
	case fixed.Class == Shown:
		return Error, "netl.ko shows the bug too: " + fixed.Evidence
	case buggy.Class == Shown:
		return Reproduced, buggy.Evidence
	}
	if why, ok := c.NotABug[series]; ok {
		return NotABug, why
	}
	return NotReproduced, fmt.Sprintf("%s ran clean (%s)", buggy.Module, buggy.Evidence)
}

// Classify reads one run's result against the case. res is nil when the
// harness could not run it, with setupErr saying why (for a build-failure
// case, the compiler's output).
func Classify(c Case, module string, res *harness.Result, setupErr error) Outcome {
	o := Outcome{Module: module}
	if c.Expect.Kind == "build-failure" {
		switch {
		case setupErr == nil:
			o.Class, o.Evidence = Clean, "built"
		case firstMatch(c.pattern, setupErr.Error()) != "":
			o.Class, o.Evidence = Shown, firstMatch(c.pattern, setupErr.Error())
		default:
			o.Class, o.Evidence = Other, "setup failed otherwise: "+firstLine(setupErr.Error())
		}
		return o
	}
	if res == nil {
		o.Class, o.Evidence = Other, "the harness could not run it: "+firstLine(errString(setupErr))
		return o
	}
	o.Log = res.ConsoleLog
	counted, baseline := c.counted(res.Reports)
	switch c.Expect.Kind {
	case "report":
		for _, r := range counted {
			if c.pattern.MatchString(r.Title) && (c.frame == nil || anyMatch(c.frame, r.Lines)) {
				o.Class, o.Evidence = Shown, r.Title
				return o
			}
		}
	case "hang":
		if l := firstMatchOf(c.line, res.ProgramLines); res.TimedOut && l != "" && len(res.Reports) == 0 {
			o.Class, o.Evidence = Shown, fmt.Sprintf("killed at the %s timeout after: %s", c.timeout, l)
			return o
		}
	case "exit":
		if l := firstMatchOf(c.line, res.ProgramLines); res.Completed() && res.ExitCode() == contract.ReproShownExit && l != "" && len(res.Reports) == 0 {
			o.Class, o.Evidence = Shown, l
			return o
		}
	case "absent":
		if len(counted) > 0 {
			o.Class, o.Evidence = Shown, fmt.Sprintf("kernel %s: %s", counted[0].Kind, counted[0].Title)
			return o
		}
		if l := firstMatchOf(shownLine, res.ProgramLines); res.Completed() && res.ExitCode() == contract.ReproShownExit && l != "" {
			o.Class, o.Evidence = Shown, "the reproducer's check failed: "+l
			return o
		}
	}
	// Not shown: clean only when nothing at all went wrong.
	var other []splat.Report
	for _, r := range res.Reports {
		if !baseline(r) {
			other = append(other, r)
		}
	}
	switch {
	case res.TimedOut:
		o.Class, o.Evidence = Other, fmt.Sprintf("timed out after %s; last console line: %s", c.timeout, lastOf(res.Tail))
	case res.Err != nil:
		o.Class, o.Evidence = Other, firstLine(res.Err.Error())
	case len(other) > 0:
		o.Class, o.Evidence = Other, fmt.Sprintf("kernel %s (not the case's): %s", other[0].Kind, other[0].Title)
	case res.Status == nil:
		o.Class, o.Evidence = Other, "the guest reported no status"
	case res.Stage() != contract.StageDone:
		o.Class, o.Evidence = Other, fmt.Sprintf("stopped at stage %s: %s", res.Stage(), res.Status.Error)
	case res.ExitCode() != 0:
		o.Class, o.Evidence = Other, fmt.Sprintf("the reproducer exited %d: %s", res.ExitCode(), lastOf(res.ProgramLines))
	default:
		o.Class, o.Evidence = Clean, "completed, exit 0, no kernel report"
	}
	return o
}

// counted are the reports that can show the bug: after the program
// started, or after it armed. baseline says which reports are the
// reproducer's own setup (kmemleak's findings before it armed), which
// neither side counts.
func (c Case) counted(reports []splat.Report) ([]splat.Report, func(splat.Report) bool) {
	baseline := func(r splat.Report) bool {
		return c.Expect.After == "armed" && r.InProgram && !r.Armed && r.Kind == "kmemleak"
	}
	var out []splat.Report
	for _, r := range reports {
		if !r.InProgram || (c.Expect.After == "armed" && !r.Armed) {
			continue
		}
		out = append(out, r)
	}
	return out, baseline
}

// Run runs c on series: the buggy module, then netl.ko.
func Run(ctx context.Context, root string, c Case, series string, progress io.Writer) Verdict {
	v := Verdict{Case: c, Series: series}
	if c.Debug && kernel.IsPrebuilt(series) {
		v.Verdict, v.Reason = NoDebugFlavour, fmt.Sprintf("%s needs the debug flavour, and %s is Debian's prebuilt kernel", c.ID, series)
		return v
	}
	bin := ""
	if c.Expect.Kind != "build-failure" {
		dir, err := os.MkdirTemp("", "netl-repro-bin-")
		if err != nil {
			v.Verdict, v.Reason = Error, err.Error()
			return v
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, c.ID)
		if err := gobuild.Static(c.Dir, "build", "-o", bin, "./"+c.Program); err != nil {
			v.Verdict, v.Reason = Error, fmt.Sprintf("building the %s reproducer: %v", c.ID, err)
			return v
		}
	}
	v.Buggy = c.runOne(ctx, filepath.Join(root, Modules[c.Module]), c.Module, c.ModParams, series, bin, progress)
	v.Fixed = c.runOne(ctx, "netl", "netl", c.FixedModParams, series, bin, progress)
	v.Verdict, v.Reason = Decide(c, series, v.Buggy, v.Fixed)
	return v
}

func (c Case) runOne(ctx context.Context, module, name, params, series, bin string, progress io.Writer) Outcome {
	start := time.Now()
	s, err := harness.Prepare(harness.Options{Series: series, Debug: c.Debug, Module: module,
		ModParams: params, Timeout: c.timeout, Append: c.Cmdline, Progress: progress})
	var o Outcome
	switch {
	case err != nil || c.Expect.Kind == "build-failure":
		o = Classify(c, name, nil, err)
	default:
		logPath := filepath.Join(s.Cache, "logs", fmt.Sprintf("repro-%s-%s-%s.console.log", c.ID, series, name))
		res, runErr := s.Run(ctx, harness.Run{Program: bin, Args: c.Args, ConsoleLog: logPath})
		o = Classify(c, name, res, runErr)
	}
	o.Took = time.Since(start)
	return o
}

func firstMatch(re *regexp.Regexp, text string) string {
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// shownLine is what reprokit.Shown prints.
var shownLine = regexp.MustCompile(`SHOWN: `)

func firstMatchOf(re *regexp.Regexp, lines []string) string {
	for _, l := range lines {
		if re.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func anyMatch(re *regexp.Regexp, lines []string) bool {
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func errString(err error) string {
	if err == nil {
		return "no result and no error"
	}
	return err.Error()
}

func lastOf(lines []string) string {
	if len(lines) == 0 {
		return "(none)"
	}
	return lines[len(lines)-1]
}

// Markdown renders verdicts as a table: the README's repro table and the
// CI job summary.
func Markdown(rows []Verdict) string {
	var b strings.Builder
	b.WriteString("| case | kernel | verdict | buggy module | netl.ko | evidence |\n|---|---|---|---|---|---|\n")
	for _, v := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s (%s) | %s (%s) | %s |\n", v.Case.ID, v.Series, v.Verdict,
			v.Buggy.Class, v.Buggy.Took.Round(time.Second), v.Fixed.Class, v.Fixed.Took.Round(time.Second),
			strings.ReplaceAll(v.Reason, "|", `\|`))
	}
	return b.String()
}
