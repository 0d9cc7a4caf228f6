// Package reprokit holds what the bug reproducers under vmtest/repro share:
// logging with the time since start, finding which module is loaded (the
// seed's netl_seed or the fixed netl), debugfs and sysctl writes that say
// what they do, and running a send on an OS thread of its own so that its
// state can be watched from /proc and fault injection aimed at it.
//
// A reproducer runs as root in the guest, with one of the two modules
// loaded. It must exit 0 against the fixed module, and trigger its bug
// against the seed, where the kernel usually ends the guest before the
// program ends.
package reprokit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/userspace/netlink"
)

// The two modules a reproducer can meet, as /proc/modules names them.
const (
	Seed  = "netl_seed" // kmod/seed: the article's module, bugs kept
	Fixed = "netl"      // kmod: the fixed module
)

// DebugFS is where debugfs is mounted.
const DebugFS = contract.DebugFS

var start = time.Now()

// Logf prints a line prefixed with the seconds since the program started.
func Logf(format string, args ...any) {
	fmt.Printf("[%7.3fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

// Armed marks the kernel log: what the reproducer provokes starts now, and
// whatever the kernel reported before (its own baseline) does not count
// (a case with "after": "armed").
func Armed(what string) {
	if err := contract.Kmsg(contract.MarkArmed(what)); err != nil {
		Fatalf("marking the kernel log: %v", err)
	}
	Logf("armed: %s", what)
}

// Shown prints what the reproducer saw and exits with
// contract.ReproShownExit: the bug showed to the reproducer itself (a case
// with "kind": "exit").
func Shown(format string, args ...any) {
	Logf("SHOWN: "+format, args...)
	os.Exit(contract.ReproShownExit)
}

// Fatalf prints a line and exits with status 1: the reproducer could not do
// what it set out to do (not: the bug did not show).
func Fatalf(format string, args ...any) {
	Logf("FAIL: "+format, args...)
	os.Exit(1)
}

// MustDial opens a NETLINK_TEST socket bound to port (0: the kernel picks
// one) with a receive timeout, and returns it with its port; it exits when
// it cannot.
func MustDial(port uint32, timeout time.Duration) (*netlink.Conn, uint32) {
	c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{PID: port})
	if err != nil {
		Fatalf("%v", err)
	}
	if port, err = c.PID(); err != nil {
		Fatalf("%v", err)
	}
	if err := c.SetReceiveTimeout(timeout); err != nil {
		Fatalf("%v", err)
	}
	return c, port
}

// Module returns which of Seed and Fixed is loaded.
func Module() (string, error) {
	f, err := os.Open("/proc/modules")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, _, _ := strings.Cut(s.Text(), " ")
		if name == Seed || name == Fixed {
			return name, nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("neither %s nor %s is in /proc/modules", Seed, Fixed)
}

// MustModule is Module that exits when neither module is loaded, and logs
// which one is.
func MustModule() string {
	m, err := Module()
	if err != nil {
		Fatalf("%v", err)
	}
	switch m {
	case Seed:
		Logf("module under test: %s (the seed article's module, kmod/seed)", m)
	default:
		Logf("module under test: %s (the fixed module, kmod)", m)
	}
	return m
}

// MountDebugFS mounts debugfs on DebugFS unless it is mounted already.
func MountDebugFS() error { return contract.MountDebugFS() }

// Write writes value to a sysfs, procfs or debugfs file, and logs it.
func Write(path, value string) error {
	Logf("echo %s > %s", value, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	return nil
}

// Read returns a file's contents without the trailing newline.
func Read(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimRight(string(b), "\n"), err
}

// Uptime returns the time since the guest kernel booted.
func Uptime() time.Duration {
	s, err := Read("/proc/uptime")
	if err != nil {
		return 0
	}
	var up float64
	if _, err := fmt.Sscan(s, &up); err != nil {
		return 0
	}
	return time.Duration(up * float64(time.Second))
}

// A Thread is a function running on an OS thread of its own, whose thread
// ID is known: /proc/self/task/TID shows its state, and fault injection can
// be aimed at it.
type Thread struct {
	TID  int
	done chan error
}

// Go runs fn on a new locked OS thread. The thread exits with fn (the
// goroutine never unlocks it), which takes its kernel stack, and any stale
// pointer in it, out of kmemleak's view.
func Go(fn func() error) *Thread {
	t := &Thread{done: make(chan error, 1)}
	tid := make(chan int)
	go func() {
		runtime.LockOSThread()
		tid <- unix.Gettid()
		t.done <- fn()
	}()
	t.TID = <-tid
	return t
}

// Done returns fn's error once fn has returned.
func (t *Thread) Done() <-chan error { return t.done }

// Wait waits for fn to return, for at most d, and returns its error;
// returned is false if fn was still running at the timeout.
func (t *Thread) Wait(d time.Duration) (returned bool, err error) {
	select {
	case err := <-t.done:
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// State returns the thread's state letter (R, S, D, ...) from its stat
// file, and the kernel function it sleeps in (wchan; "0" when running).
func (t *Thread) State() (state, wchan string) {
	dir := filepath.Join("/proc/self/task", fmt.Sprint(t.TID))
	stat, err := Read(filepath.Join(dir, "stat"))
	if err != nil {
		return "gone", ""
	}
	// pid (comm) state ...: comm may hold spaces, so cut after the last ')'.
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		state = stat[i+2 : i+3]
	}
	wchan, _ = Read(filepath.Join(dir, "wchan"))
	return state, wchan
}

// ErrNotBlocked is what WaitBlocked returns when fn returned first.
var ErrNotBlocked = errors.New("the thread's function returned before it blocked")

// WaitBlocked waits, for at most d, until the thread sits in D state
// (uninterruptible sleep), and returns its wchan. It returns
// ErrNotBlocked, and puts fn's error back for Done, if fn returns first.
func (t *Thread) WaitBlocked(d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case err := <-t.done:
			t.done <- err
			return "", ErrNotBlocked
		default:
		}
		if st, wchan := t.State(); st == "D" {
			return wchan, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("thread %d not in D state within %v", t.TID, d)
}
