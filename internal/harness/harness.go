// Package harness ties netl's parts into one run: host packages, the cached
// kernel, the module built against it, the cached initramfs, and a QEMU
// guest that loads the module and runs a program. Both the `netlvm` CLI and
// the host side of the VM tests go through it.
package harness

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/netl-dev/netl/initramfs"
	"github.com/netl-dev/netl/internal/cover"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/splat"
)

// Options select what a Session boots.
type Options struct {
	Series    string // pinned series; empty: the default (Prepare)
	KernelSrc string // a kernel source tree or tarball instead of the pin
	Debug     bool   // the debug flavour (kernel-config/debug.config)
	// Cover builds the module profiled for gcov and brings its counters
	// back after the run (Result.Cover). It needs the module's sources and
	// gcov's kernel runtime, so it implies Debug and refuses a .ko file
	// and Debian's prebuilt kernels.
	Cover bool
	// Module is "netl" (built from kmod/), "seed" (kmod/seed), "none", the
	// path of a .ko, or a directory with a Kbuild to build against the kernel.
	Module    string
	ModParams string
	Timeout   time.Duration
	// Append adds kernel command-line words (sysctl.kernel.x=y, ...).
	Append []string
	// Progress receives what the harness is doing (builds, accelerator).
	Progress io.Writer
	// Allow lists kernel reports that do not fail a run, each with its
	// reason; empty, every report counts.
	Allow []splat.Allow
	// BuildDeadline, when set, is when the caller gives up (go test's
	// -timeout): a kernel build from source that could not end before it
	// (KernelBuildTime) is refused with the command that builds it.
	BuildDeadline time.Time
	// BootEarly: Prepare starts the module's build and returns, and Run
	// boots the guest beside it; the guest's init waits for the module
	// (contract.RunSpec.WaitForHost). The edit loop's build then costs only
	// what the boot does not hide. Session.Module is set once WaitModule
	// returns.
	BootEarly bool
}

// Session is a prepared kernel, module and initramfs.
type Session struct {
	Opts      Options
	Root      string // the netl repository
	Cache     string
	Kernel    *kernel.Kernel
	Module    string // host path of the .ko; empty with Module "none"
	Initramfs string
	// Prepared holds the wall times of Prepare's steps (kernel, module,
	// initramfs); every Result starts from them.
	Prepared Phases

	gcov        string        // Options.Cover: the gcov of the module's compiler
	moduleName  string        // the .ko's file name, known before it is built
	moduleBuilt chan struct{} // closed when a BootEarly build ended
	moduleErr   error
}

// WaitModule waits for the module's build (Options.BootEarly) and returns
// its error; at once without BootEarly, where Prepare built it.
func (s *Session) WaitModule() error {
	if s.moduleBuilt == nil {
		return nil
	}
	<-s.moduleBuilt
	return s.moduleErr
}

