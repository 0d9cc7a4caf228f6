// Command netlvm is netl's harness CLI: it builds and lists the pinned
// kernels, runs a program in a guest with netl.ko loaded, and opens a guest
// shell.
//
//	netlvm kernel list
//	netlvm kernel build [SERIES|all]
//	netlvm kernel pin SERIES
//	netlvm run [-kernel SERIES] [-module netl|none|PATH.ko] [-modparams "k=v ..."] [-timeout D] -- PROGRAM [ARGS]
//	netlvm shell [-kernel SERIES] [-modparams "k=v ..."]
//	netlvm test [-kernel SERIES|all] [-j N] [-run REGEXP]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/vm"
)

const usage = `netlvm: netl's harness for kernel modules in QEMU guests

usage:
  netlvm kernel list                    pinned series, versions, build state, bzImage paths
  netlvm kernel build [SERIES|all]      build (or find in the cache) pinned kernels
  netlvm kernel pin SERIES              show the versions Debian serves; -write moves the pin
  netlvm kernel pin -check SERIES|all   is every pinned package still served? (the scheduled workflow)
  netlvm kernel path [SERIES|all]       the cache directory of each series' build tree
  netlvm kernel prune [-n]              remove cached trees no pin and fragment names any more
  netlvm run [flags] -- PROGRAM [ARGS]  boot with the module loaded, run PROGRAM (a host
                                        file: static binary or script), exit with its status
  netlvm shell [flags]                  interactive guest shell with the module loaded
  netlvm test [-kernel S|S,S|all] [-j N] [-run RE] [-debug]
                                        the VM suite on each series, side by side; one table
  netlvm test -cover [-cover-min PCT]   the same on the debug flavour, with netl.c's line and
                                        branch coverage per function (lcov and HTML in logs/)
  netlvm test -guest PKG [-module DIR] [-kernel ...] [-junit FILE] [-timeout D] [-logs DIR]
                                        a module's own guest tests (build tag netlguest, in the
                                        current directory's Go module), a table per series
  netlvm bench [-kernel S|all] [-n N]   floor (bare boot) vs each phase of a warm run
  netlvm claims [-kernel S|all]         the seed's claims C1-C15 per series: the guest suite,
                                        and the repro cases claims name (C6: B5); one table
  netlvm repro [ID] [-kernel S|all]     reported bugs (vmtest/repro/ID): shown on the buggy
                                        module, absent on netl.ko?

run and shell flags:
  -kernel SERIES       pinned series (default ` + kernel.DefaultSeries + ` once built, else Debian's ` + kernel.DefaultPrebuilt + `,
                       ready in a minute where a build takes nine)
  -kernel-src PATH     build a kernel source tree or tarball instead of the pin
  -module M            netl (default: built from kmod/), seed (the article's module, kmod/seed),
                       none, PATH.ko, or a directory with a Kbuild (built against the kernel)
  -append "w .."       extra kernel command-line words (e.g. sysctl.kernel.hung_task_timeout_secs=5)
  -console FILE        keep the whole console log there (default: the cache's logs/)
  -modparams "k=v .."  module parameters
  -timeout D           bound on the whole guest run (default ` + "5m" + `)
  -debug               the debug flavour of the kernel (KASAN, lockdep, kmemleak, hung-task, fault injection)
  -cover               (run) the module's coverage from this run: built for gcov, on the debug
                       flavour; a table, lcov and HTML (works with -module DIR)
  -v                   show the kernel's boot messages (always kept in the console log)

environment: NETL_CACHE (cache directory), NETL_ACCEL (kvm|tcg, skips the probe)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	code := 0
	switch os.Args[1] {
	case "kernel":
		err = kernelCmd(os.Args[2:])
	case "run":
		code, err = runCmd(os.Args[2:], false)
	case "shell":
		code, err = runCmd(os.Args[2:], true)
	case "test":
		code, err = testCmd(os.Args[2:])
	case "repro":
		code, err = reproCmd(os.Args[2:])
	case "claims":
		code, err = claimsCmd(os.Args[2:])
	case "bench":
		code, err = benchCmd(os.Args[2:])
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
		return
	default:
		err = usageError(fmt.Sprintf("unknown command %q", os.Args[1]))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "netlvm: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments (netlvm repro B2 -kernel all, netlvm kernel build 6.1 -debug),
// where flag.Parse alone stops at the first positional one and would leave
// the flags after it unread. It returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

type usageError string

func (u usageError) Error() string { return string(u) + " (netlvm help)" }

func kernelCmd(args []string) error {
	if len(args) == 0 {
		return usageError("kernel: want list, build, path, pin or prune")
	}
	fs := flag.NewFlagSet("kernel "+args[0], flag.ContinueOnError)
	src := fs.String("kernel-src", "", "kernel source tree or tarball instead of the pin")
	write := fs.Bool("write", false, "pin: move the pin to the newest served version")
	check := fs.Bool("check", false, "pin: check that every pinned package is still served (else: from the snapshot archive, or not at all)")
	debug := fs.Bool("debug", false, "the debug flavour (KASAN, lockdep, kmemleak, hung-task, fault injection)")
	dryRun := fs.Bool("n", false, "prune: only list what would be removed")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return usageError(err.Error())
	}
	if len(pos) > 1 {
		return usageError(fmt.Sprintf("kernel %s takes one series, a comma-separated list or all, not %q", args[0], pos))
	}
	pins, err := kernel.Pins()
	if err != nil {
		return err
	}
	series := kernel.Series(pins)
	if len(pos) > 0 || *debug {
		v := "all"
		if len(pos) > 0 {
			v = pos[0]
		}
		if series, err = seriesList(v, *debug); err != nil {
			return err
		}
	}
	switch args[0] {
	case "list":
		fmt.Printf("%-12s %-14s %-6s %s\n", "SERIES", "VERSION", "BUILT", "BZIMAGE")
		for _, s := range series {
			k, err := kernel.Plan(kernel.Options{Series: s, Debug: *debug})
			if err != nil {
				return err
			}
			built := "no"
			if k.Built() {
				built = "yes"
			}
			fmt.Printf("%-12s %-14s %-6s %s\n", s, k.Version, built, k.BzImage())
		}
		return nil
	case "build":
		for _, s := range series {
			k, err := harness.EnsureKernel(harness.Options{Series: s, KernelSrc: *src, Debug: *debug, Progress: os.Stderr})
			if err != nil {
				return err
			}
			fmt.Printf("%s %s %s\n", s, k.Release, k.BzImage())
		}
		return nil
	case "path":
		// The build tree of each series: CI caches it, checkpatch runs from it.
		for _, s := range series {
			k, err := kernel.Plan(kernel.Options{Series: s, Source: *src, Debug: *debug})
			if err != nil {
				return err
			}
			fmt.Println(k.Dir)
		}
		return nil
	case "prune":
		if len(pos) > 0 {
			return usageError("kernel prune takes no series: it keeps every pinned series' trees")
		}
		return pruneKernels(series, *dryRun)
	case "pin":
		if *check {
			return pinCheck(series)
		}
		if len(pos) != 1 || pos[0] == "all" {
			return usageError("kernel pin: name one series (or -check SERIES|all)")
		}
		return pinCmd(pos[0], *write)
	}
	return usageError(fmt.Sprintf("kernel: unknown subcommand %q", args[0]))
}

func runCmd(args []string, shell bool) (int, error) {
	name := "run"
	if shell {
		name = "shell"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	series := fs.String("kernel", "", "pinned kernel series (default: "+kernel.DefaultSeries+" once built, else "+kernel.DefaultPrebuilt+")")
	src := fs.String("kernel-src", "", "kernel source tree or tarball instead of the pin")
	module := fs.String("module", "netl", "netl, seed, none, PATH.ko, or a directory with a Kbuild")
	appendArgs := fs.String("append", "", "extra kernel command-line words")
	console := fs.String("console", "", "write the whole console log here (default: the cache's logs/)")
	params := fs.String("modparams", "", `module parameters, "k=v k=v"`)
	timeout := fs.Duration("timeout", vm.DefaultTimeout, "bound on the whole guest run")
	verbose := fs.Bool("v", false, "show the kernel's boot messages too")
	debug := fs.Bool("debug", false, "boot the debug flavour (KASAN, lockdep, kmemleak, hung-task, fault injection)")
	coverFlag := fs.Bool("cover", false, "the module's line and branch coverage from this run (gcov; implies -debug): a table, an lcov tracefile and HTML in the cache's logs")
	if err := fs.Parse(args); err != nil {
		return 2, usageError(err.Error())
	}
	if *coverFlag && shell {
		return 2, usageError("shell: -cover is for run")
	}
	if !shell && fs.NArg() == 0 {
		return 2, usageError("run: name a PROGRAM after --")
	}
	if shell && fs.NArg() > 0 {
		return 2, usageError("shell takes no program")
	}
	if !shell {
		// Check the program before minutes of building.
		st, err := os.Stat(fs.Arg(0))
		if err != nil {
			return 1, fmt.Errorf("program: %w", err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return 1, fmt.Errorf("program %s is not an executable file", fs.Arg(0))
		}
	}
	if shell && *timeout == vm.DefaultTimeout {
		*timeout = 24 * time.Hour
	}
	s, err := harness.Prepare(harness.Options{Series: *series, KernelSrc: *src, Debug: *debug, Cover: *coverFlag, Module: *module,
		ModParams: *params, Timeout: *timeout, Append: strings.Fields(*appendArgs), Progress: os.Stderr,
		BootEarly: !shell}) // the module builds while the guest boots
	if err != nil {
		return 1, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := harness.Run{Console: &bootFilter{w: os.Stdout, pass: *verbose}, ConsoleLog: *console}
	if shell {
		r.Program, r.Guest, r.Interactive = "/bbin/gosh", true, true
		restore, err := rawTerminal()
		if err == nil {
			defer restore()
		}
		fmt.Fprintln(os.Stderr, "netl: booting; the guest ends when the shell exits (exit or Ctrl-D); Ctrl-A X kills it")
	} else {
		r.Program, r.Args = fs.Arg(0), fs.Args()[1:]
	}
	res, err := s.Run(ctx, r)
	if res == nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "netl: kernel %s, accelerator %s (%s); %s\nnetl: console log %s\n",
		res.Release, res.Accel, res.AccelReason, res.Phases, res.ConsoleLog)
	// The coverage first: a run that went wrong is the one whose counts
	// a reader wants.
	if *coverFlag && res.Cover != nil {
		prefix := strings.TrimSuffix(res.ConsoleLog, ".console.log") + ".cover"
		if err := coverReport(os.Stderr, res, prefix, 0); err != nil {
			fmt.Fprintf(os.Stderr, "netl: coverage report: %v\n", err)
		}
	}
	// A kernel report fails the run whatever the program's own status.
	for _, rep := range res.Reports {
		fmt.Fprintf(os.Stderr, "netl: %s\n", rep)
	}
	if res.Err != nil {
		return 1, res.Err
	}
	if len(res.Reports) > 0 {
		return 1, fmt.Errorf("the kernel reported %d problem(s); first: %s", len(res.Reports), res.Reports[0].Title)
	}
	if res.Stage() != contract.StageDone {
		return 1, fmt.Errorf("guest stopped at stage %s: %s", res.Stage(), res.Status.Error)
	}
	if *coverFlag && res.CoverErr != nil {
		return 1, res.CoverErr
	}
	if res.ExitCode() != 0 {
		fmt.Fprintf(os.Stderr, "netl: %s exited with status %d\n", fs.Arg(0), res.ExitCode())
	}
	return res.ExitCode(), nil
}

// bootFilter hides the kernel's boot messages from the terminal until init
// runs, so that a run shows what the program printed; the console log keeps
// everything, and a failed boot quotes its last lines in the error.
type bootFilter struct {
	w    io.Writer
	pass bool
}

func (b *bootFilter) Write(p []byte) (int, error) {
	if !b.pass {
		if i := bytes.Index(p, []byte("Run /init as init process")); i >= 0 {
			b.pass = true
		}
		return len(p), nil
	}
	return b.w.Write(p)
}

// seriesList reads a -kernel value (harness.SeriesList), saying on the
// terminal which series the debug flavour leaves out.
func seriesList(v string, debug bool) ([]string, error) {
	list, left, err := harness.SeriesList(v, debug)
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "netl: the debug flavour exists for netl's own kernels only; leaving out %s\n", strings.Join(left, ", "))
	}
	return list, err
}
