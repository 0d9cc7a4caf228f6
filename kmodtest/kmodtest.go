// Package kmodtest tests a Linux kernel module from go test: it builds the
// module against pinned kernels (netl's own builds of 5.10, 6.1, 6.12 and
// 7.2, and Debian's prebuilt kernels), boots each under QEMU with the
// module loaded, runs a package of Go tests inside the guest, and reports
// each guest test as a subtest, with the kernel reports (oops, KASAN,
// lockdep, kmemleak, taint) that appeared while it ran.
//
// # A module's repository
//
// A repository that adopts kmodtest has three parts:
//
//	mymod/
//	  go.mod          requires github.com/netl-dev/netl
//	  kmod/Kbuild     obj-m := mymod.o
//	  kmod/mymod.c
//	  guest/mymod_test.go   //go:build netlguest  (runs inside the VM)
//	  vm_test.go            calls kmodtest.Run    (runs on the host)
//
// The host test names the module and the guest tests:
//
//	func TestVM(t *testing.T) {
//		kmodtest.Run(t,
//			kmodtest.WithModule("./kmod"),
//			kmodtest.WithGuestTests("./guest"),
//		)
//	}
//
// Each guest test starts with guest.Begin (package
// github.com/netl-dev/netl/kmodtest/guest), which skips it outside a VM and
// marks its start and end in the kernel log, so that a kernel report is
// pinned on the test that was running:
//
//	//go:build netlguest
//
//	func TestIoctl(t *testing.T) {
//		guest.Begin(t)
//		f, err := os.Open("/dev/mymod")
//		...
//	}
//
// The module's go.mod requires netl, and names netlvm, netl's command, as
// a tool:
//
//	go get github.com/netl-dev/netl@VERSION
//	go get -tool github.com/netl-dev/netl/cmd/netlvm@VERSION
//
// Then go test ./... boots the default kernel: 6.12 as netl builds it once
// it is in the cache (go tool netlvm kernel build 6.12, about 9 minutes),
// and until then Debian's prebuilt 6.12, ready in under a minute.
// $NETL_KERNEL names others: one series, a comma-separated list, or all.
// The same tests run without a host test, with a table per kernel and
// JUnit for CI (netl's GitHub Action, action.yml, runs this):
//
//	go tool netlvm test -module ./kmod -guest ./guest -kernel 6.12,debian-6.12 -junit junit.xml
//
// and a reproducer program runs with the module loaded:
//
//	go tool netlvm run -module ./kmod -- ./repro
//
// # What a run checks
//
// A guest test fails when it fails in the guest, when a kernel report
// appears while it runs, or when the guest dies under it. The run fails
// when the module does not build (the compiler's output is the message) or
// load (the kernel's message), when a report appears outside every test,
// when the kernel's taint mask gains a flag other than O (and E on a kernel
// that signs its modules), and, with $CI set, when a guest test skips for
// any reason but a kernel-version gate (guest.SkipOnOldKernel). On the
// debug flavour (WithDebug,
// $NETL_DEBUG=1), KASAN, UBSAN, lockdep, the hung-task detector and a final
// kmemleak scan watch the module.
//
// # Host requirements
//
// QEMU, the kernel build tools and mmdebstrap, from Debian's or Ubuntu's
// packages; as root, the first run installs them, and otherwise it prints
// the apt-get command. Kernels, modules and the initramfs are cached under
// $NETL_CACHE (default ~/.cache/netl), each once per content.
package kmodtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
)

// Option sets what Run does.
type Option func(*config)

type config struct {
	module, guestTests  string
	kernels             []string
	kernelSrc, params   string
	cmdline, env, files []string
	debug, cover        bool
	timeout             time.Duration
}

// WithModule names the directory of the module's Kbuild ("obj-m :=
// NAME.o"), relative to the test's package directory. The module is built
// against each kernel (make -C KERNEL M=DIR W=1) and loaded before the
// guest tests run. Without it, no module is loaded.
func WithModule(dir string) Option { return func(c *config) { c.module = dir } }

// WithGuestTests names the package of Go tests to run in the guest, as go
// test would (./guest), relative to the test's package directory. Its test
// files carry the build tag netlguest. Required.
func WithGuestTests(pkg string) Option { return func(c *config) { c.guestTests = pkg } }