// Prepare makes sure everything a run needs exists, building what the
// cache lacks.
func Prepare(opts Options) (*Session, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Module == "" {
		opts.Module = "netl"
	}
	if err := CheckModParams(opts.ModParams); err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if opts.Module == "seed" {
		opts.Module = filepath.Join(root, "kmod", "seed")
	}
	if opts.Cover {
		if m := opts.Module; m == "none" || strings.HasSuffix(m, ".ko") {
			return nil, fmt.Errorf("coverage needs the module's sources to build it profiled: want netl, seed or a directory with a Kbuild, not %q", m)
		}
		if kernel.IsPrebuilt(opts.Series) {
			return nil, fmt.Errorf("coverage needs gcov's kernel runtime (CONFIG_GCOV_KERNEL), which Debian's kernel %s lacks: use one of netl's own series (6.12, ...)", opts.Series)
		}
		opts.Debug = true // where CONFIG_GCOV_KERNEL is (kernel-config/debug.config)
	}
	// Bad input fails here, before minutes of building.
	var modName string
	switch m := opts.Module; {
	case m == "none", m == "netl":
	case strings.HasSuffix(m, ".ko"):
		if _, err := os.Stat(m); err != nil {
			return nil, fmt.Errorf("module: %w", err)
		}
	default:
		var err error
		if modName, err = kbuildModule(m); err != nil {
			return nil, fmt.Errorf("module %q: want netl, seed, none, a .ko file or a directory with a Kbuild: %w", m, err)
		}
	}
	// The series is resolved here, once: the kernel carries its pin and
	// fragments from now on.
	k, err := planKernel(opts)
	if err != nil {
		return nil, err
	}
	s := &Session{Opts: opts, Root: root, Kernel: k}
	if s.Cache, err = kernel.CacheDir(); err != nil {
		return nil, err
	}
	var also []string
	if opts.Cover {
		also = append(also, "genhtml") // lcov's, for the HTML report
	}
	if err := EnsureHostDeps(opts.Progress, also...); err != nil {
		return nil, err
	}
	// The initramfs builds beside the kernel: on a first run both are
	// minutes of work of different kinds (go build; a download and xz).
	initramfsDone := make(chan error, 1)
	go func() {
		t := time.Now()
		var err error
		s.Initramfs, err = initramfs.Ensure(s.Root, s.Cache, opts.Progress)
		s.Prepared.Initramfs = time.Since(t)
		initramfsDone <- err
	}()
	t := time.Now()
	if err := k.Ensure(opts.Progress); err != nil {
		<-initramfsDone
		return nil, err
	}
	s.Prepared.Kernel = time.Since(t)

	buildModule := kernel.BuildModule
	if opts.Cover {
		if s.gcov, err = cover.GcovFor(k.ConfigValue("CONFIG_GCC_VERSION")); err != nil {
			<-initramfsDone
			return nil, err
		}
		buildModule = kernel.BuildModuleCover
	}
	var build func() (string, error)
	switch m := opts.Module; {
	case m == "netl":
		s.moduleName = "netl.ko"
		build = func() (string, error) {
			return buildModule(s.Kernel, os.DirFS(root), "kmod", "netl", opts.Progress)
		}
	case modName != "":
		s.moduleName = modName + ".ko"
		build = func() (string, error) {
			return buildModule(s.Kernel, os.DirFS(m), ".", modName, opts.Progress)
		}
	case m != "none":
		s.Module, _ = filepath.Abs(m)
		s.moduleName = filepath.Base(s.Module)
	}
	switch {
	case build != nil && opts.BootEarly:
		s.moduleBuilt = make(chan struct{})
		go func() {
			defer close(s.moduleBuilt)
			t := time.Now()
			s.Module, s.moduleErr = build()
			s.Prepared.Module = time.Since(t)
		}()
	case build != nil:
		t := time.Now()
		if s.Module, err = build(); err != nil {
			<-initramfsDone
			return nil, err
		}
		s.Prepared.Module = time.Since(t)
	}

	if err := <-initramfsDone; err != nil {
		return nil, err
	}
	if layer := k.BootModules(); layer != "" {
		if s.Initramfs, err = initramfs.WithLayer(s.Cache, s.Initramfs, layer, k.Key); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// planKernel plans the kernel opts name. With no series named, that is
// kernel.DefaultSeries (6.12, netl's own build: a guest boots it in about
// a second, which is what the edit loop is made of) once it is in the
// cache; until then Debian's prebuilt kernel of the same series
// (kernel.DefaultPrebuilt: ready in under a minute, where the build takes
// about nine, but booting in about ten seconds), said on progress. The
// debug flavour exists only as netl's build. A build from source that
// cannot end before opts.BuildDeadline is an error.
func planKernel(opts Options) (*kernel.Kernel, error) {
	if opts.Series == "" && opts.KernelSrc == "" {
		if opts.Series = DefaultKernel(opts.Debug); opts.Series == kernel.DefaultPrebuilt {
			fmt.Fprintf(opts.Progress, "netl: kernel %s is not built yet, so this run uses Debian's prebuilt %s "+
				"(its guest boots in ~10 s instead of ~1 s). Build %s once (about 9 min) for the fast edit loop: %s; "+
				"or name a kernel: NETL_KERNEL=%s\n",
				kernel.DefaultSeries, kernel.DefaultPrebuilt, kernel.DefaultSeries, buildCommand(kernel.DefaultSeries, false), kernel.DefaultSeries)
		}
	}
	k, err := kernel.Plan(kernel.Options{Series: opts.Series, Source: opts.KernelSrc, Debug: opts.Debug})
	if err != nil {
		return nil, err
	}
	if left := time.Until(opts.BuildDeadline); !opts.BuildDeadline.IsZero() && !k.Prebuilt() && !k.Built() && left < KernelBuildTime {
		name := k.Series
		if k.Debug {
			name += " (debug flavour)"
		}
		return nil, fmt.Errorf("kernel %s is not built, and a build takes up to %s here, more than go test -timeout leaves (%s).\n"+
			"Build it first, with progress: %s\n(or run with -timeout 60m; without NETL_KERNEL the default uses Debian's prebuilt kernel until 6.12 is built)",
			name, KernelBuildTime, left.Round(time.Second), buildCommand(k.Series, k.Debug))
	}
	return k, nil
}

// buildCommand is how the user builds a kernel from where they are: make
// in netl's checkout, netlvm (a tool of their module) anywhere else.
func buildCommand(series string, debug bool) string {
	if wd, err := os.Getwd(); err == nil && checkout(wd) != "" {
		return "make kernel SERIES=" + series + map[bool]string{true: " DEBUG=1"}[debug]
	}
	return "go tool netlvm kernel build " + map[bool]string{true: "-debug "}[debug] + series
}

// SeriesList reads a list of kernels as users write it: one pinned series,
// a comma-separated list (spaces allowed), or all. With debug, all leaves
// out Debian's prebuilt series, which have no debug flavour, and returns
// them as left; a prebuilt series named on its own stays, for Prepare to
// refuse with its reason. Every name must be pinned.
func SeriesList(v string, debug bool) (list, left []string, err error) {
	pins, err := kernel.Pins()
	if err != nil {
		return nil, nil, err
	}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s != "all" {
			if _, err := kernel.LookupPin(s); err != nil {
				return nil, nil, err
			}
			list = append(list, s)
			continue
		}
		for _, p := range kernel.Series(pins) {
			if debug && kernel.IsPrebuilt(p) {
				left = append(left, p)
			} else {
				list = append(list, p)
			}
		}
	}
	return list, left, nil
}

// DefaultKernel is the series Prepare boots when none is named:
// kernel.DefaultSeries once it is built (or for the debug flavour, which
// only netl builds), else kernel.DefaultPrebuilt.
func DefaultKernel(debug bool) string {
	if debug {
		return kernel.DefaultSeries
	}
	if k, err := kernel.Plan(kernel.Options{Series: kernel.DefaultSeries}); err == nil && !k.Built() {
		return kernel.DefaultPrebuilt
	}
	return kernel.DefaultSeries
}

// KernelBuildTime is what a kernel build from source takes here, with
// margin (7-9 min measured on 2 cores under load).
const KernelBuildTime = 20 * time.Minute

// kbuildModule returns the module a directory's Kbuild builds: the one
// "obj-m := NAME.o".
func kbuildModule(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Kbuild"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(strings.TrimRight(strings.TrimSpace(k), ":+")) == "obj-m" {
			if f := strings.Fields(v); len(f) == 1 && strings.HasSuffix(f[0], ".o") {
				return strings.TrimSuffix(f[0], ".o"), nil
			}
		}
	}
	return "", fmt.Errorf("%s/Kbuild has no single obj-m := NAME.o", dir)
}

