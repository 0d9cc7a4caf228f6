package cover

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A small program stands in for a module: compiled with the flags
// Kbuild's GCOV_PROFILE adds, run once, its .gcda moved to a directory
// tree of its own as netlinit copies it out of the guest.
const prog = `#include <stdlib.h>
static int even(int x)
{
	if (x % 2)
		return 0;
	return 1;
}

static int never(int x)
{
	return x * 3;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 0; i < 4; i++)
		n += even(i);
	if (argc > 5)
		n += never(n);
	return n == 2 ? 0 : 1;
}
`

func profiled(t *testing.T) (gcdaDir, buildDir string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc: %v (the harness's host packages include it)", err)
	}
	buildDir = t.TempDir()
	src := filepath.Join(buildDir, "mod.c")
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := exec.Command("gcc", "-fprofile-arcs", "-ftest-coverage", "-o", "mod", "mod.c")
	cc.Dir = buildDir
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	run := exec.Command("./mod")
	run.Dir = buildDir
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("the profiled program: %v\n%s", err, out)
	}
	gcdaDir = t.TempDir()
	guest := filepath.Join(gcdaDir, "root/.cache/netl/modules/.build-1")
	if err := os.MkdirAll(guest, 0o755); err != nil {
		t.Fatal(err)
	}
	// gcc names the data after the output: mod-mod.gcda for a program
	// linked in one step; Kbuild compiles to mod.o, hence mod.gcda.
	matches, _ := filepath.Glob(filepath.Join(buildDir, "*.gcda"))
	if len(matches) != 1 {
		t.Fatalf("want one .gcda, got %v", matches)
	}
	if err := os.Rename(matches[0], filepath.Join(guest, "mod.gcda")); err != nil {
		t.Fatal(err)
	}
	notes, _ := filepath.Glob(filepath.Join(buildDir, "*.gcno"))
	if err := os.Rename(notes[0], filepath.Join(buildDir, "mod.gcno")); err != nil {
		t.Fatal(err)
	}
	return gcdaDir, buildDir
}

func gcovTool(t *testing.T) string {
	out, err := exec.Command("gcc", "-dumpfullversion").Output()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSpace(string(out)), ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	v := parts[0] + strings.Repeat("0", 2-len(parts[1])) + parts[1] + strings.Repeat("0", 2-len(parts[2])) + parts[2]
	tool, err := GcovFor(v)
	if err != nil {
		t.Fatal(err)
	}
	return tool
}

func TestCollect(t *testing.T) {
	gcdaDir, buildDir := profiled(t)
	p, err := Collect("mod", gcdaDir, buildDir, gcovTool(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 1 || p.Files[0].Name != "mod.c" || p.Files[0].Path != filepath.Join(buildDir, "mod.c") {
		t.Fatalf("files: %+v", p.Files)
	}
	f := p.Files[0]
	funcs := map[string]Func{}
	for _, fn := range f.Funcs {
		funcs[fn.Name] = fn
	}
	if fn := funcs["even"]; fn.Calls != 4 || fn.Lines == 0 || fn.LinesHit != fn.Lines || fn.Branches != 2 || fn.BranchHit != 2 {
		t.Errorf("even: %+v; want 4 calls, every line, both branches", fn)
	}
	if fn := funcs["never"]; fn.Calls != 0 || fn.Lines == 0 || fn.LinesHit != 0 {
		t.Errorf("never: %+v; want no call and no line run", fn)
	}
	tot := p.Totals()
	if tot.Lines == 0 || tot.LinesHit == 0 || tot.LinesHit >= tot.Lines || tot.BranchHit >= tot.Branches {
		t.Errorf("totals %+v: want some lines and branches run, not all", tot)
	}
	unc := p.Uncovered()
	if len(unc) != 2 || unc[0] != "mod.c:9-11 never" || !strings.HasSuffix(unc[1], " main") {
		t.Errorf("uncovered: %q; want never's body and main's call of it", unc)
	}

	var table bytes.Buffer
	if err := p.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mod.c:9 never", "0/2   0.0%", "total mod.c"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	var info bytes.Buffer
	if err := p.WriteLcov(&info, "suite"); err != nil {
		t.Fatal(err)
	}
	// even's "if (x % 2)" went each way twice in four calls.
	for _, want := range []string{"SF:" + f.Path + "\n", "FNDA:4,even\n", "FNDA:0,never\n", "DA:11,0\n",
		"BRDA:4,0,0,2\nBRDA:4,0,1,2\n", fmt.Sprintf("LF:%d\nLH:%d\n", tot.Lines, tot.LinesHit),
		fmt.Sprintf("BRF:%d\nBRH:%d\n", tot.Branches, tot.BranchHit), "end_of_record\n"} {
		if !strings.Contains(info.String(), want) {
			t.Errorf("tracefile lacks %q:\n%s", want, info.String())
		}
	}
	if _, err := exec.LookPath("genhtml"); err != nil && os.Getenv("CI") == "" {
		t.Skip("genhtml (lcov) not installed; the harness installs it with its host packages")
	}
	trace := filepath.Join(t.TempDir(), "mod.info")
	if err := os.WriteFile(trace, info.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	html := t.TempDir()
	if err := HTML(trace, html, "mod"); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(html, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	// genhtml counts from the tracefile: its totals are the table's.
	for _, n := range []int{tot.LinesHit, tot.Lines, tot.BranchHit, tot.Branches} {
		if !strings.Contains(string(page), fmt.Sprintf(">%d<", n)) {
			t.Errorf("genhtml's index.html does not show %d (totals %+v)", n, tot)
		}
	}
}

func TestCollectNoModuleData(t *testing.T) {
	gcdaDir, _ := profiled(t)
	_, err := Collect("mod", gcdaDir, t.TempDir(), gcovTool(t))
	if err == nil || !strings.Contains(err.Error(), "none for mod's objects") {
		t.Fatalf("got %v; want an error naming the missing objects", err)
	}
}

func TestGcovForRefusesOldCompilers(t *testing.T) {
	for _, v := range []string{"", "80300", "x"} {
		if _, err := GcovFor(v); err == nil {
			t.Errorf("GcovFor(%q): want an error", v)
		}
	}
}
