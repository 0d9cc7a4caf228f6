package harness_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/internal/harness"
	"github.com/netl-dev/netl/internal/kernel"
	"github.com/netl-dev/netl/internal/vm"
)

// These tests hold the harness to its promises on a real kernel and QEMU:
// a program's exit status comes back, and every way a run can go wrong
// ends in an error that says what happened, never in a wait. They test
// netl, not the module: they run in make test and CI (go test ./...), not
// in the module developer's go test ./vmtest/.... Their names start with
// TestVM, so that a job without QEMU can leave them out (-skip '^TestVM').

// prepare builds or finds the default kernel and the module
// (harness.PrepareForTest).
func prepare(t *testing.T, opts harness.Options) *harness.Session {
	t.Helper()
	return harness.PrepareForTest(t, opts)
}

func TestVMRunReportsExitStatus(t *testing.T) {
	s := prepare(t, harness.Options{Timeout: 2 * time.Minute})
	script := filepath.Join(t.TempDir(), "exit3.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho netl-script-ran\nexit 3\n"), 0o755))
	var console bytes.Buffer
	res, err := s.Run(context.Background(), harness.Run{Program: script, Console: &console})
	require.NoError(t, err)
	assert.Equal(t, 3, res.ExitCode(), "exit status of the guest program")
	assert.Equal(t, contract.StageDone, res.Stage())
	assert.Empty(t, res.Reports, "a clean run")
	assert.FileExists(t, res.ConsoleLog, "the console is kept where a failure can be read")
	assert.Contains(t, console.String(), "netl-script-ran")

	_, err = s.Run(context.Background(), harness.Run{Program: filepath.Join(t.TempDir(), "missing")})
	assert.ErrorIs(t, err, os.ErrNotExist, "a program that does not exist")
}

func TestVMRunRejectsBadModuleParameter(t *testing.T) {
	s := prepare(t, harness.Options{Timeout: 2 * time.Minute, ModParams: "reply_count=0"})
	res, err := s.Run(context.Background(), harness.Run{Program: "/bbin/ls", Guest: true})
	require.NoError(t, err, "the guest reports a failed load; it is not a VM failure")
	assert.Equal(t, contract.StageModule, res.Stage(), "where the run stopped")
	assert.Contains(t, res.Status.Error, `parameters "reply_count=0"`)
	assert.Contains(t, strings.Join(res.Tail, "\n"), "reply_count must be an integer from 1 to 100", "the module's own message")

	_, err = harness.Prepare(harness.Options{ModParams: "reply_count"})
	assert.ErrorContains(t, err, `module parameter "reply_count": want key=value`)
}

func TestVMHungGuestIsKilled(t *testing.T) {
	// The timeout must outlast the boot: about 2 s on a plain kernel under
	// TCG, about 30 s on the debug flavour (KASAN, lockdep, kmemleak).
	s := prepare(t, harness.Options{})
	timeout := 15 * time.Second
	if s.Kernel.Debug {
		timeout = 90 * time.Second
	}
	script := filepath.Join(t.TempDir(), "hang.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho about-to-hang\nsleep 3600\n"), 0o755))
	start := time.Now()
	res, err := s.Run(context.Background(), harness.Run{Program: script, Timeout: timeout})
	var vmErr *vm.Error
	require.ErrorAs(t, err, &vmErr)
	assert.Less(t, time.Since(start), timeout+time.Minute, "killed at the timeout, not later")
	require.NotNil(t, res, "a hung run still has a result")
	assert.True(t, res.TimedOut, "the result says it was a timeout, for callers such as netlvm repro")
	assert.Equal(t, err, res.Err)
	assert.Equal(t, -1, res.ExitCode())
	assert.Contains(t, err.Error(), fmt.Sprintf("did not exit within %s", timeout))
	assert.Contains(t, err.Error(), "about-to-hang", "the console tail")
	assert.Contains(t, err.Error(), "qemu-system-x86_64", "the command line to reproduce")
}

func TestVMKernelThatCannotBootIsReported(t *testing.T) {
	s := prepare(t, harness.Options{Timeout: 2 * time.Minute})
	// An initramfs that is not a cpio archive: the kernel finds no init and
	// panics, which must end QEMU at once (panic=-1, -no-reboot).
	bad := filepath.Join(t.TempDir(), "bad.cpio")
	require.NoError(t, os.WriteFile(bad, bytes.Repeat([]byte("not a cpio archive "), 64), 0o644))
	start := time.Now()
	_, err := s.BareBoot(context.Background(), bad)
	var vmErr *vm.Error
	require.ErrorAs(t, err, &vmErr)
	assert.Contains(t, err.Error(), "panicked")
	assert.Contains(t, err.Error(), "Kernel panic")
	assert.Less(t, time.Since(start), time.Minute, "a panic ends the run at once")
}

