// Package vm boots a kernel and the netl initramfs under QEMU through
// github.com/hugelgupf/vmtest's qemu package, and reports what happened in
// terms a kernel developer can act on: which accelerator ran, how long it
// took, the last console lines and the QEMU command line when it went wrong.
package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hugelgupf/vmtest/qemu"

	"github.com/netl-dev/netl/internal/contract"
)

// QEMUBinary is the QEMU system emulator netl runs.
const QEMUBinary = "qemu-system-x86_64"

// DefaultTimeout bounds a guest run. It covers a TCG boot and the suite with
// a wide margin; a hung guest is killed at this point.
const DefaultTimeout = 5 * time.Minute

// TailLines is how many console lines a failure report quotes.
const TailLines = 40

// Config describes one guest run.
type Config struct {
	Kernel    string        // bzImage
	Initramfs string        // the cpio built by package initramfs
	Share     string        // directory shared with the guest as contract.ShareTag
	Timeout   time.Duration // 0 means DefaultTimeout
	Cache     string        // where the accelerator verdict is cached
	// ConsoleLog keeps the whole console; Console receives it line by line
	// as it arrives (nil: not streamed).
	ConsoleLog string
	Console    io.Writer
	// Interactive connects the terminal to the guest console (netlvm shell).
	Interactive bool
	// Append adds kernel command-line arguments.
	Append []string
	// Memory for the guest; "512M" when empty.
	Memory string
	// Ready, when set, answers the guest init's wait for the host's
	// builds (contract.RunSpec.WaitForHost): when the guest asks
	// (contract.WaitMark on the console) and Ready has said nil, the
	// host answers contract.ReadyLine on the console. An error from Ready
	// kills QEMU at once; Run then returns that error.
	Ready <-chan error
}

// Result is what a run observed.
type Result struct {
	Accel       string
	AccelReason string
	Cmdline     string        // the QEMU command line, shell-quoted
	Wall        time.Duration // QEMU start to exit
	Tail        []string      // last console lines
	// Console is the whole console, as the log file holds it.
	Console string
	Status  *contract.Status
}

// Error is a run that did not end with the guest reporting a status: a
// kernel that did not boot, a guest that hung or panicked.
type Error struct {
	What     string
	TimedOut bool // the guest was killed at the timeout (a hang, to a reproducer)
	Result   *Result
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n--- last %d console lines ---\n%s\n--- reproduce with ---\n%s",
		e.What, len(e.Result.Tail), strings.Join(e.Result.Tail, "\n"), e.Result.Cmdline)
	return b.String()
}

// CheckQEMU reports whether QEMU is installed, with the command that
// installs it.
func CheckQEMU() (string, error) {
	p, err := exec.LookPath(QEMUBinary)
	if err != nil {
		return "", fmt.Errorf("%s not found: sudo apt-get install -y qemu-system-x86", QEMUBinary)
	}
	return p, nil
}

