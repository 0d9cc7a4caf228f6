// Package splat finds kernel reports in a guest's console: oopses,
// warnings, sanitizer and lockdep reports, stalls, leaks, panics and new
// taint flags. Each report is attributed to the guest test that was running
// when it appeared, from the marks the guest writes to /dev/kmsg around
// every test (see MarkStart), so the test that caused it fails with the
// report's text.
package splat

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Pattern names one kind of kernel report by the line that starts it.
type Pattern struct {
	Kind string
	RE   *regexp.Regexp
}

// Patterns are the report kinds netl knows. The order is the order of
// precedence when one line matches several.
var Patterns = []Pattern{
	{"KASAN", regexp.MustCompile(`^BUG: KASAN: `)},
	{"UBSAN", regexp.MustCompile(`^UBSAN: `)},
	{"kernel BUG", regexp.MustCompile(`^kernel BUG at `)},
	{"soft lockup", regexp.MustCompile(`^watchdog: BUG: soft lockup|^BUG: soft lockup`)},
	{"BUG", regexp.MustCompile(`^BUG: `)},
	{"general protection fault", regexp.MustCompile(`^(Oops: )?general protection fault`)},
	{"Oops", regexp.MustCompile(`^Oops: `)},
	{"lockdep", regexp.MustCompile(`^WARNING: (possible circular locking dependency|possible recursive locking|inconsistent lock state|bad unlock balance|suspicious RCU usage)`)},
	{"WARNING", regexp.MustCompile(`^WARNING: `)},
	{"hard lockup", regexp.MustCompile(`hard LOCKUP`)},
	{"RCU stall", regexp.MustCompile(`^rcu: INFO: .*stall`)},
	{"hung task", regexp.MustCompile(`^INFO: task .* blocked for more than`)},
	{"kmemleak", regexp.MustCompile(`^unreferenced object 0x|kmemleak: \d+ new suspected memory leaks`)},
	{"panic", regexp.MustCompile(`^Kernel panic`)},
}

// Marks the guest writes around each test.
const (
	markStart = "netl-test: START "
	markEnd   = "netl-test: END "
)

// MarkStart and MarkEnd are the lines a guest test writes to /dev/kmsg.
func MarkStart(test string) string { return markStart + test }

// MarkEnd closes the window MarkStart opened.
func MarkEnd(test string) string { return markEnd + test }

// Report is one kernel report found on the console.
type Report struct {
	Kind  string
	Title string   // the line that started it, without the timestamp
	Lines []string // the excerpt, timestamps stripped
	// Test is the guest test running when it appeared; empty outside any
	// test (boot, init, final reset).
	Test string
	// Frames are the stack lines naming a module, "[netl]"-style.
	Frames []string
}

func (r Report) String() string {
	var b strings.Builder
	where := "outside any test"
	if r.Test != "" {
		where = "during " + r.Test
	}
	fmt.Fprintf(&b, "kernel %s %s: %s", r.Kind, where, r.Title)
	if len(r.Frames) > 0 {
		fmt.Fprintf(&b, "\nmodule frames:\n  %s", strings.Join(r.Frames, "\n  "))
	}
	fmt.Fprintf(&b, "\n--- report ---\n%s", strings.Join(r.Lines, "\n"))
	return b.String()
}

// Allow is a known report that does not fail a run, with the reason.
type Allow struct {
	Title  *regexp.Regexp
	Reason string
}

// ErrNoPatterns is what Scan says when it has nothing to look for: a
// scanner that cannot find anything must not pass a run.
var ErrNoPatterns = errors.New("splat: no report patterns: refusing to call the console clean")

// maxExcerpt bounds a report's excerpt.
const maxExcerpt = 60

var (
	timestamp = regexp.MustCompile(`^\s*\[\s*\d+\.\d+\]\s?`)
	endTrace  = regexp.MustCompile(`---\[ end (trace|Kernel panic)`)
	frame     = regexp.MustCompile(`\[([a-z0-9_]+)\]\s*$`)
	tainted   = regexp.MustCompile(`Tainted: ([A-Z ]+?)\s+\d`)
)

// allowedTaints are the flags a run may carry: G (proprietary modules
// absent: not a flag), O (out-of-tree module: netl.ko itself), E (unsigned).
const allowedTaints = "GOE "

// Scan finds the reports in console, attributes them to tests, and drops
// the allowed ones. Every allow entry must carry a reason.
func Scan(console string, patterns []Pattern, allow []Allow) ([]Report, error) {
	if len(patterns) == 0 {
		return nil, ErrNoPatterns
	}
	for _, a := range allow {
		if a.Title == nil || strings.TrimSpace(a.Reason) == "" {
			return nil, fmt.Errorf("splat: allow entry %v has no reason", a.Title)
		}
	}
	var reports []Report
	var cur *Report
	test := ""
	flush := func() {
		if cur != nil {
			reports = append(reports, *cur)
			cur = nil
		}
	}
	for _, raw := range strings.Split(console, "\n") {
		line := strings.TrimRight(timestamp.ReplaceAllString(raw, ""), "\r")
		if i := strings.Index(line, markStart); i >= 0 {
			flush()
			test = strings.TrimSpace(line[i+len(markStart):])
			continue
		}
		if i := strings.Index(line, markEnd); i >= 0 {
			flush()
			test = ""
			continue
		}
		if cur != nil {
			cur.Lines = append(cur.Lines, line)
			if m := frame.FindStringSubmatch(line); m != nil {
				cur.Frames = append(cur.Frames, strings.TrimSpace(line))
			}
			if endTrace.MatchString(line) || len(cur.Lines) >= maxExcerpt {
				flush()
			}
			continue
		}
		if p, ok := match(patterns, line); ok {
			cur = &Report{Kind: p.Kind, Title: strings.TrimSpace(line), Lines: []string{line}, Test: test}
			continue
		}
		if m := tainted.FindStringSubmatch(line); m != nil {
			if flags := strings.Map(func(r rune) rune {
				if strings.ContainsRune(allowedTaints, r) {
					return -1
				}
				return r
			}, m[1]); flags != "" {
				reports = append(reports, Report{Kind: "taint", Title: strings.TrimSpace(line), Lines: []string{line}, Test: test})
			}
		}
	}
	flush()
	var kept []Report
	for _, r := range reports {
		if !allowed(r, allow) {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

func match(patterns []Pattern, line string) (Pattern, bool) {
	for _, p := range patterns {
		if p.RE.MatchString(line) {
			return p, true
		}
	}
	return Pattern{}, false
}

func allowed(r Report, allow []Allow) bool {
	for _, a := range allow {
		if a.Title.MatchString(r.Title) {
			return true
		}
	}
	return false
}

// ByTest groups reports by the test they are attributed to.
func ByTest(reports []Report) map[string][]Report {
	m := make(map[string][]Report)
	for _, r := range reports {
		m[r.Test] = append(m[r.Test], r)
	}
	return m
}
