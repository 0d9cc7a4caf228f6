// Package splat finds kernel reports in a guest's console: oopses,
// warnings, sanitizer and lockdep reports, stalls, leaks, panics, the OOM
// killer and new taint flags. Each report is placed by the marks the guest
// writes to /dev/kmsg (internal/contract): the guest test that was running,
// and whether the guest program had started, so that the test that caused
// it fails with the report's text.
package splat

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/netl-dev/netl/internal/contract"
)

// Pattern names one kind of kernel report by the line that starts it.
type Pattern struct {
	Kind string
	RE   *regexp.Regexp
	// Leads marks a one-line message that the kernel prints just before
	// the WARNING or BUG it belongs to (refcount_t, list corruption): the
	// WARNING joins its report instead of starting one.
	Leads bool
}

// Patterns are the report kinds netl knows. The order is the order of
// precedence when one line matches several.
var Patterns = []Pattern{
	{Kind: "KASAN", RE: regexp.MustCompile(`^BUG: KASAN: `)},
	{Kind: "UBSAN", RE: regexp.MustCompile(`^UBSAN: `)},
	{Kind: "kernel BUG", RE: regexp.MustCompile(`^kernel BUG at `)},
	{Kind: "soft lockup", RE: regexp.MustCompile(`^watchdog: BUG: soft lockup|^BUG: soft lockup`)},
	{Kind: "BUG", RE: regexp.MustCompile(`^BUG: `)},
	{Kind: "general protection fault", RE: regexp.MustCompile(`^(Oops: )?general protection fault`)},
	{Kind: "Oops", RE: regexp.MustCompile(`^Oops: `)},
	{Kind: "lockdep", RE: regexp.MustCompile(`^WARNING: (possible circular locking dependency|possible recursive locking|inconsistent lock state|bad unlock balance|suspicious RCU usage)`)},
	{Kind: "refcount", RE: regexp.MustCompile(`^refcount_t: `), Leads: true},
	{Kind: "list corruption", RE: regexp.MustCompile(`^list_(add|del) corruption`), Leads: true},
	{Kind: "WARNING", RE: regexp.MustCompile(`^WARNING: `)},
	{Kind: "hard lockup", RE: regexp.MustCompile(`hard LOCKUP`)},
	{Kind: "RCU stall", RE: regexp.MustCompile(`^rcu: INFO: .*stall|^INFO: rcu_(sched|preempt|bh) (self-)?detected stall`)},
	{Kind: "hung task", RE: regexp.MustCompile(`^INFO: task .* blocked for more than`)},
	{Kind: "kmemleak", RE: regexp.MustCompile(`^unreferenced object 0x|^kmemleak: \d+ new suspected memory leaks`)},
	// kmemleak turns itself off (out of memory for its metadata, an
	// internal error): from then on no leak is found, which must not read
	// as "no leaks".
	{Kind: "kmemleak disabled", RE: regexp.MustCompile(`^kmemleak: .*(disabled|[Dd]isabling)`)},
	{Kind: "OOM kill", RE: regexp.MustCompile(`^Out of memory( and no killable processes)?`)},
	{Kind: "panic", RE: regexp.MustCompile(`^Kernel panic`)},
}

// Report is one kernel report found on the console.
type Report struct {
	Kind  string
	Title string   // the line that started it, without the timestamp
	Lines []string // the excerpt, timestamps stripped
	// Test is the guest test running when it appeared; empty outside any
	// test (boot, init, final reset). With tests running in parallel it is
	// the one that started last, and Running names them all.
	Test    string
	Running []string
	// InProgram: the guest program had started (contract.MarkProgram);
	// Armed: the program had also written contract.MarkArmed.
	InProgram bool
	Armed     bool
	// Frames are the stack lines naming a module, "[netl]"-style.
	Frames []string
}

func (r Report) String() string {
	var b strings.Builder
	where := "outside any test"
	if r.Test != "" {
		where = "during " + r.Test
	}
	if len(r.Running) > 1 {
		where = "while " + strings.Join(r.Running, ", ") + " ran in parallel"
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
	// The kernel's timestamp (always six decimals), after whatever the
	// console put before it (a colour code, the end of an unterminated
	// line from user space), and the caller id that CONFIG_PRINTK_CALLER
	// adds: "[    1.234567][    T1] ".
	timestamp = regexp.MustCompile(`^(.*?)\[\s*\d+\.\d{6}\](\[\s*[CT]\d+\])?\s?`)
	endTrace  = regexp.MustCompile(`---\[ end (trace|Kernel panic)`)
	frame     = regexp.MustCompile(`\[([a-z0-9_]+)\]\s*$`)
	tainted   = regexp.MustCompile(`Tainted: ([A-Z ]+?)\s+\d`)
)

// KernelLine splits a console line into what came before the kernel's
// timestamp (user space's unterminated output, a colour code) and the
// kernel's message after it; ok is false for a line without a kernel
// timestamp, returned whole as msg.
func KernelLine(raw string) (before, msg string, ok bool) {
	raw = strings.TrimRight(raw, "\r")
	m := timestamp.FindStringSubmatchIndex(raw)
	if m == nil {
		return "", raw, false
	}
	return raw[m[2]:m[3]], raw[m[1]:], true
}

// Taint flags a run may carry, as /proc/sys/kernel/tainted bits
// (Documentation/admin-guide/tainted-kernels.rst): O, an out-of-tree
// module (netl.ko itself), on every kernel; E, an unsigned module, only
// where the kernel checks signatures (CONFIG_MODULE_SIG, as Debian's do)
// and so marks the module netl built.
const (
	TaintOutOfTree = 1 << 12
	TaintUnsigned  = 1 << 13
)

// allowedLetters are the letters a "Tainted:" line may carry under mask;
// G there is not a flag.
func allowedLetters(mask uint64) string { return "G " + TaintLetters(mask) }

// taintLetters are the letters of the taint bits, in bit order
// (kernel/panic.c taint_flags).
const taintLetters = "PFSRMBUDAWCIOELKXTNJ"

// TaintLetters spells a taint mask as the kernel's letters.
func TaintLetters(mask uint64) string {
	var b strings.Builder
	for i := 0; i < 64; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		if i < len(taintLetters) {
			b.WriteByte(taintLetters[i])
		} else {
			fmt.Fprintf(&b, "(bit %d)", i)
		}
	}
	return b.String()
}

