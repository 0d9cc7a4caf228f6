// Package cover turns the gcov counters a guest kernel kept for a profiled
// module (the .gcda files netlinit copies out, contract.RunSpec.Coverage)
// into a coverage report of the module's sources: a table per function
// with line and branch totals, as `go tool cover -func` prints for Go, an
// lcov tracefile, and genhtml's HTML pages.
//
// The counts come from gcov itself (gcov --json-format, GCC 9 and later),
// run with the .gcno notes the module's build kept
// (kernel.BuildModuleCover); the tracefile is written from the same counts,
// so the table, the tracefile and the HTML agree line for line.
package cover

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Profile is the coverage of one module's sources.
type Profile struct {
	Module string  // the module's name (netl)
	Files  []*File // in name order
}

// File is one source file of the module.
type File struct {
	Name  string // base name, as in the module's directory
	Path  string // the copy beside the module's .gcno notes
	Lines []Line // executable lines, in order
	Funcs []Func // in line order
}

// Line is an executable line and how often it ran; Branches are the counts
// of each branch out of it, in gcov's order.
type Line struct {
	Number   int
	Count    int64
	Branches []int64
	Func     string
}

// Func is one function's share of its file.
type Func struct {
	Name                 string
	Start, End           int
	Calls                int64
	Lines, LinesHit      int
	Branches, BranchHit  int
	uncoveredLineNumbers []int
}

// Totals counts executable lines and branches, and those that ran.
type Totals struct {
	Lines, LinesHit     int
	Branches, BranchHit int
}

// LinePercent is the share of lines that ran, in percent.
func (t Totals) LinePercent() float64 { return percent(t.LinesHit, t.Lines) }

// BranchPercent is the share of branches taken, in percent.
func (t Totals) BranchPercent() float64 { return percent(t.BranchHit, t.Branches) }

func percent(n, of int) float64 {
	if of == 0 {
		return 100
	}
	return 100 * float64(n) / float64(of)
}

// Collect reads every .gcda file under gcdaDir whose object was compiled
// in buildDir (the module's cover build: name.gcno beside the sources),
// runs gcov on it, and keeps the lines of the module's own sources (not
// the kernel headers inlined into them). gcovTool is the gcov of the
// compiler that built the module.
func Collect(module, gcdaDir, buildDir, gcovTool string) (*Profile, error) {
	var gcdas []string
	err := filepath.WalkDir(gcdaDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".virtfs_metadata" {
			return filepath.SkipDir // QEMU's 9p (security_model=mapped-file) keeps owners and modes there, under the files' names
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".gcda") {
			gcdas = append(gcdas, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("coverage: the guest's gcov data: %w", err)
	}
	tmp, err := os.MkdirTemp("", "netl-gcov-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	files := map[string]*File{}
	used := 0
	for _, gcda := range gcdas {
		stem := strings.TrimSuffix(filepath.Base(gcda), ".gcda")
		notes := filepath.Join(buildDir, stem+".gcno")
		if strings.HasSuffix(stem, ".mod") {
			continue // modpost's generated part, not the module's source
		}
		if _, err := os.Stat(notes); err != nil {
			continue // profiled code of something else (a kernel with GCOV_PROFILE_ALL)
		}
		used++
		// gcov wants the notes and the counters side by side.
		for _, f := range []struct{ from, to string }{{gcda, stem + ".gcda"}, {notes, stem + ".gcno"}} {
			data, err := os.ReadFile(f.from)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(tmp, f.to), data, 0o644); err != nil {
				return nil, err
			}
		}
		cmd := exec.Command(gcovTool, "--json-format", "--stdout", "--branch-probabilities", stem+".gcda")
		cmd.Dir = tmp
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		// gcov says what it could not read (a stamp mismatch, notes of
		// another version) on stderr, sometimes with status 0 and every
		// count zero: any word there is a failure.
		if err != nil || stderr.Len() > 0 {
			return nil, fmt.Errorf("coverage: %s on %s: %v\n%s%.400s", gcovTool, filepath.Base(gcda), err, stderr.String(), out)
		}
		if err := merge(files, out, buildDir); err != nil {
			return nil, fmt.Errorf("coverage: reading %s's output for %s: %w", gcovTool, filepath.Base(gcda), err)
		}
	}
	if used == 0 {
		return nil, fmt.Errorf("coverage: the guest wrote %d .gcda files, none for %s's objects in %s (was the module built with GCOV_PROFILE=y and loaded?)", len(gcdas), module, buildDir)
	}
	p := &Profile{Module: module}
	for _, f := range files {
		f.finish()
		p.Files = append(p.Files, f)
	}
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Name < p.Files[j].Name })
	if p.Totals().Lines == 0 {
		return nil, fmt.Errorf("coverage: gcov found no executable line of %s's sources in %s", module, buildDir)
	}
	return p, nil
}