func TestVMModuleBuildFailureShowsCompiler(t *testing.T) {
	s := prepare(t, harness.Options{Module: "none"})
	src := fstest.MapFS{
		"m/Kbuild":   {Data: []byte("obj-m := broken.o\n")},
		"m/broken.c": {Data: []byte("#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\nstatic int __init b(void) { return undefined_thing; }\nmodule_init(b);\n")},
	}
	_, err := kernel.BuildModule(s.Kernel, src, "m", "broken", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.c:3")
	assert.Contains(t, err.Error(), "undefined_thing")
}

func TestVMBootEarlyWaitsForTheBuilds(t *testing.T) {
	// The guest boots while the host builds: init waits for the module
	// and the program, and a build that fails ends the run with the
	// compiler's output, not with a guest verdict.
	s := prepare(t, harness.Options{Timeout: 2 * time.Minute, BootEarly: true})
	script := filepath.Join(t.TempDir(), "lsmod.sh")
	build := func() error {
		time.Sleep(3 * time.Second) // longer than the boot to init
		return os.WriteFile(script, []byte("#!/bin/sh\ncat /proc/modules\n"), 0o755)
	}
	var console bytes.Buffer
	res, err := s.Run(context.Background(), harness.Run{Program: script, Build: build, Console: &console})
	require.NoError(t, err)
	require.NoError(t, s.WaitModule())
	assert.Equal(t, 0, res.ExitCode())
	assert.Regexp(t, `(?m)^netl \d+`, console.String(), "the module the host built meanwhile was loaded (/proc/modules)")
	assert.Contains(t, console.String(), contract.WaitMark)
	assert.Greater(t, res.Phases.Wait, time.Duration(0), "init waited for the program's build: %s", res.Phases)
	assert.Contains(t, res.Phases.String(), "waiting for the module")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Kbuild"), []byte("obj-m := broken.o\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.c"), []byte("#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\nstatic int __init b(void) { return undefined_early; }\nmodule_init(b);\n"), 0o644))
	broken := prepare(t, harness.Options{Timeout: 2 * time.Minute, BootEarly: true, Module: dir})
	start := time.Now()
	res, err = broken.Run(context.Background(), harness.Run{Program: "/bbin/true", Guest: true})
	require.Error(t, err, "a module that does not build")
	assert.Nil(t, res, "no guest verdict from a run whose module did not build")
	assert.Contains(t, err.Error(), "undefined_early", "the compiler's output")
	assert.Less(t, time.Since(start), time.Minute, "the guest is stopped at once, not at its timeout")
}

func TestVMRunReportsKernelReportsAndTaint(t *testing.T) {
	s := prepare(t, harness.Options{Timeout: 2 * time.Minute})
	// A WARNING-shaped line in the kernel log after the program started,
	// and a taint flag (W, 512) set with nothing printed: both come back
	// in the one result, placed after the program's start.
	script := filepath.Join(t.TempDir(), "report.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\n"+
		"echo '<4>WARNING: CPU: 0 PID: 1 at netl-harness-test.c:1 fake+0x0/0x0' > /dev/kmsg\n"+
		"echo 512 > /proc/sys/kernel/tainted\n"), 0o755))
	res, err := s.Run(context.Background(), harness.Run{Program: script})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode())
	var kinds []string
	for _, r := range res.Reports {
		kinds = append(kinds, r.Kind)
		assert.True(t, r.InProgram, "%s came after the program started", r.Title)
	}
	assert.Contains(t, kinds, "WARNING")
	require.NotEmpty(t, res.Failures(false), "a run with kernel reports is not a pass")
	assert.Contains(t, res.Failures(false)[0].Reason, "WARNING")

	// The taint alone, with no line printed, still fails the run.
	script2 := filepath.Join(t.TempDir(), "taint.sh")
	require.NoError(t, os.WriteFile(script2, []byte("#!/bin/sh\necho 512 > /proc/sys/kernel/tainted\n"), 0o755))
	res, err = s.Run(context.Background(), harness.Run{Program: script2})
	require.NoError(t, err)
	require.Len(t, res.Reports, 1)
	assert.Equal(t, "taint", res.Reports[0].Kind)
	assert.Contains(t, res.Reports[0].Title, "gained W")
}

