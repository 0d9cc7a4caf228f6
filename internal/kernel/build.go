package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	netl "github.com/netl-dev/netl"
)

// Options select a kernel.
type Options struct {
	// Series is a pinned series ("6.12"); DefaultSeries when empty.
	Series string
	// Source, when set, replaces the pinned source: a kernel source tree
	// (built out of tree, incrementally) or a tarball of one.
	Source string
	// Debug adds kernel-config/debug.config: KASAN, lockdep, kmemleak,
	// hung-task and soft-lockup detectors, fault injection.
	Debug bool
	// Extra fragments merged after the series' own.
	Extra []Fragment
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// Kernel is a built kernel in the cache.
type Kernel struct {
	Series   string        `json:"series"`
	Version  string        `json:"version"` // Debian version, or "local"
	Source   string        `json:"source"`  // package or path
	Key      string        `json:"key"`
	Debug    bool          `json:"debug"`
	Release  string        `json:"release"` // uname -r of the built kernel
	BuildFor time.Duration `json:"build_time"`
	Dir      string        `json:"-"` // the build tree: make -C Dir M=... modules
	// Pin is the pinned source (nil for a local tree or tarball), and
	// Fragments the config fragments in merge order: resolved once, by
	// Plan, and carried by the kernel from there on.
	Pin       *Pin       `json:"-"`
	Fragments []Fragment `json:"-"`
}

// BzImage is the kernel image QEMU boots.
func (k *Kernel) BzImage() string {
	if k.Prebuilt() {
		return filepath.Join(k.Dir, "vmlinuz")
	}
	return filepath.Join(k.Dir, "arch", "x86", "boot", "bzImage")
}

// Prebuilt reports whether k is Debian's prebuilt kernel (a debian-*
// series), not one netl built.
func (k *Kernel) Prebuilt() bool { return k.Pin != nil && k.Pin.Prebuilt() }

const marker = ".netl-kernel.json"

// Plan says where a kernel lives in the cache without building it.
func Plan(opts Options) (*Kernel, error) {
	if opts.Series == "" {
		opts.Series = DefaultSeries
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	if opts.Source != "" {
		return planLocal(cache, opts)
	}
	p, err := LookupPin(opts.Series)
	if err != nil {
		return nil, err
	}
	if p.Prebuilt() {
		return planPrebuilt(cache, p, opts)
	}
	frags, err := opts.fragments()
	if err != nil {
		return nil, err
	}
	src := p.Debs[0]
	key := cacheKey(fmt.Sprintf("%s %s %s", src.Package, src.Version, src.SHA256), frags)
	name := fmt.Sprintf("%s-%s%s-%s", p.Series, src.Version, flavour(opts.Debug), key)
	return &Kernel{Series: p.Series, Version: src.Version, Source: src.Package, Key: key, Debug: opts.Debug,
		Dir: filepath.Join(cache, "kernels", name), Pin: &p, Fragments: frags}, nil
}

// fragments are the series' fragments, the debug one when asked, then the
// extra ones.
func (opts Options) fragments() ([]Fragment, error) {
	var extra []Fragment
	if opts.Debug {
		data, err := fs.ReadFile(netl.KernelConfig, "kernel-config/debug.config")
		if err != nil {
			return nil, err
		}
		extra = append(extra, Fragment{Name: "kernel-config/debug.config", Data: data})
	}
	return Fragments(opts.Series, append(extra, opts.Extra...)...)
}

func flavour(debug bool) string {
	if debug {
		return "-debug"
	}
	return ""
}

func planLocal(cache string, opts Options) (*Kernel, error) {
	abs, err := filepath.Abs(opts.Source)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("kernel source: %w", err)
	}
	id := "dir:" + abs
	if !st.IsDir() {
		id = fmt.Sprintf("tarball:%s:%d:%d", abs, st.Size(), st.ModTime().UnixNano())
	}
	frags, err := opts.fragments()
	if err != nil {
		return nil, err
	}
	key := cacheKey(id, frags)
	return &Kernel{Series: opts.Series, Version: "local", Source: abs, Key: key, Debug: opts.Debug,
		Dir: filepath.Join(cache, "kernels", "local"+flavour(opts.Debug)+"-"+key), Fragments: frags}, nil
}

// sourceTree reports whether k is built from a local source directory (not
// a pin, not a tarball): one whose sources may change between runs.
func (k *Kernel) sourceTree() bool {
	if k.Version != "local" {
		return false
	}
	st, err := os.Stat(k.Source)
	return err == nil && st.IsDir()
}

// Built reports whether the planned kernel is complete in the cache.
func (k *Kernel) Built() bool {
	data, err := os.ReadFile(filepath.Join(k.Dir, marker))
	if err != nil {
		return false
	}
	var got Kernel
	if json.Unmarshal(data, &got) != nil || got.Key != k.Key {
		return false
	}
	k.Release, k.BuildFor = got.Release, got.BuildFor
	_, err = os.Stat(k.BzImage())
	return err == nil
}

// Ensure builds the planned kernel when the cache does not hold it (and
// remakes a local source tree). Concurrent callers wait on a lock; a failed
// build leaves nothing in the cache but its log.
func (k *Kernel) Ensure(progress io.Writer) error {
	if k.Built() && !k.sourceTree() {
		return nil
	}
	if progress == nil {
		progress = io.Discard
	}
	if err := CheckBuildTools(); err != nil {
		return err
	}
	cache, err := CacheDir()
	if err != nil {
		return err
	}
	lock, err := LockFile(filepath.Join(cache, "locks", filepath.Base(k.Dir)+".lock"), func() {
		fmt.Fprintf(progress, "netl: waiting for another run that is building kernel %s\n", k.Series)
	})
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if k.Built() { // built before, or by whoever held the lock
		if k.sourceTree() {
			// A source tree changes under us (that is why it is a tree and
			// not a pin): make decides what to rebuild, in seconds when
			// nothing changed.
			if err := remake(cache, k, progress); err != nil {
				return fmt.Errorf("rebuilding kernel tree %s: %w", k.Source, err)
			}
		}
		return nil
	}
	// Whoever held the lock before us and left a temporary tree was killed
	// mid-build (a `go test` timeout, Ctrl-C): nobody uses those trees.
	if stale, _ := filepath.Glob(filepath.Join(filepath.Dir(k.Dir), ".build-"+filepath.Base(k.Dir)+"-*")); len(stale) > 0 {
		fmt.Fprintf(progress, "netl: removing %d interrupted build(s) of kernel %s\n", len(stale), k.Series)
		for _, d := range stale {
			_ = os.RemoveAll(d)
		}
	}
	start := time.Now()
	switch {
	case k.Prebuilt():
		err = unpackPrebuilt(cache, k, progress)
	case k.Version == "local":
		err = buildLocal(cache, k, progress)
	default:
		err = buildPinned(cache, k, progress)
	}
	if err != nil {
		return fmt.Errorf("building kernel %s: %w", k.Series, err)
	}
	if k.Prebuilt() {
		fmt.Fprintf(progress, "netl: kernel %s (%s) ready in %s: %s\n", k.Series, k.Release, time.Since(start).Round(time.Second), k.BzImage())
		return nil
	}
	fmt.Fprintf(progress, "netl: kernel %s (%s) built in %s: %s\n", k.Series, k.Release, time.Since(start).Round(time.Second), k.BzImage())
	return nil
}

func buildPinned(cache string, k *Kernel, progress io.Writer) error {
	pin := k.Pin.Debs[0]
	deb, err := fetchDeb(cache, pin, progress)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(ensureDir(filepath.Dir(k.Dir)), ".build-"+filepath.Base(k.Dir)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	fmt.Fprintf(progress, "netl: unpacking %s\n", filepath.Base(deb))
	member := fmt.Sprintf("./usr/src/%s.tar.xz", pin.Package)
	script := `set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -xO "$2" | tar -xJ --strip-components=1 -C "$3"`
	if out, err := exec.Command("bash", "-c", script, "unpack", deb, member, tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("unpacking %s: %w\n%s", deb, err, out)
	}
	if err := configureAndMake(cache, k, tmp, "", progress); err != nil {
		return err
	}
	// The tree was built in a temporary directory; renaming it makes it
	// visible whole or not at all. Kbuild's out-of-tree module builds
	// (make -C DIR M=...) work from the renamed tree.
	_ = os.RemoveAll(k.Dir) // an incomplete tree from a recipe that crashed
	if err := os.Rename(tmp, k.Dir); err != nil {
		return err
	}
	return nil
}

func buildLocal(cache string, k *Kernel, progress io.Writer) error {
	src := k.Source
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		tmp, err := os.MkdirTemp(ensureDir(filepath.Dir(k.Dir)), ".build-"+filepath.Base(k.Dir)+"-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintf(progress, "netl: unpacking %s\n", src)
		if out, err := exec.Command("tar", "-xaf", src, "--strip-components=1", "-C", tmp).CombinedOutput(); err != nil {
			return fmt.Errorf("unpacking %s: %w\n%s", src, err, out)
		}
		if err := configureAndMake(cache, k, tmp, "", progress); err != nil {
			return err
		}
		_ = os.RemoveAll(k.Dir)
		return os.Rename(tmp, k.Dir)
	}
	if _, err := os.Stat(filepath.Join(src, "Kbuild")); err != nil {
		return fmt.Errorf("%s is not a kernel source tree (no Kbuild file)", src)
	}
	// A source tree is built out of tree into the cache, incrementally: the
	// marker is removed first, so an interrupted build is never taken for a
	// finished one.
	if err := os.MkdirAll(k.Dir, 0o755); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(k.Dir, marker))
	return configureAndMake(cache, k, src, k.Dir, progress)
}

// configureAndMake configures src (building into out when set) from
// tinyconfig plus the fragments, checks that every requested option landed,
// and builds bzImage and modules (Module.symvers is needed by modpost for
// out-of-tree modules on newer kernels).
func configureAndMake(cache string, k *Kernel, src, out string, progress io.Writer) error {
	build := src
	if out != "" {
		build = out
	}
	frags := k.Fragments
	logPath := filepath.Join(ensureDir(filepath.Join(cache, "logs")), filepath.Base(k.Dir)+".build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()

	var files []string
	for i, f := range frags {
		p := filepath.Join(build, fmt.Sprintf(".netl-fragment-%d.config", i))
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
		files = append(files, p)
	}
	makeArgs := []string{"-C", src}
	if out != "" {
		makeArgs = append(makeArgs, "O="+out)
	}
	steps := []struct {
		what string
		cmd  []string
		dir  string
	}{
		{"tinyconfig", append(append([]string{"make"}, makeArgs...), "tinyconfig"), src},
		{"merging fragments", append([]string{"scripts/kconfig/merge_config.sh", "-m", "-O", build, filepath.Join(build, ".config")}, files...), src},
		{"olddefconfig", append(append([]string{"make"}, makeArgs...), "olddefconfig"), src},
	}
	fmt.Fprintf(progress, "netl: configuring kernel %s (tinyconfig + %s)\n", k.Series, fragNames(frags))
	for _, s := range steps {
		fmt.Fprintf(logf, "+ %s\n", strings.Join(s.cmd, " "))
		c := exec.Command(s.cmd[0], s.cmd[1:]...)
		c.Dir = s.dir
		c.Stdout, c.Stderr = logf, logf
		if err := c.Run(); err != nil {
			return failed(s.what, err, logPath)
		}
	}
	dotconfig, err := os.ReadFile(filepath.Join(build, ".config"))
	if err != nil {
		return err
	}
	if err := checkConfig(dotconfig, frags); err != nil {
		return err
	}

	fmt.Fprintf(progress, "netl: building kernel %s with %d jobs (a few minutes; log: %s)\n", k.Series, runtime.NumCPU(), logPath)
	return makeKernel(k, src, build, makeArgs, logf, logPath, progress)
}

// remake runs an incremental make over a source tree built before. The
// marker goes first, so a failed or interrupted build is never taken for a
// finished one.
func remake(cache string, k *Kernel, progress io.Writer) error {
	if err := os.Remove(filepath.Join(k.Dir, marker)); err != nil {
		return err
	}
	logPath := filepath.Join(ensureDir(filepath.Join(cache, "logs")), filepath.Base(k.Dir)+".build.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(progress, "netl: make in %s (incremental; log: %s)\n", k.Source, logPath)
	return makeKernel(k, k.Source, k.Dir, []string{"-C", k.Source, "O=" + k.Dir}, logf, logPath, progress)
}

// makeKernel builds bzImage and modules in build (the tree itself, or O=)
// and writes the marker that makes the tree a finished kernel.
func makeKernel(k *Kernel, src, build string, makeArgs []string, logf io.Writer, logPath string, progress io.Writer) error {
	jobs := runtime.NumCPU()
	args := append(append([]string{}, makeArgs...), fmt.Sprintf("-j%d", jobs), "bzImage", "modules")
	fmt.Fprintf(logf, "+ make %s\n", strings.Join(args, " "))
	c := exec.Command("make", args...)
	c.Dir = src
	counter := &lineCounter{w: logf}
	c.Stdout, c.Stderr = counter, counter
	start := time.Now()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(progress, "netl: building kernel %s: %s, %d files compiled\n",
					k.Series, time.Since(start).Round(time.Second), counter.compiled.Load())
			}
		}
	}()
	err := c.Run()
	close(done)
	if err != nil {
		return failed("make bzImage modules", err, logPath)
	}
	rel, err := os.ReadFile(filepath.Join(build, "include", "config", "kernel.release"))
	if err != nil {
		return err
	}
	k.Release = strings.TrimSpace(string(rel))
	k.BuildFor = time.Since(start).Round(time.Second)
	data, _ := json.MarshalIndent(k, "", "  ")
	return os.WriteFile(filepath.Join(build, marker), data, 0o644)
}

