// Command netlinit is the guest side of a netl run: u-root's init starts it
// as uinit. It mounts the host's shared directory, loads the module named in
// run.json with its parameters, runs the program, writes status.json back
// to the share and ends the guest. It never waits for the host to time out:
// every path ends in a reboot, which QEMU (-no-reboot) turns into its exit.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
)

func main() {
	st := run()
	if data, err := json.Marshal(st); err == nil {
		if err := os.WriteFile(filepath.Join(contract.ShareDir, contract.StatusFile), data, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "netl: writing status: %v\n", err)
		}
	}
	if st.Error != "" {
		fmt.Fprintf(os.Stderr, "netl: %s\n", st.Error)
	}
	unix.Sync()
	_ = unix.Unmount(contract.ShareDir, 0)
	// Reboot, not power off: the harness's kernels are built without ACPI
	// (kernel-config/base.config), where power-off only halts the CPU.
	// A reset works on any x86 kernel, and QEMU runs with -no-reboot.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		fmt.Fprintf(os.Stderr, "netl: reboot: %v\n", err)
	}
	select {} // init must not exit; the kernel is resetting the machine
}

func run() (st contract.Status) {
	st = contract.Status{Stage: contract.StageSetup, ExitCode: -1, BootSeconds: uptime()}
	if err := os.MkdirAll(contract.ShareDir, 0o755); err != nil {
		st.Error = err.Error()
		return st
	}
	if err := loadBootModules(); err != nil {
		st.Error = err.Error()
		return st
	}
	// msize: Linux's 8 KiB default makes large files (test binaries) crawl.
	if err := unix.Mount(contract.ShareTag, contract.ShareDir, "9p", 0,
		"trans=virtio,version=9p2000.L,msize=1048576,cache=loose"); err != nil {
		st.Error = fmt.Sprintf("mounting the host share (9p tag %q): %v", contract.ShareTag, err)
		return st
	}
	data, err := os.ReadFile(filepath.Join(contract.ShareDir, contract.RunFile))
	if err != nil {
		st.Error = fmt.Sprintf("reading run.json: %v", err)
		return st
	}
	var spec contract.RunSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		st.Error = fmt.Sprintf("parsing run.json: %v", err)
		return st
	}
	// u-root leaves / at 0700: an unprivileged child (tests drop to
	// uid 65534 to check EPERM paths) could not exec anything.
	if err := os.Chmod("/", 0o755); err != nil {
		st.Error = fmt.Sprintf("chmod /: %v", err)
		return st
	}
	// u-root's init set the console log level to 5; every kernel message
	// but debug goes to the console, where the host looks for reports.
	if err := os.WriteFile("/proc/sys/kernel/printk", []byte("7"), 0o644); err != nil {
		st.Error = fmt.Sprintf("console log level: %v", err)
		return st
	}
	if err := loopbackUp(); err != nil {
		st.Error = fmt.Sprintf("bringing up lo: %v", err)
		return st
	}
	// An unreadable mask before counts as clean, so that every flag set
	// after it is the run's; an unreadable mask after is all flags.
	if st.TaintedBefore = tainted(); st.TaintedBefore == ^uint64(0) {
		st.TaintedBefore = 0
	}
	// Read again however the run ends: a taint the module's load or the
	// program left is a failure even when the kernel printed nothing.
	defer func() { st.TaintedAfter = tainted() }()
	if spec.WaitForHost {
		st.Stage = contract.StageWait
		wait := time.Now()
		if err := waitForHost(); err != nil {
			st.Error = err.Error()
			return st
		}
		st.WaitSeconds = time.Since(wait).Seconds()
	}
	st.Stage = contract.StageModule
	if spec.Module != "" {
		if err := loadModule(filepath.Join(contract.ShareDir, spec.Module), spec.ModParams); err != nil {
			st.Error = err.Error()
			return st
		}
	}

	clock := time.Now()
	if err := waitForHighRes(3 * time.Second); err != nil {
		// Not fatal: the program still runs, and the console says why a
		// timing test may be off.
		fmt.Fprintf(os.Stderr, "netl: %v\n", err)
	}
	st.ClockSeconds = time.Since(clock).Seconds()

	st.Stage = contract.StageProgram
	prog := spec.Program
	if !filepath.IsAbs(prog) && !strings.HasPrefix(prog, "/") {
		prog = filepath.Join(contract.ShareDir, prog)
	}
	cmd := exec.Command(prog, spec.Args...)
	cmd.Dir = contract.ShareDir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if spec.Stdout != "" {
		f, err := os.Create(filepath.Join(contract.ShareDir, spec.Stdout))
		if err != nil {
			st.Error = err.Error()
			return st
		}
		defer f.Close()
		cmd.Stdout = f
	}
	// Reports before this line come from boot or the module's load; a
	// reproducer's verdict counts only what comes after it.
	if err := contract.Kmsg(contract.MarkProgram()); err != nil {
		st.Error = fmt.Sprintf("marking the kernel log: %v", err)
		return st
	}
	start := time.Now()
	err = cmd.Run()
	st.ProgramSeconds = time.Since(start).Seconds()
	if spec.Coverage != "" {
		var cerr error
		if st.CoverageFiles, cerr = copyGcda(filepath.Join(contract.ShareDir, spec.Coverage)); cerr != nil {
			st.CoverageError = cerr.Error()
		}
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		st.ExitCode = 0
	case errors.As(err, &exit):
		st.ExitCode = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			st.ExitCode = 128 + int(ws.Signal())
			st.Error = fmt.Sprintf("%s killed by signal %v", spec.Program, ws.Signal())
		}
	default:
		st.Error = fmt.Sprintf("running %s: %v", spec.Program, err)
		return st
	}
	st.Stage = contract.StageDone
	return st
}

