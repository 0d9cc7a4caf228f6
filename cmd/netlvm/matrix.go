package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/netl-dev/netl/initramfs"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
)

// testCmd runs the VM suite (go test ./vmtest/...) on one series or on
// every pinned one, VMs side by side as far as the cores allow, and prints
// one table: rows are tests, columns are series. One kernel's failure does
// not stop the others.
func testCmd(args []string) (int, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	series := fs.String("kernel", kernel.DefaultSeries, "pinned series, a comma-separated list, or all")
	jobs := fs.Int("j", runtime.NumCPU(), "series tested at once")
	run := fs.String("run", "", "only guest tests matching this regexp (NETL_GUEST_RUN)")
	debug := fs.Bool("debug", false, "the debug flavour of each kernel (NETL_DEBUG)")
	logDir := fs.String("logs", "", "directory for each series' go test -json output (default: the cache's logs/)")
	if err := fs.Parse(args); err != nil {
		return 2, usageError(err.Error())
	}
	list, err := seriesList(*series)
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
	if err := harness.EnsureHostDeps(os.Stderr); err != nil {
		return 1, err
	}
	// Kernels first, one at a time: a build uses every core, and two at
	// once only thrash. Then the suites, side by side.
	for _, s := range list {
		if _, err := kernel.Ensure(kernel.Options{Series: s, Debug: *debug, Progress: os.Stderr}); err != nil {
			fmt.Fprintf(os.Stderr, "netlvm: kernel %s: %v\n", s, err)
		}
	}

	// The initramfs is the same for every series: build it once here
	// rather than in each of the runs side by side.
	if _, err := initramfs.Ensure(root, cache, os.Stderr); err != nil {
		return 1, err
	}

	results := make(map[string]*seriesResult)
	var mu sync.Mutex
	sem := make(chan struct{}, max(1, *jobs))
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range list {
		wg.Add(1)
		go func(s string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := s + map[bool]string{true: "-debug"}[*debug]
			r := runSeries(root, s, *run, *debug, filepath.Join(*logDir, "test-"+name+".json"))
			mu.Lock()
			results[s] = r
			mu.Unlock()
			fmt.Fprintf(os.Stderr, "netl: %s: %s in %s\n", s, r.summary(), r.took.Round(time.Second))
		}(s)
	}
	wg.Wait()
	fmt.Print(matrixTable(list, results))
	fmt.Printf("\n%d series in %s; go test -json logs in %s\n", len(list), time.Since(start).Round(time.Second), *logDir)
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
}

type seriesResult struct {
	ok    bool
	took  time.Duration
	tests map[string]cell
	err   string // the run itself failed (no kernel, no VM): why
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

// runSeries runs go test -json on the VM suite for one series and keeps the
// result of every test.
func runSeries(root, series, run string, debug bool, logPath string) *seriesResult {
	start := time.Now()
	cmd := exec.Command("go", "test", "-json", "-count=1", "-timeout=30m", "./vmtest/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "NETL_KERNEL="+series)
	if run != "" {
		cmd.Env = append(cmd.Env, "NETL_GUEST_RUN="+run)
	}
	if debug {
		cmd.Env = append(cmd.Env, "NETL_DEBUG=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	_ = os.WriteFile(logPath, out, 0o644)
	r := &seriesResult{ok: err == nil, took: time.Since(start), tests: map[string]cell{}}
	outputs := map[string]*strings.Builder{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		var e struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		if outputs[e.Test] == nil {
			outputs[e.Test] = &strings.Builder{}
		}
		switch e.Action {
		case "output":
			outputs[e.Test].WriteString(e.Output)
		case "pass", "fail", "skip":
			r.tests[e.Test] = cell{state: e.Action, reason: firstReason(outputs[e.Test].String())}
		}
	}
	if len(r.tests) == 0 {
		r.ok = false
		r.err = strings.TrimSpace(lastLine(stderr.String() + string(out)))
	}
	return r
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

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
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
