// Command repro exercises B7: the seed module's exit function releases its
// kernel socket with sock_release(nl_sk->sk_socket) instead of
// netlink_kernel_release(nl_sk).
//
// It uses protocol 25 from user space, unloads the module the way rmmod
// does (delete_module(2), O_NONBLOCK), first while a socket of the protocol
// is open, then after closing it, and checks that the protocol is gone:
// socket(AF_NETLINK, SOCK_RAW, 25) fails with EPROTONOSUPPORT and
// /proc/net/netlink lists no socket of protocol 25. The messages it sends go
// from its socket to itself (user-to-user, claim C10), never to the module,
// whose input callback would crash (B1) or leak (B4) on any message.
//
// With -short it first sends the module one datagram shorter than a header,
// which netl_seed leaks (B4), to show what the unload does with it.
//
// A failed check of the unload (the module goes while a socket holds it,
// stays after the last socket closed, or leaves its protocol behind; a
// reload that fails) is the bug showing: it prints SHOWN and exits
// contract.ReproShownExit. A step the program could not take fails it.
//
// It runs the whole cycle -cycles times, loading the module again from
// contract.ModuleEnv between cycles, and on a kernel with kmemleak ends with two
// scans past the minimum object age: a kernel socket the unload did not
// free, or freed wrongly, shows as a leak or (KASAN) a use-after-free on
// the debug flavour; any check above fails the program. The same steps pass
// on both modules: see ../README.md for why B7 is not observable on the
// pinned kernels.
package main

import (
	"errors"
	"flag"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/internal/contract"
	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

func main() {
	short := flag.Bool("short", false, "first send the module a datagram shorter than a header (B4)")
	cycles := flag.Int("cycles", 5, "load/unload cycles with a socket open")
	flag.Parse()
	mod := reprokit.MustModule()
	image, err := os.ReadFile(os.Getenv(contract.ModuleEnv))
	if err != nil {
		reprokit.Fatalf("the module image to load again ($%s): %v", contract.ModuleEnv, err)
	}
	for i := 1; i <= *cycles; i++ {
		if i > 1 {
			if err := unix.InitModule(image, ""); err != nil {
				reprokit.Shown("loading %s again (cycle %d): %v", mod, i, err)
			}
		}
		reprokit.Logf("cycle %d of %d", i, *cycles)
		cycle(mod, *short)
	}
	kmemleakScan()
	reprokit.Logf("%s loaded and unloaded %d times with a socket open: nothing wrong observable", mod, *cycles)
}

// kmemleakScan asks kmemleak, when the kernel has it, for two scans past
// its minimum object age; what it finds goes to the kernel log, where the
// harness sees it.
func kmemleakScan() {
	if err := reprokit.MountDebugFS(); err != nil {
		return
	}
	path := reprokit.DebugFS + "/kmemleak"
	if _, err := os.Stat(path); err != nil {
		reprokit.Logf("no kmemleak on this kernel: leaks are not checked")
		return
	}
	time.Sleep(6 * time.Second)
	for i := 0; i < 2; i++ {
		if err := reprokit.Write(path, "scan"); err != nil {
			reprokit.Fatalf("%v", err)
		}
	}
	report, err := reprokit.Read(path)
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	reprokit.Logf("kmemleak after the cycles: %d suspected leaks", strings.Count(report, "unreferenced object"))
}

func cycle(mod string, short bool) {
	showSockets()

	c, port := reprokit.MustDial(0, 5*time.Second)
	hello := netlink.Message{Header: netlink.Header{Type: netlink.MinType, PID: port}, Data: []byte("to myself")}
	if err := c.SendTo(hello, port, 0); err != nil {
		reprokit.Fatalf("%v", err)
	}
	msgs, from, err := c.ReceiveFrom()
	if err != nil || len(msgs) != 1 {
		reprokit.Fatalf("port %d did not get its own message back: %v", port, err)
	}
	reprokit.Logf("port %d sent itself %q over protocol 25 and received it from port %d", port, msgs[0].Data, from)
	if short {
		if err := c.SendRaw([]byte{8, 0, 0, 0, 0, 0, 0, 0}, 0); err != nil {
			reprokit.Fatalf("%v", err)
		}
		reprokit.Logf("sent the module an 8-byte datagram (netl_seed leaks its skb: B4)")
	}
	refs, _ := reprokit.Read("/sys/module/" + mod + "/refcnt")
	reprokit.Logf("%s refcnt with the socket open: %s", mod, refs)

	err = unix.DeleteModule(mod, unix.O_NONBLOCK)
	switch {
	case err == nil:
		reprokit.Shown("delete_module(%q) succeeded while a socket of its protocol was open", mod)
	case errors.Is(err, unix.EWOULDBLOCK), errors.Is(err, unix.EBUSY):
		reprokit.Logf("delete_module(%q) with the socket open: %v (the socket holds a reference on the module)", mod, err)
	default:
		reprokit.Fatalf("delete_module(%q): %v", mod, err)
	}

	if err := c.Close(); err != nil {
		reprokit.Fatalf("%v", err)
	}
	if err := unix.DeleteModule(mod, unix.O_NONBLOCK); err != nil {
		reprokit.Shown("delete_module(%q) after close: %v", mod, err)
	}
	reprokit.Logf("socket closed; delete_module(%q) succeeded", mod)
	if _, err := os.Stat("/sys/module/" + mod); err == nil {
		reprokit.Shown("/sys/module/%s still exists", mod)
	}

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, netlink.ProtocolTest)
	if err == nil {
		unix.Close(fd)
		reprokit.Shown("socket(AF_NETLINK, SOCK_RAW, 25) succeeded after the unload")
	}
	reprokit.Logf("socket(AF_NETLINK, SOCK_RAW, 25) after the unload: %v", err)
	showSockets()

	// The kernel socket is freed after an RCU grace period
	// (deferred_put_nlk_sk): give its destructor time to run and complain.
	time.Sleep(2 * time.Second)
	reprokit.Logf("%s unloaded cleanly: nothing wrong observable in user space", mod)
}

// showSockets prints the lines of /proc/net/netlink for protocol 25.
func showSockets() {
	s, err := reprokit.Read("/proc/net/netlink")
	if err != nil {
		reprokit.Fatalf("%v", err)
	}
	lines := strings.Split(s, "\n")
	n := 0
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "25" {
			if n == 0 {
				reprokit.Logf("/proc/net/netlink, protocol 25:\n%s", lines[0])
			}
			reprokit.Logf("%s", l)
			n++
		}
	}
	if n == 0 {
		reprokit.Logf("/proc/net/netlink: no socket of protocol 25")
	}
}
