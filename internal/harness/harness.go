// Package harness ties netl's parts into one run: host packages, the cached
// kernel, the module built against it, the cached initramfs, and a QEMU
// guest that loads the module and runs a program. Both the `netlvm` CLI and
// the host side of the VM tests go through it.
package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	netl "github.com/netl-dev/netl"
	"github.com/netl-dev/netl/initramfs"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/vm"
)

// Options select what a Session boots.
type Options struct {
	Series    string // pinned series; kernel.DefaultSeries when empty
	KernelSrc string // a kernel source tree or tarball instead of the pin
	Debug     bool   // the debug flavour (kernel-config/debug.config)
	// Module is "netl" (built from kmod/), "seed" (kmod/seed), "none", the
	// path of a .ko, or a directory with a Kbuild to build against the kernel.
	Module    string
	ModParams string
	Timeout   time.Duration
	// Append adds kernel command-line words (sysctl.kernel.x=y, ...).
	Append []string
	// Progress receives what the harness is doing (builds, accelerator).
	Progress io.Writer
}

// Phases are the wall times of a run's steps.
type Phases struct {
	Kernel, Module, Initramfs time.Duration
	Boot                      time.Duration // kernel start to netl's init (guest uptime)
	Clock                     time.Duration // init waiting for high-resolution timers
	Program                   time.Duration // the program in the guest
	VM                        time.Duration // QEMU start to exit; the rest is firmware, module load and the final reset
}

func (p Phases) String() string {
	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	return fmt.Sprintf("kernel %s, module %s, initramfs %s | vm %s = boot to init %s + clock settle %s + program %s + firmware/modload/reset %s",
		r(p.Kernel), r(p.Module), r(p.Initramfs), r(p.VM), r(p.Boot), r(p.Clock), r(p.Program), r(p.VM-p.Boot-p.Clock-p.Program))
}

// Session is a prepared kernel, module and initramfs.
type Session struct {
	Opts      Options
	Root      string // the netl repository
	Cache     string
	Kernel    *kernel.Kernel
	Module    string // host path of the .ko; empty with Module "none"
	Initramfs string
	Phases    Phases
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
	kopts := kernel.Options{Series: opts.Series, Source: opts.KernelSrc, Debug: opts.Debug, Progress: opts.Progress}
	if _, err := kernel.Plan(kopts); err != nil {
		return nil, err
	}
	s := &Session{Opts: opts, Root: root}
	if s.Cache, err = kernel.CacheDir(); err != nil {
		return nil, err
	}
	if err := EnsureHostDeps(opts.Progress); err != nil {
		return nil, err
	}
	t := time.Now()
	if s.Kernel, err = kernel.Ensure(kopts); err != nil {
		return nil, err
	}
	s.Phases.Kernel = time.Since(t)

	t = time.Now()
	switch m := opts.Module; {
	case m == "netl":
		if s.Module, err = kernel.BuildModule(s.Kernel, netl.Module, "kmod", "netl", opts.Progress); err != nil {
			return nil, err
		}
	case modName != "":
		if s.Module, err = kernel.BuildModule(s.Kernel, os.DirFS(m), ".", modName, opts.Progress); err != nil {
			return nil, err
		}
	case m != "none":
		s.Module, _ = filepath.Abs(m)
	}
	s.Phases.Module = time.Since(t)

	t = time.Now()
	if s.Initramfs, err = initramfs.Ensure(s.Root, s.Cache, opts.Progress); err != nil {
		return nil, err
	}
	s.Phases.Initramfs = time.Since(t)
	return s, nil
}

// Run describes one program run in the guest.
type Run struct {
	// Program is a host file (static binary or script) copied into the
	// guest, or an absolute guest path ("/bbin/gosh") when Guest is set.
	Program string
	Guest   bool
	Args    []string
	Env     []string
	// Stdout, when set, is a file name in the share for the program's
	// standard output; Share then holds it after the run.
	Stdout string
	// Share is the host directory shared with the guest; a temporary one
	// when empty.
	Share       string
	Console     io.Writer // live console lines
	ConsoleLog  string    // whole console; in Share when empty
	Interactive bool
}

// Run boots the guest, loads the module, runs the program and returns the
// guest's report. An error means the guest did not report: it did not boot,
// hung, or panicked; the error carries the console tail and QEMU command.
func (s *Session) Run(ctx context.Context, r Run) (*vm.Result, error) {
	share := r.Share
	if share == "" {
		d, err := os.MkdirTemp("", "netl-run-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		share = d
	}
	spec := initramfs.RunSpec{ModParams: s.Opts.ModParams, Args: r.Args, Env: r.Env, Stdout: r.Stdout}
	if s.Module != "" {
		spec.Module = filepath.Base(s.Module)
		if err := copyFile(s.Module, filepath.Join(share, spec.Module), 0o644); err != nil {
			return nil, err
		}
	}
	if r.Guest {
		spec.Program = r.Program
	} else {
		st, err := os.Stat(r.Program)
		if err != nil {
			return nil, fmt.Errorf("program: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("program %s is a directory", r.Program)
		}
		spec.Program = "bin/" + filepath.Base(r.Program)
		if err := os.MkdirAll(filepath.Join(share, "bin"), 0o755); err != nil {
			return nil, err
		}
		if err := copyFile(r.Program, filepath.Join(share, spec.Program), 0o755); err != nil {
			return nil, err
		}
	}
	_ = os.Remove(filepath.Join(share, "status.json"))
	if err := initramfs.WriteSpec(share, spec); err != nil {
		return nil, err
	}
	log := r.ConsoleLog
	if log == "" {
		log = filepath.Join(share, "console.log")
	}
	res, err := vm.Run(ctx, vm.Config{
		Kernel:      s.Kernel.BzImage(),
		Initramfs:   s.Initramfs,
		Share:       share,
		Timeout:     s.Opts.Timeout,
		Cache:       s.Cache,
		ConsoleLog:  log,
		Console:     r.Console,
		Interactive: r.Interactive,
		Append:      s.Opts.Append,
	})
	if res != nil {
		s.Phases.VM = res.Wall
		if res.Status != nil {
			s.Phases.Program = seconds(res.Status.ProgramSeconds)
			s.Phases.Boot = seconds(res.Status.BootSeconds)
			s.Phases.Clock = seconds(res.Status.ClockSeconds)
		}
	}
	return res, err
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// GuestPackage holds the tests that run inside the VM. Its test files carry
// the netlguest build tag, so `go test ./...` on the host does not run them
// outside a guest.
const GuestPackage = "github.com/netl-dev/netl/vmtest/guest"

// BuildGuestTests compiles the guest suite as a static test binary in dir.
func BuildGuestTests(root, dir string) (string, error) {
	bin := filepath.Join(dir, "guest.test")
	cmd := exec.Command("go", "test", "-c", "-tags", "netlguest", "-o", bin, GuestPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the guest tests: %w\n%s", err, out)
	}
	return bin, nil
}

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

// RepoRoot finds the netl repository from the working directory upwards:
// the initramfs is built from its packages.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if isNetlRoot(d) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside the netl repository (no go.mod for github.com/netl-dev/netl above it); run from the repository", dir)
		}
	}
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
