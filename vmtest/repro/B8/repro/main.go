// Command repro goes with B8, a build failure: the article's module, as
// printed, does not compile on any pinned kernel, so there is nothing to
// run it against. Against the fixed module it runs the article's user
// program twice, on a SOCK_RAW socket bound to port 100 and on a SOCK_DGRAM
// one bound to port 101, to show that the protocol the article describes
// works once the module is written for the kernel's current API; it exits 0
// when both get "I am from kernel!".
package main

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/netl-dev/netl/userspace/netlink"
	"github.com/netl-dev/netl/vmtest/repro/internal/reprokit"
)

func main() {
	mod := reprokit.MustModule()
	for i, typ := range []int{unix.SOCK_RAW, unix.SOCK_DGRAM} {
		port := uint32(100 + i)
		c, err := netlink.Dial(netlink.ProtocolTest, &netlink.Config{SocketType: typ, PID: port})
		if err != nil {
			reprokit.Fatalf("%v", err)
		}
		if err := c.SetReceiveTimeout(40 * time.Second); err != nil {
			reprokit.Fatalf("%v", err)
		}
		t0 := time.Now()
		if err := c.Send(netlink.SeedRequest(port, "Hello you!")); err != nil {
			reprokit.Fatalf("%v", err)
		}
		msgs, err := c.Receive()
		if err != nil {
			reprokit.Fatalf("port %d: no reply: %v", port, err)
		}
		for _, m := range msgs {
			reprokit.Logf("port %d: Received message: %s (after %v)", port, netlink.CString(m.Data), time.Since(t0).Round(time.Millisecond))
			if netlink.CString(m.Data) != netlink.SeedReply {
				reprokit.Fatalf("port %d: want %q", port, netlink.SeedReply)
			}
		}
		c.Close()
	}
	reprokit.Logf("%s speaks the article's protocol", mod)
}
