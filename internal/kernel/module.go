package kernel

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/netl-dev/netl/internal/cache"
)

// BuildModule builds the out-of-tree module whose sources are the files of
// src under dir (Kbuild, *.c, *.h) against k, and returns the path of
// name.ko in the cache. The result is keyed by the sources and the kernel,
// so an unchanged module is never rebuilt. A module that fails to build
// returns the compiler's output.
func BuildModule(k *Kernel, src fs.FS, srcDir, name string, progress io.Writer) (string, error) {
	return buildModule(k, src, srcDir, name, false, progress)
}

// BuildModuleCover builds the module as BuildModule does, profiled for
// gcov (GCOV_PROFILE=y on make's command line, which reaches every object
// without a line in the module's Kbuild), and keeps beside name.ko what a
// coverage report needs: the .gcno files and the sources they describe.
// k must have CONFIG_GCOV_KERNEL (the debug flavour).
func BuildModuleCover(k *Kernel, src fs.FS, srcDir, name string, progress io.Writer) (string, error) {
	if k.ConfigValue("CONFIG_GCOV_KERNEL") != "y" {
		return "", fmt.Errorf("coverage of %s.ko needs a kernel with CONFIG_GCOV_KERNEL=y (the debug flavour of netl's own kernels); kernel %s has none", name, k.Series)
	}
	return buildModule(k, src, srcDir, name, true, progress)
}

func buildModule(k *Kernel, src fs.FS, srcDir, name string, cover bool, progress io.Writer) (string, error) {
	files, err := fs.ReadDir(src, srcDir)
	if err != nil {
		return "", err
	}
	makeArgs := []string{"W=1", "NETL_WERROR=y"}
	if cover {
		makeArgs = append(makeArgs, "GCOV_PROFILE=y")
	}
	h := cache.NewKey()
	h.Printf("%s %s\n%s\n", recipe, strings.Join(makeArgs, " "), k.Key)
	if k.sourceTree() {
		// A source tree keeps its key across incremental rebuilds; what
		// make relinked is what the module must be built against again.
		st, err := os.Stat(k.BzImage())
		if err != nil {
			return "", err
		}
		h.Printf("bzImage %d %d\n", st.Size(), st.ModTime().UnixNano())
	}
	var names []string
	for _, f := range files {
		if !f.IsDir() {
			names = append(names, f.Name())
		}
	}
	sort.Strings(names)
	contents := make(map[string][]byte)
	for _, n := range names {
		data, err := fs.ReadFile(src, path.Join(srcDir, n))
		if err != nil {
			return "", err
		}
		contents[n] = data
		h.Part(n, data)
	}
	key := h.String(16)
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	outDir := filepath.Join(dir, "modules", key)
	ko := filepath.Join(outDir, name+".ko")
	if _, err := os.Stat(ko); err == nil {
		return ko, nil
	}
	if progress == nil {
		progress = io.Discard
	}
	fmt.Fprintf(progress, "netl: building %s.ko for kernel %s\n", name, k.Release)
	tmp, inside, err := k.workDir(filepath.Join(dir, "modules"), ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for n, data := range contents {
		if err := os.WriteFile(filepath.Join(tmp, n), data, 0o644); err != nil {
			return "", err
		}
	}
	// W=1: the extra warnings kernel maintainers build with; NETL_WERROR=y
	// turns on netl's -Werror (kmod/Kbuild, opt-in there), so a warning on
	// any series fails the harness's build. A module of one's own ignores it
	// unless its Kbuild reads it.
	out, err := k.moduleMake(inside, append(makeArgs, "modules")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building %s.ko against kernel %s failed: %w\n%s", name, k.Release, err, compilerOutput(string(out)))
	}
	if _, err := os.Stat(filepath.Join(tmp, name+".ko")); err != nil {
		return "", fmt.Errorf("building %s.ko: make succeeded but wrote no %s.ko:\n%s", name, name, out)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	if cover {
		// The notes the compiler wrote, and the sources under their own
		// names: the .gcno files name the sources by their path in tmp.
		gcno, _ := filepath.Glob(filepath.Join(tmp, "*.gcno"))
		if len(gcno) == 0 {
			return "", fmt.Errorf("building %s.ko with GCOV_PROFILE=y wrote no .gcno file:\n%s", name, out)
		}
		for _, f := range gcno {
			data, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			if err := cache.WriteFile(filepath.Join(outDir, filepath.Base(f)), data, 0o644); err != nil {
				return "", err
			}
		}
		for n, data := range contents {
			if err := cache.WriteFile(filepath.Join(outDir, n), data, 0o644); err != nil {
				return "", err
			}
		}
	}
	// name.ko last: its presence is what says the directory is complete.
	data, err := os.ReadFile(filepath.Join(tmp, name+".ko"))
	if err != nil {
		return "", err
	}
	return ko, cache.WriteFile(ko, data, 0o644)
}

// moduleMake is make for the module in dir (a path k's tools see:
// workDir) against k: on the host for netl's own kernels, inside the build
// root for a prebuilt one.
func (k *Kernel) moduleMake(dir string, args ...string) *exec.Cmd {
	if !k.Prebuilt() {
		return exec.Command("make", append([]string{"-C", k.Dir, "M=" + dir}, args...)...)
	}
	return k.inRoot("make", append([]string{"-C", k.headersDir(), "M=" + dir}, args...)...)
}

// workDir makes a temporary directory where k's tools can reach it: under
// parent for netl's own kernels; in a prebuilt kernel's build root, where
// its compiler runs. It returns the directory on the host and as the tools
// see it (the same path, or the one inside the root).
func (k *Kernel) workDir(parent, prefix string) (host, inside string, err error) {
	if k.Prebuilt() {
		parent = filepath.Join(k.buildRoot(), "tmp")
	}
	if host, err = os.MkdirTemp(ensureDir(parent), prefix); err != nil {
		return "", "", err
	}
	if !k.Prebuilt() {
		return host, host, nil
	}
	return host, "/" + filepath.Join("tmp", filepath.Base(host)), nil
}

// inRoot runs a program inside a prebuilt kernel's build root, in a mount
// namespace of its own with /proc mounted (7.x's objtool reads
// /proc/self/limits; the mount goes with the namespace, and the host's
// mounts never see it). As root it chroots; otherwise it maps the user to
// root in a user namespace first.
func (k *Kernel) inRoot(prog string, args ...string) *exec.Cmd {
	u := []string{"--mount", "--mount-proc=/proc", "--root=" + k.buildRoot()}
	if os.Geteuid() != 0 {
		u = append([]string{"--map-root-user"}, u...)
	}
	return exec.Command("unshare", append(append(u, prog), args...)...)
}

// compilerOutput drops make's directory chatter so the compiler's own
// messages are what a user reads.
func compilerOutput(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "make[") || strings.HasPrefix(l, "make: Entering") || strings.HasPrefix(l, "make: Leaving") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}