// CheckModParams rejects module parameters that are not "key=value" words,
// before a VM is booted to find out.
func CheckModParams(p string) error {
	for _, w := range strings.Fields(p) {
		k, _, ok := strings.Cut(w, "=")
		if !ok || k == "" || strings.ContainsAny(k, "/\\\"'") {
			return fmt.Errorf("module parameter %q: want key=value", w)
		}
	}
	return nil
}

// ModulePath is netl's Go module path.
const ModulePath = "github.com/netl-dev/netl"

// RepoRoot finds netl's module, whose packages the initramfs is built from
// (the guest init, netlctl) and whose kmod/ holds netl.ko and the seed. It
// looks, in order:
//   - for a binary built from a released netl (go run
//     github.com/netl-dev/netl/cmd/netlvm@VERSION), at that version's copy in
//     the module cache (go mod download);
//   - from the working directory upwards, for netl's own checkout;
//   - in the working directory's Go module, which requires netl (go list -m:
//     the directory a replace names, or the module cache's copy).
//
// The module cache's copy is read-only; nothing is written into it.
func RepoRoot() (string, error) { return repoRoot() }

// repoRoot looks once per process, from the working directory.
var repoRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return findRepoRoot(dir)
})

func findRepoRoot(dir string) (string, error) {
	// A binary built from a released netl (go run .../cmd/netlvm@VERSION)
	// uses that version's guest side, whatever the directory requires:
	// host and guest must agree on contract's files.
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == ModulePath && bi.Main.Replace == nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		d, err := goModuleDir(dir, "mod", "download", "-json", ModulePath+"@"+bi.Main.Version)
		if err != nil {
			return "", fmt.Errorf("netl %s's module source: %w", bi.Main.Version, err)
		}
		return d, nil
	}
	if d := checkout(dir); d != "" {
		return d, nil
	}
	// A test or tool of another module: the netl its go.mod requires, the
	// one go built it from.
	if d, err := goModuleDir(dir, "list", "-m", "-json", ModulePath); err == nil {
		return d, nil
	}
	return "", fmt.Errorf("cannot find netl's module from %s: not inside its checkout, and no go.mod here requires %s "+
		"(in your module: go get %s; or run netlvm as go run %s/cmd/netlvm@VERSION)", dir, ModulePath, ModulePath, ModulePath)
}