func TestVMKernelUAPIHeaders(t *testing.T) {
	// The values claim C14 compares come from the booted kernel's own
	// exported headers (make headers), compiled on the host.
	s := prepare(t, harness.Options{Module: "none"})
	vals, err := s.Kernel.NetlinkUAPI()
	require.NoError(t, err)
	assert.Len(t, vals, len(kernel.NetlinkConstants))
	assert.Equal(t, int64(2), vals["NLMSG_ERROR"])
	assert.Equal(t, int64(0x300), vals["NLM_F_DUMP"], "ROOT|MATCH")
	assert.Equal(t, int64(16), vals["NLMSG_HDRLEN"])
	assert.Contains(t, kernel.FormatConstants(vals), "NLMSG_DONE=3 ")
}

func TestVMWerrorIsOptIn(t *testing.T) {
	// kmod/Kbuild turns -Werror on only when asked: a user's build with a
	// newer compiler's new warning succeeds, and the harness's (W=1,
	// NETL_WERROR=y) fails on the same warning.
	s := prepare(t, harness.Options{Module: "none"})
	src := os.DirFS(filepath.Join(s.Root, "kmod"))
	files := fstest.MapFS{}
	for _, name := range []string{"Kbuild", "netl.c", "netl_proto.h", "netl_compat.h"} {
		data, err := fs.ReadFile(src, name)
		require.NoError(t, err)
		files["m/"+name] = &fstest.MapFile{Data: data}
	}
	// A warning every compiler gives: an unused static function.
	files["m/netl.c"].Data = append(files["m/netl.c"].Data, []byte("\nstatic void netl_unused_for_a_test(void) {}\n")...)
	_, err := kernel.BuildModule(s.Kernel, files, "m", "netl", nil)
	require.Error(t, err, "the harness's build stops on the warning")
	assert.Contains(t, err.Error(), "netl_unused_for_a_test")

	dir := t.TempDir()
	for name, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(name)), f.Data, 0o644))
	}
	out, err := exec.Command("make", "-C", s.Kernel.Dir, "M="+dir, "modules").CombinedOutput()
	require.NoError(t, err, "a user's build (no NETL_WERROR) warns and goes on:\n%s", out)
	assert.Contains(t, string(out), "netl_unused_for_a_test", "the warning is still shown")
	assert.FileExists(t, filepath.Join(dir, "netl.ko"))
}

// Coverage of a module of one's own (netlvm run -cover -module DIR): its
// Kbuild says nothing of gcov, and the counters of the guest's one load
// come back as lines that ran and lines that did not.
func TestVMCoverOfOwnModule(t *testing.T) {
	for _, opts := range []harness.Options{{Cover: true, Module: "none"}, {Cover: true, Series: kernel.DefaultPrebuilt}} {
		_, err := harness.Prepare(opts)
		assert.Error(t, err, "coverage with %+v", opts)
	}

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Kbuild"), []byte("obj-m := covme.o\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "covme.c"), []byte(`// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int mode;
module_param(mode, int, 0444);

static noinline int covme_pick(int m)
{
	if (m == 1)
		return 10;
	return 20;
}

static int __init covme_init(void)
{
	pr_info("covme picked %d\n", covme_pick(mode));
	return 0;
}

static void __exit covme_exit(void)
{
	pr_info("covme unloaded\n");
}

module_init(covme_init);
module_exit(covme_exit);
MODULE_LICENSE("GPL");
`), 0o644))
	s := prepare(t, harness.Options{Cover: true, Module: dir, Timeout: 3 * time.Minute})
	require.True(t, s.Kernel.Debug, "coverage runs on the debug flavour")
	res, err := s.Run(context.Background(), harness.Run{Program: "/bbin/ls", Guest: true})
	require.NoError(t, err)
	require.Empty(t, res.Failures(false))
	require.NoError(t, res.CoverErr)
	require.NotNil(t, res.Cover)
	require.Len(t, res.Cover.Files, 1, "covme.c only: not the kernel's headers, not covme.mod.c")
	f := res.Cover.Files[0]
	assert.Equal(t, "covme.c", f.Name)
	calls := map[string]int64{}
	for _, fn := range f.Funcs {
		calls[fn.Name] = fn.Calls
		if fn.Name == "covme_pick" {
			assert.Equal(t, 2, fn.Branches, "if (m == 1)")
			assert.Equal(t, 1, fn.BranchHit, "mode=0 takes one way")
			assert.Less(t, fn.LinesHit, fn.Lines, "return 10 never ran")
		}
	}
	assert.Equal(t, map[string]int64{"covme_pick": 1, "covme_init": 1, "covme_exit": 0}, calls)
	assert.Contains(t, res.Cover.Uncovered(), "covme.c:20-23 covme_exit")
}