// WithKernels names the kernels, each a pinned series ("6.12",
// "debian-6.12") or "all" for every one; a subtest per kernel. Without it,
// $NETL_KERNEL does (a series, a comma-separated list or all), and without
// that the default kernel.
func WithKernels(series ...string) Option { return func(c *config) { c.kernels = series } }

// WithKernelSource builds a kernel from a source tree or tarball instead
// of a pinned series (the pinned config fragments applied).
func WithKernelSource(path string) Option { return func(c *config) { c.kernelSrc = path } }

// WithModuleParams gives the module's parameters, "k=v k=v". A parameter
// the module refuses fails the load, and the run, with the kernel's
// message.
func WithModuleParams(p string) Option { return func(c *config) { c.params = p } }

// WithCmdline adds words to the kernel command line
// ("sysctl.kernel.panic_on_warn=1").
func WithCmdline(words ...string) Option {
	return func(c *config) { c.cmdline = append(c.cmdline, words...) }
}

// WithDebug boots the debug flavour of netl's kernels: KASAN, UBSAN
// bounds, lockdep, the hung-task detector, kmemleak (a scan after the
// tests), fault injection. Debian's prebuilt kernels have none.
func WithDebug() Option { return func(c *config) { c.debug = true } }

// WithCover reports the module's line and branch coverage from the run, as
// a table in the test log and an lcov tracefile and HTML beside the
// console log. It implies WithDebug (gcov's kernel runtime is there).
func WithCover() Option { return func(c *config) { c.cover, c.debug = true, true } }

// WithFiles copies host files into the guest, beside the test binary, at
// /netl/bin/NAME: helper programs (static), data.
func WithFiles(paths ...string) Option {
	return func(c *config) { c.files = append(c.files, paths...) }
}

// WithEnv adds "NAME=VALUE" words to the guest tests' environment.
func WithEnv(vars ...string) Option { return func(c *config) { c.env = append(c.env, vars...) } }

// WithTimeout bounds each guest run (boot, load, tests). Without it, go
// test's -timeout does, less what the boot needs.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Result is one guest run: the kernel, the guest's status, its tests with
// their output and kernel reports, the phases' times, the console log.
type Result = harness.Result

// Run runs the guest tests on each kernel, a subtest per kernel, and
// returns the results in the order of the kernels (nil for a kernel that
// could not be prepared). The module and the guest test binary build while
// the guest boots.
func Run(t *testing.T, opts ...Option) []*Result {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.guestTests == "" {
		t.Fatal("kmodtest.Run: no guest tests: name their package with WithGuestTests(\"./guest\")")
	}
	kernels, err := kernelList(c.kernels)
	if err != nil {
		t.Fatalf("kmodtest.Run: %v", err)
	}
	var results []*Result
	for _, k := range kernels {
		var res *Result
		name := k
		switch {
		case c.kernelSrc != "":
			name = filepath.Base(c.kernelSrc)
		case k == "":
			name = harness.DefaultKernel(c.debug) // what Prepare picks, and says why
		}
		t.Run(name, func(t *testing.T) { res = runOne(t, c, k) })
		results = append(results, res)
	}
	return results
}

// kernelList reads WithKernels, or $NETL_KERNEL: "" is the default kernel.
func kernelList(names []string) ([]string, error) {
	if len(names) == 0 {
		names = strings.Split(os.Getenv("NETL_KERNEL"), ",")
	}
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n != "all" {
			out = append(out, n)
			continue
		}
		pins, err := kernel.Pins()
		if err != nil {
			return nil, err
		}
		out = append(out, kernel.Series(pins)...)
	}
	return out, nil
}