// waitForHost asks the host for the module and the program it is still
// building (contract.WaitMark) and reads the console until it answers. A
// byte at a time: what follows the answer is the program's standard input.
func waitForHost() error {
	if err := contract.Kmsg(contract.WaitMark); err != nil {
		return fmt.Errorf("asking the host for its builds: %v", err)
	}
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := os.Stdin.Read(b)
		if err != nil {
			return fmt.Errorf("waiting for the host's builds on the console: %v", err)
		}
		if n == 0 {
			continue
		}
		if b[0] != '\n' && b[0] != '\r' {
			line = append(line, b[0])
			continue
		}
		if strings.TrimSpace(string(line)) == contract.ReadyLine {
			return nil
		}
		line = line[:0] // anything else typed on the console
	}
}

// tainted reads the kernel's taint mask; all ones when it cannot, so that
// an unreadable mask is never taken for a clean kernel.
func tainted() uint64 {
	data, err := os.ReadFile("/proc/sys/kernel/tainted")
	if err != nil {
		return ^uint64(0)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return ^uint64(0)
	}
	return v
}

// waitForHighRes waits until the kernel runs its tick in high-resolution
// mode. The harness's kernels have no ACPI, hence no HPET or PM timer: the
// only clocksource valid for high resolution is the TSC, registered about a
// second after boot by tsc_refine_calibration_work (arch/x86/kernel/tsc.c).
// Until then the tick is periodic, and on the switch tick_sched catches
// jiffies up with the clocksource at once: under TCG that was a jump of ~3
// jiffies (12 ms), which cut a test's msleep(200) x 4 short to 790 ms of
// CLOCK_MONOTONIC. Waiting here keeps jiffies and the clock in step for the
// whole program; the 9p mount and the module load before it already use up
// part of the wait (0.2-0.4 s are left under TCG).
var hresActive = regexp.MustCompile(`(?m)^\s*\.hres_active\s*:\s*1$`)

func waitForHighRes(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		data, err := os.ReadFile("/proc/timer_list")
		if err != nil {
			return fmt.Errorf("cannot tell whether high-resolution timers are on: %v", err)
		}
		if hresActive.Match(data) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("high-resolution timers still off after %s: jiffies may jump once while the program runs", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loopbackUp brings up lo, which u-root's init leaves down: tests and
// benchmarks use 127.0.0.1 as their baseline.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// loadBootModules loads what a prebuilt kernel needs before the share
// can be mounted (9p and its transport: modules in Debian's kernels), in
// the order of their names; netl's own kernels have them built in, and no
// such directory.
func loadBootModules() error {
	dir := "/" + contract.BootModulesDir
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("boot modules: %v", err)
	}
	for _, e := range entries {
		if err := loadModule(filepath.Join(dir, e.Name()), ""); err != nil {
			return fmt.Errorf("boot module (for the host share): %v", err)
		}
	}
	return nil
}

// loadModule loads a module with init_module(2), as insmod does.
func loadModule(path, params string) error {
	image, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("loading module: %w", err)
	}
	if err := unix.InitModule(image, params); err != nil {
		hint := ""
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ERANGE) {
			hint = " (a bad module parameter? the kernel log above says which)"
		}
		return fmt.Errorf("loading %s with parameters %q: %v%s", filepath.Base(path), params, err, hint)
	}
	return nil
}

func uptime() float64 {
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// copyGcda copies every .gcda file under contract.GcovDir (mounting
// debugfs when the program did not) to dst, at its path below GcovDir.
// Reading one is what makes the kernel write the counters out; the .gcno
// files beside them are symbolic links to the host's build, left alone.
func copyGcda(dst string) (int, error) {
	if err := contract.MountDebugFS(); err != nil {
		return 0, fmt.Errorf("gcov's counters: %v", err)
	}
	n := 0
	err := filepath.WalkDir(contract.GcovDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".gcda") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, strings.TrimPrefix(p, contract.GcovDir))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		n++
		return os.WriteFile(out, data, 0o644)
	})
	if errors.Is(err, os.ErrNotExist) && n == 0 {
		return 0, fmt.Errorf("no %s: the kernel has no CONFIG_GCOV_KERNEL", contract.GcovDir)
	}
	return n, err
}
