// Package contract is the one place where the host and the guest agree on
// how a netl run is handed over and reported back: the 9p share and its
// files (run.json in, status.json out), the environment the guest program
// gets, the marks the guest writes to the kernel log so that the host can
// place each kernel report, and the claim lines of the seed's claims.
//
// The host side (internal/harness, internal/splat, internal/repro,
// cmd/netlvm, vmtest) and the guest side (initramfs/netlinit, vmtest/guest,
// the reproducers) both import it; nothing else spells these names.
package contract

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ShareTag is the 9p tag of the directory the host shares with the guest,
// and ShareDir where the guest mounts it.
const (
	ShareTag = "netl"
	ShareDir = "/netl"
)

// BootModulesDir is where, in the initramfs, a prebuilt kernel's boot
// modules sit (9p and its transport, modules in Debian's kernels): the
// guest init loads every file there, in name order, before it mounts the
// share. netl's own kernels have them built in, and no such directory.
const BootModulesDir = "lib/modules/netl-boot"

// Files in the share.
const (
	RunFile    = "run.json"    // RunSpec, host to guest
	StatusFile = "status.json" // Status, guest to host
)

// Environment of the guest program.
const (
	// ModuleEnv holds the guest path of the module init loaded (tests
	// that unload and reload it read it).
	ModuleEnv = "NETL_MODULE"
	// MaxSeriesEnv carries the newest pinned series: a guest test gated
	// above it fails rather than skips (kmodtest/guest.SkipOnOldKernel).
	MaxSeriesEnv = "NETL_MAX_SERIES"
	// UAPIEnv carries the <linux/netlink.h> constants as the booted
	// kernel's own uapi headers define them, "NAME=VALUE" words, compiled
	// on the host (claim C14 compares them with the client's and with
	// what the kernel sends).
	UAPIEnv = "NETL_UAPI_NETLINK"
	// DebugEnv is set on the debug flavour: the guest checks that its
	// detectors (kmemleak) are live, and fails when they are not.
	DebugEnv = "NETL_GUEST_DEBUG"
	// FullEnv asks the guest for the whole of its long tests (CI sets
	// it through harness.Suite.Full); without it they make a quick pass
	// and say so.
	FullEnv = "NETL_GUEST_FULL"
	// InGuestEnv is set on the kernel command line by vmtest
	// (qemu.WithVmtestIdent) and read by guest.SkipIfNotInVM.
	InGuestEnv = "VMTEST_IN_GUEST"
)

// GuestPath is where a file of the share appears in the guest.
func GuestPath(name string) string { return path.Join(ShareDir, name) }

// RunSpec tells the guest init what to do. The host writes it to the share
// as run.json, so one initramfs serves every run: what changes from run to
// run (the module, the program, its arguments) travels through the share,
// not through a rebuilt image.
type RunSpec struct {
	// Module is the .ko to load before the program runs (relative to the
	// share); empty loads nothing.
	Module string `json:"module,omitempty"`
	// ModParams are the module's parameters, "k=v k=v".
	ModParams string `json:"modparams,omitempty"`
	// Program and Args: what to run. A relative Program is in the share.
	Program string   `json:"program"`
	Args    []string `json:"args,omitempty"`
	// Env is added to the program's environment.
	Env []string `json:"env,omitempty"`
	// Stdout, when set, is a file in the share that receives the
	// program's standard output instead of the console.
	Stdout string `json:"stdout,omitempty"`
	// WaitForHost: the host boots the guest while it still builds the
	// module or the program, and puts them in the share afterwards. Init
	// sets up, writes WaitMark to the kernel log and reads its console
	// until the host answers ReadyLine; only then does it load the module.
	WaitForHost bool `json:"wait_for_host,omitempty"`
	// Coverage, when set, is a directory in the share: after the program,
	// init copies there every .gcda file the kernel's gcov keeps under
	// GcovDir (the profiled module's counters, also for a module the
	// program unloaded: gcov_persist keeps them), at its path below
	// GcovDir.
	Coverage string `json:"coverage,omitempty"`
}

// GcovDir is where a kernel with CONFIG_GCOV_KERNEL keeps the counters of
// profiled code (Documentation/dev-tools/gcov.rst).
const GcovDir = DebugFS + "/gcov"

// DebugFS is where the guest finds debugfs (MountDebugFS).
const DebugFS = "/sys/kernel/debug"

// The handshake of RunSpec.WaitForHost. The guest asks through the kernel
// log, whose lines reach the console whole, and the host answers on the
// console's input, which the guest's init holds open from the start (so
// that no byte is lost to a serial port nobody has opened).
const (
	WaitMark  = "netl-init: waiting for the host's builds"
	ReadyLine = "netl-ready"
)

// Stages of a run, in order; Status.Stage is the one the run stopped in.
const (
	StageSetup   = "setup"   // share, run.json, console level, loopback
	StageWait    = "wait"    // waiting for the host's builds (RunSpec.WaitForHost)
	StageModule  = "module"  // loading the module
	StageProgram = "program" // running the program
	StageDone    = "done"    // the program ran to its end (any exit status)
)