func runOne(t *testing.T, c config, series string) *Result {
	module := c.module
	if module == "" {
		module = "none"
	} else if abs, err := filepath.Abs(module); err == nil {
		module = abs
	}
	opts := harness.Options{Series: series, KernelSrc: c.kernelSrc, Debug: c.debug, Cover: c.cover,
		Module: module, ModParams: c.params, Append: c.cmdline, Timeout: c.timeout, BootEarly: true}
	dir := t.TempDir()
	suite, build := harness.GoTests(".", c.guestTests, dir)
	go build() //nolint:errcheck // Run.Build returns the same error
	t.Cleanup(func() { build() })
	s := harness.PrepareForTest(t, opts)
	suite.Full = os.Getenv("CI") != ""
	if deadline, ok := t.Deadline(); ok {
		// The guest's own timeout goes first, so that it names the test
		// that hung; the boot and the module's load come before it.
		around := time.Minute
		if s.Kernel.Debug {
			around = 2 * time.Minute
		}
		suite.Timeout = time.Until(deadline) - around
		if suite.Timeout < 10*time.Second {
			t.Fatalf("go test -timeout leaves %s: too little to boot the guest and run its tests", time.Until(deadline).Round(time.Second))
		}
	}
	logName := fmt.Sprintf("kmodtest-%s-%s.console.log", filepath.Base(t.Name()), time.Now().Format("20060102-150405"))
	res, err := s.RunTests(context.Background(), suite, harness.Run{
		Env: c.env, Files: c.files, Build: build,
		ConsoleLog: filepath.Join(s.Cache, "logs", strings.ReplaceAll(logName, "/", "_")),
	})
	if res == nil {
		t.Fatalf("the harness could not run the guest: %v", err)
	}
	flavour := res.Series
	if res.Debug {
		flavour += " (debug)"
	}
	t.Logf("kernel %s (%s), accelerator %s, console log %s", flavour, res.Release, res.Accel, res.ConsoleLog)
	fmt.Fprintf(harness.ProgressWriter(), "netl: kernel %s (%s) phases: %s\nnetl: console log %s\n", flavour, res.Release, res.Phases, res.ConsoleLog)
	Report(t, res)
	if res.Cover != nil {
		var b strings.Builder
		if err := res.Cover.WriteReport(&b, strings.TrimSuffix(res.ConsoleLog, ".console.log"), fmt.Sprintf("%s.ko on %s (%s)", res.Cover.Module, flavour, res.Release)); err != nil {
			t.Errorf("coverage report: %v", err)
		}
		t.Log(b.String())
	}
	return res
}

// Report shows a guest run on t: each guest test as a subtest with its
// output, result and the kernel reports placed in it; and on t itself what
// lies outside every test (a VM that did not report, init's errors,
// reports during boot, an exit status no test explains).
func Report(t *testing.T, res *Result) {
	t.Helper()
	ci := os.Getenv("CI") != ""
	// What lies outside every test, from the one list of failures; a
	// guest that died still has its tests below, the one that was running
	// when it died among them.
	ran := map[string]bool{}
	for _, g := range res.Tests {
		ran[g.Name] = true
	}
	for _, f := range res.Failures(ci) {
		switch {
		case f.Test != "" && ran[f.Test]:
			// the guest test's subtest below says it
		case f.Test != "":
			t.Errorf("%s\n%s", f, f.Detail) // its output died with the guest
		case f.Detail != "":
			t.Errorf("%s", f.Detail)
		default:
			t.Errorf("%s\noutput:\n%s\nconsole tail:\n%s", f.Reason, res.Output, strings.Join(res.Tail, "\n"))
		}
	}
	for _, g := range res.Tests {
		t.Run(g.Name, func(t *testing.T) {
			for _, r := range g.Reports {
				t.Errorf("%s", r)
			}
			out := strings.TrimRight(g.Output, "\n")
			// Skipped subtests show as skips here too; in CI a skip
			// that is not a kernel-version gate fails.
			for _, sk := range g.Skips {
				if sk.Name == g.Name {
					continue
				}
				t.Run(strings.TrimPrefix(sk.Name, g.Name+"/"), func(t *testing.T) {
					if ci && !sk.Gate() {
						t.Errorf("skipped in the guest (%s), and CI allows no skip but a kernel-version gate", sk.Reason)
						return
					}
					t.Skip(sk.Reason)
				})
			}
			switch g.Action {
			case "pass":
				t.Log("\n" + out)
			case "skip":
				if ci && (len(g.Skips) == 0 || !g.Skips[len(g.Skips)-1].Gate()) {
					t.Errorf("skipped in the guest, and CI allows no skip but a kernel-version gate:\n%s", out)
					return
				}
				t.Skip("\n" + out)
			case "fail":
				t.Error("\n" + out)
			default:
				t.Errorf("never finished in the guest (timeout or crash):\n%s", out)
			}
		})
	}
}
