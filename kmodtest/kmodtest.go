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
// # What the guest is
//
// A u-root initramfs with netl's init, which loads the module (with
// WithModuleParams) and runs the guest test binary from the host's 9p
// share (/netl); its files (WithFiles) are in /netl/bin. The guest test
// binary is built for linux/amd64 with CGO_ENABLED=0: no cgo. The guest
// has one CPU, loopback up, debugfs on the debug flavour, and u-root's
// commands (no grep, no bash).
//
// # Host requirements
//
// QEMU, the kernel build tools and mmdebstrap, from Debian's or Ubuntu's
// packages; as root, the first run installs them, and otherwise it prints
// the apt-get command. /dev/kvm is used when it works (TCG otherwise).
// Debian's kernels build their modules in a Debian root made by mmdebstrap
// in a user namespace: on Ubuntu 24.04, sudo sysctl -w
// kernel.apparmor_restrict_unprivileged_userns=0. Kernels, modules and
// the initramfs are cached under $NETL_CACHE (default ~/.cache/netl), each
// once per content.
//
// The module's directory is built as it is, its files side by side: no
// subdirectories. An edit to the module, to the guest tests or to a package
// of your module they import reruns go test's cached test.
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

// WithTimeout bounds each guest run (boot, load, tests), within what go
// test's -timeout leaves. Without it, that does.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Result is one kernel's run.
type Result struct {
	// Kernel is the series ("6.12", "debian-6.12"), Release the kernel's
	// uname release; Debug: the debug flavour ran.
	Kernel, Release string
	Debug           bool
	// Tests are the guest tests in the order they started.
	Tests []Test
	// Failures say why the run is not a pass, one line each; empty for a
	// pass.
	Failures []string
	// ConsoleLog is the whole console: boot, module load, kernel reports.
	ConsoleLog string
	// Phases are the wall times of the run's steps, as printed.
	Phases string
	// Coverage is the module's line coverage in percent (WithCover).
	Coverage float64
}

// Test is one guest test.
type Test struct {
	Name    string
	Action  string // pass, fail, skip; empty when it never finished
	Output  string
	Reports []string // kernel reports while it ran
}

// Run runs the guest tests on each kernel, a subtest per kernel, and
// returns the results in the order of the kernels (nil for a kernel that
// could not be prepared). The guest test binary is built once, beside the
// first kernel's preparation; the module builds while each guest boots.
func Run(t *testing.T, opts ...Option) []*Result {
	t.Helper()
	c := config{debug: os.Getenv("NETL_DEBUG") != ""}
	for _, o := range opts {
		o(&c)
	}
	if c.guestTests == "" {
		t.Fatal("kmodtest.Run: no guest tests: name their package with WithGuestTests(\"./guest\")")
	}
	kernels := c.kernels
	if len(kernels) == 0 {
		if env := os.Getenv("NETL_KERNEL"); env != "" {
			kernels = []string{env}
		}
	}
	var list []string
	if len(kernels) > 0 {
		var left []string
		var err error
		if list, left, err = harness.SeriesList(strings.Join(kernels, ","), c.debug); err != nil {
			t.Fatalf("kmodtest.Run: %v", err)
		}
		if len(left) > 0 {
			t.Logf("the debug flavour exists for netl's own kernels only; leaving out %s", strings.Join(left, ", "))
		}
	}
	if len(list) == 0 || c.kernelSrc != "" {
		list = []string{""} // the default kernel, or the source tree: Prepare picks it, and says why
	}
	suite, build := harness.GoTests(".", c.guestTests, t.TempDir())
	go build() //nolint:errcheck // each run's Build returns the same error
	t.Cleanup(func() { build() })
	var results []*Result
	for _, k := range list {
		name := k
		switch {
		case c.kernelSrc != "":
			name = filepath.Base(c.kernelSrc)
		case k == "":
			name = harness.DefaultKernel(c.debug)
		}
		var res *Result
		t.Run(name, func(t *testing.T) { res = runOne(t, c, k, suite, build) })
		results = append(results, res)
	}
	return results
}

func runOne(t *testing.T, c config, series string, suite harness.Suite, build func() error) *Result {
	module := c.module
	if module == "" {
		module = "none"
	} else if abs, err := filepath.Abs(module); err == nil {
		module = abs
	}
	s := harness.PrepareForTest(t, harness.Options{Series: series, KernelSrc: c.kernelSrc, Debug: c.debug, Cover: c.cover,
		Module: module, ModParams: c.params, Append: c.cmdline, BootEarly: true})
	left := time.Duration(0)
	if deadline, ok := t.Deadline(); ok {
		left = time.Until(deadline)
	}
	if c.timeout > 0 && (left == 0 || c.timeout < left) {
		left = c.timeout + 15*time.Second // GuestTimeouts keeps 15 s for go test
	}
	var err error
	var vmTimeout time.Duration
	if suite.Timeout, vmTimeout, err = harness.GuestTimeouts(left, s.Kernel.Debug); err != nil {
		t.Fatal(err)
	}
	suite.Full = os.Getenv("CI") != ""
	logs := filepath.Join(s.Cache, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	log, err := os.CreateTemp(logs, "kmodtest-"+s.Kernel.Series+"-*.console.log")
	if err != nil {
		t.Fatal(err)
	}
	log.Close()
	res, err := s.RunTests(context.Background(), suite, harness.Run{
		Env: c.env, Files: c.files, Build: build, Timeout: vmTimeout, ConsoleLog: log.Name(),
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
	harness.Report(t, res)
	out := &Result{Kernel: res.Series, Release: res.Release, Debug: res.Debug, ConsoleLog: res.ConsoleLog, Phases: res.Phases.String()}
	for _, f := range res.Failures(os.Getenv("CI") != "") {
		out.Failures = append(out.Failures, f.String())
	}
	for _, g := range res.Tests {
		tt := Test{Name: g.Name, Action: g.Action, Output: g.Output}
		for _, r := range g.Reports {
			tt.Reports = append(tt.Reports, r.String())
		}
		out.Tests = append(out.Tests, tt)
	}
	if res.Cover != nil {
		var b strings.Builder
		if err := res.Cover.WriteReport(&b, strings.TrimSuffix(res.ConsoleLog, ".console.log"), fmt.Sprintf("%s.ko on %s (%s)", res.Cover.Module, flavour, res.Release)); err != nil {
			t.Errorf("coverage report: %v", err)
		}
		t.Log(b.String())
		out.Coverage = res.Cover.Totals().LinePercent()
	}
	return out
}