// gcov's JSON intermediate format (gcc/gcov.cc, format_version 1).
type gcovJSON struct {
	Files []struct {
		File      string `json:"file"`
		Functions []struct {
			Name           string `json:"name"`
			StartLine      int    `json:"start_line"`
			EndLine        int    `json:"end_line"`
			ExecutionCount int64  `json:"execution_count"`
		} `json:"functions"`
		Lines []struct {
			LineNumber   int    `json:"line_number"`
			Count        int64  `json:"count"`
			FunctionName string `json:"function_name"`
			Branches     []struct {
				Count int64 `json:"count"`
				Throw bool  `json:"throw"`
			} `json:"branches"`
		} `json:"lines"`
	} `json:"files"`
}

// merge adds one gcov run's counts to files: the same source compiled
// into two objects (a header's inline functions) sums line by line.
func merge(files map[string]*File, out []byte, buildDir string) error {
	if r, err := gzip.NewReader(bytes.NewReader(out)); err == nil {
		if out, err = io.ReadAll(r); err != nil {
			return err
		}
	}
	// --stdout prints one JSON document per .gcda, one per line.
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var doc gcovJSON
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		for _, jf := range doc.Files {
			name := filepath.Base(jf.File)
			path := filepath.Join(buildDir, name)
			if _, err := os.Stat(path); err != nil {
				continue // a kernel header, not one of the module's files
			}
			f := files[name]
			if f == nil {
				f = &File{Name: name, Path: path}
				files[name] = f
			}
			for _, fn := range jf.Functions {
				i := slices.IndexFunc(f.Funcs, func(g Func) bool { return g.Name == fn.Name && g.Start == fn.StartLine })
				if i < 0 {
					f.Funcs = append(f.Funcs, Func{Name: fn.Name, Start: fn.StartLine, End: fn.EndLine})
					i = len(f.Funcs) - 1
				}
				f.Funcs[i].Calls += fn.ExecutionCount
			}
			for _, jl := range jf.Lines {
				var br []int64
				for _, b := range jl.Branches {
					if !b.Throw {
						br = append(br, b.Count)
					}
				}
				i := slices.IndexFunc(f.Lines, func(l Line) bool { return l.Number == jl.LineNumber })
				if i < 0 {
					f.Lines = append(f.Lines, Line{Number: jl.LineNumber, Count: jl.Count, Branches: br, Func: jl.FunctionName})
					continue
				}
				l := &f.Lines[i]
				l.Count += jl.Count
				if len(l.Branches) == len(br) {
					for k := range br {
						l.Branches[k] += br[k]
					}
				}
			}
		}
	}
}

// finish orders the file's lines and functions and gives each function
// its lines: those gcov names it for, else those in its line range.
func (f *File) finish() {
	sort.Slice(f.Lines, func(i, j int) bool { return f.Lines[i].Number < f.Lines[j].Number })
	sort.Slice(f.Funcs, func(i, j int) bool { return f.Funcs[i].Start < f.Funcs[j].Start })
	for i := range f.Funcs {
		fn := &f.Funcs[i]
		for _, l := range f.Lines {
			in := l.Func == fn.Name
			if l.Func == "" {
				in = l.Number >= fn.Start && l.Number <= fn.End
			}
			if !in {
				continue
			}
			fn.Lines++
			if l.Count > 0 {
				fn.LinesHit++
			} else {
				fn.uncoveredLineNumbers = append(fn.uncoveredLineNumbers, l.Number)
			}
			fn.Branches += len(l.Branches)
			for _, b := range l.Branches {
				if b > 0 {
					fn.BranchHit++
				}
			}
		}
	}
}