// Status is what the guest reports back through the share as status.json.
type Status struct {
	// Stage is where the run stopped (Stage* above).
	Stage string `json:"stage"`
	// ExitCode is the program's exit status; 128+N when a signal N ended
	// it, -1 when it never ran.
	ExitCode int `json:"exit_code"`
	// Error says what went wrong before or around the program.
	Error string `json:"error,omitempty"`
	// TaintedBefore and TaintedAfter are /proc/sys/kernel/tainted before
	// the module is loaded and after the program ended: a flag that
	// appears in between fails the run even when nothing was printed.
	TaintedBefore uint64 `json:"tainted_before"`
	TaintedAfter  uint64 `json:"tainted_after"`
	// BootSeconds is the guest's uptime when init started the run,
	// WaitSeconds how long init waited for the host's builds, ClockSeconds
	// how long it waited for high-resolution timers (see netlinit's
	// waitForHighRes), and ProgramSeconds how long the program ran.
	BootSeconds    float64 `json:"boot_seconds"`
	WaitSeconds    float64 `json:"wait_seconds,omitempty"` // RunSpec.WaitForHost
	ClockSeconds   float64 `json:"clock_seconds"`
	ProgramSeconds float64 `json:"program_seconds"`
	// CoverageFiles is how many .gcda files init copied (RunSpec.Coverage),
	// and CoverageError why it could not copy them.
	CoverageFiles int    `json:"coverage_files,omitempty"`
	CoverageError string `json:"coverage_error,omitempty"`
}

// WriteSpec writes spec into the share directory.
func WriteSpec(share string, spec RunSpec) error {
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(share, RunFile), data, 0o644)
}

// ReadStatus reads the guest's status.json from the share directory.
func ReadStatus(share string) (*Status, error) {
	data, err := os.ReadFile(filepath.Join(share, StatusFile))
	if err != nil {
		return nil, fmt.Errorf("the guest wrote no status (did it boot to init?): %w", err)
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("reading guest status: %w", err)
	}
	return &s, nil
}

// Marks the guest writes to /dev/kmsg. A report on the console is placed
// by the last mark before it: which test was running, and whether the
// program had started.
const (
	markTest    = "netl-test: "
	markProgram = "netl-run: program started"
	markArmed   = "netl-run: armed "
)

// MarkStart is the line a guest test writes when it starts.
func MarkStart(test string) string { return markTest + "START " + test }

// MarkEnd closes the window MarkStart opened.
func MarkEnd(test string) string { return markTest + "END " + test }

// MarkProgram is the line netlinit writes just before it starts the
// program: reports before it come from boot or the module's load.
func MarkProgram() string { return markProgram }

// MarkArmed is the line a reproducer writes when what it provokes begins,
// after its own setup (a kmemleak baseline, say): a repro case that names
// an arming point only counts reports after it.
func MarkArmed(what string) string { return markArmed + what }

// Mark is one mark found on the console.
type Mark struct {
	Kind string // "start", "end", "program", "armed"
	Arg  string // the test name, or what was armed
}

// ParseMark finds a mark in a console line (with or without the kernel's
// timestamp and caller prefix before it).
func ParseMark(line string) (Mark, bool) {
	if i := strings.Index(line, markTest); i >= 0 {
		rest := line[i+len(markTest):]
		switch {
		case strings.HasPrefix(rest, "START "):
			return Mark{"start", strings.TrimSpace(rest[len("START "):])}, true
		case strings.HasPrefix(rest, "END "):
			return Mark{"end", strings.TrimSpace(rest[len("END "):])}, true
		}
		return Mark{}, false
	}
	if strings.Contains(line, markProgram) {
		return Mark{Kind: "program"}, true
	}
	if i := strings.Index(line, markArmed); i >= 0 {
		return Mark{"armed", strings.TrimSpace(line[i+len(markArmed):])}, true
	}
	return Mark{}, false
}

// Kmsg writes line to the kernel log at KERN_INFO, where the console (and
// the host) see it. It runs in the guest.
func Kmsg(line string) error {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString("<6>" + line + "\n")
	return err
}

// GateSkip starts the skip message of a kernel-version gate
// (kmodtest/guest.SkipOnOldKernel): the one kind of skip CI accepts.
const GateSkip = "kernel-version gate: "

// ReproShownExit is the exit status of a reproducer that saw the bug
// itself (bytes that should not reach user space, say): a finding no
// kernel report carries. Any other non-zero status is a failed reproducer.
const ReproShownExit = 40

// Claim verdicts a guest test may record.
const (
	Holds   = "holds"
	Differs = "differs"
	Failed  = "failed" // the claim's test failed: no verdict stands
)

// ClaimLine is what a guest test logs to record a claim's verdict.
func ClaimLine(id, verdict, evidence string) string {
	return fmt.Sprintf("NETL-CLAIM %s %s: %s", id, verdict, evidence)
}

var claimRE = regexp.MustCompile(`NETL-CLAIM (C\d+) (holds|differs): (.*)`)

// ParseClaim reads a ClaimLine back.
func ParseClaim(line string) (id, verdict, evidence string, ok bool) {
	m := claimRE.FindStringSubmatch(line)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], strings.TrimSpace(m[3]), true
}
