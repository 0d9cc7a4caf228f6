// Package repro runs reported module bugs: each case in vmtest/repro/<ID>/
// names a buggy module, a reproducer and the kernel report it should cause.
// A case runs twice on a kernel, on the buggy module and on the fixed
// netl.ko, and is reproduced only when the expected report (or hang, or
// build failure) shows on the first and not on the second.
package repro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/splat"
	"github.com/netl-dev/netl/internal/vm"
)

// Expect is what a case should show on the buggy module.
type Expect struct {
	// Kind: "report" or "blocked" (a kernel report whose title matches
	// Pattern), "hang" (the guest stops answering and is killed at the
	// timeout), "build-failure" (the compiler's output matches Pattern),
	// or "none" (not observable on these kernels; never "reproduced").
	Kind    string `json:"kind"`
	Pattern string `json:"pattern,omitempty"`
}

// Case is one reported bug, read from vmtest/repro/<ID>/case.json.
type Case struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Module    string   `json:"module"` // seed or seed-original
	ModParams string   `json:"modparams"`
	Program   string   `json:"program"` // a Go main package in the case directory
	Args      []string `json:"args"`
	Debug     bool     `json:"debug"`
	Cmdline   []string `json:"cmdline"`
	Timeout   string   `json:"timeout"`
	Expect    Expect   `json:"expect"`

	Dir     string `json:"-"`
	timeout time.Duration
	pattern *regexp.Regexp
}

var modules = map[string]string{"seed": "kmod/seed", "seed-original": "kmod/seed/original"}

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
		if err := json.Unmarshal(data, &c); err != nil {
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
	if _, ok := modules[c.Module]; !ok {
		return fmt.Errorf("module %q: want seed or seed-original", c.Module)
	}
	var err error
	if c.timeout, err = time.ParseDuration(c.Timeout); err != nil {
		return fmt.Errorf("timeout: %w", err)
	}
	switch c.Expect.Kind {
	case "report", "blocked", "build-failure":
		if c.pattern, err = regexp.Compile(c.Expect.Pattern); err != nil || c.Expect.Pattern == "" {
			return fmt.Errorf("expect %s needs a pattern (%v)", c.Expect.Kind, err)
		}
	case "hang", "none":
	default:
		return fmt.Errorf("expect kind %q: want report, blocked, hang, build-failure or none", c.Expect.Kind)
	}
	if c.Expect.Kind != "build-failure" {
		if _, err := os.Stat(filepath.Join(c.Dir, c.Program, "main.go")); err != nil {
			return fmt.Errorf("program: %w", err)
		}
	}
	return nil
}

// Outcome is what one module showed under the reproducer.
type Outcome struct {
	Module   string
	Showed   bool   // the expected report, hang or build failure happened
	Failed   bool   // the harness could not run it (setup, build of the reproducer): no verdict
	Evidence string // the report title, the console tail, the compiler line, or what happened instead
	Took     time.Duration
}

// Verdict is a case on one kernel: the buggy module and the fixed one.
type Verdict struct {
	Case       Case
	Series     string
	Buggy      Outcome
	Fixed      Outcome
	Reproduced bool // shown on the buggy module, absent on the fixed one
}

// Run runs c on series: the buggy module, then netl.ko.
func Run(ctx context.Context, root string, c Case, series string, progress io.Writer) Verdict {
	v := Verdict{Case: c, Series: series}
	bin := ""
	if c.Expect.Kind != "build-failure" {
		var err error
		if bin, err = buildProgram(c); err != nil {
			v.Buggy.Evidence, v.Buggy.Failed = err.Error(), true
			return v
		}
		defer os.RemoveAll(filepath.Dir(bin))
	}
	v.Buggy = c.runOne(ctx, root, filepath.Join(root, modules[c.Module]), series, bin, progress)
	v.Fixed = c.runOne(ctx, root, "netl", series, bin, progress)
	v.Reproduced = v.Buggy.Showed && !v.Fixed.Showed && c.Expect.Kind != "none"
	return v
}

func (c Case) runOne(ctx context.Context, root, module, series, bin string, progress io.Writer) Outcome {
	start := time.Now()
	name := filepath.Base(module)
	if module != "netl" {
		name = c.Module
	}
	o := Outcome{Module: name}
	defer func() { o.Took = time.Since(start) }()
	s, err := harness.Prepare(harness.Options{Series: series, Debug: c.Debug, Module: module,
		ModParams: c.ModParams, Timeout: c.timeout, Append: c.Cmdline, Progress: progress})
	if err != nil {
		if c.Expect.Kind == "build-failure" {
			if line := firstMatch(c.pattern, err.Error()); line != "" {
				o.Showed, o.Evidence = true, line
				return o
			}
		}
		o.Evidence, o.Failed = "setup failed: "+firstLine(err.Error()), true
		return o
	}
	if c.Expect.Kind == "build-failure" {
		o.Evidence = "built"
		return o
	}
	share, err := os.MkdirTemp("", "netl-repro-")
	if err != nil {
		o.Evidence, o.Failed = err.Error(), true
		return o
	}
	defer os.RemoveAll(share)
	logPath := filepath.Join(s.Cache, "logs", fmt.Sprintf("repro-%s-%s-%s.console.log", c.ID, series, name))
	res, runErr := s.Run(ctx, harness.Run{Program: bin, Args: c.Args, Share: share, ConsoleLog: logPath})
	console, _ := os.ReadFile(logPath)
	reports, err := splat.Scan(string(console), splat.Patterns, nil)
	if err != nil {
		o.Evidence, o.Failed = err.Error(), true
		return o
	}
	var vmErr *vm.Error
	switch c.Expect.Kind {
	case "hang":
		if errors.As(runErr, &vmErr) && vmErr.TimedOut {
			o.Showed, o.Evidence = true, fmt.Sprintf("no answer within %s; last line: %s", c.timeout, lastOf(vmErr.Result.Tail))
			return o
		}
	case "report", "blocked":
		for _, r := range reports {
			if c.pattern.MatchString(r.Title) {
				o.Showed, o.Evidence = true, r.Title
				return o
			}
		}
	}
	switch {
	case len(reports) > 0:
		o.Evidence = "other report: " + reports[0].Title
	case runErr != nil:
		o.Evidence = firstLine(runErr.Error())
	case res.Status.ExitCode != 0 || res.Status.Error != "":
		o.Evidence = fmt.Sprintf("reproducer exited %d %s", res.Status.ExitCode, res.Status.Error)
	default:
		o.Evidence = "clean: no report, reproducer exited 0"
	}
	o.Evidence += " (console " + logPath + ")"
	return o
}

// buildProgram builds the case's reproducer as a static binary.
func buildProgram(c Case) (string, error) {
	dir, err := os.MkdirTemp("", "netl-repro-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, c.ID)
	cmd := exec.Command("go", "build", "-o", bin, "./"+c.Program)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("building the %s reproducer: %w\n%s", c.ID, err, out)
	}
	return bin, nil
}

func firstMatch(re *regexp.Regexp, text string) string {
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func lastOf(lines []string) string {
	if len(lines) == 0 {
		return "(none)"
	}
	return lines[len(lines)-1]
}