func fragNames(frags []Fragment) string {
	var n []string
	for _, f := range frags {
		n = append(n, f.Name)
	}
	return strings.Join(n, " + ")
}

func failed(what string, err error, logPath string) error {
	data, _ := os.ReadFile(logPath)
	return fmt.Errorf("%s failed (%v); last lines of %s:\n%s", what, err, logPath, lastLines(string(data), 30))
}

// lineCounter passes make's output to the log and counts compiled files
// for the progress line (approximately: a "  CC " split across two writes
// is missed, which a progress line can afford).
type lineCounter struct {
	w        io.Writer
	compiled atomic.Int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.compiled.Add(int64(bytes.Count(p, []byte("  CC "))))
	return l.w.Write(p)
}

// CheckBuildTools reports the host programs a kernel build needs and lacks.
func CheckBuildTools() error {
	var missing []string
	for _, prog := range []string{"make", "gcc", "flex", "bison", "bc", "perl", "tar", "xz"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog)
		}
	}
	for _, hdr := range []string{"/usr/include/gelf.h", "/usr/include/openssl/opensslv.h"} {
		if _, err := os.Stat(hdr); err != nil {
			missing = append(missing, hdr)
		}
	}
	if len(missing) > 0 {
		return errors.New("building a kernel needs " + strings.Join(missing, ", ") +
			": sudo apt-get install -y " + strings.Join(BuildPackages, " "))
	}
	return nil
}

// BuildPackages are the Debian packages a kernel and module build needs.
var BuildPackages = []string{"gcc", "make", "bc", "flex", "bison", "libelf-dev", "libssl-dev", "cpio", "xz-utils", "kmod", "perl"}