// checkout is netl's checkout that dir is in, from dir upwards; empty when
// there is none.
func checkout(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if isNetlRoot(d) {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// goModuleDir runs a go command that prints a module as JSON (go list -m
// -json, go mod download -json) and returns its directory, downloading the
// module when go list knows it but has not fetched it.
func goModuleDir(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	var m struct {
		Path, Version, Dir, Error string
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	if m.Dir == "" && m.Version != "" && args[0] == "list" {
		return goModuleDir(dir, "mod", "download", "-json", m.Path+"@"+m.Version)
	}
	if m.Dir == "" || !isNetlRoot(m.Dir) {
		return "", fmt.Errorf("go %s: no source directory of %s (%s)", strings.Join(args, " "), ModulePath, m.Error)
	}
	return m.Dir, nil
}

func isNetlRoot(d string) bool {
	f, err := os.Open(filepath.Join(d, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "module github.com/netl-dev/netl" {
			return true
		}
	}
	return false
}

// EnsureKernel builds (or finds in the cache) the kernel opts name, with
// the host packages a build needs: netlvm kernel build, and the matrix,
// which builds every kernel before it boots any.
func EnsureKernel(opts Options) (*kernel.Kernel, error) {
	k, err := kernel.Plan(kernel.Options{Series: opts.Series, Source: opts.KernelSrc, Debug: opts.Debug})
	if err != nil {
		return nil, err
	}
	if err := EnsureHostDeps(opts.Progress); err != nil {
		return nil, err
	}
	return k, k.Ensure(opts.Progress)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