// Run boots the guest and waits until it resets (netlinit reboots; QEMU has -no-reboot), panics or times out.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	qemuPath, err := CheckQEMU()
	if err != nil {
		return nil, err
	}
	for _, f := range []string{cfg.Kernel, cfg.Initramfs} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("booting: %w", err)
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Memory == "" {
		cfg.Memory = "512M"
	}
	res := &Result{}
	res.Accel, res.AccelReason, err = ChooseAccel(cfg.Cache, qemuPath, cfg.Kernel)
	if err != nil {
		return nil, err
	}
	// oops=panic with HaltOnKernelPanic (panic=-1, -no-reboot): an oops
	// ends QEMU at once, not at the timeout.
	cmdline := append([]string{"console=ttyS0", "oops=panic"}, cfg.Append...)
	if res.Accel == TCG {
		// See tsc.go: spare the guest a TSC calibration that can fail.
		if khz, err := hostTSCkHz(); err == nil {
			cmdline = append(cmdline, fmt.Sprintf("tsc_early_khz=%d", khz), "tsc=reliable")
		} else if cfg.Console != nil {
			fmt.Fprintf(cfg.Console, "netl: not passing the host's TSC rate to the guest: %v\n", err)
		}
	}
	qemuArgs := []string{"-nodefaults", "-no-user-config",
		"-m", cfg.Memory, "-accel", res.Accel, "-serial", "mon:stdio"}
	if res.Accel == KVM {
		qemuArgs = append(qemuArgs, "-cpu", "host")
	}

	tail := newTail(TailLines)
	var logFile *os.File
	var logErr error
	if cfg.ConsoleLog != "" {
		if logFile, err = os.Create(cfg.ConsoleLog); err != nil {
			return nil, fmt.Errorf("console log: %w", err)
		}
		defer logFile.Close()
	}
	var console strings.Builder
	var consoleMu sync.Mutex
	asked := make(chan struct{})
	var askOnce sync.Once
	fns := []qemu.Fn{
		// The binary alone: vmtest splits this string on spaces, and the
		// arguments go through WithQEMUArgs, one word each.
		qemu.WithQEMUCommand(qemuPath),
		qemu.WithQEMUArgs(qemuArgs...),
		qemu.WithKernel(cfg.Kernel),
		qemu.WithInitramfs(cfg.Initramfs),
		qemu.HaltOnKernelPanic(),
		qemu.WithVmtestIdent(),
		qemu.WithAppendKernel(cmdline...),
		qemu.WithVMTimeout(cfg.Timeout),
		qemu.LogSerialByLine(func(line string) {
			if cfg.Ready != nil && strings.Contains(line, contract.WaitMark) {
				askOnce.Do(func() { close(asked) })
			}
			tail.add(line)
			consoleMu.Lock()
			console.WriteString(line)
			console.WriteByte('\n')
			if logFile != nil && logErr == nil {
				_, logErr = fmt.Fprintln(logFile, line)
			}
			consoleMu.Unlock()
			if cfg.Console != nil && !cfg.Interactive {
				fmt.Fprintln(cfg.Console, line)
			}
		}),
	}
	if cfg.Interactive {
		fns = append(fns, qemu.WithSerialOutput(nopCloser{os.Stdout}))
	}
	if cfg.Share != "" {
		fns = append(fns, qemu.P9Directory(cfg.Share, contract.ShareTag))
	}
	opts, err := qemu.OptionsFor(qemu.ArchAMD64, fns...)
	if err != nil {
		return nil, err
	}
	// vmtest adds -nographic; with -nodefaults that leaves only our serial.
	start := time.Now()
	v, err := opts.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting QEMU: %w", err)
	}
	res.Cmdline = v.CmdlineQuoted()
	if cfg.Interactive {
		go func() { _, _ = io.Copy(v.Console, os.Stdin) }()
	}
	exited := make(chan struct{})
	var readyErr error
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		if cfg.Ready == nil {
			return
		}
		select {
		case readyErr = <-cfg.Ready:
		case <-exited:
			return
		}
		if readyErr != nil {
			_ = v.Kill()
			return
		}
		select {
		case <-asked:
			if _, err := v.Console.Send(contract.ReadyLine + "\n"); err != nil {
				readyErr = fmt.Errorf("answering the guest's wait on the console: %w", err)
				_ = v.Kill()
			}
		case <-exited:
		}
	}()
	waitErr := v.Wait()
	close(exited)
	<-answered
	res.Wall = time.Since(start)
	res.Tail = tail.lines()
	consoleMu.Lock()
	res.Console = console.String()
	consoleMu.Unlock()
	if logErr == nil && logFile != nil {
		logErr = logFile.Sync()
	}
	if logErr != nil {
		// The console is the evidence for every verdict: a run whose log
		// could not be kept is an error, never a clean console.
		return res, fmt.Errorf("writing the console log %s: %w", cfg.ConsoleLog, logErr)
	}
	if readyErr != nil {
		return res, readyErr // the host's builds failed: the guest tested nothing
	}

	if cfg.Share != "" {
		if st, err := contract.ReadStatus(cfg.Share); err == nil {
			res.Status = st
			return res, nil
		}
	}
	timedOut := res.Wall >= cfg.Timeout || errors.Is(ctx.Err(), context.DeadlineExceeded)
	if cfg.Share == "" && waitErr == nil && !timedOut && !tail.contains("Kernel panic") {
		return res, nil // a bare boot (no share, no status): exiting is success
	}
	switch {
	case timedOut:
		return res, &Error{What: fmt.Sprintf("the guest did not exit within %s (%s); killed it", cfg.Timeout, res.Accel), TimedOut: true, Result: res}
	case tail.contains("Kernel panic"):
		return res, &Error{What: "the guest kernel panicked", Result: res}
	case waitErr != nil:
		return res, &Error{What: fmt.Sprintf("QEMU failed: %v", waitErr), Result: res}
	default:
		return res, &Error{What: "the guest stopped without reporting a status (init never ran the program?)", Result: res}
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// tail keeps the last n console lines.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, line)
	if len(t.buf) > t.n {
		t.buf = t.buf[len(t.buf)-t.n:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}

func (t *tail) contains(s string) bool {
	for _, l := range t.lines() {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