// Totals sums a file's lines and branches.
func (f *File) Totals() Totals {
	var t Totals
	for _, l := range f.Lines {
		t.Lines++
		if l.Count > 0 {
			t.LinesHit++
		}
		t.Branches += len(l.Branches)
		for _, b := range l.Branches {
			if b > 0 {
				t.BranchHit++
			}
		}
	}
	return t
}

// Totals sums every file.
func (p *Profile) Totals() Totals {
	var t Totals
	for _, f := range p.Files {
		ft := f.Totals()
		t.Lines += ft.Lines
		t.LinesHit += ft.LinesHit
		t.Branches += ft.Branches
		t.BranchHit += ft.BranchHit
	}
	return t
}

// WriteTable prints one line per function, then each file's totals and
// the module's: lines that ran of the executable ones, branches taken of
// all.
func (p *Profile) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %-8s %18s %18s\n", "function", "calls", "lines", "branches")
	for _, f := range p.Files {
		for _, fn := range f.Funcs {
			if fn.Lines == 0 {
				continue
			}
			fmt.Fprintf(&b, "%-40s %-8d %18s %18s\n", fmt.Sprintf("%s:%d %s", f.Name, fn.Start, fn.Name), fn.Calls,
				ratio(fn.LinesHit, fn.Lines), ratio(fn.BranchHit, fn.Branches))
		}
	}
	for _, f := range p.Files {
		t := f.Totals()
		fmt.Fprintf(&b, "%-49s %18s %18s\n", "total "+f.Name, ratio(t.LinesHit, t.Lines), ratio(t.BranchHit, t.Branches))
	}
	if len(p.Files) > 1 {
		t := p.Totals()
		fmt.Fprintf(&b, "%-49s %18s %18s\n", "total "+p.Module, ratio(t.LinesHit, t.Lines), ratio(t.BranchHit, t.Branches))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratio(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d %5.1f%%", n, of, percent(n, of))
}

// Uncovered lists the lines that never ran, grouped in runs of
// consecutive executable lines, each with its function: "netl.c:120-124
// netl_rcv_msg".
func (p *Profile) Uncovered() []string {
	var out []string
	for _, f := range p.Files {
		for _, fn := range f.Funcs {
			ls := fn.uncoveredLineNumbers
			for i := 0; i < len(ls); {
				j := i
				for j+1 < len(ls) && contiguous(f.Lines, ls[j], ls[j+1]) {
					j++
				}
				span := strconv.Itoa(ls[i])
				if j > i {
					span += "-" + strconv.Itoa(ls[j])
				}
				out = append(out, fmt.Sprintf("%s:%s %s", f.Name, span, fn.Name))
				i = j + 1
			}
		}
	}
	return out
}

// contiguous: no executable line lies between a and b.
func contiguous(lines []Line, a, b int) bool {
	for _, l := range lines {
		if l.Number > a && l.Number < b {
			return false
		}
	}
	return true
}

// WriteLcov writes the profile as an lcov tracefile (geninfo(1)'s format),
// the input of genhtml and of most coverage services.
func (p *Profile) WriteLcov(w io.Writer, test string) error {
	var b strings.Builder
	for _, f := range p.Files {
		fmt.Fprintf(&b, "TN:%s\nSF:%s\n", test, f.Path)
		hit := 0
		for _, fn := range f.Funcs {
			fmt.Fprintf(&b, "FN:%d,%s\n", fn.Start, fn.Name)
		}
		for _, fn := range f.Funcs {
			fmt.Fprintf(&b, "FNDA:%d,%s\n", fn.Calls, fn.Name)
			if fn.Calls > 0 {
				hit++
			}
		}
		fmt.Fprintf(&b, "FNF:%d\nFNH:%d\n", len(f.Funcs), hit)
		t := f.Totals()
		for _, l := range f.Lines {
			for i, c := range l.Branches {
				taken := "-" // the line never ran
				if l.Count > 0 {
					taken = strconv.FormatInt(c, 10)
				}
				fmt.Fprintf(&b, "BRDA:%d,0,%d,%s\n", l.Number, i, taken)
			}
		}
		fmt.Fprintf(&b, "BRF:%d\nBRH:%d\n", t.Branches, t.BranchHit)
		for _, l := range f.Lines {
			fmt.Fprintf(&b, "DA:%d,%d\n", l.Number, l.Count)
		}
		fmt.Fprintf(&b, "LF:%d\nLH:%d\nend_of_record\n", t.Lines, t.LinesHit)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteReport prints the table under title, writes PREFIX.lcov (the
// tracefile), PREFIX.uncovered.txt (Uncovered) and PREFIX.html/ (genhtml),
// and prints where they are.
func (p *Profile) WriteReport(w io.Writer, prefix, title string) error {
	fmt.Fprintf(w, "\ncoverage of %s:\n", title)
	if err := p.WriteTable(w); err != nil {
		return err
	}
	var trace bytes.Buffer
	name := strings.NewReplacer(".", "_", "-", "_", "/", "_").Replace(filepath.Base(prefix))
	if err := p.WriteLcov(&trace, name); err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".lcov", trace.Bytes(), 0o644); err != nil {
		return err
	}
	unc := p.Uncovered()
	if err := os.WriteFile(prefix+".uncovered.txt", []byte(strings.Join(unc, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	html := prefix + ".html"
	_ = os.RemoveAll(html)
	if err := HTML(prefix+".lcov", html, title); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d uncovered blocks: %s\ntracefile %s\nHTML %s\n", len(unc), prefix+".uncovered.txt", prefix+".lcov", filepath.Join(html, "index.html"))
	return nil
}

// HTML runs genhtml on an lcov tracefile, into outDir (index.html).
func HTML(tracefile, outDir, title string) error {
	if _, err := exec.LookPath("genhtml"); err != nil {
		return fmt.Errorf("coverage HTML: genhtml (Debian package lcov) is not installed: %w", err)
	}
	cmd := exec.Command("genhtml", "--quiet", "--branch-coverage", "--function-coverage",
		"--title", title, "--output-directory", outDir, tracefile)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("coverage HTML: genhtml: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// GcovFor names the gcov that reads what the compiler of version
// CONFIG_GCC_VERSION (120200 for 12.2.0) wrote: gcov-12 when it is
// installed, else gcov when that is the same major version. gcov refuses
// counters of another GCC version.
func GcovFor(gccVersion string) (string, error) {
	v, err := strconv.Atoi(gccVersion)
	if err != nil || v < 90000 {
		return "", fmt.Errorf("coverage: the kernel was not built with GCC 9 or later (CONFIG_GCC_VERSION=%q); gcov's JSON output needs it", gccVersion)
	}
	major := strconv.Itoa(v / 10000)
	if p, err := exec.LookPath("gcov-" + major); err == nil {
		return p, nil
	}
	p, err := exec.LookPath("gcov")
	if err != nil {
		return "", fmt.Errorf("coverage: neither gcov-%s nor gcov is installed (Debian package gcc-%s)", major, major)
	}
	// "gcov (Debian 12.2.0-14+deb12u1) 12.2.0": the version is the last word.
	out, _ := exec.Command(p, "--version").Output()
	first, _, _ := strings.Cut(string(out), "\n")
	words := strings.Fields(first)
	if len(words) == 0 || strings.Split(words[len(words)-1], ".")[0] != major {
		return "", fmt.Errorf("coverage: the module was built by GCC %s, but %s says %q: install gcc-%s", major, p, first, major)
	}
	return p, nil
}