// Scan finds the reports in console, places them by the marks, and drops
// the allowed ones. Every allow entry must carry a reason. taints are the
// taint bits a "Tainted:" line may show without being a report.
func Scan(console string, patterns []Pattern, allow []Allow, taints uint64) ([]Report, error) {
	if len(patterns) == 0 {
		return nil, ErrNoPatterns
	}
	for _, a := range allow {
		if a.Title == nil || strings.TrimSpace(a.Reason) == "" {
			return nil, fmt.Errorf("splat: allow entry %v has no reason", a.Title)
		}
	}
	allowedFlags := allowedLetters(taints)
	var reports []Report
	var cur *Report
	var curLeads bool
	var running []string // in the order they started
	test := func() string {
		if len(running) == 0 {
			return ""
		}
		return running[len(running)-1]
	}
	inProgram, armed := false, false
	flush := func() {
		if cur != nil {
			reports = append(reports, *cur)
			cur = nil
		}
	}
	for _, raw := range strings.Split(console, "\n") {
		_, line, _ := KernelLine(raw)
		if m, ok := contract.ParseMark(line); ok {
			switch m.Kind {
			case "start":
				// Tests running in parallel mark their start
				// and end in the middle of another's report:
				// the report goes on.
				running = append(running, m.Arg)
			case "end":
				running = slices.DeleteFunc(running, func(n string) bool { return n == m.Arg })
			case "program":
				flush()
				inProgram = true
			case "armed":
				flush()
				armed = true
			}
			continue
		}
		p, isHeader := match(patterns, line)
		if cur != nil && isHeader && !joins(cur, curLeads, p) {
			flush() // a new report starts inside an open one
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
		if isHeader {
			cur = &Report{Kind: p.Kind, Title: strings.TrimSpace(line), Lines: []string{line}, Test: test(),
				Running: slices.Clone(running), InProgram: inProgram, Armed: armed}
			curLeads = p.Leads
			continue
		}
		if m := tainted.FindStringSubmatch(line); m != nil {
			if flags := strings.Map(func(r rune) rune {
				if strings.ContainsRune(allowedFlags, r) {
					return -1
				}
				return r
			}, m[1]); flags != "" {
				reports = append(reports, Report{Kind: "taint", Title: strings.TrimSpace(line), Lines: []string{line}, Test: test(),
					Running: slices.Clone(running), InProgram: inProgram, Armed: armed})
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

// joins says whether a header line belongs to the open report rather than
// starting a new one: the "Oops:" line of a BUG (page fault, NULL
// dereference, kernel BUG at), and the WARNING or BUG that goes with a
// one-line message (refcount_t, list corruption) a few lines before or
// after it.
func joins(cur *Report, curLeads bool, p Pattern) bool {
	switch {
	case (cur.Kind == "BUG" || cur.Kind == "kernel BUG") && (p.Kind == "Oops" || p.Kind == "general protection fault"):
		return true
	case curLeads && len(cur.Lines) <= 3 && (p.Kind == "WARNING" || p.Kind == "kernel BUG" || p.Kind == "Oops"):
		return true
	case p.Leads && len(cur.Lines) <= 3 && (cur.Kind == "WARNING" || cur.Kind == "kernel BUG"):
		// __warn() prints a WARN()'s message after the WARNING line.
		return true
	}
	return false
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

// Taints says whether a report of this kind taints the kernel itself
// (a WARNING sets W, an oops D, KASAN B, a soft lockup L, ...): the taint
// mask then adds nothing a reader needs. kmemleak, hung tasks, RCU stalls,
// the OOM killer, UBSAN and lockdep taint nothing.
func Taints(kind string) bool {
	switch kind {
	case "kmemleak", "kmemleak disabled", "hung task", "RCU stall", "OOM kill", "UBSAN", "lockdep":
		return false
	}
	return true
}

// TaintReport is the report for taint flags that appeared during a run
// (before and after are /proc/sys/kernel/tainted masks), or false when no
// flag but the allowed ones (TaintOutOfTree, TaintUnsigned) did.
func TaintReport(before, after, allowed uint64) (Report, bool) {
	added := after &^ before &^ allowed
	if added == 0 {
		return Report{}, false
	}
	title := fmt.Sprintf("kernel taint gained %s (tainted %d before the run, %d after)", TaintLetters(added), before, after)
	return Report{Kind: "taint", Title: title, Lines: []string{title}, InProgram: true}, true
}
